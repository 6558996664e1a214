//! The portable row kernels: plain loops in the packed layouts of [`super::pack`], the
//! correctness reference every SIMD kernel is tested against.
//!
//! Each kernel computes the pixels `u0..u1` of one row of a layer; `c` is the channel count
//! padded to a multiple of 16 and every feature row is `[pixel][c]`.

use super::LANES;

/// The 5x5 input conv (1 -> c) of one row: `rows` are the five scalar input rows around it.
pub(crate) fn conv_input_row(
    rows: [&[f32]; 5],
    weight: &[f32],
    bias: &[f32],
    c: usize,
    (u0, u1): (usize, usize),
    out: &mut [f32],
) {
    for u in u0..u1 {
        for cb in 0..c / LANES {
            for lane in 0..LANES {
                let mut acc = bias[cb * LANES + lane];
                for (ky, row) in rows.iter().enumerate() {
                    for kx in 0..5 {
                        acc += row[u + kx - 2] * weight[((cb * 5 + ky) * 5 + kx) * LANES + lane];
                    }
                }
                out[u * c + cb * LANES + lane] = acc;
            }
        }
    }
}

/// A 3x3 conv (c -> c) of one row followed by PReLU (`slope` 0 is ReLU).
pub(crate) fn conv_block_row(
    rows: [&[f32]; 3],
    weight: &[f32],
    bias: &[f32],
    slope: &[f32],
    c: usize,
    (u0, u1): (usize, usize),
    out: &mut [f32],
) {
    for u in u0..u1 {
        for co in 0..c {
            let (cb, lane) = (co / LANES, co % LANES);
            let mut acc = bias[co];
            for (ky, row) in rows.iter().enumerate() {
                for kx in 0..3 {
                    let src = &row[(u + kx - 1) * c..(u + kx) * c];
                    for (ci, x) in src.iter().enumerate() {
                        acc += x * weight[(((cb * 3 + ky) * 3 + kx) * c + ci) * LANES + lane];
                    }
                }
            }
            out[u * c + co] = acc.max(0.0) + slope[co] * acc.min(0.0);
        }
    }
}

/// The 5x5 output conv (c -> 4 `groups`) of one row; `out[(u - u0) * 4 groups + o]`.
pub(crate) fn conv_output_row(
    rows: [&[f32]; 5],
    weight: &[f32],
    bias: &[f32],
    c: usize,
    groups: usize,
    (u0, u1): (usize, usize),
    out: &mut [f32],
) {
    let blocks = c / LANES;
    for u in u0..u1 {
        for og in 0..groups {
            for o in 0..4 {
                let mut acc = 0.0;
                for (ky, row) in rows.iter().enumerate() {
                    for kx in 0..5 {
                        let src = &row[(u + kx - 2) * c..(u + kx - 1) * c];
                        for (ci, x) in src.iter().enumerate() {
                            let (cb, lane) = (ci / LANES, ci % LANES);
                            let tap = ((og * 5 + ky) * 5 + kx) * blocks + cb;
                            acc += x * weight[(tap * 4 + o) * LANES + lane];
                        }
                    }
                }
                out[(u - u0) * groups * 4 + og * 4 + o] = acc + bias[og * 4 + o];
            }
        }
    }
}
