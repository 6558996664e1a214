//! The float32 path: a collapsed SESR run row by row over tiles, every layer fused.
//!
//! A tile is a band of LR rows times a strip of LR columns. Its layers run as a pipeline of
//! rows: each step reads one input row and advances every layer by one row, each layer keeping
//! only the few rows its consumer's kernel reads (ring buffers of 3 or 5 rows; the first
//! layer's output keeps `m + 1` for the long residual). So the 16-channel feature maps of a
//! tile live in a few hundred KB of cache, never in memory, and nothing is computed twice
//! along a band's rows; only the strip edges (a halo of `m + 4` columns, shrinking by the
//! kernel radius at each layer) and the band edges (the same in rows) are recomputed by
//! neighbouring tiles. Pixels outside the image are zeros at every layer, which is exactly
//! the whole-image zero padding of the tch model. Bands run in parallel on a rayon pool.
//!
//! Channels are padded to a multiple of 16 (`LANES`) with zero weights, so one vector
//! holds 16 channels of a pixel in every kernel. The row kernels (`scalar`, the reference,
//! and `simd`, AVX-512F and AVX2 + FMA) broadcast one input channel against a vector of 16
//! output channels' weights, several pixels at a time; with AVX-512 the 3x3 convs use
//! Winograd F(4,3) along each kernel row (6 products for four outputs instead of 12), and the
//! output conv (4 or 16 outputs) is computed as dot products over 16-channel vectors.

mod scalar;
#[cfg(target_arch = "x86_64")]
mod simd;

use crate::{Kernel, Result, RuntimeError};
use sesr_data::plane::PlaneF32;
use sesr_net::Float32Network;

/// Floats per vector in the packed layouts (one AVX-512 register, two AVX2 registers).
pub(crate) const LANES: usize = 16;

/// A collapsed float32 network with its weights packed for the row kernels.
#[derive(Debug, Clone)]
pub(crate) struct Float32Sesr {
    m: usize,
    scale: usize,
    /// Feature channels rounded up to a multiple of [`LANES`].
    channels: usize,
    /// Groups of 4 output channels of the output conv (`scale^2 / 4`).
    groups: usize,
    /// `[block][ky][kx][16]`.
    input_weight: Vec<f32>,
    input_bias: Vec<f32>,
    /// Per 3x3 conv: `[block][ky][kx][ci][16]`.
    block_weights: Vec<Vec<f32>>,
    /// Per 3x3 conv, each kernel row in Winograd F(4,3) form (see [`winograd_rows`]):
    /// `[block][ky][point][ci][16]`.
    block_winograd: Vec<Vec<f32>>,
    block_biases: Vec<Vec<f32>>,
    /// Per 3x3 conv, one slope per channel (all zero for ReLU).
    slopes: Vec<Vec<f32>>,
    /// `[group][ky][kx][block][4][16]`.
    output_weight: Vec<f32>,
    output_bias: Vec<f32>,
    /// For offset `(dy, dx)` inside a pixel's `scale x scale` output block, at
    /// `dy * scale + dx`: the output channel TensorFlow's depth_to_space (applied `log2 scale`
    /// times) moves there.
    channel_at: Vec<usize>,
}

/// Where TF `depth_to_space(2)`, applied until one channel is left, moves channel `o` of
/// `scale^2`: channel `(i * 2 + j) * C/4 + c` goes to `(2 h + i, 2 w + j)`, channel `c`.
fn depth_to_space_phases(scale: usize) -> Vec<(usize, usize)> {
    (0..scale * scale)
        .map(|o| {
            let (mut channel, mut channels, mut dy, mut dx) = (o, scale * scale, 0, 0);
            while channels > 1 {
                let quarter = channels / 4;
                let ij = channel / quarter;
                channel %= quarter;
                dy = 2 * dy + ij / 2;
                dx = 2 * dx + ij % 2;
                channels = quarter;
            }
            (dy, dx)
        })
        .collect()
}

/// Winograd points per kernel row of F(4,3): four outputs of a row from six products.
pub(crate) const WINOGRAD_POINTS: usize = sesr_model::winograd::POINTS;

