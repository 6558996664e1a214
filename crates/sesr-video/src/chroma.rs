//! Chroma planes upscaled by separable bicubic interpolation (Keys, a = -0.5, MATLAB's
//! kernel), honouring where the chroma samples sit so that colour stays registered with the
//! SESR luma.

use crate::format::Chroma;

/// Keys' cubic convolution kernel with a = -0.5.
fn cubic(x: f64) -> f64 {
    let x = x.abs();
    if x <= 1.0 {
        (1.5 * x - 2.5) * x * x + 1.0
    } else if x < 2.0 {
        ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    } else {
        0.0
    }
}

/// The four source samples and weights of every output sample along one axis.
#[derive(Clone, Debug)]
struct Axis {
    index: Vec<[usize; 4]>,
    weight: Vec<[f32; 4]>,
}

impl Axis {
    /// `out_len` chroma samples from `in_len`, when the luma grows `scale` times and chroma
    /// sample `c` sits at luma position `subsampling * c + siting`. Positions map through
    /// pixel edges (luma centre `u` of the output is `(u + 0.5) / scale - 0.5` of the input,
    /// the convention of SESR's depth-to-space); samples beyond the edge repeat the edge.
    fn new(in_len: usize, out_len: usize, scale: usize, subsampling: usize, siting: f64) -> Axis {
        let last = in_len as i64 - 1;
        let (mut index, mut weight) = (Vec::with_capacity(out_len), Vec::with_capacity(out_len));
        for out in 0..out_len {
            let out_luma = (subsampling * out) as f64 + siting;
            let in_luma = (out_luma + 0.5) / scale as f64 - 0.5;
            let source = (in_luma - siting) / subsampling as f64;
            let base = source.floor();
            let t = source - base;
            let mut taps = [0usize; 4];
            let mut w = [0f32; 4];
            for k in 0..4 {
                taps[k] = (base as i64 + k as i64 - 1).clamp(0, last) as usize;
                w[k] = cubic(t - (k as f64 - 1.0)) as f32;
            }
            index.push(taps);
            weight.push(w);
        }
        Axis { index, weight }
    }
}

/// Upscales the chroma planes of one frame format by the network's scale.
#[derive(Clone, Debug)]
pub(crate) struct ChromaResampler {
    input: (usize, usize),
    output: (usize, usize),
    columns: Axis,
    rows: Axis,
}

impl ChromaResampler {
    /// For planes of `input` size becoming `output` size, `scale` being the luma's factor.
    pub(crate) fn new(
        chroma: Chroma,
        input: (usize, usize),
        output: (usize, usize),
        scale: usize,
    ) -> ChromaResampler {
        let (sx, sy) = chroma.subsampling();
        let (ox, oy) = chroma.siting();
        ChromaResampler {
            input,
            output,
            columns: Axis::new(input.0, output.0, scale, sx, ox),
            rows: Axis::new(input.1, output.1, scale, sy, oy),
        }
    }

    /// One plane: horizontal pass into floats, then vertical pass rounded to 8 bits.
    pub(crate) fn resample(&self, plane: &[u8]) -> Vec<u8> {
        // `as` saturates: below 0 gives 0, above 255 gives 255.
        self.resample_with(plane, f32::from, |v| (v + 0.5) as u8)
    }

    /// One plane of 9- to 16-bit samples (at most `max`), rounded.
    pub(crate) fn resample16(&self, plane: &[u16], max: u16) -> Vec<u16> {
        let top = f32::from(max);
        // `as` saturates below 0; `min` keeps the samples within their bits.
        self.resample_with(plane, f32::from, |v| (v + 0.5).min(top) as u16)
    }

    /// One plane of signed values (luma clipped off before the network), not rounded.
    pub(crate) fn resample_f32(&self, plane: &[f32]) -> Vec<f32> {
        self.resample_with(plane, |v| v, |v| v)
    }

    fn resample_with<T: Copy, U: Copy + Default>(
        &self,
        plane: &[T],
        load: impl Fn(T) -> f32,
        store: impl Fn(f32) -> U,
    ) -> Vec<U> {
        let ((w, h), (ow, oh)) = (self.input, self.output);
        debug_assert_eq!(plane.len(), w * h);
        let mut wide = vec![0f32; h * ow];
        let mut row = vec![0f32; w];
        for (src, dst) in plane.chunks_exact(w).zip(wide.chunks_exact_mut(ow)) {
            // Converted once per row, not once per tap.
            for (f, &b) in row.iter_mut().zip(src) {
                *f = load(b);
            }
            for ((out, &[a, b, c, d]), w) in dst
                .iter_mut()
                .zip(&self.columns.index)
                .zip(&self.columns.weight)
            {
                *out = w[0] * row[a] + w[1] * row[b] + w[2] * row[c] + w[3] * row[d];
            }
        }
        let mut out = vec![U::default(); ow * oh];
        for ((dst, taps), w) in out
            .chunks_exact_mut(ow)
            .zip(&self.rows.index)
            .zip(&self.rows.weight)
        {
            let [r0, r1, r2, r3] = taps.map(|i| &wide[i * ow..(i + 1) * ow]);
            for x in 0..ow {
                dst[x] = store(w[0] * r0[x] + w[1] * r1[x] + w[2] * r2[x] + w[3] * r3[x]);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::ChromaSiting;

    #[test]
    fn weights_sum_to_one_and_integer_positions_copy() {
        // 4:4:4 x2: output sample 2k+1 sits at input k + 0.25; x1 would copy.
        let axis = Axis::new(10, 20, 2, 1, 0.0);
        for w in &axis.weight {
            assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        let identity = Axis::new(10, 10, 1, 1, 0.0);
        assert_eq!(identity.weight[3], [0.0, 1.0, 0.0, 0.0]);
        assert_eq!(identity.index[3], [2, 3, 4, 5]);
    }

    #[test]
    fn left_sited_chroma_keeps_its_column_phase() {
        // MPEG-2 siting: output chroma 2k sits on output luma 4k, input luma 2k - 0.25,
        // input chroma k - 0.125; centred siting gives k - 0.25.
        let left = Axis::new(8, 16, 2, 2, 0.0);
        let center = Axis::new(8, 16, 2, 2, 0.5);
        let position = |axis: &Axis, i: usize| {
            let w = axis.weight[i];
            axis.index[i][1] as f64 + f64::from(w[2] + 2.0 * w[3] - w[0])
        };
        assert!((position(&left, 8) - (4.0 - 0.125)).abs() < 0.02);
        assert!((position(&center, 8) - (4.0 - 0.25)).abs() < 0.02);
    }

    #[test]
    fn flat_planes_stay_flat_at_odd_sizes() {
        let chroma = Chroma::Yuv420(ChromaSiting::Center);
        let resampler = ChromaResampler::new(chroma, (3, 2), (5, 3), 2);
        assert_eq!(resampler.resample(&[77; 6]), vec![77; 15]);
    }
}
