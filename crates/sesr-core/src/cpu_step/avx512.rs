//! AVX-512 kernels of the fused training step: stride-1 correlations over zero-padded NHWC
//! images, their weight gradients, and the element-wise epilogues.
//!
//! Layouts: an image is `[rows][cols][channels]` floats. A padded image of a `k x k` layer has
//! `k / 2` zero pixels on every side, so output pixel `(y, x)` reads padded pixels
//! `(y + ky, x + kx)`. Kernel weights are `[group][ky][kx][in][16]`: one 16-float vector of
//! output channels per tap and input channel, which is what one `zmm` FMA consumes; a layer
//! with 32 outputs (SESR-XL) has two such groups, each the weights of 16 outputs.
//!
//! Every function checks the slice lengths it relies on up front (a panic there is a bug in
//! `cpu_step`, not user input), then indexes through raw pointers inside the loops.
#![allow(unsafe_code)]

use std::arch::x86_64::*;
use std::ops::Range;

/// Output pixels per register block: 8 accumulators, the 8 + K - 1 broadcast input values of
/// a kernel row and a weight vector fit the 32 `zmm` registers.
const BLOCK: usize = 8;

/// Bytes of L1 data cache the weight-gradient kernels plan to use (of 48 KB on this CPU).
const L1_BYTES: usize = 40 * 1024;

/// Geometry of one padded input image as the kernels read it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Padded<'a> {
    pub data: &'a [f32],
    /// Pixels per padded row.
    pub row: usize,
    /// Floats per pixel.
    pub channels: usize,
}

/// Output row `y` (`width` pixels, `16 * groups` channels each) of the `K x K` correlation of
/// `input` (`CIN` channels) with `weights` (`[groups][K][K][CIN][16]`), without bias.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn conv_row<const K: usize, const CIN: usize>(
    input: Padded,
    y: usize,
    width: usize,
    (weights, groups): (&[f32], usize),
    out: &mut [f32],
) {
    assert_eq!(input.channels, CIN);
    assert!(width + K - 1 <= input.row);
    assert!(((y + K - 1) * input.row + width + K - 1) * CIN <= input.data.len());
    assert!(weights.len() >= groups * K * K * CIN * 16);
    let stride = groups * 16;
    assert!(out.len() >= width * stride);
    let base = input.data.as_ptr().add(y * input.row * CIN);
    let (w, o) = (weights.as_ptr(), out.as_mut_ptr());
    let row = input.row;
    let mut x0 = 0;
    while x0 < width {
        let pixels = match width - x0 {
            rest if rest >= BLOCK => BLOCK,
            rest if rest >= 4 => 4,
            rest if rest >= 2 => 2,
            _ => 1,
        };
        let i = base.add(x0 * CIN);
        for group in 0..groups {
            let (w, out) = (
                w.add(group * K * K * CIN * 16),
                o.add(x0 * stride + group * 16),
            );
            match pixels {
                BLOCK => conv_block::<K, CIN, BLOCK>(i, row, w, out, stride),
                4 => conv_block::<K, CIN, 4>(i, row, w, out, stride),
                2 => conv_block::<K, CIN, 2>(i, row, w, out, stride),
                _ => conv_block::<K, CIN, 1>(i, row, w, out, stride),
            }
        }
        x0 += pixels;
    }
}

/// Points of Winograd F(4,3): four outputs of a 3-tap row from six products.
pub(crate) const WINOGRAD_POINTS: usize = sesr_model::winograd::POINTS;

/// Quads of output pixels per Winograd block: 4 x 6 accumulators.
const QUADS: usize = 4;

/// The most channels a feature map has (SESR-XL's f = 32).
pub(crate) const MAX_FEATURES: usize = 32;

