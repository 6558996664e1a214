//! The AVX-512 VNNI convolutions. `vpdpbusd` multiplies four `u8` activations by four `i8`
//! weights into each 32-bit lane; activations are stored as `q + 128` and the bias absorbs
//! `-128 * sum(w)` (see `plan`), so the sums are TFLite's accumulators exactly. The
//! single-channel input conv takes four horizontal taps per lane instead of four channels. The
//! last stage (output conv, final ADD with the input, depth-to-space) runs in registers up to
//! the int8 output.
#![allow(unsafe_code)]

use std::arch::x86_64::*;
use std::ops::Range;

use super::arith::{
    byte_mask, input_term512, multiply_fixed512, pack4, pack4_i8, requantize512, requantize_low512,
    transpose4x4,
};
use crate::int8::plan::{ConvPlan, NetworkPlan, ADD_LEFT_SHIFT, U8_OFFSET};
use crate::int8::scalar;
use crate::int8::x86::{channels_per_pass, unrolled, weight};

/// A conv's weights in the order the kernels read them: per pass over `per_pass` output
/// channels, per kernel row, per tap unit (a tap and four input channels, or four taps of the
/// single input channel), per output channel, one dword of four `i8`.
#[derive(Clone, Debug)]
pub(crate) struct ConvWeights {
    /// Output channels per pass: 4, 8, 12 or 16.
    pub(super) per_pass: usize,
    packed: Vec<i32>,
}

impl ConvWeights {
    /// The weights of `conv`; `None` when no AVX-512 kernel takes its shape.
    pub(crate) fn new(conv: &ConvPlan) -> Option<Self> {
        let per_pass = channels_per_pass(conv, 16)?;
        let (ic, oc, k) = (conv.in_channels, conv.out_channels, conv.kernel);
        // Four int8 weights of output channel `o`, kernel row `ky`, tap unit `u`.
        let unit = |o: usize, ky: usize, u: usize| -> [i8; 4] {
            if ic == 1 {
                [0, 1, 2, 3].map(|t| weight(conv, o, ky, 4 * u + t, 0))
            } else {
                let (kx, g) = (u / (ic / 4), u % (ic / 4));
                [0, 1, 2, 3].map(|t| weight(conv, o, ky, kx, 4 * g + t))
            }
        };
        let mut packed = Vec::new();
        for pass in 0..oc / per_pass {
            for ky in 0..k {
                for u in 0..units(conv) {
                    for o in 0..per_pass {
                        let four = unit(pass * per_pass + o, ky, u);
                        packed.push(i32::from_le_bytes(four.map(|v| v as u8)));
                    }
                }
            }
        }
        Some(Self { per_pass, packed })
    }

    /// Whether these weights have the shape of `conv`'s, all that the kernels read.
    pub(super) fn fits(&self, conv: &ConvPlan) -> bool {
        let (oc, k) = (conv.out_channels, conv.kernel);
        oc.is_multiple_of(self.per_pass) && self.packed.len() == oc * k * units(conv)
    }
}

/// Tap units of a kernel row: a tap and four input channels, or four taps of the single
/// input channel.
fn units(conv: &ConvPlan) -> usize {
    let (ic, k) = (conv.in_channels, conv.kernel);
    if ic == 1 {
        k.div_ceil(4)
    } else {
        k * ic / 4
    }
}

/// 16 pixels of the single input channel: lane `j` holds the four bytes `p[j..j + 4]`, four
/// horizontal taps.
#[inline(always)]
unsafe fn window4(p: *const u8) -> __m512i {
    let b = |i: usize| _mm512_cvtepu8_epi32(_mm_loadu_si128(p.add(i).cast()));
    let lo = _mm512_or_si512(b(0), _mm512_slli_epi32::<8>(b(1)));
    let hi = _mm512_or_si512(_mm512_slli_epi32::<16>(b(2)), _mm512_slli_epi32::<24>(b(3)));
    _mm512_or_si512(lo, hi)
}

