//! x86-64 row kernels: AVX-512 VNNI and AVX2, computing the integers of [`super::scalar`].
//!
//! Rows hold four channels per pixel in runs of pixels (`scalar::offset`), so a 64-byte load is
//! 16 pixels of four channels. Lanes are pixels; each output channel has its accumulators,
//! and each weight (four int8 for four input channels) is broadcast from memory.
//!
//! * AVX-512 VNNI: `vpdpbusd` multiplies four `u8` activations by four `i8` weights into each
//!   32-bit lane. Activations are stored as `q + 128` and the bias absorbs `-128 * sum(w)`
//!   (see `plan`), so the sums are TFLite's accumulators exactly. The single-channel input
//!   conv takes four horizontal taps per lane instead of four channels. The last stage (output
//!   conv, final ADD with the input, depth-to-space) runs in registers up to the int8 output.
//!   A PReLU after a block conv runs on the stored row: its tables by `vpermi2b` (VBMI),
//!   else TFLite's PRELU arithmetic on 16 lanes.
//! * AVX2: 16-bit products summed in pairs (`vpmaddwd`), which cannot saturate, unlike
//!   `vpmaddubsw`; lanes are 8 pixels.
//!
//! The requantization is TFLite's `MultiplyByQuantizedMultiplier` lane by lane, with 64-bit
//! products: `(x * m + 2^30) >> 31` equals gemmlowp's rounding doubling high product for
//! every `x` (its ties-away-from-zero nudge and truncating division combine into one floor),
//! and without a left shift the rounding right shift folds into the same floor
//! ([`FixedPoint`]): one nudge, one 64-bit shift. Saturating packs give the int8 clamps.
//! The tests hold every level to the scalar kernels' integers, bit for bit.
//!
//! Safety rests on two checks made by the safe entry points: the CPU has the instruction set
//! (checked per call, `is_x86_feature_detected!` is a cached load), and every slice covers
//! what the kernels read and write (asserted once per row, before any pointer arithmetic;
//! writes past the last pixel are masked, reads past it stay inside the row's slack).
#![allow(unsafe_code)]

use std::arch::x86_64::*;
use std::ops::Range;

use super::plan::{
    AddPlan, ConvPlan, FixedPoint, InputTerm, NetworkPlan, PreluPlan, ADD_LEFT_SHIFT, U8_OFFSET,
};
use super::{scalar, KernelLevel};

/// A conv's weights in the SIMD kernels' order: per pass over `per_pass` output channels,
/// per kernel row, per tap unit (a tap and four input channels, or four taps of the single
/// input channel), per output channel, one dword (four `i8` for AVX-512, two `i16` pairs for
/// AVX2).
#[derive(Clone, Debug, Default)]
pub(crate) struct ConvWeights {
    /// AVX-512: output channels per pass (0: no AVX-512 kernel for this shape).
    wide_per_pass: usize,
    wide: Vec<i32>,
    /// AVX2: output channels per pass (0: no AVX2 kernel for this shape).
    narrow_per_pass: usize,
    narrow: Vec<i32>,
}

impl ConvWeights {
    pub(crate) fn new(conv: &ConvPlan) -> Self {
        let (ic, oc, k) = (conv.in_channels, conv.out_channels, conv.kernel);
        let w = |o: usize, ky: usize, kx: usize, i: usize| -> i8 {
            if kx < k && i < ic {
                conv.weight[((o * k + ky) * k + kx) * ic + i]
            } else {
                0
            }
        };
        let mut weights = ConvWeights::default();
        if !oc.is_multiple_of(4) || (!ic.is_multiple_of(4) && ic != 1) {
            return weights;
        }
        // Four int8 weights of output channel `o`, kernel row `ky`, tap unit `u`.
        let unit = |o: usize, ky: usize, u: usize| -> [i8; 4] {
            if ic == 1 {
                [0, 1, 2, 3].map(|t| w(o, ky, 4 * u + t, 0))
            } else {
                let (kx, g) = (u / (ic / 4), u % (ic / 4));
                [0, 1, 2, 3].map(|t| w(o, ky, kx, 4 * g + t))
            }
        };
        let units = if ic == 1 { k.div_ceil(4) } else { k * ic / 4 };
        let per_pass = |lanes: usize| {
            if oc <= lanes {
                oc
            } else if oc.is_multiple_of(lanes) {
                lanes
            } else {
                0
            }
        };
        weights.wide_per_pass = per_pass(16);
        if let Some(passes) = oc.checked_div(weights.wide_per_pass) {
            for pass in 0..passes {
                for ky in 0..k {
                    for u in 0..units {
                        for o in 0..weights.wide_per_pass {
                            let four = unit(pass * weights.wide_per_pass + o, ky, u);
                            weights.wide.push(i32::from_le_bytes(four.map(|v| v as u8)));
                        }
                    }
                }
            }
        }
        // AVX2: two dwords of i16 pairs per unit, channels (0, 1) and (2, 3); the single
        // input channel has one tap per unit, paired with a zero.
        weights.narrow_per_pass = per_pass(8);
        if let Some(passes) = oc.checked_div(weights.narrow_per_pass) {
            let pair = |a: i8, b: i8| (a as i16 as u16 as i32) | ((b as i16 as i32) << 16);
            for pass in 0..passes {
                for ky in 0..k {
                    for kx in 0..k {
                        for g in 0..ic.div_ceil(4) {
                            for o in 0..weights.narrow_per_pass {
                                let o = pass * weights.narrow_per_pass + o;
                                if ic == 1 {
                                    weights.narrow.push(pair(w(o, ky, kx, 0), 0));
                                } else {
                                    let v = [0, 1, 2, 3].map(|t| w(o, ky, kx, 4 * g + t));
                                    weights.narrow.push(pair(v[0], v[1]));
                                    weights.narrow.push(pair(v[2], v[3]));
                                }
                            }
                        }
                    }
                }
            }
        }
        weights
    }
}