/// Output row `y` of a 3x3, `C -> C` correlation like [`conv_row`], by Winograd F(4,3) along
/// each kernel row (Lavin and Gray's matrices) on blocks of 16 pixels: six products per input
/// channel and kernel row for four outputs instead of twelve. `winograd` holds each kernel
/// row's six points `G g` (`[C / 16][3][6][C][16]`, see [`winograd_weights`]); the pixels
/// after the last whole block go through the direct kernel with `weights`.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn conv_row_winograd<const C: usize>(
    input: Padded,
    y: usize,
    width: usize,
    (weights, winograd): (&[f32], &[f32]),
    out: &mut [f32],
) {
    assert!(C.is_multiple_of(16) && C <= MAX_FEATURES);
    assert_eq!(input.channels, C);
    assert!(width + 2 <= input.row);
    assert!(((y + 2) * input.row + width + 2) * C <= input.data.len());
    assert!(winograd.len() >= 3 * WINOGRAD_POINTS * C * C);
    assert!(out.len() >= width * C);
    let base = input.data.as_ptr().add(y * input.row * C);
    let step = 4 * QUADS;
    let mut x0 = 0;
    while x0 + step <= width {
        winograd_block::<C>(
            base.add(x0 * C),
            input.row,
            winograd.as_ptr(),
            out.as_mut_ptr().add(x0 * C),
        );
        x0 += step;
    }
    if x0 < width {
        let rest = Padded {
            data: &input.data[x0 * C..],
            ..input
        };
        conv_row::<3, C>(rest, y, width - x0, (weights, C / 16), &mut out[x0 * C..]);
    }
}

/// 16 output pixels of [`conv_row_winograd`]; `input` points at the top-left padded pixel.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn winograd_block<const C: usize>(
    input: *const f32,
    row: usize,
    winograd: *const f32,
    out: *mut f32,
) {
    // B^T d of every kernel row and quad, `[ky][quad][point][ci]`; every value read is
    // written first.
    let mut points =
        std::mem::MaybeUninit::<[f32; 3 * QUADS * WINOGRAD_POINTS * MAX_FEATURES]>::uninit();
    let buffer = points.as_mut_ptr().cast::<f32>();
    let (two, four, five) = (
        _mm512_set1_ps(2.0),
        _mm512_set1_ps(4.0),
        _mm512_set1_ps(5.0),
    );
    for ky in 0..3 {
        for q in 0..QUADS {
            for chunk in (0..C).step_by(16) {
                let d = input.add((ky * row + 4 * q) * C + chunk);
                let [d0, d1, d2, d3, d4, d5] =
                    [0, 1, 2, 3, 4, 5].map(|j| _mm512_loadu_ps(d.add(j * C)));
                let d4_m_d2 = _mm512_sub_ps(d4, d2);
                let twice_d3_m_d1 = _mm512_mul_ps(two, _mm512_sub_ps(d3, d1));
                let v = [
                    _mm512_sub_ps(_mm512_fmadd_ps(four, d0, d4), _mm512_mul_ps(five, d2)),
                    _mm512_sub_ps(
                        _mm512_add_ps(d3, d4),
                        _mm512_mul_ps(four, _mm512_add_ps(d1, d2)),
                    ),
                    _mm512_fmadd_ps(four, _mm512_sub_ps(d1, d2), _mm512_sub_ps(d4, d3)),
                    _mm512_add_ps(d4_m_d2, twice_d3_m_d1),
                    _mm512_sub_ps(d4_m_d2, twice_d3_m_d1),
                    _mm512_sub_ps(_mm512_fmadd_ps(four, d1, d5), _mm512_mul_ps(five, d3)),
                ];
                let to = buffer.add((ky * QUADS + q) * WINOGRAD_POINTS * C + chunk);
                for (j, v) in v.into_iter().enumerate() {
                    _mm512_storeu_ps(to.add(j * C), v);
                }
            }
        }
    }
    let eight = _mm512_set1_ps(8.0);
    for group in 0..C / 16 {
        let winograd = winograd.add(group * 3 * WINOGRAD_POINTS * C * 16);
        let mut acc = [[_mm512_setzero_ps(); WINOGRAD_POINTS]; QUADS];
        for ky in 0..3 {
            let from = buffer.add(ky * QUADS * WINOGRAD_POINTS * C);
            for ci in 0..C {
                let mut w = [_mm512_setzero_ps(); WINOGRAD_POINTS];
                for (j, w) in w.iter_mut().enumerate() {
                    *w = _mm512_loadu_ps(winograd.add(((ky * WINOGRAD_POINTS + j) * C + ci) * 16));
                }
                for (q, acc) in acc.iter_mut().enumerate() {
                    for (j, (a, w)) in acc.iter_mut().zip(&w).enumerate() {
                        let v = _mm512_set1_ps(*from.add((q * WINOGRAD_POINTS + j) * C + ci));
                        *a = _mm512_fmadd_ps(v, *w, *a);
                    }
                }
            }
        }
        for (q, m) in acc.iter().enumerate() {
            // A^T m.
            let (p12, m12) = (_mm512_add_ps(m[1], m[2]), _mm512_sub_ps(m[1], m[2]));
            let (p34, m34) = (_mm512_add_ps(m[3], m[4]), _mm512_sub_ps(m[3], m[4]));
            let y = [
                _mm512_add_ps(_mm512_add_ps(m[0], p12), p34),
                _mm512_fmadd_ps(two, m34, m12),
                _mm512_fmadd_ps(four, p34, p12),
                _mm512_add_ps(_mm512_fmadd_ps(eight, m34, m12), m[5]),
            ];
            for (k, y) in y.into_iter().enumerate() {
                _mm512_storeu_ps(out.add((4 * q + k) * C + group * 16), y);
            }
        }
    }
}

