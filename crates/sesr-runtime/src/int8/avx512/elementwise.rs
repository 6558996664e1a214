//! The AVX-512 elementwise kernels: TFLite's int8 ADD and PRELU on 64 bytes at a time (the
//! PReLU by its tables with VBMI's `vpermi2b`, else by TFLite's arithmetic on 16 lanes).
#![allow(unsafe_code)]

use std::arch::x86_64::*;

use super::arith::{input_term512, multiply_fixed512};
use crate::int8::plan::{AddPlan, PreluPlan, ADD_LEFT_SHIFT, U8_OFFSET};
use crate::int8::x86::unrolled;

/// TFLite's int8 ADD of `a` and `b` into `out`, on the first `len / 64 * 64` bytes; returns
/// that count.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) unsafe fn add_avx512(add: &AddPlan, a: &[u8], b: &[u8], out: &mut [u8]) -> usize {
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
pub(super) unsafe fn prelu_vbmi(tables: &[[u8; 256]], run: &mut [u8]) -> usize {
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

/// TFLite's int8 PRELU (`sesr_net::quant::PreluParams::apply`) on blocks of 16 pixels of
/// one group of four channels: byte `4 x + c` is channel `c`, so lane `j` of each 16-byte
/// quarter takes slope `alpha[j % 4]`. The values are small (`|x a| <= 255^2`), so a
/// multiplier's left shift goes first and the single-rounding form follows
/// ([`FixedPoint::split`](crate::int8::plan::FixedPoint::split)).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) unsafe fn prelu_avx512(prelu: &PreluPlan, alpha: &[i32], run: &mut [u8]) -> usize {
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