fn has_avx2() -> bool {
    is_x86_feature_detected!("avx2")
}

fn has_avx512_vnni() -> bool {
    has_avx2()
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512vnni")
}

/// Bytes a row of `channels` channels must hold so that pixel blocks of `block` pixels
/// starting before `end`, shifted by up to `k` taps, can be read (see `ROW_SLACK` in
/// `stream`).
fn reach(channels: usize, width: usize, end: usize, block: usize, k: usize) -> usize {
    if channels == 1 {
        end + block + k + 4
    } else {
        (channels / 4 - 1) * 4 * width + 4 * (end + block + k)
    }
}

/// [`scalar::conv_row`] with the kernels of `level`.
pub(crate) fn conv_row(
    level: KernelLevel,
    conv: &ConvPlan,
    rows: &[&[u8]],
    out: &mut [u8],
    cols: Range<usize>,
    width: usize,
) {
    let (ic, oc, k, pad) = (
        conv.in_channels,
        conv.out_channels,
        conv.kernel,
        conv.pad_size(),
    );
    if cols.is_empty() {
        return;
    }
    let simd = &conv.simd;
    let wide = level == KernelLevel::Avx512Vnni && simd.wide_per_pass > 0 && has_avx512_vnni();
    let narrow = level != KernelLevel::Scalar && simd.narrow_per_pass > 0 && has_avx2();
    if !(wide || narrow) {
        return scalar::conv_row(conv, rows, out, cols, width);
    }
    // Reads: blocks of up to 64 pixels from `cols.start - pad`; writes: masked to `cols`.
    assert!(cols.start >= pad && cols.end <= width && rows.len() == k);
    let need = reach(ic, width, cols.end, 64, k);
    assert!(rows.iter().all(|r| r.len() >= need));
    assert!(out.len() >= (oc / 4 - 1) * 4 * width + 4 * cols.end);
    if wide {
        // SAFETY: the CPU has AVX-512F/BW/VL/VNNI (checked above) and the slices cover every
        // access (asserted above).
        unsafe { conv_avx512(conv, rows, out, cols, width) }
    } else {
        // SAFETY: the CPU has AVX2 (checked above) and the slices cover every access
        // (asserted above).
        unsafe { conv_avx2(conv, rows, out, cols, width) }
    }
}

/// [`scalar::add_row`] with the kernels of `level`.
pub(crate) fn add_row(level: KernelLevel, add: &AddPlan, a: &[u8], b: &[u8], out: &mut [u8]) {
    let n = out.len().min(a.len()).min(b.len());
    let (a, b, out) = (&a[..n], &b[..n], &mut out[..n]);
    let done = if level == KernelLevel::Avx512Vnni && has_avx512_vnni() {
        // SAFETY: AVX-512F/BW checked; the kernel touches `[0, n / 16 * 16)` of each slice.
        unsafe { add_avx512(add, a, b, out) }
    } else if level != KernelLevel::Scalar && has_avx2() {
        // SAFETY: AVX2 checked; the kernel touches `[0, n / 8 * 8)` of each slice.
        unsafe { add_avx2(add, a, b, out) }
    } else {
        0
    };
    scalar::add_row(add, &a[done..], &b[done..], &mut out[done..]);
}

/// [`scalar::prelu_row`] with AVX-512 (channels in groups of four); `false` if the CPU or
/// the shape does not allow.
pub(crate) fn prelu_row(
    prelu: &PreluPlan,
    row: &mut [u8],
    cols: Range<usize>,
    width: usize,
) -> bool {
    prelu_row_with(
        prelu,
        row,
        cols,
        width,
        is_x86_feature_detected!("avx512vbmi"),
    )
}

/// [`prelu_row`], by table lookups (`vpermi2b`) when `vbmi`, else by arithmetic.
fn prelu_row_with(
    prelu: &PreluPlan,
    row: &mut [u8],
    cols: Range<usize>,
    width: usize,
    vbmi: bool,
) -> bool {
    let channels = prelu.alpha.len();
    if !channels.is_multiple_of(4) || !has_avx512_vnni() {
        return false;
    }
    let vbmi = vbmi && is_x86_feature_detected!("avx512vbmi");
    for g in 0..channels / 4 {
        let run = &mut row[g * 4 * width + 4 * cols.start..g * 4 * width + 4 * cols.end];
        let tables = &prelu.tables[4 * g..4 * g + 4];
        let done = if vbmi {
            // SAFETY: AVX-512F/BW/VBMI checked above; the kernel reads the four 256-byte
            // tables and touches `[0, len / 64 * 64)` of `run`.
            unsafe { prelu_vbmi(tables, run) }
        } else {
            // SAFETY: AVX-512F/BW checked above; the kernel touches `[0, len / 64 * 64)` of
            // `run`.
            unsafe { prelu_avx512(prelu, &prelu.alpha[4 * g..4 * g + 4], run) }
        };
        scalar::prelu_run(tables, &mut run[done..]);
    }
    true
}