/// `[C / 16][3][3][C][16]` weights (the [`conv_row`] layout of a 3x3, `C -> C` layer) ->
/// `[C / 16][3][6][C][16]`: each kernel row `g = (g0, g1, g2)` of each input and output channel
/// as the six F(4,3) points `G g`.
pub(crate) fn winograd_weights(weights: &[f32], channels: usize) -> Vec<f32> {
    let groups = channels / 16;
    let lanes = channels * 16;
    let mut out = vec![0.0; groups * 3 * WINOGRAD_POINTS * lanes];
    for group in 0..groups {
        let (from, to) = (group * 9 * lanes, group * 3 * WINOGRAD_POINTS * lanes);
        for ky in 0..3 {
            for lane in 0..lanes {
                let g = |kx: usize| weights[from + (ky * 3 + kx) * lanes + lane];
                let points = sesr_model::winograd::kernel_row_points([g(0), g(1), g(2)]);
                for (j, v) in points.into_iter().enumerate() {
                    out[to + (ky * WINOGRAD_POINTS + j) * lanes + lane] = v;
                }
            }
        }
    }
    out
}

/// `R` consecutive output pixels of one group of 16 channels, `out_stride` floats apart;
/// `input` points at the window's top-left padded pixel.
///
/// Each broadcast input value feeds the `K` taps of its kernel row at once (one FMA into each
/// output pixel it touches), so loads stay well below one per FMA.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn conv_block<const K: usize, const CIN: usize, const R: usize>(
    input: *const f32,
    row: usize,
    weights: *const f32,
    out: *mut f32,
    out_stride: usize,
) {
    let mut acc = [_mm512_setzero_ps(); R];
    for ky in 0..K {
        let pixels = input.add(ky * row * CIN);
        for ci in 0..CIN {
            let mut v = [_mm512_setzero_ps(); BLOCK + 4];
            for (column, v) in v[..R + K - 1].iter_mut().enumerate() {
                *v = _mm512_set1_ps(*pixels.add(column * CIN + ci));
            }
            for kx in 0..K {
                let w = _mm512_loadu_ps(weights.add(((ky * K + kx) * CIN + ci) * 16));
                for (r, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm512_fmadd_ps(v[r + kx], w, *acc);
                }
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        _mm512_storeu_ps(out.add(r * out_stride), *acc);
    }
}

/// Output row `y` (`width` pixels, 4 channels each, packed) of the `K x K` correlation of a
/// `CIN`-channel `input` with `weights` (`[K][K][4][CIN]`: tap, output, input channel), without
/// bias: the x2 output block, vectorised over the input channels instead of padding its 4
/// outputs to 16 lanes.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn conv_row_cout4<const K: usize, const CIN: usize>(
    input: Padded,
    y: usize,
    width: usize,
    weights: &[f32],
    out: &mut [f32],
) {
    assert!(CIN.is_multiple_of(16));
    assert_eq!(input.channels, CIN);
    assert!(width + K - 1 <= input.row);
    assert!((y + K) * input.row * CIN <= input.data.len());
    assert!(weights.len() >= K * K * 4 * CIN);
    assert!(out.len() >= width * 4);
    let base = input.data.as_ptr().add(y * input.row * CIN);
    let w = weights.as_ptr();
    let mut x = 0;
    while x + 4 <= width {
        // acc[pixel][output channel], each a vector over the input channels.
        let mut acc = [[_mm512_setzero_ps(); 4]; 4];
        for ky in 0..K {
            for kx in 0..K {
                for chunk in (0..CIN).step_by(16) {
                    let taps = w.add((ky * K + kx) * 4 * CIN + chunk);
                    let weight = [0, 1, 2, 3].map(|co| _mm512_loadu_ps(taps.add(co * CIN)));
                    let pixels = base.add((ky * input.row + x + kx) * CIN + chunk);
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let v = _mm512_loadu_ps(pixels.add(r * CIN));
                        for (co, acc) in acc.iter_mut().enumerate() {
                            *acc = _mm512_fmadd_ps(v, weight[co], *acc);
                        }
                    }
                }
            }
        }
        let [a, b, c, d] = acc;
        _mm512_storeu_ps(out.as_mut_ptr().add(x * 4), sum_lanes16([a, b, c, d]));
        x += 4;
    }
    while x < width {
        let mut acc = [_mm512_setzero_ps(); 4];
        for ky in 0..K {
            for kx in 0..K {
                for chunk in (0..CIN).step_by(16) {
                    let taps = w.add((ky * K + kx) * 4 * CIN + chunk);
                    let v = _mm512_loadu_ps(base.add((ky * input.row + x + kx) * CIN + chunk));
                    for (co, acc) in acc.iter_mut().enumerate() {
                        *acc = _mm512_fmadd_ps(v, _mm512_loadu_ps(taps.add(co * CIN)), *acc);
                    }
                }
            }
        }
        for (co, acc) in acc.iter().enumerate() {
            out[x * 4 + co] = _mm512_reduce_add_ps(*acc);
        }
        x += 1;
    }
}

