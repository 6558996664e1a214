//! The 16-lane integer arithmetic of the AVX-512 kernels: TFLite's requantization, the int8
//! ADD's input rescaling, and the packs from 32-bit lanes to bytes.
#![allow(unsafe_code)]

use std::arch::x86_64::*;

use crate::int8::plan::{ConvPlan, FixedPoint, InputTerm, U8_OFFSET};

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
pub(super) unsafe fn multiply_fixed512<const SINGLE: bool>(x: __m512i, m: &FixedPoint) -> __m512i {
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
pub(super) unsafe fn input_term512(x: __m512i, t: &InputTerm) -> __m512i {
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
pub(super) unsafe fn requantize512<const SINGLE: bool>(
    conv: &ConvPlan,
    o: usize,
    acc: __m512i,
) -> __m512i {
    let v = multiply_fixed512::<SINGLE>(acc, conv.multiplier.get_unchecked(o));
    // Zero point and the u8 offset at once, clamped on the u8 scale.
    let v = _mm512_add_epi32(v, _mm512_set1_epi32(conv.output_zero_point + U8_OFFSET));
    let v = _mm512_max_epi32(v, _mm512_set1_epi32(conv.activation_min + U8_OFFSET));
    _mm512_min_epi32(v, _mm512_set1_epi32(255))
}

/// Output channel `o` (below `out_channels`, unchecked) of `conv` requantized to its `u8`
/// value in 32-bit lanes, clamped below only: [`pack4`] saturates above.
#[inline(always)]
pub(super) unsafe fn requantize_low512<const SINGLE: bool>(
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
pub(super) unsafe fn pack4(c: [__m512i; 4]) -> __m512i {
    let words01 = _mm512_packs_epi32(c[0], c[1]);
    let words23 = _mm512_packs_epi32(c[2], c[3]);
    _mm512_shuffle_epi8(_mm512_packus_epi16(words01, words23), transpose4x4())
}

/// Four channels of 16 pixels (32-bit lanes) saturated to int8, each 128-bit lane holding
/// four pixels channel by channel (byte `4 t + j`: channel `t`, pixel `j`).
#[inline(always)]
pub(super) unsafe fn pack4_i8(c: [__m512i; 4]) -> __m512i {
    let words01 = _mm512_packs_epi32(c[0], c[1]);
    let words23 = _mm512_packs_epi32(c[2], c[3]);
    _mm512_packs_epi16(words01, words23)
}

/// The byte shuffle turning four channels of four pixels (per 128-bit lane) into four pixels
/// of four channels.
#[inline(always)]
pub(super) unsafe fn transpose4x4() -> __m512i {
    _mm512_broadcast_i32x4(_mm_setr_epi8(
        0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
    ))
}

/// Mask of the first `bytes` bytes of 64.
#[inline(always)]
pub(super) fn byte_mask(bytes: usize) -> u64 {
    if bytes >= 64 {
        u64::MAX
    } else {
        (1u64 << bytes) - 1
    }
}