/// The accumulators of `OB` output channels (pass `pass`) for `PB` blocks of 16 pixels from
/// `x`: `acc[block][channel]`.
#[inline(always)]
unsafe fn accumulate512<const OB: usize, const PB: usize>(
    conv: &ConvPlan,
    weights: &ConvWeights,
    rows: &[&[u8]],
    x: usize,
    width: usize,
    pass: usize,
) -> [[__m512i; OB]; PB] {
    let (ic, k, pad) = (conv.in_channels, conv.kernel, conv.pad_size());
    let mut acc = [[_mm512_setzero_si512(); OB]; PB];
    unrolled!(OB, |o| {
        let bias = _mm512_set1_epi32(conv.bias[pass * OB + o]);
        unrolled!(PB, |b| {
            acc[b][o] = bias;
        });
    });
    let units = if ic == 1 { k.div_ceil(4) } else { k * ic / 4 };
    let mut w = weights.packed.as_ptr().add(pass * k * units * OB);
    // One tap unit: the weights of the `OB` channels against the `PB` blocks `v`. (A macro,
    // not a closure: a closure would be compiled without the caller's target features.)
    macro_rules! step {
        ($v:expr) => {
            unrolled!(OB, |o| {
                let weights = _mm512_set1_epi32(*w.add(o));
                unrolled!(PB, |b| {
                    acc[b][o] = _mm512_dpbusd_epi32(acc[b][o], $v[b], weights);
                });
            });
            w = w.add(OB);
        };
    }
    for row in &rows[..k] {
        let row = row.as_ptr();
        if ic == 1 {
            for u in 0..units {
                let mut v = [_mm512_setzero_si512(); PB];
                unrolled!(PB, |b| {
                    v[b] = window4(row.add(x + 16 * b + 4 * u - pad));
                });
                step!(v);
            }
        } else {
            for kx in 0..k {
                for g in 0..ic / 4 {
                    let base = row.add(g * 4 * width + 4 * (x + kx - pad));
                    let mut v = [_mm512_setzero_si512(); PB];
                    unrolled!(PB, |b| {
                        v[b] = _mm512_loadu_si512(base.add(64 * b).cast());
                    });
                    step!(v);
                }
            }
        }
    }
    acc
}

/// [`scalar::conv_row`] with the weights of `conv` packed in `weights`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) unsafe fn conv_avx512(
    conv: &ConvPlan,
    weights: &ConvWeights,
    rows: &[&[u8]],
    out: &mut [u8],
    cols: Range<usize>,
    width: usize,
) {
    // Twelve to sixteen accumulators cover the latency of `vpdpbusd` on two ports.
    match (weights.per_pass, conv.single_rounding) {
        (16, true) => conv_blocks512::<16, 1, true>(conv, weights, rows, out, cols, width),
        (12, true) => conv_blocks512::<12, 1, true>(conv, weights, rows, out, cols, width),
        (8, true) => conv_blocks512::<8, 2, true>(conv, weights, rows, out, cols, width),
        (4, true) => conv_blocks512::<4, 3, true>(conv, weights, rows, out, cols, width),
        (16, false) => conv_blocks512::<16, 1, false>(conv, weights, rows, out, cols, width),
        (12, false) => conv_blocks512::<12, 1, false>(conv, weights, rows, out, cols, width),
        (8, false) => conv_blocks512::<8, 2, false>(conv, weights, rows, out, cols, width),
        (4, false) => conv_blocks512::<4, 3, false>(conv, weights, rows, out, cols, width),
        _ => scalar::conv_row(conv, rows, out, cols, width),
    }
}

#[inline(always)]
unsafe fn conv_blocks512<const OB: usize, const PB: usize, const SINGLE: bool>(
    conv: &ConvPlan,
    weights: &ConvWeights,
    rows: &[&[u8]],
    out: &mut [u8],
    cols: Range<usize>,
    width: usize,
) {
    let oc = conv.out_channels;
    let mut x = cols.start;
    while x < cols.end {
        let valid = (cols.end - x).min(16 * PB);
        for pass in 0..oc / OB {
            let acc = accumulate512::<OB, PB>(conv, weights, rows, x, width, pass);
            unrolled!(PB, |b| {
                let pixels = valid.saturating_sub(16 * b).min(16);
                if pixels > 0 {
                    // Four channels at a time, so that few results wait in registers.
                    unrolled!(OB / 4, |q| {
                        let mut values = [_mm512_setzero_si512(); 4];
                        unrolled!(4, |t| {
                            let o = 4 * q + t;
                            values[t] = requantize_low512::<SINGLE>(conv, pass * OB + o, acc[b][o]);
                        });
                        let group = (pass * OB) / 4 + q;
                        let dst = out.as_mut_ptr().add(group * 4 * width + 4 * (x + 16 * b));
                        _mm512_mask_storeu_epi8(dst.cast(), byte_mask(4 * pixels), pack4(values));
                    });
                }
            });
        }
        x += 16 * PB;
    }
}

/// The output conv (its weights packed in `weights`), final ADD and depth-to-space of one
/// row (see [`scalar::finish_row`] for the other arguments).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) unsafe fn output_avx512(
    plan: &NetworkPlan,
    weights: &ConvWeights,
    rows: &[&[u8]],
    cols: Range<usize>,
    width: usize,
    x: &[i8],
    out: &mut [i8],
    out_width: usize,
    x0: usize,
) {
    let conv = &plan.convs[plan.m() + 1];
    let single = conv.single_rounding && plan.final_sum.single_rounding();
    match (plan.scale, single) {
        (2, true) => output_blocks512::<4, 3, 2, true>(
            plan, weights, rows, cols, width, x, out, out_width, x0,
        ),
        (2, false) => output_blocks512::<4, 3, 2, false>(
            plan, weights, rows, cols, width, x, out, out_width, x0,
        ),
        (_, true) => output_blocks512::<16, 1, 4, true>(
            plan, weights, rows, cols, width, x, out, out_width, x0,
        ),
        (_, false) => output_blocks512::<16, 1, 4, false>(
            plan, weights, rows, cols, width, x, out, out_width, x0,
        ),
    }
}