/// Lane `4 * i + j` of the result is the sum of the 16 lanes of `acc[i][j]`.
#[target_feature(enable = "avx512f")]
#[inline]
fn sum_lanes16(acc: [[__m512; 4]; 4]) -> __m512 {
    // The tree below puts the sum of its input `a[l + OFFSET[k]]` in lane `4k + l`.
    const OFFSET: [usize; 4] = [0, 8, 4, 12];
    let mut a = [_mm512_setzero_ps(); 16];
    for k in 0..4 {
        for l in 0..4 {
            a[l + OFFSET[k]] = acc[k][l];
        }
    }
    // 512 -> 256 bits: t[i] holds halves of a[i] (chunks 0, 1) and a[i + 8] (chunks 2, 3).
    let t: [__m512; 8] = std::array::from_fn(|i| {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x44>(a[i], a[i + 8]),
            _mm512_shuffle_f32x4::<0xEE>(a[i], a[i + 8]),
        )
    });
    // 256 -> 128 bits: u[i] chunk k holds a quarter-sum of a[i + OFFSET[k]].
    let u: [__m512; 4] = std::array::from_fn(|i| {
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x88>(t[i], t[i + 4]),
            _mm512_shuffle_f32x4::<0xDD>(t[i], t[i + 4]),
        )
    });
    // 4x4 transpose-and-add inside each 128-bit chunk: lane l of chunk k sums u[l]'s chunk k.
    let p = _mm512_add_ps(
        _mm512_unpacklo_ps(u[0], u[1]),
        _mm512_unpackhi_ps(u[0], u[1]),
    );
    let q = _mm512_add_ps(
        _mm512_unpacklo_ps(u[2], u[3]),
        _mm512_unpackhi_ps(u[2], u[3]),
    );
    _mm512_add_ps(
        _mm512_shuffle_ps::<0x44>(p, q),
        _mm512_shuffle_ps::<0xEE>(p, q),
    )
}

/// Gradient image `[height][width][16]` read with a row stride (it may sit inside a padded one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grad<'a> {
    pub data: &'a [f32],
    /// Index of pixel (0, 0), in pixels.
    pub origin: usize,
    /// Pixels per row.
    pub row: usize,
    /// Floats per pixel.
    pub channels: usize,
}

impl Padded<'_> {
    /// What a `k x k` pass over `height x width` outputs reads.
    fn check(&self, channels: usize, k: usize, height: usize, width: usize) {
        assert_eq!(self.channels, channels);
        assert!(width + k - 1 <= self.row);
        assert!((height + k - 1) * self.row * channels <= self.data.len());
    }
}

impl Grad<'_> {
    fn check(&self, height: usize, width: usize) {
        assert!(width <= self.row);
        let last = self.origin + (height - 1) * self.row + width;
        assert!(height > 0 && last * self.channels <= self.data.len());
    }
}

