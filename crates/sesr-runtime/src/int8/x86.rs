//! x86-64 row kernels: AVX-512 VNNI and AVX2, computing the integers of [`super::scalar`].
//!
//! * AVX-512 VNNI: `vpdpbusd` multiplies four `u8` activations by four `i8` weights into each
//!   32-bit lane. Activations are stored as `q + 128` and the bias absorbs `-128 * sum(w)`
//!   (see `plan`), so the sums are TFLite's accumulators exactly. Three shapes: lanes are 16
//!   output channels of one pixel, with the pixel's four input channels broadcast (blocks,
//!   the x4 output conv); the single-channel input conv takes four taps of a row at once;
//!   the 4-channel x2 output conv puts four pixels in one register.
//! * AVX2: 16-bit products summed in pairs (`vpmaddwd`), which cannot saturate, unlike
//!   `vpmaddubsw`; lanes are 8 output channels.
//!
//! The requantization is TFLite's `MultiplyByQuantizedMultiplier` lane by lane, with 64-bit
//! products: `(x * m + 2^30) >> 31` equals gemmlowp's rounding doubling high product for
//! every `x` (its ties-away-from-zero nudge and truncating division combine into one floor),
//! then the rounding right shift.
//!
//! Safety rests on two checks made by the safe entry points: the CPU has the instruction set
//! (checked per call, `is_x86_feature_detected!` is a cached load), and every slice covers
//! what the kernels read and write (asserted once per row, before any pointer arithmetic).
#![allow(unsafe_code)]

use std::arch::x86_64::*;
use std::ops::Range;

use super::plan::{AddPlan, ConvPlan, ADD_LEFT_SHIFT, U8_OFFSET};
use super::{scalar, KernelLevel};

/// Which AVX-512 kernel fits a conv's shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Wide {
    /// None: the AVX2 kernel runs instead.
    #[default]
    None,
    /// Input channels a multiple of 4, output channels a multiple of 16.
    Channels,
    /// One input channel, output channels a multiple of 16.
    SingleInput,
    /// Four output channels, input channels a multiple of 16.
    FourOutputs,
}

/// A conv's weights in the SIMD kernels' layouts.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConvWeights {
    wide: Wide,
    /// 64-byte vectors in the order the AVX-512 kernel reads them.
    wide_weights: Vec<i8>,
    /// Bias and requantization per lane for [`Wide::FourOutputs`] (pixel-major, 16 lanes).
    four_lanes: LaneParams,
    /// 32-byte vectors of `i16` pairs for the AVX2 kernel.
    narrow_weights: Vec<i16>,
    /// Bias and requantization per lane, padded to a multiple of 8 channels.
    narrow_lanes: LaneParams,
}

#[derive(Clone, Debug, Default)]
struct LaneParams {
    bias: Vec<i32>,
    significand: Vec<i32>,
    left_shift: Vec<i32>,
    right_shift: Vec<i32>,
}

impl LaneParams {
    /// Lane `l` takes output channel `channel(l)` (`None`: a padding lane of zeros).
    fn new(conv: &ConvPlan, lanes: usize, channel: impl Fn(usize) -> Option<usize>) -> Self {
        let pick = |v: &[i32]| -> Vec<i32> {
            (0..lanes).map(|l| channel(l).map_or(0, |o| v[o])).collect()
        };
        Self {
            bias: pick(&conv.bias),
            significand: pick(&conv.significand),
            left_shift: pick(&conv.left_shift),
            right_shift: pick(&conv.right_shift),
        }
    }
}