/// The output conv, final ADD and depth-to-space of one row with AVX-512 (see
/// [`scalar::finish_row`] for the arguments); `false` if the CPU or the shape does not allow.
#[allow(clippy::too_many_arguments)]
pub(crate) fn output_row(
    plan: &NetworkPlan,
    rows: &[&[u8]],
    cols: Range<usize>,
    width: usize,
    x: &[i8],
    out: &mut [i8],
    out_width: usize,
    x0: usize,
) -> bool {
    let conv = &plan.convs[plan.m() + 1];
    let (ic, k, pad, s) = (conv.in_channels, conv.kernel, conv.pad_size(), plan.scale);
    let shape_ok = ic.is_multiple_of(4) && conv.simd.wide_per_pass == s * s && (s == 2 || s == 4);
    if !shape_ok || !has_avx512_vnni() {
        return false;
    }
    if cols.is_empty() {
        return true;
    }
    let need = reach(ic, width, cols.end, 64, k);
    assert!(cols.start >= pad && cols.end <= width && rows.len() == k);
    assert!(rows.iter().all(|r| r.len() >= need));
    assert!(x.len() >= cols.len() && out.len() >= (s - 1) * out_width + s * (x0 + cols.len()));
    // SAFETY: AVX-512F/BW/VL/VNNI checked above; the slices cover every access (asserted
    // above; reads of `x` and all writes are masked to `cols`).
    unsafe { output_avx512(plan, rows, cols, width, x, out, out_width, x0) };
    true
}

// ---------------------------------------------------------------------------------------
// AVX-512

/// `MultiplyByQuantizedMultiplier` on 16 lanes.
#[inline(always)]
unsafe fn multiply512(x: __m512i, significand: __m512i, left: __m512i, right: __m512i) -> __m512i {
    let x = _mm512_sllv_epi32(x, left);
    let nudge = _mm512_set1_epi64(1 << 30);
    let even = _mm512_srli_epi64::<31>(_mm512_add_epi64(_mm512_mul_epi32(x, significand), nudge));
    let odd = _mm512_mul_epi32(
        _mm512_srli_epi64::<32>(x),
        _mm512_srli_epi64::<32>(significand),
    );
    let odd = _mm512_slli_epi64::<1>(_mm512_add_epi64(odd, nudge));
    let high = _mm512_mask_blend_epi32(0xAAAA, even, odd);
    let one = _mm512_set1_epi32(1);
    let mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, right), one);
    let remainder = _mm512_and_si512(high, mask);
    let threshold = _mm512_add_epi32(_mm512_srai_epi32::<1>(mask), _mm512_srli_epi32::<31>(high));
    let shifted = _mm512_srav_epi32(high, right);
    let round_up = _mm512_cmpgt_epi32_mask(remainder, threshold);
    _mm512_mask_add_epi32(shifted, round_up, shifted, one)
}

/// `MultiplyByQuantizedMultiplier` by `m` on 16 lanes: with `SINGLE` (the caller checked
/// [`FixedPoint::single_rounding`]) two 64-bit products and one rounding per half, else the
/// two-step form. No branch: the epilogues run it per channel and block.
#[inline(always)]
unsafe fn multiply_fixed512<const SINGLE: bool>(x: __m512i, m: &FixedPoint) -> __m512i {
    if !SINGLE {
        return multiply512(
            x,
            _mm512_set1_epi32(m.significand),
            _mm512_set1_epi32(m.left_shift),
            _mm512_set1_epi32(m.right_shift),
        );
    }
    let significand = _mm512_set1_epi32(m.significand);
    let round = _mm512_set1_epi64(m.round);
    let fix = _mm512_set1_epi64(m.fix);
    // A per-lane shift count: one micro-op, where a count in a register takes two.
    let shift = _mm512_set1_epi64(m.total_shift);
    let negative = _mm512_set1_epi64(-(1i64 << 30));
    let even = nudged512(_mm512_mul_epi32(x, significand), round, fix, negative);
    let odd = _mm512_mul_epi32(_mm512_srli_epi64::<32>(x), significand);
    let odd = nudged512(odd, round, fix, negative);
    // The quotients land in the low halves; the odd ones move up.
    let even = _mm512_srav_epi64(even, shift);
    let odd = _mm512_slli_epi64::<32>(_mm512_srav_epi64(odd, shift));
    _mm512_mask_blend_epi32(0xAAAA, even, odd)
}

/// An ADD input's rescaling of `x` (`|x| <= 255`) in 32-bit arithmetic ([`InputTerm`]): the
/// high product by `vpmulld`, the low one by `vpmaddwd` (`x` and `low` fit 16 bits).
#[inline(always)]
unsafe fn input_term512(x: __m512i, t: &InputTerm) -> __m512i {
    let low = _mm512_madd_epi16(x, _mm512_set1_epi32(t.low));
    let low = _mm512_add_epi32(low, _mm512_set1_epi32(t.round));
    let negative = _mm512_cmplt_epi32_mask(x, _mm512_setzero_si512());
    let low = _mm512_mask_sub_epi32(low, negative, low, _mm512_set1_epi32(t.negative_fix));
    let v = _mm512_add_epi32(
        _mm512_mullo_epi32(x, _mm512_set1_epi32(t.high)),
        _mm512_srai_epi32::<11>(low),
    );
    _mm512_srav_epi32(v, _mm512_set1_epi32(t.shift))
}