/// Adds to `dw` (`[groups][K][K][CIN][16]`, like the forward weights) the weight gradient of a
/// layer with `CIN = input.channels` inputs (a multiple of 16) and `16 * groups =
/// grad.channels` outputs, `sum over pixels of input[y+ky][x+kx][ci] * grad[y][x][co]`, and to
/// `db` (`16 * groups` floats) the bias gradient, the sum of `grad`.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn weight_grad<const K: usize>(
    input: Padded,
    grad: Grad,
    height: usize,
    width: usize,
    dw: &mut [f32],
    db: &mut [f32],
) {
    let (cin, cout) = (input.channels, grad.channels);
    assert!(cin.is_multiple_of(16) && cout.is_multiple_of(16));
    input.check(cin, K, height, width);
    grad.check(height, width);
    assert!(dw.len() >= K * K * cin * cout);
    assert!(db.len() >= cout);
    // Strips of rows whose input and gradient fit the L1 cache, so the passes over a strip read
    // it from there.
    let strip = (L1_BYTES / (width * 4 * (cin + cout))).clamp(1, height);
    for first_row in (0..height).step_by(strip) {
        let rows = first_row..(first_row + strip).min(height);
        for group in 0..cout / 16 {
            let mut bias = _mm512_setzero_ps();
            for ky in 0..K {
                // K * channels accumulators plus the K-register ring fit the 32 registers.
                if K <= 3 {
                    weight_grad_passes::<K, 8>(input, grad, rows.clone(), width, (ky, group), dw);
                } else {
                    weight_grad_passes::<K, 4>(input, grad, rows.clone(), width, (ky, group), dw);
                }
            }
            for y in rows.clone() {
                let grads = grad
                    .data
                    .as_ptr()
                    .add((grad.origin + y * grad.row) * cout + group * 16);
                for x in 0..width {
                    bias = _mm512_add_ps(bias, _mm512_loadu_ps(grads.add(x * cout)));
                }
            }
            let b = db.as_mut_ptr().add(group * 16);
            _mm512_storeu_ps(b, _mm512_add_ps(_mm512_loadu_ps(b), bias));
        }
    }
}

/// Kernel row `ky` and output group `group` of [`weight_grad`] over `rows`, in passes of `CS`
/// input channels. Walking the input columns, each broadcast input value meets the gradients of
/// the `K` output pixels it reaches (kept in a register ring), so a pass needs far fewer loads
/// than FMAs.
#[target_feature(enable = "avx512f")]
#[inline]
// One broadcast per channel `c`, used by the K taps: the index loop says that directly.
#[allow(clippy::needless_range_loop)]
unsafe fn weight_grad_passes<const K: usize, const CS: usize>(
    input: Padded,
    grad: Grad,
    rows: Range<usize>,
    width: usize,
    (ky, group): (usize, usize),
    dw: &mut [f32],
) {
    let (cin, cout) = (input.channels, grad.channels);
    let (inp, g) = (input.data.as_ptr(), grad.data.as_ptr());
    let dw = dw.as_mut_ptr().add(group * K * K * cin * 16);
    for first_channel in (0..cin).step_by(CS) {
        // acc[kx][c]: the weights of tap (ky, kx), input channel first_channel + c.
        let mut acc = [[_mm512_setzero_ps(); CS]; K];
        for y in rows.clone() {
            let pixels = inp.add(((y + ky) * input.row) * cin + first_channel);
            let grads = g.add((grad.origin + y * grad.row) * cout + group * 16);
            // ring[kx] = grad at output pixel (column - kx), zero outside the row.
            let mut ring = [_mm512_setzero_ps(); K];
            for column in 0..width + K - 1 {
                for kx in (1..K).rev() {
                    ring[kx] = ring[kx - 1];
                }
                ring[0] = if column < width {
                    _mm512_loadu_ps(grads.add(column * cout))
                } else {
                    _mm512_setzero_ps()
                };
                for c in 0..CS {
                    let v = _mm512_set1_ps(*pixels.add(column * cin + c));
                    for kx in 0..K {
                        acc[kx][c] = _mm512_fmadd_ps(v, ring[kx], acc[kx][c]);
                    }
                }
            }
        }
        for (kx, acc) in acc.iter().enumerate() {
            for (c, acc) in acc.iter().enumerate() {
                let o = dw.add(((ky * K + kx) * cin + first_channel + c) * 16);
                _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), *acc));
            }
        }
    }
}