/// The 3x3 weights `[block][ky][kx][ci][16]` with each kernel row `g = (g0, g1, g2)` (along
/// x) turned into the six Winograd F(4,3) points `G g` (`sesr_model::winograd`): four
/// neighbouring outputs of a row then take 6 products per input instead of 12.
fn winograd_rows(weight: &[f32], c: usize) -> Vec<f32> {
    let mut out = vec![0.0; 3 * WINOGRAD_POINTS * c * c];
    for cb in 0..c / LANES {
        for ky in 0..3 {
            for ci in 0..c {
                for lane in 0..LANES {
                    let g = |kx: usize| weight[(((cb * 3 + ky) * 3 + kx) * c + ci) * LANES + lane];
                    let points = sesr_model::winograd::kernel_row_points([g(0), g(1), g(2)]);
                    for (j, v) in points.into_iter().enumerate() {
                        let row = (cb * 3 + ky) * WINOGRAD_POINTS + j;
                        out[(row * c + ci) * LANES + lane] = v;
                    }
                }
            }
        }
    }
    out
}

impl Float32Sesr {
    /// Packs a collapsed network; fails with sesr-net's error when the network is not
    /// consistent, with [`RuntimeError::Network`] when it is not SESR-shaped (5x5 input conv
    /// from 1 channel, `m` 3x3 convs, 5x5 output conv to `scale^2`, x2 or x4).
    pub(crate) fn from_network(graph: &Float32Network) -> Result<Self> {
        graph.validate()?;
        let (m, f, scale) = (graph.m(), graph.features(), graph.scale);
        if m == 0 {
            return Err(RuntimeError::Network("needs at least one 3x3 block".into()));
        }
        for (i, conv) in graph.convs.iter().enumerate() {
            let want = if i == 0 || i == m + 1 { 5 } else { 3 };
            if conv.kernel != want {
                return Err(RuntimeError::Network(format!(
                    "conv {i} has a {k}x{k} kernel; SESR's is {want}x{want}",
                    k = conv.kernel
                )));
            }
        }
        let c = f.div_ceil(LANES) * LANES;
        let blocks = c / LANES;
        let input = &graph.convs[0];
        let mut input_weight = vec![0.0; 25 * c];
        let mut input_bias = input.bias.clone();
        input_bias.resize(c, 0.0);
        for co in 0..f {
            for tap in 0..25 {
                let (cb, lane) = (co / LANES, co % LANES);
                input_weight[(cb * 25 + tap) * LANES + lane] = input.weight[co * 25 + tap];
            }
        }
        let mut block_weights = vec![];
        let mut block_winograd = vec![];
        let mut block_biases = vec![];
        for conv in &graph.convs[1..=m] {
            let mut w = vec![0.0; 9 * c * c];
            for co in 0..f {
                let (cb, lane) = (co / LANES, co % LANES);
                for ci in 0..f {
                    for tap in 0..9 {
                        w[((cb * 9 + tap) * c + ci) * LANES + lane] =
                            conv.weight[(co * f + ci) * 9 + tap];
                    }
                }
            }
            let mut b = conv.bias.clone();
            b.resize(c, 0.0);
            block_winograd.push(winograd_rows(&w, c));
            block_weights.push(w);
            block_biases.push(b);
        }
        let slopes = (0..m)
            .map(|i| {
                let mut s = graph.prelu.get(i).cloned().unwrap_or_default();
                s.resize(c, 0.0);
                s
            })
            .collect();
        let output = &graph.convs[m + 1];
        let outputs = scale * scale;
        let groups = outputs / 4;
        let mut output_weight = vec![0.0; groups * 25 * c * 4];
        for o in 0..outputs {
            let (og, oo) = (o / 4, o % 4);
            for ci in 0..f {
                let (cb, lane) = (ci / LANES, ci % LANES);
                for tap in 0..25 {
                    let at = ((((og * 25 + tap) * blocks + cb) * 4) + oo) * LANES + lane;
                    output_weight[at] = output.weight[(o * f + ci) * 25 + tap];
                }
            }
        }
        Ok(Float32Sesr {
            m,
            scale,
            channels: c,
            groups,
            input_weight,
            input_bias,
            block_weights,
            block_winograd,
            block_biases,
            slopes,
            output_weight,
            output_bias: output.bias.clone(),
            channel_at: {
                let mut at = vec![0; scale * scale];
                for (o, (dy, dx)) in depth_to_space_phases(scale).into_iter().enumerate() {
                    at[dy * scale + dx] = o;
                }
                at
            },
        })
    }

