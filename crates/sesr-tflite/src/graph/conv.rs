//! A convolution's constants as the writers hold them (weight OIHW, bias, int8 scales), the
//! element types written to buffers, and the phase packing of a convolution (see
//! [`crate::graph`]).

use crate::schema::TensorType;
use sesr_net::layout::ohwi;

/// A tensor element type written to buffers.
pub(crate) trait Element: Copy + Default {
    const TYPE: TensorType;
    fn extend_bytes(self, out: &mut Vec<u8>);
}

impl Element for f32 {
    const TYPE: TensorType = TensorType::FLOAT32;
    fn extend_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Element for i8 {
    const TYPE: TensorType = TensorType::INT8;
    fn extend_bytes(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
}

impl Element for i32 {
    const TYPE: TensorType = TensorType::INT32;
    fn extend_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

pub(crate) fn to_bytes<T: Element>(values: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 4);
    for &v in values {
        v.extend_bytes(&mut out);
    }
    out
}

/// A convolution's constants: weight in OIHW (PyTorch) order, bias, and for int8 the
/// per-output-channel scales of both (empty in float).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Conv<W, B> {
    pub out_channels: usize,
    pub in_channels: usize,
    pub kernel: usize,
    pub weight: Vec<W>,
    pub bias: Vec<B>,
    pub weight_scales: Vec<f32>,
    pub bias_scales: Vec<f32>,
}

impl<W: Element, B: Element> Conv<W, B> {
    /// The weight in TFLite's OHWI order.
    pub fn ohwi(&self) -> Vec<W> {
        ohwi(
            &self.weight,
            self.out_channels,
            self.in_channels,
            self.kernel,
        )
    }

    /// The convolution of output channels `channels` only, in that order (each keeps its
    /// weights, bias and scales: the same integers).
    pub fn select(&self, channels: &[usize]) -> Self {
        let per_channel = self.in_channels * self.kernel * self.kernel;
        let pick = |v: &[f32]| -> Vec<f32> {
            match v.is_empty() {
                true => vec![],
                false => channels.iter().map(|&o| v[o]).collect(),
            }
        };
        Conv {
            out_channels: channels.len(),
            in_channels: self.in_channels,
            kernel: self.kernel,
            weight: channels
                .iter()
                .flat_map(|&o| {
                    self.weight[o * per_channel..(o + 1) * per_channel]
                        .iter()
                        .copied()
                })
                .collect(),
            bias: channels.iter().map(|&o| self.bias[o]).collect(),
            weight_scales: pick(&self.weight_scales),
            bias_scales: pick(&self.bias_scales),
        }
    }