/// 64-bit products `p` with the rounding nudges of [`FixedPoint`] added, ready to shift.
#[inline(always)]
unsafe fn nudged512(p: __m512i, round: __m512i, fix: __m512i, negative: __m512i) -> __m512i {
    let below = _mm512_cmplt_epi64_mask(p, negative);
    let v = _mm512_add_epi64(p, round);
    _mm512_mask_sub_epi64(v, below, v, fix)
}

/// Output channel `o` (below `out_channels`, unchecked) of `conv` requantized: its `u8`
/// value, in 32-bit lanes.
#[inline(always)]
unsafe fn requantize512<const SINGLE: bool>(conv: &ConvPlan, o: usize, acc: __m512i) -> __m512i {
    let v = multiply_fixed512::<SINGLE>(acc, conv.multiplier.get_unchecked(o));
    // Zero point and the u8 offset at once, clamped on the u8 scale.
    let v = _mm512_add_epi32(v, _mm512_set1_epi32(conv.output_zero_point + U8_OFFSET));
    let v = _mm512_max_epi32(v, _mm512_set1_epi32(conv.activation_min + U8_OFFSET));
    _mm512_min_epi32(v, _mm512_set1_epi32(255))
}

/// Output channel `o` (below `out_channels`, unchecked) of `conv` requantized to its `u8`
/// value in 32-bit lanes, clamped below only: [`pack4`] saturates above.
#[inline(always)]
unsafe fn requantize_low512<const SINGLE: bool>(
    conv: &ConvPlan,
    o: usize,
    acc: __m512i,
) -> __m512i {
    let v = multiply_fixed512::<SINGLE>(acc, conv.multiplier.get_unchecked(o));
    let v = _mm512_add_epi32(v, _mm512_set1_epi32(conv.output_zero_point + U8_OFFSET));
    _mm512_max_epi32(v, _mm512_set1_epi32(conv.activation_min + U8_OFFSET))
}

/// Four channels of 16 pixels (values `>= 0` in 32-bit lanes) as 16 pixels of four bytes,
/// saturated to 255: two signed packs to 16 bits, one unsigned pack to bytes (each 128-bit
/// lane then holds four pixels channel by channel), and a 4x4 byte transpose per lane.
#[inline(always)]
unsafe fn pack4(c: [__m512i; 4]) -> __m512i {
    let words01 = _mm512_packs_epi32(c[0], c[1]);
    let words23 = _mm512_packs_epi32(c[2], c[3]);
    _mm512_shuffle_epi8(_mm512_packus_epi16(words01, words23), transpose4x4())
}

/// Four channels of 16 pixels (32-bit lanes) saturated to int8, each 128-bit lane holding
/// four pixels channel by channel (byte `4 t + j`: channel `t`, pixel `j`).
#[inline(always)]
unsafe fn pack4_i8(c: [__m512i; 4]) -> __m512i {
    let words01 = _mm512_packs_epi32(c[0], c[1]);
    let words23 = _mm512_packs_epi32(c[2], c[3]);
    _mm512_packs_epi16(words01, words23)
}

/// The byte shuffle turning four channels of four pixels (per 128-bit lane) into four pixels
/// of four channels.
#[inline(always)]
unsafe fn transpose4x4() -> __m512i {
    _mm512_broadcast_i32x4(_mm_setr_epi8(
        0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
    ))
}

