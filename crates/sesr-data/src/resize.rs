//! MATLAB-compatible bicubic `imresize`.
//!
//! This reproduces MATLAB's `imresize(A, scale, 'bicubic')` (antialiasing on, the default),
//! which is how the super-resolution literature makes low-resolution images:
//!
//! * the cubic convolution kernel with a = -0.5 (Keys 1981);
//! * when shrinking by `scale < 1` the kernel is widened to `4 / scale` taps and scaled by
//!   `scale` (`h(x) = scale * cubic(scale * x)`), which is MATLAB's antialiasing;
//! * output pixel `x` (1-based) samples input coordinate `u = x / scale + 0.5 * (1 - 1 /
//!   scale)`, taps `floor(u - width / 2) + 0 .. ceil(width) + 2`, weights normalised to sum 1;
//! * out-of-range taps are mirrored with the edge pixel repeated (MATLAB's
//!   `aux = [1:n, n:-1:1]` indexing, i.e. half-sample symmetric padding);
//! * the two dimensions are resized one after the other, the one with the smaller scale first
//!   (rows first when the scales are equal, as MATLAB's stable sort gives).
//!
//! Arithmetic is in `f64`. [`imresize_u8`] also mimics MATLAB on `uint8` input, whose
//! `imresizemex` returns `uint8` after *each* dimension (rounded, saturated); this matters for
//! bit-exact LR images.

use rayon::prelude::*;

use crate::plane::{Plane, PlaneF32, PlaneU8};

/// MATLAB's cubic kernel (a = -0.5).
#[inline]
pub fn cubic(x: f64) -> f64 {
    let ax = x.abs();
    let ax2 = ax * ax;
    let ax3 = ax2 * ax;
    if ax <= 1.0 {
        1.5 * ax3 - 2.5 * ax2 + 1.0
    } else if ax <= 2.0 {
        -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    } else {
        0.0
    }
}

/// The taps of a one-dimensional resize: output `i` is
/// `sum_k weights[i * taps + k] * input[indices[i * taps + k]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Contributions {
    /// Output length.
    pub out_len: usize,
    /// Taps per output sample.
    pub taps: usize,
    /// 0-based input indices, already mirrored into range.
    pub indices: Vec<usize>,
    /// Normalised weights.
    pub weights: Vec<f64>,
}

/// MATLAB's `contributions(in_length, out_length, scale, @cubic, 4, antialiasing=true)`.
///
/// # Panics
/// When `in_len` is 0 or `scale` is not positive and finite.
pub fn contributions(in_len: usize, out_len: usize, scale: f64) -> Contributions {
    assert!(in_len > 0, "cannot resize an empty dimension");
    assert!(
        scale.is_finite() && scale > 0.0,
        "resize scale must be positive"
    );
    let antialias = scale < 1.0;
    let kernel_width = if antialias { 4.0 / scale } else { 4.0 };
    let taps = kernel_width.ceil() as usize + 2;
    let n = in_len as i64;
    let mut indices = Vec::with_capacity(out_len * taps);
    let mut weights = Vec::with_capacity(out_len * taps);
    for x in 1..=out_len {
        let u = x as f64 / scale + 0.5 * (1.0 - 1.0 / scale);
        let left = (u - kernel_width / 2.0).floor() as i64;
        let start = weights.len();
        for j in 0..taps as i64 {
            let idx = left + j; // 1-based
            let d = u - idx as f64;
            let w = if antialias {
                scale * cubic(scale * d)
            } else {
                cubic(d)
            };
            weights.push(w);
            // aux = [1:n, n:-1:1]; aux(mod(idx - 1, 2n) + 1), made 0-based.
            let m = (idx - 1).rem_euclid(2 * n);
            indices.push(if m < n { m } else { 2 * n - 1 - m } as usize);
        }
        let sum: f64 = weights[start..].iter().sum();
        for w in &mut weights[start..] {
            *w /= sum;
        }
    }
    Contributions {
        out_len,
        taps,
        indices,
        weights,
    }
}

/// Resizes along the rows' direction (changes the width).
fn pass_width(src: &[f64], w: usize, h: usize, c: &Contributions, round: bool) -> Vec<f64> {
    let ow = c.out_len;
    let mut out = vec![0f64; ow * h];
    if ow == 0 {
        return out;
    }
    out.par_chunks_mut(ow).enumerate().for_each(|(y, orow)| {
        let irow = &src[y * w..(y + 1) * w];
        for (x, o) in orow.iter_mut().enumerate() {
            let base = x * c.taps;
            let mut acc = 0.0;
            for k in 0..c.taps {
                acc += c.weights[base + k] * irow[c.indices[base + k]];
            }
            *o = finish(acc, round);
        }
    });
    out
}

