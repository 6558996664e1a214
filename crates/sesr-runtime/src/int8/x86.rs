//! What the x86-64 row kernels ([`avx512`](super::avx512), [`avx2`](super::avx2)) share: the
//! weights they read, how far they read, and compile-time unrolling.
//!
//! Rows hold four channels per pixel in runs of pixels (`scalar::offset`), so a 64-byte load is
//! 16 pixels of four channels. Lanes are pixels; each output channel has its accumulators,
//! and each weight (four int8 for four input channels) is broadcast from memory.
//!
//! The requantization is TFLite's `MultiplyByQuantizedMultiplier` lane by lane, with 64-bit
//! products: `(x * m + 2^30) >> 31` equals gemmlowp's rounding doubling high product for
//! every `x` (its ties-away-from-zero nudge and truncating division combine into one floor),
//! and without a left shift the rounding right shift folds into the same floor
//! ([`FixedPoint`](super::plan::FixedPoint)): one nudge, one 64-bit shift. Saturating packs
//! give the int8 clamps. The tests hold every level to the scalar kernels' integers, bit for
//! bit.
//!
//! Safety rests on two checks made by the kernel modules' safe entry points: the CPU has the
//! instruction set (checked per call, `is_x86_feature_detected!` is a cached load), and every
//! slice covers what the kernels read and write (asserted once per row, before any pointer
//! arithmetic; writes past the last pixel are masked, reads past it stay inside the row's
//! slack).

use super::plan::ConvPlan;

/// Output channels per pass of a SIMD conv kernel that keeps at most `most` of them in
/// registers: all of them up to `most`, else `most` if it divides them. `None` when no SIMD
/// kernel takes the conv: output channels not in groups of four, input channels neither one
/// nor in groups of four, or too many output channels to split evenly.
pub(super) fn channels_per_pass(conv: &ConvPlan, most: usize) -> Option<usize> {
    let (ic, oc) = (conv.in_channels, conv.out_channels);
    if !oc.is_multiple_of(4) || (!ic.is_multiple_of(4) && ic != 1) {
        return None;
    }
    let per_pass = if oc <= most {
        oc
    } else if oc.is_multiple_of(most) {
        most
    } else {
        0
    };
    (per_pass > 0).then_some(per_pass)
}

/// Weight `(o, ky, kx, i)` of `conv` (OHWI); zero for a tap `kx` or an input channel `i`
/// beyond the conv's, which the kernels' weight orders pad to groups of four.
pub(super) fn weight(conv: &ConvPlan, o: usize, ky: usize, kx: usize, i: usize) -> i8 {
    let (ic, k) = (conv.in_channels, conv.kernel);
    if kx < k && i < ic {
        conv.weight[((o * k + ky) * k + kx) * ic + i]
    } else {
        0
    }
}

/// Bytes a row of `channels` channels must hold so that pixel blocks of `block` pixels
/// starting before `end`, shifted by up to `k` taps, can be read (see `ROW_SLACK` in
/// `stream`).
pub(super) fn reach(channels: usize, width: usize, end: usize, block: usize, k: usize) -> usize {
    if channels == 1 {
        end + block + k + 4
    } else {
        (channels / 4 - 1) * 4 * width + 4 * (end + block + k)
    }
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
pub(super) use unrolled;