/// Runs `body` for `i` in `0..n` (at most 16) with constant indices, so that arrays indexed
/// by `i` stay in registers.
macro_rules! unrolled {
    ($n:expr, |$i:ident| $body:block) => {
        unrolled!(@ $n, $i, $body, 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
    };
    (@ $n:expr, $i:ident, $body:block, $($k:literal)*) => {
        $(
            if $k < $n {
                #[allow(clippy::identity_op, clippy::erasing_op)]
                let $i: usize = $k;
                $body
            }
        )*
    };
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
    let mut w = conv.simd.wide.as_ptr().add(pass * k * units * OB);
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

/// Mask of the first `bytes` bytes of 64.
#[inline(always)]
fn byte_mask(bytes: usize) -> u64 {
    if bytes >= 64 {
        u64::MAX
    } else {
        (1u64 << bytes) - 1
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn conv_avx512(
    conv: &ConvPlan,
    rows: &[&[u8]],
    out: &mut [u8],
    cols: Range<usize>,
    width: usize,
) {
    // Twelve to sixteen accumulators cover the latency of `vpdpbusd` on two ports.
    match (conv.simd.wide_per_pass, conv.single_rounding) {
        (16, true) => conv_blocks512::<16, 1, true>(conv, rows, out, cols, width),
        (12, true) => conv_blocks512::<12, 1, true>(conv, rows, out, cols, width),
        (8, true) => conv_blocks512::<8, 2, true>(conv, rows, out, cols, width),
        (4, true) => conv_blocks512::<4, 3, true>(conv, rows, out, cols, width),
        (16, false) => conv_blocks512::<16, 1, false>(conv, rows, out, cols, width),
        (12, false) => conv_blocks512::<12, 1, false>(conv, rows, out, cols, width),
        (8, false) => conv_blocks512::<8, 2, false>(conv, rows, out, cols, width),
        (4, false) => conv_blocks512::<4, 3, false>(conv, rows, out, cols, width),
        _ => scalar::conv_row(conv, rows, out, cols, width),
    }
}

#[inline(always)]
unsafe fn conv_blocks512<const OB: usize, const PB: usize, const SINGLE: bool>(
    conv: &ConvPlan,
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
            let acc = accumulate512::<OB, PB>(conv, rows, x, width, pass);
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

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn output_avx512(
    plan: &NetworkPlan,
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
        (2, true) => {
            output_blocks512::<4, 3, 2, true>(plan, rows, cols, width, x, out, out_width, x0)
        }
        (2, false) => {
            output_blocks512::<4, 3, 2, false>(plan, rows, cols, width, x, out, out_width, x0)
        }
        (_, true) => {
            output_blocks512::<16, 1, 4, true>(plan, rows, cols, width, x, out, out_width, x0)
        }
        (_, false) => {
            output_blocks512::<16, 1, 4, false>(plan, rows, cols, width, x, out, out_width, x0)
        }
    }
}

/// `OB = S^2` output channels for `PB` blocks of 16 pixels at a time, added to the input and
/// laid out as `S` high-resolution rows.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn output_blocks512<const OB: usize, const PB: usize, const S: usize, const SINGLE: bool>(
    plan: &NetworkPlan,
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
        let acc = accumulate512::<OB, PB>(conv, rows, bx, width, 0);
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
                // High-resolution row `dy` takes channels `channel_at[dy * S + dx]`, `dx` in
                // `0..S`, pixel by pixel.
                let at = &plan.channel_at;
                if S == 2 {
                    // x2: channel dy * 2 + dx. Packed, each 128-bit lane holds four pixels
                    // channel by channel; one shuffle makes its two row halves, one permute
                    // gathers each row.
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
                    let dst = out.as_mut_ptr().add(2 * (x0 + i));
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
                        let dst = out.as_mut_ptr().add(dy * out_width + S * (x0 + i));
                        _mm512_mask_storeu_epi8(dst.cast(), byte_mask(4 * pixels), v);
                    });
                }
            }
        });
        bx += 16 * PB;
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn add_avx512(add: &AddPlan, a: &[u8], b: &[u8], out: &mut [u8]) -> usize {
    if add.single_rounding() {
        add_blocks512::<true>(add, a, b, out)
    } else {
        add_blocks512::<false>(add, a, b, out)
    }
}

#[inline(always)]
unsafe fn add_blocks512<const SINGLE: bool>(
    add: &AddPlan,
    a: &[u8],
    b: &[u8],
    out: &mut [u8],
) -> usize {
    let (am, bm, om) = (add.a_multiplier, add.b_multiplier, add.output_multiplier);
    let (a_term, b_term) = (add.a_term(), add.b_term());
    let a_offset = _mm512_set1_epi32(add.a_offset);
    let b_offset = _mm512_set1_epi32(add.b_offset);
    // The zero point and the u8 offset at once; the packs saturate to [0, 255], which is
    // the int8 clamp.
    let zero_point = _mm512_set1_epi32(add.output_zero_point + U8_OFFSET);
    // After the packs, dword `4 L + t` holds elements `16 t + 4 L..` (lane `L`, vector `t`).
    let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    let n = out.len() / 64 * 64;
    for i in (0..n).step_by(64) {
        let mut v = [_mm512_setzero_si512(); 4];
        unrolled!(4, |t| {
            let va = _mm512_cvtepu8_epi32(_mm_loadu_si128(a.as_ptr().add(i + 16 * t).cast()));
            let vb = _mm512_cvtepu8_epi32(_mm_loadu_si128(b.as_ptr().add(i + 16 * t).cast()));
            let (va, vb) = (
                _mm512_add_epi32(va, a_offset),
                _mm512_add_epi32(vb, b_offset),
            );
            let sum = match (&a_term, &b_term) {
                (Some(ta), Some(tb)) if SINGLE => {
                    _mm512_add_epi32(input_term512(va, ta), input_term512(vb, tb))
                }
                _ => _mm512_add_epi32(
                    multiply_fixed512::<SINGLE>(
                        _mm512_slli_epi32::<{ ADD_LEFT_SHIFT as u32 }>(va),
                        &am,
                    ),
                    multiply_fixed512::<SINGLE>(
                        _mm512_slli_epi32::<{ ADD_LEFT_SHIFT as u32 }>(vb),
                        &bm,
                    ),
                ),
            };
            v[t] = _mm512_add_epi32(multiply_fixed512::<SINGLE>(sum, &om), zero_point);
        });
        let words01 = _mm512_packs_epi32(v[0], v[1]);
        let words23 = _mm512_packs_epi32(v[2], v[3]);
        let bytes = _mm512_packus_epi16(words01, words23);
        let bytes = _mm512_permutexvar_epi32(order, bytes);
        _mm512_storeu_si512(out.as_mut_ptr().add(i).cast(), bytes);
    }
    n
}