/// Resizes along the columns' direction (changes the height).
fn pass_height(src: &[f64], w: usize, c: &Contributions, round: bool) -> Vec<f64> {
    let oh = c.out_len;
    let mut out = vec![0f64; w * oh];
    if w == 0 {
        return out;
    }
    out.par_chunks_mut(w).enumerate().for_each(|(y, orow)| {
        let base = y * c.taps;
        for k in 0..c.taps {
            let wk = c.weights[base + k];
            let irow = &src[c.indices[base + k] * w..(c.indices[base + k] + 1) * w];
            for (o, &v) in orow.iter_mut().zip(irow) {
                *o += wk * v;
            }
        }
        if round {
            for o in orow.iter_mut() {
                *o = finish(*o, true);
            }
        }
    });
    out
}

#[inline]
fn finish(v: f64, round: bool) -> f64 {
    if round {
        v.round().clamp(0.0, 255.0)
    } else {
        v
    }
}

/// The resize core on f64 samples. `scale_w`/`scale_h` are the kernel scales (MATLAB passes
/// the user's scale factor when one is given, `out / in` when a size is given).
#[allow(clippy::too_many_arguments)]
fn resize_f64(
    src: Vec<f64>,
    w: usize,
    h: usize,
    out_w: usize,
    out_h: usize,
    scale_w: f64,
    scale_h: f64,
    round: bool,
) -> Vec<f64> {
    let cw = contributions(w, out_w, scale_w);
    let ch = contributions(h, out_h, scale_h);
    // MATLAB: [~, order] = sort(scale) with scale = [rows, cols]; stable for ties.
    if scale_h <= scale_w {
        let tmp = pass_height(&src, w, &ch, round);
        pass_width(&tmp, w, out_h, &cw, round)
    } else {
        let tmp = pass_width(&src, w, h, &cw, round);
        pass_height(&tmp, out_w, &ch, round)
    }
}

fn check_input<T>(p: &Plane<T>) {
    assert!(
        p.width > 0 && p.height > 0 && p.data.len() == p.width * p.height,
        "cannot resize a {}x{} plane holding {} samples",
        p.width,
        p.height,
        p.data.len()
    );
}

/// Bicubic resize of a float plane to `out_w` x `out_h`, like MATLAB's
/// `imresize(A, [out_h out_w], 'bicubic')` on doubles. The output is not rounded or clamped.
///
/// # Panics
/// When the input plane is empty.
pub fn imresize(p: &PlaneF32, out_w: usize, out_h: usize) -> PlaneF32 {
    check_input(p);
    let sw = out_w as f64 / p.width as f64;
    let sh = out_h as f64 / p.height as f64;
    resize_f32_with(p, out_w, out_h, sw, sh)
}

fn resize_f32_with(p: &PlaneF32, out_w: usize, out_h: usize, sw: f64, sh: f64) -> PlaneF32 {
    let src = p.data.iter().map(|&v| f64::from(v)).collect();
    let out = resize_f64(src, p.width, p.height, out_w, out_h, sw, sh, false);
    Plane {
        width: out_w,
        height: out_h,
        data: out.into_iter().map(|v| v as f32).collect(),
    }
}

fn resize_u8_with(p: &PlaneU8, out_w: usize, out_h: usize, sw: f64, sh: f64) -> PlaneU8 {
    let src = p.data.iter().map(|&v| f64::from(v)).collect();
    let out = resize_f64(src, p.width, p.height, out_w, out_h, sw, sh, true);
    Plane {
        width: out_w,
        height: out_h,
        // Values are already rounded and clamped to 0..=255.
        data: out.into_iter().map(|v| v as u8).collect(),
    }
}

/// Bicubic resize of an 8-bit plane to `out_w` x `out_h`, bit-compatible with MATLAB's
/// `imresize` on `uint8` data: computed in double, rounded and saturated to `uint8` after each
/// of the two passes.
///
/// # Panics
/// When the input plane is empty.
pub fn imresize_u8(p: &PlaneU8, out_w: usize, out_h: usize) -> PlaneU8 {
    check_input(p);
    let sw = out_w as f64 / p.width as f64;
    let sh = out_h as f64 / p.height as f64;
    resize_u8_with(p, out_w, out_h, sw, sh)
}

/// Integer-factor resize direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factor {
    /// Shrink by this factor: `imresize(A, 1/f)`, output `ceil(n / f)`.
    Down(usize),
    /// Enlarge by this factor: `imresize(A, f)`, output `n * f`.
    Up(usize),
}