/// Adds to `dw` (`[groups][K][K][1][16]`) the weight gradient of a one-channel-input layer with
/// `16 * groups = grad.channels` outputs and to `db` the bias gradient.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn weight_grad_c1<const K: usize>(
    input: Padded,
    grad: Grad,
    height: usize,
    width: usize,
    dw: &mut [f32],
    db: &mut [f32],
) {
    let cout = grad.channels;
    assert!(cout.is_multiple_of(16));
    input.check(1, K, height, width);
    grad.check(height, width);
    assert!(dw.len() >= K * K * cout && db.len() >= cout);
    let (inp, g) = (input.data.as_ptr(), grad.data.as_ptr());
    for group in 0..cout / 16 {
        let dw = dw.as_mut_ptr().add(group * K * K * 16);
        // One accumulator per tap: K*K independent FMA chains hide the FMA latency.
        for ky in 0..K {
            let mut acc = [_mm512_setzero_ps(); K];
            let mut bias = _mm512_setzero_ps();
            for y in 0..height {
                let pixels = inp.add((y + ky) * input.row);
                let grads = g.add((grad.origin + y * grad.row) * cout + group * 16);
                for x in 0..width {
                    let d = _mm512_loadu_ps(grads.add(x * cout));
                    for (kx, acc) in acc.iter_mut().enumerate() {
                        *acc = _mm512_fmadd_ps(_mm512_set1_ps(*pixels.add(x + kx)), d, *acc);
                    }
                    if ky == 0 {
                        bias = _mm512_add_ps(bias, d);
                    }
                }
            }
            let b = db.as_mut_ptr().add(group * 16);
            _mm512_storeu_ps(b, _mm512_add_ps(_mm512_loadu_ps(b), bias));
            for (kx, acc) in acc.iter().enumerate() {
                let o = dw.add((ky * K + kx) * 16);
                _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), *acc));
            }
        }
    }
}

/// Adds to `dw` (`[K][K][4][CIN]`: tap, output channel, input channel) the weight gradient of a
/// layer with `CIN = input.channels` inputs (a multiple of 16) and 4 outputs (the x2 output
/// block), vectorised over the input channels.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn weight_grad_cout4<const K: usize>(
    input: Padded,
    grad: Grad,
    height: usize,
    width: usize,
    dw: &mut [f32],
) {
    let cin = input.channels;
    assert!(cin.is_multiple_of(16));
    input.check(cin, K, height, width);
    assert_eq!(grad.channels, 4);
    grad.check(height, width);
    assert!(dw.len() >= K * K * 4 * cin);
    let (inp, g) = (input.data.as_ptr(), grad.data.as_ptr());
    for chunk in (0..cin).step_by(16) {
        for ky in 0..K {
            // [kx][co]
            let mut acc = [[_mm512_setzero_ps(); 4]; K];
            for y in 0..height {
                let pixels = inp.add((y + ky) * input.row * cin + chunk);
                let grads = g.add((grad.origin + y * grad.row) * 4);
                for x in 0..width {
                    let gx = grads.add(x * 4);
                    let d = [
                        _mm512_set1_ps(*gx),
                        _mm512_set1_ps(*gx.add(1)),
                        _mm512_set1_ps(*gx.add(2)),
                        _mm512_set1_ps(*gx.add(3)),
                    ];
                    for (kx, acc) in acc.iter_mut().enumerate() {
                        let v = _mm512_loadu_ps(pixels.add((x + kx) * cin));
                        for (co, acc) in acc.iter_mut().enumerate() {
                            *acc = _mm512_fmadd_ps(v, d[co], *acc);
                        }
                    }
                }
            }
            for (kx, acc) in acc.iter().enumerate() {
                for (co, acc) in acc.iter().enumerate() {
                    let o = dw.as_mut_ptr().add(((ky * K + kx) * 4 + co) * cin + chunk);
                    _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), *acc));
                }
            }
        }
    }
}

/// Adds the per-channel sum of a gradient image to `db` (`channels` floats).
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn channel_sums(grad: Grad, height: usize, width: usize, db: &mut [f32]) {
    let c = grad.channels;
    for y in 0..height {
        let start = (grad.origin + y * grad.row) * c;
        for pixel in grad.data[start..start + width * c].chunks_exact(c) {
            for (d, v) in db.iter_mut().zip(pixel) {
                *d += v;
            }
        }
    }
}

/// The reference's fake quantization of one tensor with its nudged range (activation QAT):
/// `floor_ste((clamp(x, min, max) - min) / scale + 0.5) * scale + min`, evaluated with the same
/// float operations in the same order as `sesr_quant::fake_quant`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FakeQuant {
    pub min: f32,
    pub scale: f32,
    pub max: f32,
}

impl FakeQuant {
    /// `(levels, (clamped - min) / scale)` of `x`: the output is `levels * scale + min`.
    fn levels(self, x: f32) -> (f32, f32) {
        let clamped = x.max(self.min).min(self.max);
        let t = (clamped - self.min) / self.scale;
        let u = t + 0.5;
        (u + (u.floor() - u), t)
    }