impl ConvWeights {
    pub(crate) fn new(conv: &ConvPlan) -> Self {
        let (ic, oc, k) = (conv.in_channels, conv.out_channels, conv.kernel);
        let w = |o: usize, ky: usize, kx: usize, i: usize| -> i8 {
            if o < oc && i < ic {
                conv.weight[((o * k + ky) * k + kx) * ic + i]
            } else {
                0
            }
        };
        let mut weights = ConvWeights::default();
        if oc % 16 == 0 && ic % 4 == 0 {
            weights.wide = Wide::Channels;
            for chunk in 0..oc / 16 {
                for ky in 0..k {
                    for kx in 0..k {
                        for g in 0..ic / 4 {
                            for o in 0..16 {
                                for t in 0..4 {
                                    weights
                                        .wide_weights
                                        .push(w(chunk * 16 + o, ky, kx, 4 * g + t));
                                }
                            }
                        }
                    }
                }
            }
        } else if oc % 16 == 0 && ic == 1 {
            weights.wide = Wide::SingleInput;
            for chunk in 0..oc / 16 {
                for ky in 0..k {
                    for g in 0..k.div_ceil(4) {
                        for o in 0..16 {
                            for t in 0..4 {
                                let kx = 4 * g + t;
                                let v = if kx < k {
                                    w(chunk * 16 + o, ky, kx, 0)
                                } else {
                                    0
                                };
                                weights.wide_weights.push(v);
                            }
                        }
                    }
                }
            }
        } else if oc == 4 && ic % 16 == 0 {
            weights.wide = Wide::FourOutputs;
            for ky in 0..k {
                for kx in 0..k {
                    for gc in 0..ic / 16 {
                        for g in 0..4 {
                            for lane in 0..16 {
                                for t in 0..4 {
                                    weights.wide_weights.push(w(
                                        lane % 4,
                                        ky,
                                        kx,
                                        gc * 16 + 4 * g + t,
                                    ));
                                }
                            }
                        }
                    }
                }
            }
            weights.four_lanes = LaneParams::new(conv, 16, |l| Some(l % 4));
        }
        let chunks = oc.div_ceil(8);
        for chunk in 0..chunks {
            for ky in 0..k {
                for kx in 0..k {
                    for pair in 0..ic.div_ceil(2) {
                        for o in 0..8 {
                            for t in 0..2 {
                                weights
                                    .narrow_weights
                                    .push(w(chunk * 8 + o, ky, kx, 2 * pair + t) as i16);
                            }
                        }
                    }
                }
            }
        }
        weights.narrow_lanes = LaneParams::new(conv, 8 * chunks, |l| (l < oc).then_some(l));
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
        && is_x86_feature_detected!("avx512vnni")
}

/// [`scalar::conv_row`] with the kernels of `level`.
pub(crate) fn conv_row(
    level: KernelLevel,
    conv: &ConvPlan,
    rows: &[&[u8]],
    out: &mut [u8],
    cols: Range<usize>,
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
    // Every read lies below `(end - pad + k - 1) ic + 3` (the single-input kernel reads up to
    // three bytes past its last tap, with zero weights), every write below `end * oc`.
    assert!(cols.start >= pad && rows.len() == k);
    let reach = (cols.end - pad + k - 1) * ic + 3;
    assert!(rows.iter().all(|r| r.len() >= reach) && out.len() >= cols.end * oc);
    let wide = conv.simd.wide;
    if level == KernelLevel::Avx512Vnni && wide != Wide::None && has_avx512_vnni() {
        // SAFETY: the CPU has AVX-512F/BW/VNNI (checked above) and the slices cover every
        // access (asserted above).
        unsafe {
            match wide {
                Wide::Channels => channels_avx512(conv, rows, out, cols),
                Wide::SingleInput => single_input_avx512(conv, rows, out, cols),
                Wide::FourOutputs => {
                    let groups = cols.start..cols.start + (cols.len() / 4) * 4;
                    four_outputs_avx512(conv, rows, out, groups.clone());
                    scalar::conv_row(conv, rows, out, groups.end..cols.end);
                }
                Wide::None => unreachable!(),
            }
        }
    } else if level != KernelLevel::Scalar && has_avx2() {
        // SAFETY: the CPU has AVX2 (checked above) and the slices cover every access
        // (asserted above).
        unsafe { channels_avx2(conv, rows, out, cols) }
    } else {
        scalar::conv_row(conv, rows, out, cols)
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

/// Per-lane requantization parameters of 16 lanes.
#[derive(Clone, Copy)]
struct Requant512 {
    significand: __m512i,
    left: __m512i,
    right: __m512i,
    zero_point: __m512i,
    min: __m512i,
}

impl Requant512 {
    #[inline(always)]
    unsafe fn load(conv: &ConvPlan, significand: &[i32], left: &[i32], right: &[i32]) -> Self {
        Self {
            significand: _mm512_loadu_si512(significand.as_ptr().cast()),
            left: _mm512_loadu_si512(left.as_ptr().cast()),
            right: _mm512_loadu_si512(right.as_ptr().cast()),
            zero_point: _mm512_set1_epi32(conv.output_zero_point),
            min: _mm512_set1_epi32(conv.activation_min),
        }
    }

    /// The accumulators as 16 `u8` outputs.
    #[inline(always)]
    unsafe fn apply(&self, acc: __m512i) -> __m128i {
        let v = multiply512(acc, self.significand, self.left, self.right);
        let v = _mm512_add_epi32(v, self.zero_point);
        let v = _mm512_min_epi32(_mm512_max_epi32(v, self.min), _mm512_set1_epi32(127));
        _mm512_cvtepi32_epi8(_mm512_add_epi32(v, _mm512_set1_epi32(U8_OFFSET)))
    }
}

/// Broadcast of the four bytes at `p`.
#[inline(always)]
unsafe fn broadcast4(p: *const u8) -> __m512i {
    _mm512_set1_epi32(p.cast::<i32>().read_unaligned())
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn channels_avx512(conv: &ConvPlan, rows: &[&[u8]], out: &mut [u8], cols: Range<usize>) {
    let mut x = cols.start;
    while x + 8 <= cols.end {
        channels_pixels::<8>(conv, rows, out, x);
        x += 8;
    }
    while x < cols.end {
        channels_pixels::<1>(conv, rows, out, x);
        x += 1;
    }
}

/// `P` pixels from `x`: lanes are 16 output channels, each weight vector serves `P` pixels.
#[inline(always)]
unsafe fn channels_pixels<const P: usize>(
    conv: &ConvPlan,
    rows: &[&[u8]],
    out: &mut [u8],
    x: usize,
) {
    let (ic, oc, k, pad) = (
        conv.in_channels,
        conv.out_channels,
        conv.kernel,
        conv.pad_size(),
    );
    let groups = ic / 4;
    let mut w = conv.simd.wide_weights.as_ptr();
    for chunk in 0..oc / 16 {
        let lanes = chunk * 16..chunk * 16 + 16;
        let bias = _mm512_loadu_si512(conv.bias[lanes.clone()].as_ptr().cast());
        let mut acc = [bias; P];
        for row in rows {
            let row = row.as_ptr().add((x - pad) * ic);
            for kx in 0..k {
                for g in 0..groups {
                    let weights = _mm512_loadu_si512(w.cast());
                    w = w.add(64);
                    let base = row.add(kx * ic + 4 * g);
                    for (p, acc) in acc.iter_mut().enumerate() {
                        *acc = _mm512_dpbusd_epi32(*acc, broadcast4(base.add(p * ic)), weights);
                    }
                }
            }
        }
        let requant = Requant512::load(
            conv,
            &conv.significand[lanes.clone()],
            &conv.left_shift[lanes.clone()],
            &conv.right_shift[lanes],
        );
        for (p, acc) in acc.iter().enumerate() {
            let dst = out.as_mut_ptr().add((x + p) * oc + chunk * 16);
            _mm_storeu_si128(dst.cast(), requant.apply(*acc));
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn single_input_avx512(conv: &ConvPlan, rows: &[&[u8]], out: &mut [u8], cols: Range<usize>) {
    let mut x = cols.start;
    while x + 8 <= cols.end {
        single_input_pixels::<8>(conv, rows, out, x);
        x += 8;
    }
    while x < cols.end {
        single_input_pixels::<1>(conv, rows, out, x);
        x += 1;
    }
}

/// `P` pixels of a one-channel conv: each `vpdpbusd` takes four horizontal taps.
#[inline(always)]
unsafe fn single_input_pixels<const P: usize>(
    conv: &ConvPlan,
    rows: &[&[u8]],
    out: &mut [u8],
    x: usize,
) {
    let (oc, k, pad) = (conv.out_channels, conv.kernel, conv.pad_size());
    let mut w = conv.simd.wide_weights.as_ptr();
    for chunk in 0..oc / 16 {
        let lanes = chunk * 16..chunk * 16 + 16;
        let bias = _mm512_loadu_si512(conv.bias[lanes.clone()].as_ptr().cast());
        let mut acc = [bias; P];
        for row in rows {
            let row = row.as_ptr().add(x - pad);
            for g in 0..k.div_ceil(4) {
                let weights = _mm512_loadu_si512(w.cast());
                w = w.add(64);
                for (p, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm512_dpbusd_epi32(*acc, broadcast4(row.add(p + 4 * g)), weights);
                }
            }
        }
        let requant = Requant512::load(
            conv,
            &conv.significand[lanes.clone()],
            &conv.left_shift[lanes.clone()],
            &conv.right_shift[lanes],
        );
        for (p, acc) in acc.iter().enumerate() {
            let dst = out.as_mut_ptr().add((x + p) * oc + chunk * 16);
            _mm_storeu_si128(dst.cast(), requant.apply(*acc));
        }
    }
}

/// Pixels `cols` (a multiple of 4) of a conv with four outputs: lanes are (pixel, channel)
/// for four pixels, and each 128-bit lane holds its pixel's 16 input channels, from which
/// `vpshufd` picks four at a time.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn four_outputs_avx512(conv: &ConvPlan, rows: &[&[u8]], out: &mut [u8], cols: Range<usize>) {
    let lanes = &conv.simd.four_lanes;
    let requant = Requant512::load(
        conv,
        &lanes.significand,
        &lanes.left_shift,
        &lanes.right_shift,
    );
    let bias = _mm512_loadu_si512(lanes.bias.as_ptr().cast());
    let mut x = cols.start;
    while x + 16 <= cols.end {
        four_outputs_groups::<4>(conv, rows, out, x, bias, &requant);
        x += 16;
    }
    while x + 4 <= cols.end {
        four_outputs_groups::<1>(conv, rows, out, x, bias, &requant);
        x += 4;
    }
}

/// `Q` groups of four pixels from `x`.
#[inline(always)]
unsafe fn four_outputs_groups<const Q: usize>(
    conv: &ConvPlan,
    rows: &[&[u8]],
    out: &mut [u8],
    x: usize,
    bias: __m512i,
    requant: &Requant512,
) {
    let (ic, k, pad) = (conv.in_channels, conv.kernel, conv.pad_size());
    let mut acc = [bias; Q];
    let mut w = conv.simd.wide_weights.as_ptr();
    for row in rows {
        let row = row.as_ptr().add((x - pad) * ic);
        for kx in 0..k {
            for gc in 0..ic / 16 {
                let mut pixels = [_mm512_setzero_si512(); Q];
                for (q, v) in pixels.iter_mut().enumerate() {
                    let p = row.add((4 * q + kx) * ic + 16 * gc);
                    *v = if ic == 16 {
                        _mm512_loadu_si512(p.cast())
                    } else {
                        let v = _mm512_castsi128_si512(_mm_loadu_si128(p.cast()));
                        let v = _mm512_inserti32x4::<1>(v, _mm_loadu_si128(p.add(ic).cast()));
                        let v = _mm512_inserti32x4::<2>(v, _mm_loadu_si128(p.add(2 * ic).cast()));
                        _mm512_inserti32x4::<3>(v, _mm_loadu_si128(p.add(3 * ic).cast()))
                    };
                }
                let w0 = _mm512_loadu_si512(w.cast());
                let w1 = _mm512_loadu_si512(w.add(64).cast());
                let w2 = _mm512_loadu_si512(w.add(128).cast());
                let w3 = _mm512_loadu_si512(w.add(192).cast());
                w = w.add(256);
                for (acc, &v) in acc.iter_mut().zip(&pixels) {
                    *acc = _mm512_dpbusd_epi32(*acc, _mm512_shuffle_epi32::<0x00>(v), w0);
                    *acc = _mm512_dpbusd_epi32(*acc, _mm512_shuffle_epi32::<0x55>(v), w1);
                    *acc = _mm512_dpbusd_epi32(*acc, _mm512_shuffle_epi32::<0xAA>(v), w2);
                    *acc = _mm512_dpbusd_epi32(*acc, _mm512_shuffle_epi32::<0xFF>(v), w3);
                }
            }
        }
    }
    for (q, acc) in acc.iter().enumerate() {
        // Lane (pixel j, channel o) is output byte 4 j + o: the row's own layout.
        let dst = out.as_mut_ptr().add((x + 4 * q) * 4);
        _mm_storeu_si128(dst.cast(), requant.apply(*acc));
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn add_avx512(add: &AddPlan, a: &[u8], b: &[u8], out: &mut [u8]) -> usize {
    let params = |(m, s): (i32, i32)| {
        (
            _mm512_set1_epi32(m),
            _mm512_set1_epi32(s.max(0)),
            _mm512_set1_epi32((-s).max(0)),
        )
    };
    let (am, al, ar) = params(add.a_multiplier);
    let (bm, bl, br) = params(add.b_multiplier);
    let (om, ol, or) = params(add.output_multiplier);
    let a_offset = _mm512_set1_epi32(add.a_offset);
    let b_offset = _mm512_set1_epi32(add.b_offset);
    let zero_point = _mm512_set1_epi32(add.output_zero_point);
    let n = out.len() / 16 * 16;
    for i in (0..n).step_by(16) {
        let va = _mm512_cvtepu8_epi32(_mm_loadu_si128(a.as_ptr().add(i).cast()));
        let vb = _mm512_cvtepu8_epi32(_mm_loadu_si128(b.as_ptr().add(i).cast()));
        let va = _mm512_slli_epi32::<{ ADD_LEFT_SHIFT as u32 }>(_mm512_add_epi32(va, a_offset));
        let vb = _mm512_slli_epi32::<{ ADD_LEFT_SHIFT as u32 }>(_mm512_add_epi32(vb, b_offset));
        let sum = _mm512_add_epi32(multiply512(va, am, al, ar), multiply512(vb, bm, bl, br));
        let v = _mm512_add_epi32(multiply512(sum, om, ol, or), zero_point);
        let v = _mm512_min_epi32(
            _mm512_max_epi32(v, _mm512_set1_epi32(-128)),
            _mm512_set1_epi32(127),
        );
        let v = _mm512_cvtepi32_epi8(_mm512_add_epi32(v, _mm512_set1_epi32(U8_OFFSET)));
        _mm_storeu_si128(out.as_mut_ptr().add(i).cast(), v);
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
unsafe fn channels_avx2(conv: &ConvPlan, rows: &[&[u8]], out: &mut [u8], cols: Range<usize>) {
    let mut x = cols.start;
    while x + 4 <= cols.end {
        channels_avx2_pixels::<4>(conv, rows, out, x);
        x += 4;
    }
    while x < cols.end {
        channels_avx2_pixels::<1>(conv, rows, out, x);
        x += 1;
    }
}

/// `P` pixels from `x`, lanes are 8 output channels; input channels go in pairs (the second
/// of an odd count pairs with the next pixel's first, against a zero weight).
#[inline(always)]
unsafe fn channels_avx2_pixels<const P: usize>(
    conv: &ConvPlan,
    rows: &[&[u8]],
    out: &mut [u8],
    x: usize,
) {
    let (ic, oc, k, pad) = (
        conv.in_channels,
        conv.out_channels,
        conv.kernel,
        conv.pad_size(),
    );
    let lanes = &conv.simd.narrow_lanes;
    let pairs = ic.div_ceil(2);
    let mut w = conv.simd.narrow_weights.as_ptr();
    for chunk in 0..oc.div_ceil(8) {
        let l = chunk * 8;
        let bias = _mm256_loadu_si256(lanes.bias[l..].as_ptr().cast());
        let mut acc = [bias; P];
        for row in rows {
            let row = row.as_ptr().add((x - pad) * ic);
            for kx in 0..k {
                for pair in 0..pairs {
                    let weights = _mm256_loadu_si256(w.cast());
                    w = w.add(16);
                    let base = row.add(kx * ic + 2 * pair);
                    for (p, acc) in acc.iter_mut().enumerate() {
                        let two = base.add(p * ic).cast::<u16>().read_unaligned() as i32;
                        // Two u8 as two i16.
                        let two = (two & 0xff) | ((two & 0xff00) << 8);
                        *acc = _mm256_add_epi32(
                            *acc,
                            _mm256_madd_epi16(_mm256_set1_epi32(two), weights),
                        );
                    }
                }
            }
        }
        let significand = _mm256_loadu_si256(lanes.significand[l..].as_ptr().cast());
        let left = _mm256_loadu_si256(lanes.left_shift[l..].as_ptr().cast());
        let right = _mm256_loadu_si256(lanes.right_shift[l..].as_ptr().cast());
        let zero_point = _mm256_set1_epi32(conv.output_zero_point);
        let min = _mm256_set1_epi32(conv.activation_min);
        let valid = (oc - l).min(8);
        for (p, acc) in acc.iter().enumerate() {
            let v = _mm256_add_epi32(multiply256(*acc, significand, left, right), zero_point);
            let v = _mm256_min_epi32(_mm256_max_epi32(v, min), _mm256_set1_epi32(127));
            let bytes = pack_u8x8(_mm256_add_epi32(v, _mm256_set1_epi32(U8_OFFSET)));
            let dst = out.as_mut_ptr().add((x + p) * oc + l);
            if valid == 8 {
                _mm_storel_epi64(dst.cast(), bytes);
            } else {
                let mut tmp = [0u8; 16];
                _mm_storeu_si128(tmp.as_mut_ptr().cast(), bytes);
                std::ptr::copy_nonoverlapping(tmp.as_ptr(), dst, valid);
            }
        }
    }
}

#[target_feature(enable = "avx2")]
unsafe fn add_avx2(add: &AddPlan, a: &[u8], b: &[u8], out: &mut [u8]) -> usize {
    let params = |(m, s): (i32, i32)| {
        (
            _mm256_set1_epi32(m),
            _mm256_set1_epi32(s.max(0)),
            _mm256_set1_epi32((-s).max(0)),
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
