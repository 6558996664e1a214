//! AVX2 row kernels, computing the integers of [`scalar`] 8 pixels per register (see
//! [`x86`](crate::int8::x86) for the row layout, the requantization and what safety rests
//! on): 16-bit products summed in pairs (`vpmaddwd`), which cannot saturate, unlike
//! `vpmaddubsw`.
#![allow(unsafe_code)]

use std::arch::x86_64::*;
use std::ops::Range;

use super::plan::{AddPlan, ConvPlan, FixedPoint, ADD_LEFT_SHIFT, U8_OFFSET};
use super::scalar;
use super::x86::{channels_per_pass, reach, unrolled, weight};

/// A conv's weights in the order the kernels read them: per pass over `per_pass` output
/// channels, per kernel row, per tap, per group of four input channels, per output channel,
/// two dwords of `i16` pairs, channels (0, 1) and (2, 3); the single input channel has one
/// dword per tap, its weight paired with a zero.
#[derive(Clone, Debug)]
pub(crate) struct ConvWeights {
    /// Output channels per pass: 4 or 8.
    per_pass: usize,
    packed: Vec<i32>,
}

impl ConvWeights {
    /// The weights of `conv`; `None` when no AVX2 kernel takes its shape.
    pub(crate) fn new(conv: &ConvPlan) -> Option<Self> {
        let per_pass = channels_per_pass(conv, 8)?;
        let (ic, oc, k) = (conv.in_channels, conv.out_channels, conv.kernel);
        let pair = |a: i8, b: i8| (a as i16 as u16 as i32) | ((b as i16 as i32) << 16);
        let mut packed = Vec::new();
        for pass in 0..oc / per_pass {
            for ky in 0..k {
                for kx in 0..k {
                    for g in 0..ic.div_ceil(4) {
                        for o in 0..per_pass {
                            let o = pass * per_pass + o;
                            if ic == 1 {
                                packed.push(pair(weight(conv, o, ky, kx, 0), 0));
                            } else {
                                let v = [0, 1, 2, 3].map(|t| weight(conv, o, ky, kx, 4 * g + t));
                                packed.push(pair(v[0], v[1]));
                                packed.push(pair(v[2], v[3]));
                            }
                        }
                    }
                }
            }
        }
        Some(Self { per_pass, packed })
    }

    /// Whether these weights have the shape of `conv`'s, all that the kernels read.
    fn fits(&self, conv: &ConvPlan) -> bool {
        let (ic, oc, k) = (conv.in_channels, conv.out_channels, conv.kernel);
        let dwords = if ic == 1 { 1 } else { 2 * ic / 4 };
        oc.is_multiple_of(self.per_pass) && self.packed.len() == oc * k * k * dwords
    }
}

/// Whether this CPU has AVX2.
pub(crate) fn is_available() -> bool {
    is_x86_feature_detected!("avx2")
}

/// [`scalar::conv_row`] with the weights of `conv` packed in `weights`; the scalar kernel
/// where the CPU lacks AVX2.
pub(crate) fn conv_row(
    conv: &ConvPlan,
    weights: &ConvWeights,
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
    if !is_available() {
        return scalar::conv_row(conv, rows, out, cols, width);
    }
    // Reads: blocks of up to 64 pixels from `cols.start - pad`; writes: up to `cols.end`.
    assert!(cols.start >= pad && cols.end <= width && rows.len() == k);
    let need = reach(ic, width, cols.end, 64, k);
    assert!(rows.iter().all(|r| r.len() >= need));
    assert!(out.len() >= (oc / 4 - 1) * 4 * width + 4 * cols.end);
    assert!(weights.fits(conv));
    // SAFETY: the CPU has AVX2 (checked above); the slices cover every access and `weights`
    // are `conv`'s (asserted above).
    unsafe { conv_avx2(conv, weights, rows, out, cols, width) }
}

/// [`scalar::add_row`] with AVX2 (the scalar kernel for the last bytes, and where the CPU
/// lacks AVX2).
pub(crate) fn add_row(add: &AddPlan, a: &[u8], b: &[u8], out: &mut [u8]) {
    let n = out.len().min(a.len()).min(b.len());
    let (a, b, out) = (&a[..n], &b[..n], &mut out[..n]);
    let done = if is_available() {
        // SAFETY: AVX2 checked; the kernel touches `[0, n / 8 * 8)` of each slice.
        unsafe { add_avx2(add, a, b, out) }
    } else {
        0
    };
    scalar::add_row(add, &a[done..], &b[done..], &mut out[done..]);
}

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
    weights: &ConvWeights,
    rows: &[&[u8]],
    out: &mut [u8],
    cols: Range<usize>,
    width: usize,
) {
    match weights.per_pass {
        8 => conv_blocks256::<8>(conv, weights, rows, out, cols, width),
        4 => conv_blocks256::<4>(conv, weights, rows, out, cols, width),
        _ => scalar::conv_row(conv, rows, out, cols, width),
    }
}