    pub(crate) fn scale(&self) -> usize {
        self.scale
    }

    /// How far (LR pixels) an output sees: 2 (input conv) + m + 2 (output conv).
    pub(crate) fn radius(&self) -> usize {
        self.m + 4
    }

    /// Upscales `y` (`w * h == y.data.len()` checked by the caller) into `out`, which holds
    /// the `scale w x scale h` output, with bands of `band` rows run on the current rayon pool
    /// and strips of `strip` columns.
    pub(crate) fn upscale_into(
        &self,
        rows: &RowKernels,
        y: &PlaneF32,
        (strip, band): (usize, usize),
        out: &mut [f32],
    ) {
        use rayon::prelude::*;
        let (w, s) = (y.width, self.scale);
        let band_len = band * s * w * s;
        out.par_chunks_mut(band_len).enumerate().for_each_init(
            Rings::default,
            |rings, (i, chunk)| {
                let by0 = i * band;
                let by1 = (by0 + band).min(y.height);
                for cx0 in (0..w).step_by(strip) {
                    let cx1 = (cx0 + strip).min(w);
                    self.tile(rows, y, (by0, by1), (cx0, cx1), rings, chunk);
                }
            },
        );
    }

    /// Runs one tile: LR rows `by0..by1`, columns `cx0..cx1`, into the band's output rows.
    fn tile(
        &self,
        rows: &RowKernels,
        y: &PlaneF32,
        (by0, by1): (usize, usize),
        (cx0, cx1): (usize, usize),
        rings: &mut Rings,
        out: &mut [f32],
    ) {
        let (m, c, s, r) = (self.m, self.channels, self.scale, self.radius());
        let (w, h) = (y.width as isize, y.height as isize);
        let cw = cx1 - cx0;
        let width = cw + 2 * r;
        // Buffer column u holds image column origin + u.
        let origin = cx0 as isize - r as isize;
        let inside = |lo: usize, hi: usize| {
            let a = (lo as isize).max(-origin).min(hi as isize) as usize;
            let b = ((hi as isize).min(w - origin)).max(a as isize) as usize;
            (a, b)
        };
        rings.prepare(m, c, width, cw * self.groups * 4);
        let (by0, by1) = (by0 as isize, by1 as isize);
        let lag_out = r as isize;
        for t in by0 - lag_out..by1 + lag_out {
            // The input row t (minus 0.5; zero outside the image).
            {
                let row = rings.input_row_mut(t, width);
                row.fill(0.0);
                if (0..h).contains(&t) {
                    let (a, b) = inside(0, width);
                    let start = (origin + a as isize) as usize;
                    let src = &y.row(t as usize)[start..start + (b - a)];
                    for (d, v) in row[a..b].iter_mut().zip(src) {
                        *d = v - 0.5;
                    }
                }
            }
            // Layer l (0: input conv, 1..=m: 3x3 blocks) computes its row t - 2 - l over its
            // columns r_l = m + 2 - l beyond the tile, when that row is one the tile needs.
            for l in 0..=m {
                let row_y = t - 2 - l as isize;
                let rl = (m + 2 - l) as isize;
                if row_y < by0 - rl || row_y >= by1 + rl {
                    continue;
                }
                let (lo, hi) = (r - (m + 2 - l), r + cw + (m + 2 - l));
                let (a, b) = inside(lo, hi);
                let (src_rings, dst_ring) = rings.layer_split(l);
                let dst = dst_ring.row_mut(row_y, width * c);
                if !(0..h).contains(&row_y) {
                    dst[lo * c..hi * c].fill(0.0);
                    continue;
                }
                dst[lo * c..a * c].fill(0.0);
                dst[b * c..hi * c].fill(0.0);
                if l == 0 {
                    let input = src_rings.input_rows::<5>(row_y, width);
                    rows.input(self, input, (a, b), dst);
                } else {
                    let prev = src_rings.feature_rows::<3>(l - 1, row_y, width * c);
                    rows.block(self, l - 1, prev, (a, b), dst);
                    if l == m {
                        let first = src_rings.feature_row(0, row_y, width * c);
                        for (d, f) in dst[a * c..b * c].iter_mut().zip(&first[a * c..b * c]) {
                            *d += f;
                        }
                    }
                }
            }
            let row_y = t - lag_out;
            if row_y < by0 {
                continue;
            }
            let (last, out_row) = rings.output_split(m);
            let residual = last.rows::<5>(row_y, width * c);
            rows.output(self, residual, (r, r + cw), out_row);
            // + x, depth-to-space and clip, one output row at a time.
            let lr = &y.row(row_y as usize)[cx0..cx1];
            let (ws, stride) = (y.width * s, self.groups * 4);
            let band_row = (row_y - by0) as usize * s;
            for (dy, channels) in self.channel_at.chunks_exact(s).enumerate() {
                let start = (band_row + dy) * ws + cx0 * s;
                let dst = &mut out[start..start + cw * s];
                for ((block, sums), x) in dst
                    .chunks_exact_mut(s)
                    .zip(out_row.chunks_exact(stride))
                    .zip(lr)
                {
                    for (d, &o) in block.iter_mut().zip(channels) {
                        *d = (sums[o] + x).clamp(0.0, 1.0);
                    }
                }
            }
        }
    }
}

