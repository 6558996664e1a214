//! The x86-64 row kernels (AVX-512F and AVX2 + FMA), one generic body per layer kind over a
//! 16-float vector type, instantiated inside `#[target_feature]` functions so the intrinsics
//! inline with the right instruction set.
//!
//! The layouts and the arithmetic are those of [`super::scalar`]; only the summation order
//! differs (register blocking over several pixels, lane sums in the output conv).
//! Safety rests on two checks made by the safe entry points: the CPU has the features
//! ([`Simd`] can only be made by [`Simd::detect`]), and every slice covers what the loops read
//! and write (asserted once per row, before any pointer arithmetic).
#![allow(unsafe_code)]

use super::LANES;
use std::arch::x86_64::*;

/// Proof that the running CPU has an instruction set: only [`Simd::detect`] makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Simd(Level);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Avx512,
    Avx2,
}

impl Simd {
    /// AVX-512F (`wide == true`) or AVX2 + FMA, when this CPU has it.
    pub(crate) fn detect(wide: bool) -> Option<Simd> {
        if wide {
            is_x86_feature_detected!("avx512f").then_some(Simd(Level::Avx512))
        } else {
            (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
                .then_some(Simd(Level::Avx2))
        }
    }
}

/// Sixteen floats in registers.
trait F32x16: Copy {
    unsafe fn zero() -> Self;
    unsafe fn splat(x: f32) -> Self;
    unsafe fn load(p: *const f32) -> Self;
    unsafe fn store(self, p: *mut f32);
    /// `self * b + c`.
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
    unsafe fn max(self, b: Self) -> Self;
    unsafe fn min(self, b: Self) -> Self;
    unsafe fn add(self, b: Self) -> Self;
    unsafe fn sub(self, b: Self) -> Self;
    unsafe fn sum(self) -> f32;
    /// The sums of 16 vectors, `[v[0].sum(), .., v[15].sum()]`.
    #[inline(always)]
    unsafe fn sums16(v: [Self; 16]) -> [f32; 16] {
        let mut out = [0.0; 16];
        for (o, x) in out.iter_mut().zip(v) {
            *o = x.sum();
        }
        out
    }
}

#[derive(Clone, Copy)]
struct Zmm(__m512);

impl F32x16 for Zmm {
    #[inline(always)]
    unsafe fn zero() -> Self {
        Zmm(_mm512_setzero_ps())
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        Zmm(_mm512_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Zmm(_mm512_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm512_storeu_ps(p, self.0)
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        Zmm(_mm512_fmadd_ps(self.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        Zmm(_mm512_max_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        Zmm(_mm512_min_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Zmm(_mm512_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        Zmm(_mm512_sub_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sum(self) -> f32 {
        _mm512_reduce_add_ps(self.0)
    }
    /// A transpose-and-add tree: 45 shuffles and adds instead of 16 separate reductions.
    #[inline(always)]
    unsafe fn sums16(v: [Self; 16]) -> [f32; 16] {
        // Pairs: in each 128-bit block, lanes 0 and 2 hold partial sums of v[2i], 1 and 3
        // of v[2i + 1].
        let mut pairs = [_mm512_setzero_ps(); 8];
        for (i, pair) in pairs.iter_mut().enumerate() {
            let (a, b) = (v[2 * i].0, v[2 * i + 1].0);
            *pair = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
        }
        // Quads: block j of quads[q] holds the block-j sums of v[4q..4q + 4].
        let mut quads = [_mm512_setzero_ps(); 4];
        for (q, quad) in quads.iter_mut().enumerate() {
            let a = _mm512_castps_pd(pairs[2 * q]);
            let b = _mm512_castps_pd(pairs[2 * q + 1]);
            *quad = _mm512_add_ps(
                _mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)),
            );
        }
        // Blocks: add blocks (0, 2) to (1, 3) of two quads at a time, then once more.
        let low = _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b10_00_10_00>(quads[0], quads[1]),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(quads[0], quads[1]),
        );
        let high = _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b10_00_10_00>(quads[2], quads[3]),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(quads[2], quads[3]),
        );
        let total = _mm512_add_ps(
            _mm512_shuffle_f32x4::<0b10_00_10_00>(low, high),
            _mm512_shuffle_f32x4::<0b11_01_11_01>(low, high),
        );
        let mut out = [0.0; 16];
        _mm512_storeu_ps(out.as_mut_ptr(), total);
        out
    }
}

/// Two 8-float halves.
#[derive(Clone, Copy)]
struct YmmPair(__m256, __m256);

impl F32x16 for YmmPair {
    #[inline(always)]
    unsafe fn zero() -> Self {
        YmmPair(_mm256_setzero_ps(), _mm256_setzero_ps())
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        let v = _mm256_set1_ps(x);
        YmmPair(v, v)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        YmmPair(_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm256_storeu_ps(p, self.0);
        _mm256_storeu_ps(p.add(8), self.1);
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        YmmPair(
            _mm256_fmadd_ps(self.0, b.0, c.0),
            _mm256_fmadd_ps(self.1, b.1, c.1),
        )
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        YmmPair(_mm256_max_ps(self.0, b.0), _mm256_max_ps(self.1, b.1))
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        YmmPair(_mm256_min_ps(self.0, b.0), _mm256_min_ps(self.1, b.1))
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        YmmPair(_mm256_add_ps(self.0, b.0), _mm256_add_ps(self.1, b.1))
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        YmmPair(_mm256_sub_ps(self.0, b.0), _mm256_sub_ps(self.1, b.1))
    }
    #[inline(always)]
    unsafe fn sum(self) -> f32 {
        let v = _mm256_add_ps(self.0, self.1);
        let v = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let v = _mm_add_ps(v, _mm_movehl_ps(v, v));
        let v = _mm_add_ss(v, _mm_shuffle_ps(v, v, 1));
        _mm_cvtss_f32(v)
    }
}

// ---- generic bodies -------------------------------------------------------------------------

/// `N` neighbouring pixels of the input conv, one 16-channel block: 25 broadcast FMAs each.
#[inline(always)]
unsafe fn input_pixels<V: F32x16, const N: usize>(
    rows: &[*const f32; 5],
    weight: *const f32,
    bias: V,
    c: usize,
    u: usize,
    out: *mut f32,
) {
    let mut acc = [bias; N];
    for (ky, row) in rows.iter().enumerate() {
        let src = row.add(u - 2);
        for kx in 0..5 {
            let w = V::load(weight.add((ky * 5 + kx) * LANES));
            for (p, a) in acc.iter_mut().enumerate() {
                *a = V::splat(*src.add(p + kx)).mul_add(w, *a);
            }
        }
    }
    for (p, a) in acc.iter().enumerate() {
        a.store(out.add((u + p) * c));
    }
}

#[inline(always)]
unsafe fn input_row<V: F32x16, const N: usize>(
    rows: &[*const f32; 5],
    weight: *const f32,
    bias: *const f32,
    c: usize,
    (u0, u1): (usize, usize),
    out: *mut f32,
) {
    for cb in 0..c / LANES {
        let (w, b, o) = (
            weight.add(cb * 25 * LANES),
            V::load(bias.add(cb * LANES)),
            out.add(cb * LANES),
        );
        let mut u = u0;
        while u + N <= u1 {
            input_pixels::<V, N>(rows, w, b, c, u, o);
            u += N;
        }
        while u < u1 {
            input_pixels::<V, 1>(rows, w, b, c, u, o);
            u += 1;
        }
    }
}

/// `N` neighbouring pixels of a 3x3 conv, one 16-channel output block: every weight vector
/// is loaded once and used for the `N` pixels, whose sums stay in registers.
#[inline(always)]
unsafe fn block_pixels<V: F32x16, const N: usize>(
    rows: &[*const f32; 3],
    weight: *const f32,
    (bias, slope): (V, V),
    c: usize,
    u: usize,
    out: *mut f32,
) {
    let mut acc = [bias; N];
    for (ky, row) in rows.iter().enumerate() {
        for kx in 0..3 {
            let src = row.add((u + kx - 1) * c);
            let w = weight.add((ky * 3 + kx) * c * LANES);
            for ci in 0..c {
                let wv = V::load(w.add(ci * LANES));
                for (p, a) in acc.iter_mut().enumerate() {
                    *a = V::splat(*src.add(p * c + ci)).mul_add(wv, *a);
                }
            }
        }
    }
    let zero = V::zero();
    for (p, a) in acc.iter().enumerate() {
        slope
            .mul_add(a.min(zero), a.max(zero))
            .store(out.add((u + p) * c));
    }
}

#[inline(always)]
unsafe fn block_row<V: F32x16, const N: usize>(
    rows: &[*const f32; 3],
    weight: *const f32,
    (bias, slope): (*const f32, *const f32),
    c: usize,
    (u0, u1): (usize, usize),
    out: *mut f32,
) {
    for cb in 0..c / LANES {
        let w = weight.add(cb * 9 * c * LANES);
        let bs = (
            V::load(bias.add(cb * LANES)),
            V::load(slope.add(cb * LANES)),
        );
        let o = out.add(cb * LANES);
        let mut u = u0;
        while u + N <= u1 {
            block_pixels::<V, N>(rows, w, bs, c, u, o);
            u += N;
        }
        while u < u1 {
            block_pixels::<V, 1>(rows, w, bs, c, u, o);
            u += 1;
        }
    }
}

/// Groups of four pixels per Winograd step, and the most channels its on-stack buffer holds.
const WINOGRAD_QUADS: usize = 4;
const WINOGRAD_MAX_CHANNELS: usize = 32;
const POINTS: usize = super::WINOGRAD_POINTS;

/// `N` groups of four neighbouring pixels `u + 4q ..= u + 4q + 3` of a 3x3 conv by Winograd
/// F(4,3) along each kernel row (Lavin and Gray's matrices): the six inputs `d0..d5` (pixels
/// `u + 4q - 1 ..= u + 4q + 4`) become `B^T d`, each multiplied by its transformed kernel row
/// point (6 products per input channel and row instead of 12 for direct convolution), and
/// the four outputs are `A^T m`, summed over the kernel rows.
#[inline(always)]
unsafe fn block_quads_winograd<V: F32x16, const N: usize>(
    rows: &[*const f32; 3],
    weight: *const f32,
    (bias, slope): (*const f32, *const f32),
    c: usize,
    u: usize,
    out: *mut f32,
) {
    // The transformed inputs, `[ky][quad][point][ci]`. Uninitialised: zeroing it at every
    // step would cost a tenth of the FMAs, and every value read below is written first.
    let mut points = std::mem::MaybeUninit::<
        [f32; 3 * WINOGRAD_QUADS * POINTS * WINOGRAD_MAX_CHANNELS],
    >::uninit();
    let buffer = points.as_mut_ptr().cast::<f32>();
    let zero = V::zero();
    let (two, four, five) = (V::splat(2.0), V::splat(4.0), V::splat(5.0));
    for (ky, row) in rows.iter().enumerate() {
        for q in 0..N {
            let d = row.add((u + 4 * q - 1) * c);
            let to = buffer.add((ky * N + q) * POINTS * c);
            for cb in 0..c / LANES {
                let at = cb * LANES;
                let x: [V; 6] = [
                    V::load(d.add(at)),
                    V::load(d.add(c + at)),
                    V::load(d.add(2 * c + at)),
                    V::load(d.add(3 * c + at)),
                    V::load(d.add(4 * c + at)),
                    V::load(d.add(5 * c + at)),
                ];
                // B^T d.
                let [d0, d1, d2, d3, d4, d5] = x;
                let (d4_m_d2, twice_d3_m_d1) = (d4.sub(d2), two.mul_add(d3.sub(d1), zero));
                let v0 = four.mul_add(d0, d4).sub(five.mul_add(d2, zero));
                let v1 = d3.add(d4).sub(four.mul_add(d1.add(d2), zero));
                let v2 = four.mul_add(d1.sub(d2), d4.sub(d3));
                let v3 = d4_m_d2.add(twice_d3_m_d1);
                let v4 = d4_m_d2.sub(twice_d3_m_d1);
                let v5 = four.mul_add(d1, d5).sub(five.mul_add(d3, zero));
                for (j, v) in [v0, v1, v2, v3, v4, v5].into_iter().enumerate() {
                    v.store(to.add(j * c + at));
                }
            }
        }
    }
    for cb in 0..c / LANES {
        let w = weight.add(cb * 3 * POINTS * c * LANES);
        let mut acc = [[zero; POINTS]; N];
        for ky in 0..3 {
            // The points innermost: their loops unroll, so the 6 N sums stay in registers.
            let wk = w.add(ky * POINTS * c * LANES);
            let from = buffer.add(ky * N * POINTS * c);
            for ci in 0..c {
                let mut wv = [zero; POINTS];
                for (j, v) in wv.iter_mut().enumerate() {
                    *v = V::load(wk.add((j * c + ci) * LANES));
                }
                for (q, a) in acc.iter_mut().enumerate() {
                    for (j, (aj, wj)) in a.iter_mut().zip(&wv).enumerate() {
                        *aj = V::splat(*from.add((q * POINTS + j) * c + ci)).mul_add(*wj, *aj);
                    }
                }
            }
        }
        let (b, s) = (
            V::load(bias.add(cb * LANES)),
            V::load(slope.add(cb * LANES)),
        );
        let eight = V::splat(8.0);
        for (q, m) in acc.iter().enumerate() {
            // A^T m.
            let (p12, m12) = (m[1].add(m[2]), m[1].sub(m[2]));
            let (p34, m34) = (m[3].add(m[4]), m[3].sub(m[4]));
            let y = [
                m[0].add(p12).add(p34),
                two.mul_add(m34, m12),
                four.mul_add(p34, p12),
                eight.mul_add(m34, m12).add(m[5]),
            ];
            let o = out.add((u + 4 * q) * c + cb * LANES);
            for (k, yk) in y.into_iter().enumerate() {
                let yk = yk.add(b);
                s.mul_add(yk.min(zero), yk.max(zero)).store(o.add(k * c));
            }
        }
    }
}

/// A 3x3 conv row by Winograd quads, the last pixels (fewer than a step) directly.
#[inline(always)]
unsafe fn block_row_winograd<V: F32x16, const N: usize>(
    rows: &[*const f32; 3],
    (weight, winograd): (*const f32, *const f32),
    (bias, slope): (*const f32, *const f32),
    c: usize,
    (u0, u1): (usize, usize),
    out: *mut f32,
) {
    let mut u = u0;
    while u + 4 * N <= u1 {
        block_quads_winograd::<V, N>(rows, winograd, (bias, slope), c, u, out);
        u += 4 * N;
    }
    block_row::<V, 1>(rows, weight, (bias, slope), c, (u, u1), out);
}

/// `P` neighbouring pixels of the output conv, one group of 4 output channels: dot products
/// over 16-channel input vectors, summed across lanes at the end (few outputs, many inputs).
#[inline(always)]
unsafe fn output_pixels<V: F32x16, const P: usize>(
    rows: &[*const f32; 5],
    weight: *const f32,
    bias: *const f32,
    c: usize,
    u: usize,
    (out, stride): (*mut f32, usize),
) {
    let blocks = c / LANES;
    let mut acc = [[V::zero(); 4]; P];
    for (ky, row) in rows.iter().enumerate() {
        for kx in 0..5 {
            let src = row.add((u + kx - 2) * c);
            let w = weight.add((ky * 5 + kx) * blocks * 4 * LANES);
            for cb in 0..blocks {
                let mut x = [V::zero(); P];
                for (p, v) in x.iter_mut().enumerate() {
                    *v = V::load(src.add(p * c + cb * LANES));
                }
                for o in 0..4 {
                    let wv = V::load(w.add((cb * 4 + o) * LANES));
                    for (sums, xp) in acc.iter_mut().zip(&x) {
                        sums[o] = xp.mul_add(wv, sums[o]);
                    }
                }
            }
        }
    }
    if P == 4 {
        let mut flat = [V::zero(); 16];
        for (k, f) in flat.iter_mut().enumerate() {
            *f = acc[k / 4][k % 4];
        }
        let sums = V::sums16(flat);
        for (k, s) in sums.iter().enumerate() {
            *out.add(k / 4 * stride + k % 4) = s + *bias.add(k % 4);
        }
    } else {
        for (p, sums) in acc.iter().enumerate() {
            for (o, s) in sums.iter().enumerate() {
                *out.add(p * stride + o) = s.sum() + *bias.add(o);
            }
        }
    }
}

#[inline(always)]
unsafe fn output_row<V: F32x16, const P: usize>(
    rows: &[*const f32; 5],
    weight: *const f32,
    bias: *const f32,
    (c, groups): (usize, usize),
    (u0, u1): (usize, usize),
    out: *mut f32,
) {
    let stride = groups * 4;
    for og in 0..groups {
        let (w, b) = (weight.add(og * 25 * c * 4), bias.add(og * 4));
        let mut u = u0;
        while u + P <= u1 {
            output_pixels::<V, P>(
                rows,
                w,
                b,
                c,
                u,
                (out.add((u - u0) * stride + og * 4), stride),
            );
            u += P;
        }
        while u < u1 {
            output_pixels::<V, 1>(
                rows,
                w,
                b,
                c,
                u,
                (out.add((u - u0) * stride + og * 4), stride),
            );
            u += 1;
        }
    }
}

// ---- instantiations -------------------------------------------------------------------------
// The channel count is passed as a literal for the common 16 and 32: with it constant, the
// inlined bodies address every broadcast by a constant offset from one pointer, instead of
// a chain of pointer increments that would serialise the FMAs.

/// Calls `$body` with `$c` replaced by a literal when it is 16 or 32.
macro_rules! with_constant_channels {
    ($c:ident, $body:expr) => {
        match $c {
            16 => {
                let $c = 16;
                $body
            }
            32 => {
                let $c = 32;
                $body
            }
            _ => $body,
        }
    };
}
// Pixel blocks: AVX-512 has 32 vector registers (12 sums + weight + broadcast), AVX2 has 16
// (6 sums of two halves + weight halves + broadcast).

#[target_feature(enable = "avx512f")]
unsafe fn input_row_avx512(
    rows: &[*const f32; 5],
    w: *const f32,
    b: *const f32,
    c: usize,
    r: (usize, usize),
    o: *mut f32,
) {
    with_constant_channels!(c, input_row::<Zmm, 12>(rows, w, b, c, r, o))
}

#[target_feature(enable = "avx2,fma")]
unsafe fn input_row_avx2(
    rows: &[*const f32; 5],
    w: *const f32,
    b: *const f32,
    c: usize,
    r: (usize, usize),
    o: *mut f32,
) {
    with_constant_channels!(c, input_row::<YmmPair, 6>(rows, w, b, c, r, o))
}

#[target_feature(enable = "avx512f")]
unsafe fn block_row_avx512(
    rows: &[*const f32; 3],
    (w, winograd): (*const f32, *const f32),
    bs: (*const f32, *const f32),
    c: usize,
    r: (usize, usize),
    o: *mut f32,
) {
    if c <= WINOGRAD_MAX_CHANNELS {
        // 4 quads: 24 sums + 6 weights + broadcast of the 32 registers.
        with_constant_channels!(
            c,
            block_row_winograd::<Zmm, WINOGRAD_QUADS>(rows, (w, winograd), bs, c, r, o)
        )
    } else {
        block_row::<Zmm, 12>(rows, w, bs, c, r, o)
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn block_row_avx2(
    rows: &[*const f32; 3],
    w: *const f32,
    bs: (*const f32, *const f32),
    c: usize,
    r: (usize, usize),
    o: *mut f32,
) {
    with_constant_channels!(c, block_row::<YmmPair, 6>(rows, w, bs, c, r, o))
}

#[target_feature(enable = "avx512f")]
unsafe fn output_row_avx512(
    rows: &[*const f32; 5],
    w: *const f32,
    b: *const f32,
    cg: (usize, usize),
    r: (usize, usize),
    o: *mut f32,
) {
    let (c, groups) = cg;
    with_constant_channels!(c, output_row::<Zmm, 4>(rows, w, b, (c, groups), r, o))
}

#[target_feature(enable = "avx2,fma")]
unsafe fn output_row_avx2(
    rows: &[*const f32; 5],
    w: *const f32,
    b: *const f32,
    cg: (usize, usize),
    r: (usize, usize),
    o: *mut f32,
) {
    let (c, groups) = cg;
    with_constant_channels!(c, output_row::<YmmPair, 1>(rows, w, b, (c, groups), r, o))
}

// ---- safe entry points ----------------------------------------------------------------------

/// Checks that `rows` hold pixels `u0 - k .. u1 + k` of `c` channels.
fn check_rows(rows: &[&[f32]], k: usize, c: usize, (u0, u1): (usize, usize)) {
    assert!(
        u0 >= k,
        "row kernel: the row starts inside the kernel's reach"
    );
    for row in rows {
        assert!(row.len() >= (u1 + k) * c, "row kernel: input row too short");
    }
}

/// SIMD version of [`super::scalar::conv_input_row`] (same arguments and results).
pub(crate) fn conv_input_row(
    simd: Simd,
    rows: [&[f32]; 5],
    weight: &[f32],
    bias: &[f32],
    c: usize,
    range: (usize, usize),
    out: &mut [f32],
) {
    if range.0 >= range.1 {
        return;
    }
    check_rows(&rows, 2, 1, range);
    assert!(c.is_multiple_of(LANES) && weight.len() >= 25 * c && bias.len() >= c);
    assert!(out.len() >= range.1 * c);
    let ptrs = rows.map(<[f32]>::as_ptr);
    // SAFETY: `simd` proves the CPU features; the asserts above bound every read (input
    // pixels u0-2..u1+2, c/16 blocks of 25 weight vectors, c biases) and write (pixels
    // ..u1 of c channels).
    unsafe {
        match simd.0 {
            Level::Avx512 => input_row_avx512(
                &ptrs,
                weight.as_ptr(),
                bias.as_ptr(),
                c,
                range,
                out.as_mut_ptr(),
            ),
            Level::Avx2 => input_row_avx2(
                &ptrs,
                weight.as_ptr(),
                bias.as_ptr(),
                c,
                range,
                out.as_mut_ptr(),
            ),
        }
    }
}

/// SIMD version of [`super::scalar::conv_block_row`] (same arguments and results, up to
/// rounding); `weights` are the direct and the Winograd-row forms of the same kernel.
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_block_row(
    simd: Simd,
    rows: [&[f32]; 3],
    (weight, winograd): (&[f32], &[f32]),
    bias: &[f32],
    slope: &[f32],
    c: usize,
    range: (usize, usize),
    out: &mut [f32],
) {
    if range.0 >= range.1 {
        return;
    }
    check_rows(&rows, 1, c, range);
    assert!(
        c.is_multiple_of(LANES)
            && weight.len() >= 9 * c * c
            && winograd.len() >= 3 * POINTS * c * c
    );
    assert!(bias.len() >= c && slope.len() >= c && out.len() >= range.1 * c);
    let ptrs = rows.map(<[f32]>::as_ptr);
    let bs = (bias.as_ptr(), slope.as_ptr());
    let o = out.as_mut_ptr();
    // SAFETY: `simd` proves the CPU features; the asserts above bound every read (pixels
    // u0-1..u1+1 of c channels, c/16 blocks of 9 c direct or 18 c Winograd weight vectors,
    // c biases and slopes) and write (pixels ..u1 of c channels). Winograd steps read pixels
    // u-1..=u+4N only while u+4N <= u1, and buffer 3 N 6 c <= its size (c <= 32) floats.
    unsafe {
        match simd.0 {
            Level::Avx512 => {
                block_row_avx512(&ptrs, (weight.as_ptr(), winograd.as_ptr()), bs, c, range, o)
            }
            Level::Avx2 => block_row_avx2(&ptrs, weight.as_ptr(), bs, c, range, o),
        }
    }
}

/// SIMD version of [`super::scalar::conv_output_row`] (same arguments and results).
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_output_row(
    simd: Simd,
    rows: [&[f32]; 5],
    weight: &[f32],
    bias: &[f32],
    c: usize,
    groups: usize,
    range: (usize, usize),
    out: &mut [f32],
) {
    if range.0 >= range.1 {
        return;
    }
    check_rows(&rows, 2, c, range);
    assert!(
        c.is_multiple_of(LANES) && weight.len() >= groups * 25 * c * 4 && bias.len() >= groups * 4
    );
    assert!(out.len() >= (range.1 - range.0) * groups * 4);
    let ptrs = rows.map(<[f32]>::as_ptr);
    let (w, b, o) = (weight.as_ptr(), bias.as_ptr(), out.as_mut_ptr());
    // SAFETY: `simd` proves the CPU features; the asserts above bound every read (pixels
    // u0-2..u1+2 of c channels, groups of 25 c 4 weights, 4 biases a group) and write
    // ((u1 - u0) pixels of 4 groups outputs).
    unsafe {
        match simd.0 {
            Level::Avx512 => output_row_avx512(&ptrs, w, b, (c, groups), range, o),
            Level::Avx2 => output_row_avx2(&ptrs, w, b, (c, groups), range, o),
        }
    }
}