/// The PReLU tables of one group of four channels on blocks of 64 bytes: per channel, two
/// `vpermi2b` look up the 128 entries of each half of its table and the top bit picks the
/// half; byte `4 x + c` then takes channel `c`'s result. About a tenth of the arithmetic's
/// instructions.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
unsafe fn prelu_vbmi(tables: &[[u8; 256]], run: &mut [u8]) -> usize {
    let mut t = [[_mm512_setzero_si512(); 4]; 4];
    for (c, table) in tables.iter().enumerate().take(4) {
        for (q, quarter) in t[c].iter_mut().enumerate() {
            *quarter = _mm512_loadu_si512(table.as_ptr().add(64 * q).cast());
        }
    }
    let n = run.len() / 64 * 64;
    for i in (0..n).step_by(64) {
        let v = _mm512_loadu_si512(run.as_ptr().add(i).cast());
        let high = _mm512_movepi8_mask(v);
        let mut out = _mm512_setzero_si512();
        unrolled!(4, |c| {
            let low_half = _mm512_permutex2var_epi8(t[c][0], v, t[c][1]);
            let high_half = _mm512_permutex2var_epi8(t[c][2], v, t[c][3]);
            let r = _mm512_mask_blend_epi8(high, low_half, high_half);
            out = _mm512_mask_mov_epi8(out, 0x1111_1111_1111_1111u64 << c, r);
        });
        _mm512_storeu_si512(run.as_mut_ptr().add(i).cast(), out);
    }
    n
}

/// TFLite's int8 PRELU (`sesr_tflite::quant::PreluParams::apply`) on blocks of 16 pixels of
/// one group of four channels: byte `4 x + c` is channel `c`, so lane `j` of each 16-byte
/// quarter takes slope `alpha[j % 4]`. The values are small (`|x a| <= 255^2`), so a
/// multiplier's left shift goes first and the single-rounding form follows
/// ([`FixedPoint::split`]).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn prelu_avx512(prelu: &PreluPlan, alpha: &[i32], run: &mut [u8]) -> usize {
    let (identity_left, identity) = prelu.identity.split();
    let (alpha_left, alpha_multiplier) = prelu.alpha_multiplier.split();
    let (identity_left, alpha_left) = (
        _mm512_set1_epi32(identity_left),
        _mm512_set1_epi32(alpha_left),
    );
    let a = _mm512_setr_epi32(
        alpha[0], alpha[1], alpha[2], alpha[3], alpha[0], alpha[1], alpha[2], alpha[3], alpha[0],
        alpha[1], alpha[2], alpha[3], alpha[0], alpha[1], alpha[2], alpha[3],
    );
    let input_offset = _mm512_set1_epi32(prelu.input_offset);
    // The zero point and the u8 offset at once; the packs saturate to [0, 255], which is
    // the int8 clamp.
    let zero_point = _mm512_set1_epi32(prelu.output_zero_point + U8_OFFSET);
    let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    let n = run.len() / 64 * 64;
    for i in (0..n).step_by(64) {
        let mut v = [_mm512_setzero_si512(); 4];
        unrolled!(4, |t| {
            let x = _mm512_cvtepu8_epi32(_mm_loadu_si128(run.as_ptr().add(i + 16 * t).cast()));
            let x = _mm512_add_epi32(x, input_offset);
            let negative = _mm512_cmplt_epi32_mask(x, _mm512_setzero_si512());
            let positive =
                multiply_fixed512::<true>(_mm512_sllv_epi32(x, identity_left), &identity);
            let scaled = multiply_fixed512::<true>(
                _mm512_sllv_epi32(_mm512_mullo_epi32(x, a), alpha_left),
                &alpha_multiplier,
            );
            let out = _mm512_mask_blend_epi32(negative, positive, scaled);
            v[t] = _mm512_add_epi32(out, zero_point);
        });
        let words01 = _mm512_packs_epi32(v[0], v[1]);
        let words23 = _mm512_packs_epi32(v[2], v[3]);
        let bytes = _mm512_packus_epi16(words01, words23);
        let bytes = _mm512_permutexvar_epi32(order, bytes);
        _mm512_storeu_si512(run.as_mut_ptr().add(i).cast(), bytes);
    }
    n
}

// ---------------------------------------------------------------------------------------
// AVX2

/// `MultiplyByQuantizedMultiplier` on 8 lanes.
#[inline(always)]
unsafe fn multiply256(x: __m256i, significand: __m256i, left: __m256i, right: __m256i) -> __m256i {
    let x = _mm256_sllv_epi32(x, left);
    let nudge = _mm256_set1_epi64x(1 << 30);
    let even = _mm256_srli_epi64::<31>(_mm256_add_epi64(_mm256_mul_epi32(x, significand), nudge));
    let odd = _mm256_mul_epi32(
        _mm256_srli_epi64::<32>(x),
        _mm256_srli_epi64::<32>(significand),
    );
    let odd = _mm256_slli_epi64::<1>(_mm256_add_epi64(odd, nudge));
    let high = _mm256_blend_epi32::<0b1010_1010>(even, odd);
    let one = _mm256_set1_epi32(1);
    let mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, right), one);
    let remainder = _mm256_and_si256(high, mask);
    let threshold = _mm256_add_epi32(_mm256_srai_epi32::<1>(mask), _mm256_srli_epi32::<31>(high));
    let shifted = _mm256_srav_epi32(high, right);
    // The comparison gives -1 where the quotient rounds up.
    _mm256_sub_epi32(shifted, _mm256_cmpgt_epi32(remainder, threshold))
}