/// A ring of `len` rows of `row_len` floats: row `y` lives in slot `y mod len`.
#[derive(Default)]
struct Ring {
    len: usize,
    data: Vec<f32>,
}

impl Ring {
    /// Room for `len` rows. Not cleared: every row is written (computed, or zeroed outside
    /// the image) before it is read.
    fn prepare(&mut self, len: usize, row_len: usize) {
        self.len = len;
        if self.data.len() < len * row_len {
            self.data.resize(len * row_len, 0.0);
        }
    }

    fn slot(&self, y: isize, row_len: usize) -> std::ops::Range<usize> {
        let at = y.rem_euclid(self.len as isize) as usize * row_len;
        at..at + row_len
    }

    fn row(&self, y: isize, row_len: usize) -> &[f32] {
        &self.data[self.slot(y, row_len)]
    }

    fn row_mut(&mut self, y: isize, row_len: usize) -> &mut [f32] {
        let slot = self.slot(y, row_len);
        &mut self.data[slot]
    }

    /// Rows `y - N/2 ..= y + N/2`.
    fn rows<const N: usize>(&self, y: isize, row_len: usize) -> [&[f32]; N] {
        std::array::from_fn(|k| self.row(y + k as isize - (N / 2) as isize, row_len))
    }
}

/// Per-thread buffers of a tile: the input ring (5 rows), one ring per layer output and
/// the output conv's row.
#[derive(Default)]
struct Rings {
    input: Ring,
    features: Vec<Ring>,
    output: Vec<f32>,
}

/// The rings a layer reads, while its own ring is borrowed mutably.
struct Sources<'a> {
    input: &'a Ring,
    features: &'a [Ring],
}

impl Sources<'_> {
    fn input_rows<const N: usize>(&self, y: isize, width: usize) -> [&[f32]; N] {
        self.input.rows::<N>(y, width)
    }
    fn feature_rows<const N: usize>(&self, l: usize, y: isize, row_len: usize) -> [&[f32]; N] {
        self.features[l].rows::<N>(y, row_len)
    }
    fn feature_row(&self, l: usize, y: isize, row_len: usize) -> &[f32] {
        self.features[l].row(y, row_len)
    }
}

impl Rings {
    fn prepare(&mut self, m: usize, c: usize, width: usize, output: usize) {
        self.input.prepare(5, width);
        self.features.resize_with(m + 1, Ring::default);
        for (l, ring) in self.features.iter_mut().enumerate() {
            // The first layer's rows wait m + 1 rows for the long residual; the last layer
            // feeds the 5x5 output conv; the others feed a 3x3 conv.
            let len = match l {
                0 => (m + 1).max(3),
                l if l == m => 5,
                _ => 3,
            };
            ring.prepare(len, width * c);
        }
        if self.output.len() < output {
            self.output.resize(output, 0.0);
        }
    }

    fn input_row_mut(&mut self, y: isize, width: usize) -> &mut [f32] {
        self.input.row_mut(y, width)
    }

