//! AVX-512 row kernels (F, BW, VL and VNNI; VBMI for the PReLU tables), computing the integers
//! of [`scalar`] 16 pixels per register (see [`x86`](crate::int8::x86) for the row layout, the
//! requantization and what safety rests on):
//!
//! * [`conv`]: the convs and the last stage (output conv, final ADD, depth-to-space), by
//!   `vpdpbusd`;
//! * [`elementwise`]: the int8 ADD and PRELU;
//! * [`arith`]: the lane arithmetic they share.
#![allow(unsafe_code)]

mod arith;
mod conv;
mod elementwise;

use std::ops::Range;

use crate::int8::plan::{AddPlan, ConvPlan, NetworkPlan, PreluPlan};
use crate::int8::scalar;
use crate::int8::x86::reach;

pub(crate) use conv::ConvWeights;

/// Whether this CPU has AVX-512F/BW/VL/VNNI.
pub(crate) fn is_available() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512vnni")
}

/// [`scalar::conv_row`] with the weights of `conv` packed in `weights`; the scalar kernel
/// where the CPU lacks AVX-512 VNNI.
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
    // Reads: blocks of up to 64 pixels from `cols.start - pad`; writes: masked to `cols`.
    assert!(cols.start >= pad && cols.end <= width && rows.len() == k);
    let need = reach(ic, width, cols.end, 64, k);
    assert!(rows.iter().all(|r| r.len() >= need));
    assert!(out.len() >= (oc / 4 - 1) * 4 * width + 4 * cols.end);
    assert!(weights.fits(conv));
    // SAFETY: the CPU has AVX-512F/BW/VL/VNNI (checked above); the slices cover every access
    // and `weights` are `conv`'s (asserted above).
    unsafe { conv::conv_avx512(conv, weights, rows, out, cols, width) }
}

/// [`scalar::add_row`] with AVX-512 (the scalar kernel for the last bytes, and where the CPU
/// lacks AVX-512).
pub(crate) fn add_row(add: &AddPlan, a: &[u8], b: &[u8], out: &mut [u8]) {
    let n = out.len().min(a.len()).min(b.len());
    let (a, b, out) = (&a[..n], &b[..n], &mut out[..n]);
    let done = if is_available() {
        // SAFETY: AVX-512F/BW checked; the kernel touches `[0, n / 64 * 64)` of each slice.
        unsafe { elementwise::add_avx512(add, a, b, out) }
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
    if !channels.is_multiple_of(4) || !is_available() {
        return false;
    }
    let vbmi = vbmi && is_x86_feature_detected!("avx512vbmi");
    for g in 0..channels / 4 {
        let run = &mut row[g * 4 * width + 4 * cols.start..g * 4 * width + 4 * cols.end];
        let tables = &prelu.tables[4 * g..4 * g + 4];
        let done = if vbmi {
            // SAFETY: AVX-512F/BW/VBMI checked above; the kernel reads the four 256-byte
            // tables and touches `[0, len / 64 * 64)` of `run`.
            unsafe { elementwise::prelu_vbmi(tables, run) }
        } else {
            // SAFETY: AVX-512F/BW checked above; the kernel touches `[0, len / 64 * 64)` of
            // `run`.
            unsafe { elementwise::prelu_avx512(prelu, &prelu.alpha[4 * g..4 * g + 4], run) }
        };
        scalar::prelu_run(tables, &mut run[done..]);
    }
    true
}

/// The output conv (its weights packed in `weights`), final ADD and depth-to-space of one
/// row with AVX-512 (see [`scalar::finish_row`] for the other arguments); `false` if the CPU
/// or the shape does not allow.
#[allow(clippy::too_many_arguments)]
pub(crate) fn output_row(
    plan: &NetworkPlan,
    weights: &ConvWeights,
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
    let shape_ok = ic.is_multiple_of(4) && weights.per_pass == s * s && (s == 2 || s == 4);
    if !shape_ok || !is_available() {
        return false;
    }
    if cols.is_empty() {
        return true;
    }
    let need = reach(ic, width, cols.end, 64, k);
    assert!(cols.start >= pad && cols.end <= width && rows.len() == k);
    assert!(rows.iter().all(|r| r.len() >= need));
    assert!(x.len() >= cols.len() && out.len() >= (s - 1) * out_width + s * (x0 + cols.len()));
    assert!(weights.fits(conv));
    // SAFETY: AVX-512F/BW/VL/VNNI checked above; the slices cover every access and `weights`
    // are the output conv's (asserted above; reads of `x` and all writes are masked to
    // `cols`).
    unsafe { conv::output_avx512(plan, weights, rows, cols, width, x, out, out_width, x0) };
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesr_net::quant::QuantParams;

    /// The AVX-512 PReLU against the scalar tables on every input of every channel, for
    /// output scales below and above the input's (single-rounding and two-step multipliers)
    /// and slopes of both signs, zero point 0 or not.
    #[test]
    fn prelu_kernel_matches_the_tables_on_every_input() {
        if !is_available() {
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
            let prelu = PreluPlan::new(&sesr_net::Int8Prelu {
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
