//! The SESR forward pass straight from its definition (`sesr_net`'s crate documentation): direct
//! SAME convolutions on NHWC planes with f64 accumulation, `x - 0.5` in, PReLU or ReLU, the
//! long residual, `+ x`, clip, TensorFlow's depth-to-space. What every engine is held to, and
//! the activation ranges a calibration observes.

use sesr_net::layout::depth_to_space;
use sesr_net::{ActivationRanges, ConvWeights, Float32Network, Range};

/// Direct SAME convolution on an NHWC plane, weights in OIHW order, f64 accumulation.
pub fn conv(input: &[f32], h: usize, w: usize, c: &ConvWeights) -> Vec<f32> {
    let (ic, oc, k) = (c.in_channels, c.out_channels, c.kernel);
    let pad = (k / 2) as isize;
    let mut out = vec![0.0; h * w * oc];
    for y in 0..h {
        for x in 0..w {
            for o in 0..oc {
                let mut acc = c.bias[o] as f64;
                for ky in 0..k {
                    for kx in 0..k {
                        let iy = y as isize + ky as isize - pad;
                        let ix = x as isize + kx as isize - pad;
                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                            continue;
                        }
                        let px = &input[(iy as usize * w + ix as usize) * ic..][..ic];
                        for (i, &v) in px.iter().enumerate() {
                            acc += v as f64 * c.weight[((o * ic + i) * k + ky) * k + kx] as f64;
                        }
                    }
                }
                out[(y * w + x) * oc + o] = acc as f32;
            }
        }
    }
    out
}

fn range_of(values: &[f32]) -> Range {
    let mut r = Range::EMPTY;
    r.include(values);
    r
}

/// What the forward pass computed: the output plane and the range of every activation.
pub struct Forward {
    /// The `scale h` x `scale w` output, clipped to [0, 1].
    pub output: Vec<f32>,
    /// The observed range of every activation (the input's and the shifted input's too).
    pub ranges: ActivationRanges,
}

/// `network` on the `h` x `w` plane `x` (values in [0, 1], row-major).
pub fn forward(network: &Float32Network, x: &[f32], h: usize, w: usize) -> Forward {
    assert_eq!(x.len(), h * w, "the plane holds h * w values");
    let m = network.m();
    let t: Vec<f32> = x.iter().map(|v| v - 0.5).collect();
    let f0 = conv(&t, h, w, &network.convs[0]);
    let mut feats = f0.clone();
    let (mut block_convs, mut blocks) = (Vec::new(), Vec::new());
    let f = network.features();
    for i in 0..m {
        feats = conv(&feats, h, w, &network.convs[i + 1]);
        block_convs.push(range_of(&feats));
        for (j, v) in feats.iter_mut().enumerate() {
            let slope = network.prelu.get(i).map_or(0.0, |s| s[j % f]);
            if *v < 0.0 {
                *v *= slope;
            }
        }
        blocks.push(range_of(&feats));
    }
    let r: Vec<f32> = feats.iter().zip(&f0).map(|(a, b)| a + b).collect();
    let o = conv(&r, h, w, &network.convs[m + 1]);
    let c = network.scale * network.scale;
    let s: Vec<f32> = o.iter().enumerate().map(|(i, v)| v + x[i / c]).collect();
    let ranges = ActivationRanges {
        input: range_of(x),
        shifted_input: range_of(&t),
        input_conv: range_of(&f0),
        block_convs: if network.uses_prelu() {
            block_convs
        } else {
            Vec::new()
        },
        blocks,
        residual_sum: range_of(&r),
        output_conv: range_of(&o),
        final_sum: range_of(&s),
    };
    let mut y: Vec<f32> = s.iter().map(|v| v.clamp(0.0, 1.0)).collect();
    let (mut hh, mut ww, mut cc) = (h, w, c);
    for _ in 0..network.scale / 2 {
        y = depth_to_space(&y, hh, ww, cc, 2);
        hh *= 2;
        ww *= 2;
        cc /= 4;
    }
    Forward { output: y, ranges }
}

/// The ranges a calibration on `x` gives, with the input's fixed to the full [0, 1] any image
/// can use (as `sesr-cli export --calibration` does).
pub fn calibrate(network: &Float32Network, x: &[f32], h: usize, w: usize) -> ActivationRanges {
    let mut ranges = forward(network, x, h, w).ranges;
    ranges.input = Range::new(0.0, 1.0);
    ranges.shifted_input = Range::new(-0.5, 0.5);
    ranges
}