    fn layer_split(&mut self, l: usize) -> (Sources<'_>, &mut Ring) {
        let (before, rest) = self.features.split_at_mut(l);
        (
            Sources {
                input: &self.input,
                features: before,
            },
            &mut rest[0],
        )
    }

    fn output_split(&mut self, m: usize) -> (&Ring, &mut [f32]) {
        (&self.features[m], &mut self.output)
    }
}

/// The row kernels of one instruction set.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RowKernels {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Simd(simd::Simd),
}

impl RowKernels {
    /// The kernels of `kernel`, or `None` when this CPU lacks its instruction set.
    pub(crate) fn new(kernel: Kernel) -> Option<RowKernels> {
        match kernel {
            Kernel::Scalar => Some(RowKernels::Scalar),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => simd::Simd::detect(true).map(RowKernels::Simd),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => simd::Simd::detect(false).map(RowKernels::Simd),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx512 | Kernel::Avx2 => None,
        }
    }

    fn input(&self, net: &Float32Sesr, rows: [&[f32]; 5], range: (usize, usize), out: &mut [f32]) {
        let (w, b, c) = (&net.input_weight, &net.input_bias, net.channels);
        match *self {
            RowKernels::Scalar => scalar::conv_input_row(rows, w, b, c, range, out),
            #[cfg(target_arch = "x86_64")]
            RowKernels::Simd(simd) => simd::conv_input_row(simd, rows, w, b, c, range, out),
        }
    }

    fn block(
        &self,
        net: &Float32Sesr,
        i: usize,
        rows: [&[f32]; 3],
        range: (usize, usize),
        out: &mut [f32],
    ) {
        let (w, b, s) = (&net.block_weights[i], &net.block_biases[i], &net.slopes[i]);
        let c = net.channels;
        match *self {
            RowKernels::Scalar => scalar::conv_block_row(rows, w, b, s, c, range, out),
            #[cfg(target_arch = "x86_64")]
            RowKernels::Simd(simd) => {
                let weights = (w.as_slice(), net.block_winograd[i].as_slice());
                simd::conv_block_row(simd, rows, weights, b, s, c, range, out)
            }
        }
    }

    fn output(&self, net: &Float32Sesr, rows: [&[f32]; 5], range: (usize, usize), out: &mut [f32]) {
        let (w, b, c, g) = (
            &net.output_weight,
            &net.output_bias,
            net.channels,
            net.groups,
        );
        match *self {
            RowKernels::Scalar => scalar::conv_output_row(rows, w, b, c, g, range, out),
            #[cfg(target_arch = "x86_64")]
            RowKernels::Simd(simd) => simd::conv_output_row(simd, rows, w, b, c, g, range, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TF depth_to_space(2) on a `[C][H][W]` array, straight from its definition.
    fn depth_to_space(x: &[f32], c: usize, h: usize, w: usize) -> Vec<f32> {
        let q = c / 4;
        let mut out = vec![0.0; x.len()];
        for ch in 0..c {
            let (ij, cc) = (ch / q, ch % q);
            let (i, j) = (ij / 2, ij % 2);
            for yy in 0..h {
                for xx in 0..w {
                    let (oy, ox) = (2 * yy + i, 2 * xx + j);
                    out[(cc * 2 * h + oy) * 2 * w + ox] = x[(ch * h + yy) * w + xx];
                }
            }
        }
        out
    }

    #[test]
    fn phases_follow_tf_depth_to_space_applied_twice_for_x4() {
        for scale in [2, 4] {
            let n = scale * scale;
            // One LR pixel whose channel o holds o: after depth-to-space, output pixel
            // (dy, dx) must hold o.
            let mut x: Vec<f32> = (0..n).map(|o| o as f32).collect();
            let (mut c, mut size) = (n, 1);
            while c > 1 {
                x = depth_to_space(&x, c, size, size);
                c /= 4;
                size *= 2;
            }
            for (o, &(dy, dx)) in depth_to_space_phases(scale).iter().enumerate() {
                assert_eq!(x[dy * scale + dx], o as f32, "scale {scale}, channel {o}");
            }
        }
        // Where the two orders differ: pixel_shuffle(4) puts channel 4 at (1, 0).
        assert_eq!(depth_to_space_phases(4)[1], (0, 1));
        assert_eq!(depth_to_space_phases(4)[4], (0, 2));
    }
}