/// `OB = S^2` output channels for `PB` blocks of 16 pixels at a time, added to the input and
/// laid out as `S` high-resolution rows.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn output_blocks512<const OB: usize, const PB: usize, const S: usize, const SINGLE: bool>(
    plan: &NetworkPlan,
    weights: &ConvWeights,
    rows: &[&[u8]],
    cols: Range<usize>,
    width: usize,
    x: &[i8],
    out: &mut [i8],
    out_width: usize,
    x0: usize,
) {
    let conv = &plan.convs[plan.m() + 1];
    let add = &plan.final_sum;
    let (am, bm, om) = (add.a_multiplier, add.b_multiplier, add.output_multiplier);
    let (a_term, b_term) = (add.a_term(), add.b_term());
    let a_offset = _mm512_set1_epi32(add.a_offset);
    let b_offset = _mm512_set1_epi32(add.b_offset + U8_OFFSET);
    let zero_point = _mm512_set1_epi32(add.output_zero_point);
    let mut bx = cols.start;
    while bx < cols.end {
        let valid = (cols.end - bx).min(16 * PB);
        let acc = accumulate512::<OB, PB>(conv, weights, rows, bx, width, 0);
        unrolled!(PB, |b| {
            let pixels = valid.saturating_sub(16 * b).min(16);
            if pixels > 0 {
                let i = bx - cols.start + 16 * b;
                // The input's term of the sum, shared by the S^2 channels.
                let xv = _mm_maskz_loadu_epi8(byte_mask(pixels) as u16, x.as_ptr().add(i).cast());
                let xv = _mm512_add_epi32(_mm512_cvtepi8_epi32(xv), b_offset);
                let xs = match &b_term {
                    Some(t) if SINGLE => input_term512(xv, t),
                    _ => multiply_fixed512::<SINGLE>(
                        _mm512_slli_epi32::<{ ADD_LEFT_SHIFT as u32 }>(xv),
                        &bm,
                    ),
                };
                // The int8 outputs, saturated by the packs below.
                let mut y = [_mm512_setzero_si512(); OB];
                unrolled!(OB, |o| {
                    let v = requantize512::<SINGLE>(conv, o, acc[b][o]);
                    let v = _mm512_add_epi32(v, a_offset);
                    let v = match &a_term {
                        Some(t) if SINGLE => input_term512(v, t),
                        _ => multiply_fixed512::<SINGLE>(
                            _mm512_slli_epi32::<{ ADD_LEFT_SHIFT as u32 }>(v),
                            &am,
                        ),
                    };
                    let sum = _mm512_add_epi32(v, xs);
                    y[o] = _mm512_add_epi32(multiply_fixed512::<SINGLE>(sum, &om), zero_point);
                });
                let dst = out.as_mut_ptr().add(S * (x0 + i));
                store_depth_to_space::<OB, S>(&y, &plan.channel_at, dst, out_width, pixels);
            }
        });
        bx += 16 * PB;
    }
}

/// Stores `pixels` pixels (at most 16) of the `S` high-resolution rows that start at `dst`,
/// `out_width` apart, from the int8 outputs `y` of the `S^2` channels: row `dy` takes channels
/// `channel_at[dy * S + dx]`, `dx` in `0..S`, pixel by pixel.
#[inline(always)]
unsafe fn store_depth_to_space<const OB: usize, const S: usize>(
    y: &[__m512i; OB],
    channel_at: &[usize],
    dst: *mut i8,
    out_width: usize,
    pixels: usize,
) {
    let at = channel_at;
    if S == 2 {
        // x2: channel dy * 2 + dx. Packed, each 128-bit lane holds four pixels channel by
        // channel; one shuffle makes its two row halves, one permute gathers each row.
        let c = [y[at[0]], y[at[1]], y[at[2]], y[at[3]]];
        let bytes = pack4_i8(c);
        let split = _mm512_broadcast_i32x4(_mm_setr_epi8(
            0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15,
        ));
        let rows = _mm512_permutexvar_epi64(
            _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7),
            _mm512_shuffle_epi8(bytes, split),
        );
        let mask = byte_mask(2 * pixels) as u32;
        _mm256_mask_storeu_epi8(dst.cast(), mask, _mm512_castsi512_si256(rows));
        let dst = dst.add(out_width);
        _mm256_mask_storeu_epi8(dst.cast(), mask, _mm512_extracti64x4_epi64::<1>(rows));
    } else {
        unrolled!(S, |dy| {
            let c = [
                y[at[dy * S]],
                y[at[dy * S + 1]],
                y[at[dy * S + 2]],
                y[at[dy * S + 3]],
            ];
            let v = _mm512_shuffle_epi8(pack4_i8(c), transpose4x4());
            let dst = dst.add(dy * out_width);
            _mm512_mask_storeu_epi8(dst.cast(), byte_mask(4 * pixels), v);
        });
    }
}