    pub fn apply(self, x: f32) -> f32 {
        self.levels(x).0 * self.scale + self.min
    }

    /// The gradient at `x` for `g` at the output, adding to `sums` what the range gets:
    /// `[below min, d/d scale, above max]` (straight-through inside the range).
    pub fn backward(self, g: f32, x: f32, sums: &mut [f64; 3]) -> f32 {
        let (levels, t) = self.levels(x);
        sums[1] += (g * (levels - t)) as f64;
        if x < self.min {
            sums[0] += g as f64;
            0.0
        } else if x > self.max {
            sums[2] += g as f64;
            0.0
        } else {
            g
        }
    }
}

/// [`FakeQuant`] on 16 lanes.
#[derive(Clone, Copy)]
struct FakeQuant16 {
    min: __m512,
    scale: __m512,
    max: __m512,
}

impl FakeQuant16 {
    #[target_feature(enable = "avx512f")]
    fn new(q: FakeQuant) -> Self {
        FakeQuant16 {
            min: _mm512_set1_ps(q.min),
            scale: _mm512_set1_ps(q.scale),
            max: _mm512_set1_ps(q.max),
        }
    }

    #[target_feature(enable = "avx512f")]
    fn levels(self, x: __m512) -> (__m512, __m512) {
        let clamped = _mm512_min_ps(_mm512_max_ps(x, self.min), self.max);
        let t = _mm512_div_ps(_mm512_sub_ps(clamped, self.min), self.scale);
        let u = _mm512_add_ps(t, _mm512_set1_ps(0.5));
        let floor = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(u);
        (_mm512_add_ps(u, _mm512_sub_ps(floor, u)), t)
    }

    #[target_feature(enable = "avx512f")]
    fn apply(self, x: __m512) -> __m512 {
        _mm512_add_ps(_mm512_mul_ps(self.levels(x).0, self.scale), self.min)
    }

    /// As [`FakeQuant::backward`]; `sums` are lane-wise partial sums.
    #[target_feature(enable = "avx512f")]
    fn backward(self, g: __m512, x: __m512, sums: &mut [__m512; 3]) -> __m512 {
        let (levels, t) = self.levels(x);
        sums[1] = _mm512_fmadd_ps(g, _mm512_sub_ps(levels, t), sums[1]);
        let below = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, self.min);
        let above = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, self.max);
        sums[0] = _mm512_mask_add_ps(sums[0], below, sums[0], g);
        sums[2] = _mm512_mask_add_ps(sums[2], above, sums[2], g);
        _mm512_maskz_mov_ps(!(below | above), g)
    }
}

/// Adds lane-wise range sums to `[below, scale, above]`.
#[target_feature(enable = "avx512f")]
fn add_sums(lanes: [__m512; 3], sums: &mut [f64; 3]) {
    for (s, v) in sums.iter_mut().zip(lanes) {
        *s += _mm512_reduce_add_ps(v) as f64;
    }
}

/// Forward epilogue of a 3x3 block: `z = conv + bias` is kept for the backward pass and
/// `prelu(z)` (ReLU is a zero slope), fake-quantized under activation QAT, goes on to the next
/// layer.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn block_forward_epilogue(
    conv: &[f32],
    (bias, slope): (&[f32], &[f32]),
    quant: Option<FakeQuant>,
    z: &mut [f32],
    next: &mut [f32],
) {
    let groups = bias.len() / 16;
    assert!(groups <= MAX_FEATURES / 16 && bias.len() == groups * 16 && slope.len() == bias.len());
    let (mut b, mut s) = (
        [_mm512_setzero_ps(); MAX_FEATURES / 16],
        [_mm512_setzero_ps(); MAX_FEATURES / 16],
    );
    for (g, (bias, slope)) in bias
        .chunks_exact(16)
        .zip(slope.chunks_exact(16))
        .enumerate()
    {
        b[g] = _mm512_loadu_ps(bias.as_ptr());
        s[g] = _mm512_loadu_ps(slope.as_ptr());
    }
    let quant = quant.map(|q| FakeQuant16::new(q));
    let n = z.len() / 16;
    assert!(n.is_multiple_of(groups) && conv.len() >= n * 16 && next.len() >= n * 16);
    for p in 0..n {
        let g = p % groups;
        let zv = _mm512_add_ps(_mm512_loadu_ps(conv.as_ptr().add(p * 16)), b[g]);
        _mm512_storeu_ps(z.as_mut_ptr().add(p * 16), zv);
        let positive = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(zv, _mm512_setzero_ps());
        let mut a = _mm512_mask_blend_ps(positive, _mm512_mul_ps(zv, s[g]), zv);
        if let Some(q) = quant {
            a = q.apply(a);
        }
        _mm512_storeu_ps(next.as_mut_ptr().add(p * 16), a);
    }
}