/// 8 pixels at a time, `OB` output channels per pass.
#[inline(always)]
unsafe fn conv_blocks256<const OB: usize>(
    conv: &ConvPlan,
    weights: &ConvWeights,
    rows: &[&[u8]],
    out: &mut [u8],
    cols: Range<usize>,
    width: usize,
) {
    // Channels (0, 1) and (2, 3) of each pixel as two i16 pairs.
    let z = -1i8;
    let pairs = [
        _mm256_setr_epi8(
            0, z, 1, z, 4, z, 5, z, 8, z, 9, z, 12, z, 13, z, 0, z, 1, z, 4, z, 5, z, 8, z, 9, z,
            12, z, 13, z,
        ),
        _mm256_setr_epi8(
            2, z, 3, z, 6, z, 7, z, 10, z, 11, z, 14, z, 15, z, 2, z, 3, z, 6, z, 7, z, 10, z, 11,
            z, 14, z, 15, z,
        ),
    ];
    let mut x = cols.start;
    while x < cols.end {
        let valid = (cols.end - x).min(8);
        for pass in 0..conv.out_channels / OB {
            let acc = accumulate256::<OB>(conv, weights, rows, x, width, pass, &pairs);
            let mut bytes = [_mm_setzero_si128(); OB];
            unrolled!(OB, |o| {
                bytes[o] = requantize256(conv, pass * OB + o, acc[o]);
            });
            store_pixels::<OB>(&bytes, out, (pass * OB) / 4, x, width, valid);
        }
        x += 8;
    }
}

/// The accumulators of `OB` output channels (pass `pass`) for the 8 pixels from `x`; `pairs`
/// are the shuffles of [`conv_blocks256`].
#[inline(always)]
unsafe fn accumulate256<const OB: usize>(
    conv: &ConvPlan,
    weights: &ConvWeights,
    rows: &[&[u8]],
    x: usize,
    width: usize,
    pass: usize,
    pairs: &[__m256i; 2],
) -> [__m256i; OB] {
    let (ic, k, pad) = (conv.in_channels, conv.kernel, conv.pad_size());
    let groups = ic.div_ceil(4);
    let dwords = if ic == 1 { 1 } else { 2 };
    let mut acc = [_mm256_setzero_si256(); OB];
    unrolled!(OB, |o| {
        acc[o] = _mm256_set1_epi32(conv.bias[pass * OB + o]);
    });
    let mut w = weights
        .packed
        .as_ptr()
        .add(pass * k * k * groups * OB * dwords);
    for row in &rows[..k] {
        let row = row.as_ptr();
        for kx in 0..k {
            for g in 0..groups {
                if ic == 1 {
                    // One tap of 8 pixels, paired with zeros.
                    let v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(row.add(x + kx - pad).cast()));
                    unrolled!(OB, |o| {
                        let p = _mm256_madd_epi16(v, _mm256_set1_epi32(*w.add(o)));
                        acc[o] = _mm256_add_epi32(acc[o], p);
                    });
                } else {
                    let v = _mm256_loadu_si256(row.add(g * 4 * width + 4 * (x + kx - pad)).cast());
                    let (v01, v23) = (
                        _mm256_shuffle_epi8(v, pairs[0]),
                        _mm256_shuffle_epi8(v, pairs[1]),
                    );
                    unrolled!(OB, |o| {
                        let p01 = _mm256_madd_epi16(v01, _mm256_set1_epi32(*w.add(2 * o)));
                        let p23 = _mm256_madd_epi16(v23, _mm256_set1_epi32(*w.add(2 * o + 1)));
                        acc[o] = _mm256_add_epi32(acc[o], _mm256_add_epi32(p01, p23));
                    });
                }
                w = w.add(OB * dwords);
            }
        }
    }
    acc
}

/// Output channel `c` of `conv` requantized: its 8 `u8` values in the low bytes.
#[inline(always)]
unsafe fn requantize256(conv: &ConvPlan, c: usize, acc: __m256i) -> __m128i {
    let v = multiply256(
        acc,
        _mm256_set1_epi32(conv.multiplier[c].significand),
        _mm256_set1_epi32(conv.multiplier[c].left_shift),
        _mm256_set1_epi32(conv.multiplier[c].right_shift),
    );
    let v = _mm256_add_epi32(v, _mm256_set1_epi32(conv.output_zero_point));
    let v = _mm256_max_epi32(v, _mm256_set1_epi32(conv.activation_min));
    let v = _mm256_min_epi32(v, _mm256_set1_epi32(127));
    pack_u8x8(_mm256_add_epi32(v, _mm256_set1_epi32(U8_OFFSET)))
}

/// Writes `valid` pixels from `x` of the `OB` output channels `bytes` (8 `u8` each), channels
/// in groups of four from group `group` on.
#[inline(always)]
unsafe fn store_pixels<const OB: usize>(
    bytes: &[__m128i; OB],
    out: &mut [u8],
    group: usize,
    x: usize,
    width: usize,
    valid: usize,
) {
    unrolled!(OB / 4, |q| {
        let c01 = _mm_unpacklo_epi8(bytes[4 * q], bytes[4 * q + 1]);
        let c23 = _mm_unpacklo_epi8(bytes[4 * q + 2], bytes[4 * q + 3]);
        let mut pixels = [0u8; 32];
        _mm_storeu_si128(pixels.as_mut_ptr().cast(), _mm_unpacklo_epi16(c01, c23));
        _mm_storeu_si128(
            pixels.as_mut_ptr().add(16).cast(),
            _mm_unpackhi_epi16(c01, c23),
        );
        let dst = out.as_mut_ptr().add((group + q) * 4 * width + 4 * x);
        std::ptr::copy_nonoverlapping(pixels.as_ptr(), dst, 4 * valid);
    });
}

/// TFLite's int8 ADD of `a` and `b` into `out`, on the first `len / 8 * 8` bytes; returns
/// that count.
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
