//! Portable row kernels: the correctness reference the SIMD kernels are tested against. Same
//! layouts (`u8` activations, channels interleaved per pixel) and same integers.

use std::ops::Range;

use super::plan::{AddPlan, ConvPlan};

/// One output row of `conv` over the pixel columns `cols` (buffer coordinates): `rows[ky]` is
/// input row `y + ky - pad`, and `out` receives `out_channels` bytes per pixel.
pub(crate) fn conv_row(conv: &ConvPlan, rows: &[&[u8]], out: &mut [u8], cols: Range<usize>) {
    let (ic, oc, k, pad) = (
        conv.in_channels,
        conv.out_channels,
        conv.kernel,
        conv.pad_size(),
    );
    // For one `ky`, the taps of every `kx` and channel are contiguous in both the row and the
    // OHWI weights.
    let span = k * ic;
    for x in cols {
        let start = (x - pad) * ic;
        for o in 0..oc {
            let mut acc = conv.bias[o];
            for (ky, row) in rows.iter().enumerate() {
                let w = &conv.weight[(o * k + ky) * span..][..span];
                acc += row[start..start + span]
                    .iter()
                    .zip(w)
                    .map(|(&u, &w)| u as i32 * w as i32)
                    .sum::<i32>();
            }
            out[x * oc + o] = conv.requantize(o, acc);
        }
    }
}

/// Elementwise int8 ADD of two `u8` rows.
pub(crate) fn add_row(add: &AddPlan, a: &[u8], b: &[u8], out: &mut [u8]) {
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        *o = add.add(a, b);
    }
}
