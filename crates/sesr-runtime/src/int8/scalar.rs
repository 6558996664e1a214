//! Portable row kernels: the correctness reference the SIMD kernels are tested against. Same
//! row layout (see [`offset`]) and same integers.

use std::ops::Range;

use super::plan::{AddPlan, ConvPlan, NetworkPlan, PreluPlan, U8_OFFSET};

/// Byte offset of channel `c` of pixel `x` in a row of `width` pixels with `channels`
/// channels. Channels go in groups of four, each group a run of `width` pixels of four bytes:
/// a 64-byte load is 16 pixels of one group, which `vpdpbusd` takes as 16 lanes. A
/// single-channel row is one byte per pixel.
#[inline(always)]
pub(crate) fn offset(channels: usize, width: usize, c: usize, x: usize) -> usize {
    if channels.is_multiple_of(4) {
        (c / 4) * 4 * width + 4 * x + c % 4
    } else {
        x * channels + c
    }
}

/// One output row of `conv` over the pixel columns `cols` (buffer coordinates, rows of
/// `width` pixels): `rows[ky]` is input row `y + ky - pad`.
pub(crate) fn conv_row(
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
    for x in cols {
        for o in 0..oc {
            let mut acc = conv.bias[o];
            for (ky, row) in rows.iter().enumerate() {
                for kx in 0..k {
                    let w = &conv.weight[((o * k + ky) * k + kx) * ic..][..ic];
                    for (i, &w) in w.iter().enumerate() {
                        acc += row[offset(ic, width, i, x + kx - pad)] as i32 * w as i32;
                    }
                }
            }
            out[offset(oc, width, o, x)] = conv.requantize(o, acc);
        }
    }
}

/// A PReLU in place over the pixel columns `cols` of a row of `width` pixels: one table
/// lookup per value. With groups of four channels each pixel's four bytes take the group's
/// four tables in turn.
pub(crate) fn prelu_row(prelu: &PreluPlan, row: &mut [u8], cols: Range<usize>, width: usize) {
    let channels = prelu.tables.len();
    if channels.is_multiple_of(4) {
        for (g, tables) in prelu.tables.chunks_exact(4).enumerate() {
            prelu_run(
                tables,
                &mut row[g * 4 * width + 4 * cols.start..g * 4 * width + 4 * cols.end],
            );
        }
    } else {
        for x in cols {
            for (c, table) in prelu.tables.iter().enumerate() {
                let v = &mut row[offset(channels, width, c, x)];
                *v = table[*v as usize];
            }
        }
    }
}

/// A PReLU in place over a run of pixels of one group of four channels (`tables`).
pub(crate) fn prelu_run(tables: &[[u8; 256]], run: &mut [u8]) {
    for pixel in run.chunks_exact_mut(4) {
        for (v, table) in pixel.iter_mut().zip(tables) {
            *v = table[*v as usize];
        }
    }
}

/// Elementwise int8 ADD of two `u8` rows.
pub(crate) fn add_row(add: &AddPlan, a: &[u8], b: &[u8], out: &mut [u8]) {
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        *o = add.add(a, b);
    }
}

/// The end of the last stage on one row, after the output conv wrote `conv_out`: the final
/// ADD with the input `x` (the row's pixels `cols`) and the depth-to-space into `out`: `scale`
/// rows of `out_width` values, pixel `cols.start` at column `scale * x0`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish_row(
    plan: &NetworkPlan,
    conv_out: &[u8],
    cols: Range<usize>,
    width: usize,
    x: &[i8],
    out: &mut [i8],
    out_width: usize,
    x0: usize,
) {
    let (s, oc) = (plan.scale, plan.scale * plan.scale);
    for (i, (bx, &xv)) in cols.zip(x).enumerate() {
        let xu = (xv as i32 + U8_OFFSET) as u8;
        for (c, &(dy, dx)) in plan.depth_to_space.iter().enumerate() {
            let v = plan.final_sum.add(conv_out[offset(oc, width, c, bx)], xu);
            out[dy * out_width + (x0 + i) * s + dx] = (v ^ 0x80) as i8;
        }
    }
}