/// `out = x`, or its fake quantization.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn quantize(x: &[f32], quant: Option<FakeQuant>, out: &mut [f32]) {
    let n = x.len() / 16;
    assert!(x.len() == n * 16 && out.len() >= n * 16);
    match quant {
        None => out[..x.len()].copy_from_slice(x),
        Some(q) => {
            let q = FakeQuant16::new(q);
            for p in 0..n {
                let v = q.apply(_mm512_loadu_ps(x.as_ptr().add(p * 16)));
                _mm512_storeu_ps(out.as_mut_ptr().add(p * 16), v);
            }
        }
    }
}

/// The gradient at `x` of its fake quantization (straight through inside the range), range
/// sums added to `sums`; without quantization `dx = g`.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn quantize_backward(
    g: &[f32],
    x: &[f32],
    quant: Option<FakeQuant>,
    dx: &mut [f32],
    sums: &mut [f64; 3],
) {
    let n = x.len() / 16;
    assert!(x.len() == n * 16 && g.len() >= n * 16 && dx.len() >= n * 16);
    let Some(q) = quant else {
        dx[..x.len()].copy_from_slice(&g[..x.len()]);
        return;
    };
    let q = FakeQuant16::new(q);
    let mut lanes = [_mm512_setzero_ps(); 3];
    for p in 0..n {
        let gv = _mm512_loadu_ps(g.as_ptr().add(p * 16));
        let xv = _mm512_loadu_ps(x.as_ptr().add(p * 16));
        _mm512_storeu_ps(dx.as_mut_ptr().add(p * 16), q.backward(gv, xv, &mut lanes));
    }
    add_sums(lanes, sums);
}

/// Backward through a block's PReLU (a zero slope for ReLU) and, under activation QAT, the
/// fake quantization after it: `a = prelu(z)`, `da = fq'(a) g`, `dz = da * (z > 0 ? 1 :
/// slope)`, `dslope += da * min(z, 0)`.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn activation_backward(
    g: &[f32],
    z: &[f32],
    (slope, quant): (&[f32], Option<FakeQuant>),
    dz: &mut [f32],
    (dslope, sums): (&mut [f32], &mut [f64; 3]),
) {
    let groups = slope.len() / 16;
    assert!(
        groups <= MAX_FEATURES / 16 && slope.len() == groups * 16 && dslope.len() == slope.len()
    );
    let n = z.len() / 16;
    assert!(n.is_multiple_of(groups) && g.len() >= n * 16 && dz.len() >= n * 16);
    let zero = _mm512_setzero_ps();
    let (mut s, mut ds) = ([zero; MAX_FEATURES / 16], [zero; MAX_FEATURES / 16]);
    for (g, (slope, dslope)) in slope
        .chunks_exact(16)
        .zip(dslope.chunks_exact(16))
        .enumerate()
    {
        s[g] = _mm512_loadu_ps(slope.as_ptr());
        ds[g] = _mm512_loadu_ps(dslope.as_ptr());
    }
    let quant = quant.map(|q| FakeQuant16::new(q));
    let mut lanes = [zero; 3];
    for p in 0..n {
        let group = p % groups;
        let mut da = _mm512_loadu_ps(g.as_ptr().add(p * 16));
        let zv = _mm512_loadu_ps(z.as_ptr().add(p * 16));
        let positive = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(zv, zero);
        if let Some(q) = quant {
            let a = _mm512_mask_blend_ps(positive, _mm512_mul_ps(zv, s[group]), zv);
            da = q.backward(da, a, &mut lanes);
        }
        _mm512_storeu_ps(
            dz.as_mut_ptr().add(p * 16),
            _mm512_mask_blend_ps(positive, _mm512_mul_ps(da, s[group]), da),
        );
        ds[group] = _mm512_fmadd_ps(da, _mm512_min_ps(zv, zero), ds[group]);
    }
    for (dslope, ds) in dslope.chunks_exact_mut(16).zip(ds) {
        _mm512_storeu_ps(dslope.as_mut_ptr(), ds);
    }
    if quant.is_some() {
        add_sums(lanes, sums);
    }
}