    /// The phase-packed convolution (see the module doc): input channel `(i * 2 + j) * C + c`
    /// is channel `c` of pixel `(2Y + i, 2X + j)` (TensorFlow's space-to-depth), and output
    /// `(a, b, o)` (pixel `(2Y + a, 2X + b)`, channel `o`) goes to channel `out_index(a, b, o)`.
    pub fn packed(&self, out_index: impl Fn(usize, usize, usize) -> usize) -> Self {
        let (o, i, k) = (self.out_channels, self.in_channels, self.kernel);
        let p = (k / 2) as isize;
        let q = (p + 1) / 2;
        let kq = (2 * q + 1) as usize;
        let (po, pi) = (4 * o, 4 * i);
        let mut packed = Conv {
            out_channels: po,
            in_channels: pi,
            kernel: kq,
            weight: vec![W::default(); po * pi * kq * kq],
            bias: vec![B::default(); po],
            weight_scales: vec![0.0; if self.weight_scales.is_empty() { 0 } else { po }],
            bias_scales: vec![0.0; if self.bias_scales.is_empty() { 0 } else { po }],
        };
        for a in 0..2 {
            for b in 0..2 {
                for s in 0..o {
                    let oc = out_index(a, b, s);
                    packed.bias[oc] = self.bias[s];
                    if let Some(scale) = self.weight_scales.get(s) {
                        packed.weight_scales[oc] = *scale;
                    }
                    if let Some(scale) = self.bias_scales.get(s) {
                        packed.bias_scales[oc] = *scale;
                    }
                    for dy in 0..kq {
                        for dx in 0..kq {
                            for ii in 0..2 {
                                for jj in 0..2 {
                                    // Original tap reading row 2(Y + dy - q) + ii from output
                                    // row 2Y + a.
                                    let ky = 2 * (dy as isize - q) + ii as isize - a as isize + p;
                                    let kx = 2 * (dx as isize - q) + jj as isize - b as isize + p;
                                    if !(0..k as isize).contains(&ky)
                                        || !(0..k as isize).contains(&kx)
                                    {
                                        continue;
                                    }
                                    let (ky, kx) = (ky as usize, kx as usize);
                                    for c in 0..i {
                                        let ic = (ii * 2 + jj) * i + c;
                                        packed.weight[((oc * pi + ic) * kq + dy) * kq + dx] =
                                            self.weight[((s * i + c) * k + ky) * k + kx];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        packed
    }
}

/// Output channel of the packed input conv: `DEPTH_TO_SPACE(2)` turns it back into `f0`.
pub(crate) fn input_conv_channel(features: usize) -> impl Fn(usize, usize, usize) -> usize {
    move |a, b, c| (a * 2 + b) * features + c
}

/// Output channel of the packed x2 output conv: channel `s = i * 2 + j` of low-resolution
/// pixel `(2Y + a, 2X + b)` is high-resolution pixel `(4Y + 2a + i, 4X + 2b + j)`, which
/// `DEPTH_TO_SPACE(4)` reads from channel `(2a + i) * 4 + 2b + j`.
pub(crate) fn output_conv_channel(a: usize, b: usize, s: usize) -> usize {
    (2 * a + s / 2) * 4 + 2 * b + s % 2
}

/// The output conv's channel that TensorFlow's `depth_to_space(2)`, applied until one channel
/// is left (once at x2, twice at x4), puts at row `row` and column `column` of each
/// `scale x scale` block of output pixels.
pub(crate) fn shuffled_channel(scale: usize, row: usize, column: usize) -> usize {
    match scale {
        2 => 2 * row + column,
        // The first depth-to-space takes (i, j) = the high bits, the second (k, l) the low.
        _ => {
            let (i, k, j, l) = (row / 2, row % 2, column / 2, column % 2);
            (2 * i + j) * 4 + 2 * k + l
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct SAME convolution, NHWC, OIHW weights, f64.
    fn conv(x: &[f64], h: usize, w: usize, c: &Conv<f64, f64>) -> Vec<f64> {
        let (ic, oc, k) = (c.in_channels, c.out_channels, c.kernel);
        let p = (k / 2) as isize;
        let mut out = vec![0.0; h * w * oc];
        for y in 0..h {
            for xx in 0..w {
                for o in 0..oc {
                    let mut acc = c.bias[o];
                    for ky in 0..k {
                        for kx in 0..k {
                            let (iy, ix) =
                                (y as isize + ky as isize - p, xx as isize + kx as isize - p);
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                continue;
                            }
                            for i in 0..ic {
                                acc += x[(iy as usize * w + ix as usize) * ic + i]
                                    * c.weight[((o * ic + i) * k + ky) * k + kx];
                            }
                        }
                    }
                    out[(y * w + xx) * oc + o] = acc;
                }
            }
        }
        out
    }

    fn space_to_depth(x: &[f64], h: usize, w: usize, c: usize) -> Vec<f64> {
        let mut out = vec![0.0; x.len()];
        for y in 0..h {
            for xx in 0..w {
                for ch in 0..c {
                    let (yy, i, xs, j) = (y / 2, y % 2, xx / 2, xx % 2);
                    out[(yy * (w / 2) + xs) * 4 * c + (i * 2 + j) * c + ch] =
                        x[(y * w + xx) * c + ch];
                }
            }
        }
        out
    }

    impl Element for f64 {
        const TYPE: TensorType = TensorType::FLOAT64;
        fn extend_bytes(self, out: &mut Vec<u8>) {
            out.extend_from_slice(&self.to_le_bytes());
        }
    }

    fn sample(o: usize, i: usize, k: usize) -> Conv<f64, f64> {
        let mut v = 0.37f64;
        let mut next = move || {
            v = (v * 97.3 + 0.11).fract();
            v - 0.5
        };
        Conv {
            out_channels: o,
            in_channels: i,
            kernel: k,
            weight: (0..o * i * k * k).map(|_| next()).collect(),
            bias: (0..o).map(|_| next()).collect(),
            weight_scales: Vec::new(),
            bias_scales: Vec::new(),
        }
    }

    #[test]
    fn packed_convolutions_compute_the_same_values() {
        let (h, w) = (6, 8);
        for (o, i, k) in [(4, 3, 5), (2, 1, 5), (3, 2, 3), (2, 2, 7), (2, 2, 1)] {
            let c = sample(o, i, k);
            let x: Vec<f64> = (0..h * w * i)
                .map(|v| ((v * 7) % 13) as f64 - 6.0)
                .collect();
            let want = conv(&x, h, w, &c);
            let packed = c.packed(|a, b, s| (a * 2 + b) * o + s);
            assert_eq!(
                packed.kernel,
                if k == 7 {
                    5
                } else if k == 1 {
                    1
                } else {
                    3
                }
            );
            let got = conv(&space_to_depth(&x, h, w, i), h / 2, w / 2, &packed);
            // Undo: packed channel (a * 2 + b) * o + s is pixel (2Y + a, 2X + b), channel s.
            for y in 0..h {
                for xx in 0..w {
                    for s in 0..o {
                        let pc = ((y % 2) * 2 + xx % 2) * o + s;
                        let g = got[((y / 2) * (w / 2) + xx / 2) * 4 * o + pc];
                        let want = want[(y * w + xx) * o + s];
                        assert!((g - want).abs() < 1e-9, "k {k}: {g} vs {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_weight_appears_once_per_block_position() {
        let c = sample(4, 3, 5);
        let packed = c.packed(output_conv_channel);
        for s in 0..4 {
            let mut original: Vec<f64> = c.weight[s * 75..(s + 1) * 75].to_vec();
            original.sort_by(f64::total_cmp);
            for (a, b) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let oc = output_conv_channel(a, b, s);
                let n = 12 * 9;
                let mut taps: Vec<f64> = packed.weight[oc * n..(oc + 1) * n]
                    .iter()
                    .copied()
                    .filter(|v| *v != 0.0)
                    .collect();
                taps.sort_by(f64::total_cmp);
                assert_eq!(taps, original);
            }
        }
        // DEPTH_TO_SPACE(4) order: the 16 channels are a permutation.
        let mut seen: Vec<usize> = (0..16)
            .map(|n| output_conv_channel(n / 8, (n / 4) % 2, n % 4))
            .collect();
        seen.sort();
        assert_eq!(seen, (0..16).collect::<Vec<_>>());
    }
}