impl Factor {
    fn apply(self, n: usize) -> (usize, f64) {
        match self {
            Factor::Down(f) => {
                assert!(f > 0, "resize factor must be positive");
                (n.div_ceil(f), 1.0 / f as f64)
            }
            Factor::Up(f) => {
                assert!(f > 0, "resize factor must be positive");
                (n * f, f as f64)
            }
        }
    }
}

/// MATLAB `imresize(A, scale, 'bicubic')` by an integer factor, on floats (not rounded).
///
/// # Panics
/// When the plane is empty or the factor is 0.
pub fn imresize_by(p: &PlaneF32, factor: Factor) -> PlaneF32 {
    check_input(p);
    let (ow, sw) = factor.apply(p.width);
    let (oh, sh) = factor.apply(p.height);
    resize_f32_with(p, ow, oh, sw, sh)
}

/// MATLAB `imresize(A, scale, 'bicubic')` by an integer factor on `uint8` data (rounded after
/// each pass, like MATLAB).
///
/// # Panics
/// When the plane is empty or the factor is 0.
pub fn imresize_u8_by(p: &PlaneU8, factor: Factor) -> PlaneU8 {
    check_input(p);
    let (ow, sw) = factor.apply(p.width);
    let (oh, sh) = factor.apply(p.height);
    resize_u8_with(p, ow, oh, sw, sh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_values() {
        assert_eq!(cubic(0.0), 1.0);
        assert_eq!(cubic(1.0), 0.0);
        assert_eq!(cubic(2.0), 0.0);
        assert_eq!(cubic(-0.5), 0.5625);
        assert_eq!(cubic(1.5), -0.0625);
        assert_eq!(cubic(3.0), 0.0);
    }

    #[test]
    fn x2_down_weights_match_matlab() {
        // MATLAB: [w, ind] = contributions(8, 4, 0.5, @cubic, 4, true) gives for the first
        // output u = 1.5, taps at -3..6 (1-based) with weights
        // 0.5 * cubic(0.5 * (1.5 - idx)), normalised: the interior ones are
        // [-0.0234375 -0.0703125 0.2265625 0.8671875 ...]/2 symmetric around 1.5.
        let c = contributions(8, 4, 0.5);
        assert_eq!(c.taps, 10);
        let w = &c.weights[0..10];
        let s: f64 = w.iter().sum();
        assert!((s - 1.0).abs() < 1e-12);
        // Symmetric around u = 1.5: idx -3..6 -> distances 4.5, 3.5, ..., -4.5.
        for k in 0..5 {
            assert!((w[k] - w[9 - k]).abs() < 1e-12);
        }
        // Raw weights: 0.5*cubic(0.25) = 0.5*0.8671875, 0.5*cubic(0.75) = 0.5*0.2265625,
        // 0.5*cubic(1.25) = 0.5*-0.0703125, 0.5*cubic(1.75) = 0.5*-0.0234375; sum = 1.
        assert!((w[4] - 0.433_593_75).abs() < 1e-12);
        assert!((w[3] - 0.113_281_25).abs() < 1e-12);
        assert!((w[2] + 0.035_156_25).abs() < 1e-12);
        assert!((w[1] + 0.011_718_75).abs() < 1e-12);
        assert_eq!(w[0], 0.0);
        // Mirrored indices: 1-based -3,-2,-1,0,1,2,... -> 0-based 3,2,1,0,0,1,...
        assert_eq!(&c.indices[0..10], &[3, 2, 1, 0, 0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn x2_up_weights_match_matlab() {
        // u = x/2 + 0.25: first output at 0.75, left = floor(0.75 - 2) = -2, taps -2..3
        // (1-based) at distances 2.75, 1.75, 0.75, -0.25, -1.25, -2.25.
        let c = contributions(4, 8, 2.0);
        assert_eq!(c.taps, 6);
        let w = &c.weights[0..6];
        let want = [0.0, -0.0234375, 0.2265625, 0.8671875, -0.0703125, 0.0];
        for (a, b) in w.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{w:?}");
        }
        assert_eq!(&c.indices[0..6], &[2, 1, 0, 0, 1, 2]);
    }

    #[test]
    fn constant_stays_constant() {
        let p = Plane::filled(37, 23, 0.3f32);
        for (ow, oh) in [(74, 46), (19, 12), (10, 6), (148, 92)] {
            let r = imresize(&p, ow, oh);
            assert_eq!(r.size(), (ow, oh));
            assert!(r.data.iter().all(|&v| (v - 0.3).abs() < 1e-6));
        }
        let q = Plane::filled(20, 20, 77u8);
        assert!(imresize_u8_by(&q, Factor::Down(4))
            .data
            .iter()
            .all(|&v| v == 77));
    }
}
