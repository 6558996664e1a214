//! Unpacking a phase-packed convolution (see [`crate::graph`]) back into the plain one, and
//! proving it by packing that again.

use super::matcher::unsupported;
use crate::error::Result;
use crate::graph::Conv;

/// The plain conv (`out_channels` x `in_channels`) whose phase packing with `out_index` is
/// `packed`, trying the kernel sizes that pack to `packed.kernel`; the packing is redone and
/// compared with the file, weight for weight.
pub(super) fn unpack(
    packed: &Conv<i8, i32>,
    out_index: impl Fn(usize, usize, usize) -> usize,
    out_channels: usize,
    in_channels: usize,
    what: &str,
) -> Result<Conv<i8, i32>> {
    let kq = packed.kernel;
    let (o, i) = (out_channels, in_channels);
    if packed.out_channels != 4 * o || packed.in_channels != 4 * i {
        return Err(unsupported(format!(
            "{what}: packed {}->{} channels, expected {}->{}",
            packed.in_channels,
            packed.out_channels,
            4 * i,
            4 * o
        )));
    }
    for k in [2 * kq + 1, 2 * kq - 1]
        .into_iter()
        .filter(|&k| k >= 1 && k % 2 == 1)
    {
        let q = ((k / 2) as isize + 1) / 2;
        if (2 * q + 1) as usize != kq {
            continue;
        }
        let conv = block_origin_taps(packed, &out_index, o, i, k);
        if conv.packed(&out_index) == *packed {
            return Ok(conv);
        }
    }
    Err(unsupported(format!(
        "{what} is not the phase packing of a plain convolution"
    )))
}

/// The `k x k` conv read from block position (0, 0) of `packed`, which alone holds every tap
/// (the packing's inverse there).
fn block_origin_taps(
    packed: &Conv<i8, i32>,
    out_index: impl Fn(usize, usize, usize) -> usize,
    o: usize,
    i: usize,
    k: usize,
) -> Conv<i8, i32> {
    let kq = packed.kernel;
    let p = (k / 2) as isize;
    let q = (p + 1) / 2;
    let mut conv = Conv {
        out_channels: o,
        in_channels: i,
        kernel: k,
        weight: vec![0i8; o * i * k * k],
        bias: vec![0; o],
        weight_scales: vec![0.0; o],
        bias_scales: vec![0.0; o],
    };
    for s in 0..o {
        let oc = out_index(0, 0, s);
        conv.bias[s] = packed.bias[oc];
        conv.weight_scales[s] = packed.weight_scales[oc];
        conv.bias_scales[s] = packed.bias_scales[oc];
        for dy in 0..kq {
            for dx in 0..kq {
                for ii in 0..2 {
                    for jj in 0..2 {
                        let ky = 2 * (dy as isize - q) + ii as isize + p;
                        let kx = 2 * (dx as isize - q) + jj as isize + p;
                        if !(0..k as isize).contains(&ky) || !(0..k as isize).contains(&kx) {
                            continue;
                        }
                        for c in 0..i {
                            let ic = (ii * 2 + jj) * i + c;
                            conv.weight[((s * i + c) * k + ky as usize) * k + kx as usize] =
                                packed.weight[((oc * 4 * i + ic) * kq + dy) * kq + dx];
                        }
                    }
                }
            }
        }
    }
    conv
}