/// 8 `u8` values held in 32-bit lanes, packed to their low 8 bytes.
#[inline(always)]
unsafe fn pack_u8x8(v: __m256i) -> __m128i {
    let words = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    _mm_packus_epi16(words, words)
}

#[target_feature(enable = "avx2")]
unsafe fn conv_avx2(
    conv: &ConvPlan,
    rows: &[&[u8]],
    out: &mut [u8],
    cols: Range<usize>,
    width: usize,
) {
    match conv.simd.narrow_per_pass {
        8 => conv_blocks256::<8>(conv, rows, out, cols, width),
        4 => conv_blocks256::<4>(conv, rows, out, cols, width),
        _ => scalar::conv_row(conv, rows, out, cols, width),
    }
}

/// 8 pixels at a time, `OB` output channels per pass.
#[inline(always)]
unsafe fn conv_blocks256<const OB: usize>(
    conv: &ConvPlan,
    rows: &[&[u8]],
    out: &mut [u8],
    cols: Range<usize>,
    width: usize,
) {
    let (ic, oc, k, pad) = (
        conv.in_channels,
        conv.out_channels,
        conv.kernel,
        conv.pad_size(),
    );
    let groups = ic.div_ceil(4);
    let dwords = if ic == 1 { 1 } else { 2 };
    // Channels (0, 1) and (2, 3) of each pixel as two i16 pairs.
    let z = -1i8;
    let pairs01 = _mm256_setr_epi8(
        0, z, 1, z, 4, z, 5, z, 8, z, 9, z, 12, z, 13, z, 0, z, 1, z, 4, z, 5, z, 8, z, 9, z, 12,
        z, 13, z,
    );
    let pairs23 = _mm256_setr_epi8(
        2, z, 3, z, 6, z, 7, z, 10, z, 11, z, 14, z, 15, z, 2, z, 3, z, 6, z, 7, z, 10, z, 11, z,
        14, z, 15, z,
    );
    let mut x = cols.start;
    while x < cols.end {
        let valid = (cols.end - x).min(8);
        for pass in 0..oc / OB {
            let mut acc = [_mm256_setzero_si256(); OB];
            unrolled!(OB, |o| {
                acc[o] = _mm256_set1_epi32(conv.bias[pass * OB + o]);
            });
            let mut w = conv
                .simd
                .narrow
                .as_ptr()
                .add(pass * k * k * groups * OB * dwords);
            for row in &rows[..k] {
                let row = row.as_ptr();
                for kx in 0..k {
                    for g in 0..groups {
                        if ic == 1 {
                            // One tap of 8 pixels, paired with zeros.
                            let v =
                                _mm256_cvtepu8_epi32(_mm_loadl_epi64(row.add(x + kx - pad).cast()));
                            unrolled!(OB, |o| {
                                let p = _mm256_madd_epi16(v, _mm256_set1_epi32(*w.add(o)));
                                acc[o] = _mm256_add_epi32(acc[o], p);
                            });
                        } else {
                            let v = _mm256_loadu_si256(
                                row.add(g * 4 * width + 4 * (x + kx - pad)).cast(),
                            );
                            let (v01, v23) = (
                                _mm256_shuffle_epi8(v, pairs01),
                                _mm256_shuffle_epi8(v, pairs23),
                            );
                            unrolled!(OB, |o| {
                                let p01 = _mm256_madd_epi16(v01, _mm256_set1_epi32(*w.add(2 * o)));
                                let p23 =
                                    _mm256_madd_epi16(v23, _mm256_set1_epi32(*w.add(2 * o + 1)));
                                acc[o] = _mm256_add_epi32(acc[o], _mm256_add_epi32(p01, p23));
                            });
                        }
                        w = w.add(OB * dwords);
                    }
                }
            }
            let mut bytes = [_mm_setzero_si128(); OB];
            unrolled!(OB, |o| {
                let c = pass * OB + o;
                let v = multiply256(
                    acc[o],
                    _mm256_set1_epi32(conv.multiplier[c].significand),
                    _mm256_set1_epi32(conv.multiplier[c].left_shift),
                    _mm256_set1_epi32(conv.multiplier[c].right_shift),
                );
                let v = _mm256_add_epi32(v, _mm256_set1_epi32(conv.output_zero_point));
                let v = _mm256_max_epi32(v, _mm256_set1_epi32(conv.activation_min));
                let v = _mm256_min_epi32(v, _mm256_set1_epi32(127));
                bytes[o] = pack_u8x8(_mm256_add_epi32(v, _mm256_set1_epi32(U8_OFFSET)));
            });
            unrolled!(OB / 4, |q| {
                let c01 = _mm_unpacklo_epi8(bytes[4 * q], bytes[4 * q + 1]);
                let c23 = _mm_unpacklo_epi8(bytes[4 * q + 2], bytes[4 * q + 3]);
                let mut pixels = [0u8; 32];
                _mm_storeu_si128(pixels.as_mut_ptr().cast(), _mm_unpacklo_epi16(c01, c23));
                _mm_storeu_si128(
                    pixels.as_mut_ptr().add(16).cast(),
                    _mm_unpackhi_epi16(c01, c23),
                );
                let group = (pass * OB) / 4 + q;
                let dst = out.as_mut_ptr().add(group * 4 * width + 4 * x);
                std::ptr::copy_nonoverlapping(pixels.as_ptr(), dst, 4 * valid);
            });
        }
        x += 8;
    }
}

#[target_feature(enable = "avx2")]
unsafe fn add_avx2(add: &AddPlan, a: &[u8], b: &[u8], out: &mut [u8]) -> usize {
    let params = |m: FixedPoint| {
        (
            _mm256_set1_epi32(m.significand),
            _mm256_set1_epi32(m.left_shift),
            _mm256_set1_epi32(m.right_shift),
        )
    };
    let (am, al, ar) = params(add.a_multiplier);
    let (bm, bl, br) = params(add.b_multiplier);
    let (om, ol, or) = params(add.output_multiplier);
    let a_offset = _mm256_set1_epi32(add.a_offset);
    let b_offset = _mm256_set1_epi32(add.b_offset);
    let zero_point = _mm256_set1_epi32(add.output_zero_point);
    let n = out.len() / 8 * 8;
    for i in (0..n).step_by(8) {
        let va = _mm256_cvtepu8_epi32(_mm_loadl_epi64(a.as_ptr().add(i).cast()));
        let vb = _mm256_cvtepu8_epi32(_mm_loadl_epi64(b.as_ptr().add(i).cast()));
        let va = _mm256_slli_epi32::<{ ADD_LEFT_SHIFT }>(_mm256_add_epi32(va, a_offset));
        let vb = _mm256_slli_epi32::<{ ADD_LEFT_SHIFT }>(_mm256_add_epi32(vb, b_offset));
        let sum = _mm256_add_epi32(multiply256(va, am, al, ar), multiply256(vb, bm, bl, br));
        let v = _mm256_add_epi32(multiply256(sum, om, ol, or), zero_point);
        let v = _mm256_min_epi32(
            _mm256_max_epi32(v, _mm256_set1_epi32(-128)),
            _mm256_set1_epi32(127),
        );
        let bytes = pack_u8x8(_mm256_add_epi32(v, _mm256_set1_epi32(U8_OFFSET)));
        _mm_storel_epi64(out.as_mut_ptr().add(i).cast(), bytes);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesr_tflite::quant::QuantParams;

    /// The SIMD ADD kernels against the scalar one on every pair of int8 inputs, for input and
    /// output scales from equal to far apart (multipliers near 1 and far below it).
    #[test]
    fn add_kernels_match_the_scalar_add_on_every_input_pair() {
        let a: Vec<u8> = (0..=255u8)
            .flat_map(|v| std::iter::repeat_n(v, 256))
            .collect();
        let b: Vec<u8> = (0..256).flat_map(|_| 0..=255u8).collect();
        let params = |scale: f32, zero_point: i32| QuantParams { scale, zero_point };
        let cases = [
            (params(0.02, -128), params(0.02, -128), params(0.04, -128)),
            (params(0.013, 5), params(0.21, -90), params(0.05, 17)),
            (params(0.5, 0), params(0.001, -3), params(0.0003, 100)),
            (
                params(1.0 / 255.0, -128),
                params(0.003, 12),
                params(1.0 / 255.0, -128),
            ),
        ];
        for (pa, pb, po) in cases {
            let add = AddPlan::new(pa, pb, po);
            let mut want = vec![0u8; a.len()];
            scalar::add_row(&add, &a, &b, &mut want);
            for level in [KernelLevel::Avx2, KernelLevel::Avx512Vnni] {
                if !level.is_supported() {
                    continue;
                }
                let mut got = vec![0u8; a.len()];
                add_row(level, &add, &a, &b, &mut got);
                assert!(got == want, "{level:?} {pa:?} {pb:?} {po:?}");
            }
        }
    }

    /// The AVX-512 PReLU against the scalar tables on every input of every channel, for
    /// output scales below and above the input's (single-rounding and two-step multipliers)
    /// and slopes of both signs, zero point 0 or not.
    #[test]
    fn prelu_kernel_matches_the_tables_on_every_input() {
        if !KernelLevel::Avx512Vnni.is_supported() {
            return;
        }
        let params = |scale: f32, zero_point: i32| QuantParams { scale, zero_point };
        let (channels, width) = (8, 256 + 21);
        let cases = [
            (params(0.02, 10), params(0.015, -100), params(0.004, 0)),
            (params(0.013, -3), params(0.05, -128), params(0.002, 3)),
            (params(0.3, 0), params(0.001, 90), params(1.0 / 127.0, -5)),
        ];
        for (input, output, alpha_params) in cases {
            let prelu = PreluPlan::new(&sesr_tflite::Int8Prelu {
                alpha: vec![-127, 127, 0, 1, -1, 64, -90, 33],
                alpha_params,
                input,
                output,
            });
            // Pixels 3.. of each channel run through all 256 values.
            let mut row = vec![0u8; channels * width];
            for x in 0..width {
                for c in 0..channels {
                    row[scalar::offset(channels, width, c, x)] = ((x + 50 * c) % 256) as u8;
                }
            }
            let cols = 3..width;
            let mut want = row.clone();
            scalar::prelu_row(&prelu, &mut want, cols.clone(), width);
            for vbmi in [false, true] {
                let mut got = row.clone();
                assert!(prelu_row_with(&prelu, &mut got, cols.clone(), width, vbmi));
                assert!(
                    got == want,
                    "vbmi {vbmi}: {input:?} {output:?} {alpha_params:?}"
                );
                assert!(got[..12] == row[..12], "columns outside the range are kept");
            }
        }
    }
}
