//! The int8 network: int8 weights per output channel, int32 biases, int8 activations with
//! per-tensor parameters, and the integer arithmetic of TFLite's reference kernels
//! ([`crate::quant`]). [`Int8Network::quantize`] makes it from a float network and the
//! calibrated range of every activation, with TensorFlow's quantization rules;
//! [`Int8Network::simulate`] runs it, bit for bit as TFLite's reference kernels do. File
//! writers (TFLite, ONNX QDQ) write these integers and readers recover them, so every format
//! holds the same numbers.
//!
//! Two differences from the float graph: the blocks' ReLU is fused into their convolutions (a
//! PReLU, if the network has one, is an int8 PRELU with per-tensor int8 slopes); and there is
//! no clip: the final sum `o + x` is quantized on `final_sum ∩ [0, 1]`, so its saturation to the
//! int8 range *is* `clip(o + x, 0, 1)`. An 8-bit output on `[0, 1]` is exactly an 8-bit image:
//! `q + 128` is the pixel value.

use crate::error::{NetError, Result};
use crate::float32::{ConvWeights, Float32Network};
use crate::layout::{depth_to_space, ohwi, oihw};
use crate::quant::{
    multiply_by_quantized_multiplier, quantize_bias, quantize_multiplier,
    quantize_weights_per_channel, AddParams, PreluParams, QuantParams, QMAX, QMIN,
};
use sesr_model::QuantPoint;

/// A calibrated real range `[min, max]` of an activation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// Smallest value seen (or allowed).
    pub min: f32,
    /// Largest value seen (or allowed).
    pub max: f32,
}

impl Range {
    /// `[min, max]`.
    pub const fn new(min: f32, max: f32) -> Self {
        Self { min, max }
    }

    /// The empty range, to grow with [`Range::include`].
    pub const EMPTY: Self = Self {
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
    };

    /// Grows the range to contain every value of `values`.
    pub fn include(&mut self, values: &[f32]) {
        for &v in values {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }
}

/// The calibrated range of every activation of the SESR network, in the order the network
/// computes them. A quantization pass (calibration or QAT) fills it; [`Int8Network::quantize`]
/// turns each range into int8 parameters with [`QuantParams::from_range`] (TensorFlow's
/// fake-quant rule).
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationRanges {
    /// The network input `x`, normally `[0, 1]`.
    pub input: Range,
    /// `x - 0.5`, normally `[-0.5, 0.5]`.
    pub shifted_input: Range,
    /// The input 5x5 conv's output `f0`.
    pub input_conv: Range,
    /// Each 3x3 block's conv output before its PReLU (`m` ranges). Only PReLU networks use
    /// it; leave it empty for ReLU, which is fused into the conv.
    pub block_convs: Vec<Range>,
    /// Each 3x3 block's output after its activation (`m` ranges).
    pub blocks: Vec<Range>,
    /// The long residual sum `h + f0`.
    pub residual_sum: Range,
    /// The output 5x5 conv's output (`scale^2` channels).
    pub output_conv: Range,
    /// `o + x` before the clip, quantized on `final_sum ∩ [0, 1]`, which performs the clip.
    /// `[0, 1]` (or anything containing it) gives the 8-bit image grid.
    pub final_sum: Range,
}

impl ActivationRanges {
    /// The ranges from `(min, max)` pairs per [`QuantPoint`] of an `m`-block network, in
    /// [`QuantPoint::all`] order (what QAT learns and calibration observes); `input`
    /// overrides the input point's range, `block_convs` are the pre-PReLU ranges (empty for
    /// ReLU).
    pub fn from_points(
        points: &[(f64, f64)],
        m: usize,
        input: Option<Range>,
        block_convs: Vec<Range>,
    ) -> Result<Self> {
        if points.len() != QuantPoint::all(m).len() {
            return Err(NetError::InvalidNetwork(format!(
                "{} activation ranges for {m} blocks, expected {}",
                points.len(),
                QuantPoint::all(m).len()
            )));
        }
        let at = |point: QuantPoint| {
            let (lo, hi) = points[point.index(m)];
            Range::new(lo as f32, hi as f32)
        };
        let input = input.unwrap_or_else(|| at(QuantPoint::Input));
        Ok(ActivationRanges {
            input,
            shifted_input: Range::new(input.min - 0.5, input.max - 0.5),
            input_conv: at(QuantPoint::InputBlock),
            block_convs,
            blocks: (0..m).map(|i| at(QuantPoint::Block(i))).collect(),
            residual_sum: at(QuantPoint::LongResidual),
            output_conv: at(QuantPoint::OutputBlock),
            final_sum: at(QuantPoint::Output),
        })
    }
}

/// The names activations have in errors and in written files.
pub mod names {
    /// The network input.
    pub const INPUT: &str = "input";
    /// `x - 0.5`.
    pub const SHIFTED: &str = "input_minus_half";
    /// The input conv's output `f0`.
    pub const INPUT_CONV: &str = "input_conv";
    /// The long residual sum.
    pub const RESIDUAL: &str = "residual_sum";
    /// The output conv's output.
    pub const OUTPUT_CONV: &str = "output_conv";
    /// `o + x`, clipped by its saturation.
    pub const FINAL_SUM: &str = "final_sum";

    /// Block `i`'s conv output before its PReLU.
    pub fn block_conv(i: usize) -> String {
        format!("block_{i}_conv")
    }

    /// Block `i`'s output.
    pub fn block(i: usize) -> String {
        format!("block_{i}")
    }
}

/// One int8 convolution, stride 1, SAME padding: `out = requantize(sum w (x - zp_in) + bias)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Conv {
    /// Output channels.
    pub out_channels: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Kernel height and width.
    pub kernel: usize,
    /// Weights in OHWI order (channels last).
    pub weight: Vec<i8>,
    /// int32 biases, one per output channel.
    pub bias: Vec<i32>,
    /// Weight scale of each output channel (zero points are 0).
    pub weight_scales: Vec<f32>,
    /// Parameters of the input activation.
    pub input: QuantParams,
    /// Parameters of the output activation.
    pub output: QuantParams,
    /// Whether a ReLU is fused (outputs clamped at the output zero point).
    pub relu: bool,
}

impl Int8Conv {
    /// Quantizes a float conv: symmetric per-channel weights, int32 biases at
    /// `input_scale * weight_scale`.
    fn quantize(float: &ConvWeights, input: QuantParams, output: QuantParams, relu: bool) -> Self {
        let (weight, weight_scales) =
            quantize_weights_per_channel(&float.weight, float.out_channels);
        let (bias, _) = quantize_bias(&float.bias, input.scale, &weight_scales);
        Self {
            out_channels: float.out_channels,
            in_channels: float.in_channels,
            kernel: float.kernel,
            weight: ohwi(&weight, float.out_channels, float.in_channels, float.kernel),
            bias,
            weight_scales,
            input,
            output,
            relu,
        }
    }

    /// TFLite's `(significand, shift)` requantization multiplier of each output channel:
    /// `input_scale * weight_scale / output_scale`, computed in double as TFLite does.
    pub fn multipliers(&self) -> Vec<(i32, i32)> {
        self.weight_scales
            .iter()
            .map(|&s| {
                quantize_multiplier(self.input.scale as f64 * s as f64 / self.output.scale as f64)
            })
            .collect()
    }

    /// The scale of each int32 bias: `input_scale * weight_scale`, in f32 as it was quantized.
    pub fn bias_scales(&self) -> Vec<f32> {
        self.weight_scales
            .iter()
            .map(|s| self.input.scale * s)
            .collect()
    }

    /// The weights in OIHW order (PyTorch's and ONNX's).
    pub fn weight_oihw(&self) -> Vec<i8> {
        oihw(
            &self.weight,
            self.out_channels,
            self.in_channels,
            self.kernel,
        )
    }

    /// The smallest output integer (the output zero point under a fused ReLU).
    pub fn activation_min(&self) -> i32 {
        if self.relu {
            self.output.zero_point.max(QMIN)
        } else {
            QMIN
        }
    }

    /// TFLite's reference `ConvPerChannel` on an NHWC plane, stride 1, SAME padding (taps
    /// outside the image are skipped, i.e. padded with the input's zero point).
    fn run(&self, input: &[i8], height: usize, width: usize) -> Vec<i8> {
        let (ic, oc, k) = (self.in_channels, self.out_channels, self.kernel);
        let pad = k / 2;
        let input_offset = -self.input.zero_point;
        let act_min = self.activation_min();
        let multipliers = self.multipliers();
        let mut out = vec![0i8; height * width * oc];
        for y in 0..height {
            for x in 0..width {
                let out_base = (y * width + x) * oc;
                for o in 0..oc {
                    let mut acc = 0i32;
                    for ky in 0..k {
                        let Some(iy) = (y + ky).checked_sub(pad).filter(|&v| v < height) else {
                            continue;
                        };
                        for kx in 0..k {
                            let Some(ix) = (x + kx).checked_sub(pad).filter(|&v| v < width) else {
                                continue;
                            };
                            let inp = &input[(iy * width + ix) * ic..][..ic];
                            let w = &self.weight[((o * k + ky) * k + kx) * ic..][..ic];
                            for (&wv, &iv) in w.iter().zip(inp) {
                                acc += wv as i32 * (iv as i32 + input_offset);
                            }
                        }
                    }
                    acc += self.bias[o];
                    let (significand, shift) = multipliers[o];
                    let v = multiply_by_quantized_multiplier(acc, significand, shift)
                        + self.output.zero_point;
                    out[out_base + o] = v.clamp(act_min, QMAX) as i8;
                }
            }
        }
        out
    }
}

/// One int8 PRELU after a block conv, as TFLite's reference kernel computes it
/// ([`PreluParams`]): per-channel slopes stored as one per-tensor int8 vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Prelu {
    /// The stored slopes, one per channel.
    pub alpha: Vec<i8>,
    /// Parameters of the slopes.
    pub alpha_params: QuantParams,
    /// Parameters of the input (the block conv's output).
    pub input: QuantParams,
    /// Parameters of the output (the block's).
    pub output: QuantParams,
}

impl Int8Prelu {
    fn quantize(slopes: &[f32], input: QuantParams, output: QuantParams) -> Self {
        let (alpha, scales) = quantize_weights_per_channel(slopes, 1);
        Self {
            alpha,
            alpha_params: QuantParams {
                scale: scales[0],
                zero_point: 0,
            },
            input,
            output,
        }
    }

    /// TFLite's fixed-point parameters of this PRELU.
    pub fn params(&self) -> PreluParams {
        PreluParams::new(self.input, self.alpha_params, self.output)
    }

    /// The 256 outputs of channel `channel`, indexed by `x + 128`: the PRELU is elementwise
    /// on int8, so a table computes it exactly.
    pub fn table(&self, channel: usize) -> [i8; 256] {
        let params = self.params();
        let alpha = self.alpha[channel];
        std::array::from_fn(|u| params.apply((u as i32 + QMIN) as i8, alpha))
    }

    fn run(&self, input: &[i8]) -> Vec<i8> {
        let params = self.params();
        let channels = self.alpha.len();
        input
            .iter()
            .enumerate()
            .map(|(i, &q)| params.apply(q, self.alpha[i % channels]))
            .collect()
    }
}

/// The integer SESR network, independent of the image size:
///
/// `t = ADD(x, shift_constant)`, `f0 = convs[0](t)`, `h = B_m(...B_1(f0))` where block
/// `B_i` is `convs[i]` with a fused ReLU or `prelu[i - 1](convs[i](.))`, `r = ADD(h, f0)`,
/// `o = convs[m + 1](r)`, `y = depth_to_space(ADD(o, x))`.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Network {
    /// Upscaling factor (2 or 4).
    pub scale: usize,
    /// Parameters of the int8 input.
    pub input: QuantParams,
    /// The constant added to the input (-0.5), as stored.
    pub shift_constant: i8,
    /// Its parameters.
    pub shift_constant_params: QuantParams,
    /// Parameters of `x - 0.5`.
    pub shifted: QuantParams,
    /// The input conv, the `m` block convs, the output conv (`scale^2` channels).
    pub convs: Vec<Int8Conv>,
    /// The blocks' PReLUs (`m` of them), or none when the blocks fuse a ReLU.
    pub prelu: Vec<Int8Prelu>,
    /// Parameters of the long residual sum `h + f0`.
    pub residual: QuantParams,
    /// Parameters of the final sum, which are the output's.
    pub output: QuantParams,
}

/// -0.5 stored as -128 with scale 1/256 and zero point 0: exact.
const MINUS_HALF: (i8, QuantParams) = (
    -128,
    QuantParams {
        scale: 1.0 / 256.0,
        zero_point: 0,
    },
);

impl Int8Network {
    /// Quantizes `network` with the activation `ranges`: weights symmetric per output channel,
    /// activations with TensorFlow's fake-quant rule, the blocks' ReLU fused.
    pub fn quantize(network: &Float32Network, ranges: &ActivationRanges) -> Result<Self> {
        network.validate()?;
        let m = network.m();
        let params = |name: &str, r: Range| QuantParams::from_range(name, r.min, r.max);
        if ranges.blocks.len() != m {
            return Err(NetError::InvalidNetwork(format!(
                "{} block ranges for {m} blocks",
                ranges.blocks.len()
            )));
        }
        if network.uses_prelu() && ranges.block_convs.len() != m {
            return Err(NetError::InvalidNetwork(format!(
                "a PReLU network needs {m} block conv ranges (before the PReLU), got {}",
                ranges.block_convs.len()
            )));
        }
        let input = params(names::INPUT, ranges.input)?;
        let shifted = params(names::SHIFTED, ranges.shifted_input)?;
        let f0 = params(names::INPUT_CONV, ranges.input_conv)?;
        let mut convs = vec![Int8Conv::quantize(&network.convs[0], shifted, f0, false)];
        let mut prelu = Vec::new();
        let mut h = f0;
        for i in 0..m {
            let out = params(&names::block(i), ranges.blocks[i])?;
            if network.uses_prelu() {
                let pre = params(&names::block_conv(i), ranges.block_convs[i])?;
                convs.push(Int8Conv::quantize(&network.convs[i + 1], h, pre, false));
                prelu.push(Int8Prelu::quantize(&network.prelu[i], pre, out));
            } else {
                convs.push(Int8Conv::quantize(&network.convs[i + 1], h, out, true));
            }
            h = out;
        }
        let residual = params(names::RESIDUAL, ranges.residual_sum)?;
        let output_conv = params(names::OUTPUT_CONV, ranges.output_conv)?;
        convs.push(Int8Conv::quantize(
            &network.convs[m + 1],
            residual,
            output_conv,
            false,
        ));
        let clipped = Range::new(ranges.final_sum.min.max(0.0), ranges.final_sum.max.min(1.0));
        let output =
            QuantParams::from_range(names::FINAL_SUM, clipped.min, clipped.max).map_err(|_| {
                NetError::InvalidRange {
                    tensor: format!("{} (within [0, 1])", names::FINAL_SUM),
                    min: ranges.final_sum.min,
                    max: ranges.final_sum.max,
                }
            })?;
        Ok(Self {
            scale: network.scale,
            input,
            shift_constant: MINUS_HALF.0,
            shift_constant_params: MINUS_HALF.1,
            shifted,
            convs,
            prelu,
            residual,
            output,
        })
    }

    /// Checks the scale, channel counts, weight, bias and scale lengths and the slopes: what a
    /// writer or a runtime needs to index every array safely.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(NetError::InvalidNetwork(what));
        if self.scale != 2 && self.scale != 4 {
            return bad(format!("scale must be 2 or 4, got {}", self.scale));
        }
        if self.convs.len() < 2 {
            return bad(format!(
                "needs an input and an output conv, got {} convs",
                self.convs.len()
            ));
        }
        let (m, f) = (self.m(), self.features());
        for (i, conv) in self.convs.iter().enumerate() {
            let name = match i {
                0 => "input conv".to_string(),
                i if i == m + 1 => "output conv".to_string(),
                i => format!("block {} conv", i - 1),
            };
            let (inputs, outputs) = match i {
                0 => (1, f),
                i if i == m + 1 => (f, self.scale * self.scale),
                _ => (f, f),
            };
            let (o, c, k) = (conv.out_channels, conv.in_channels, conv.kernel);
            if c != inputs || o != outputs || o == 0 || k % 2 == 0 || k > 63 {
                return bad(format!(
                    "{name}: {c} -> {o} channels with kernel {k}, needs {inputs} -> {outputs} \
                     and an odd kernel up to 63"
                ));
            }
            if conv.weight.len() != o * c * k * k
                || conv.bias.len() != o
                || conv.weight_scales.len() != o
            {
                return bad(format!(
                    "{name}: {} weights, {} biases and {} scales for {o} output channels of \
                     {c}x{k}x{k}",
                    conv.weight.len(),
                    conv.bias.len(),
                    conv.weight_scales.len()
                ));
            }
        }
        if self.uses_prelu()
            && (self.prelu.len() != m || self.prelu.iter().any(|p| p.alpha.len() != f))
        {
            return bad(format!(
                "{} PReLUs for {m} blocks of {f} channels (give none for ReLU)",
                self.prelu.len()
            ));
        }
        Ok(())
    }

    /// Number of 3x3 blocks.
    pub fn m(&self) -> usize {
        self.convs.len() - 2
    }

    /// Feature channels.
    pub fn features(&self) -> usize {
        self.convs[0].out_channels
    }

    /// Whether the blocks end in an int8 PRELU (otherwise a ReLU fused into the conv).
    pub fn uses_prelu(&self) -> bool {
        !self.prelu.is_empty()
    }

    /// Parameters of block `i`'s output (`f0`'s for `i = 0`, the input conv's): what the next
    /// layer reads.
    pub fn layer_output(&self, i: usize) -> QuantParams {
        match i.checked_sub(1).and_then(|b| self.prelu.get(b)) {
            Some(p) => p.output,
            None => self.convs[i].output,
        }
    }

    /// Quantizes a plane of Y values in `[0, 1]` for the network's input.
    pub fn quantize_input(&self, plane: &[f32]) -> Vec<i8> {
        plane.iter().map(|&v| self.input.quantize(v)).collect()
    }

    /// An 8-bit image (0..=255) as the network's input. With the usual `[0, 1]` input range
    /// (scale 1/255, zero point -128) this is exact: `q = p - 128`.
    pub fn quantize_pixels(&self, pixels: &[u8]) -> Vec<i8> {
        pixels
            .iter()
            .map(|&p| self.input.quantize(p as f32 / 255.0))
            .collect()
    }

    /// The real values of an int8 output plane.
    pub fn dequantize_output(&self, plane: &[i8]) -> Vec<f32> {
        plane.iter().map(|&q| self.output.dequantize(q)).collect()
    }

    /// Runs the network on a `height` x `width` int8 input plane (row-major) with the integer
    /// arithmetic of TFLite's reference kernels, returning the int8 output plane
    /// (`scale height` x `scale width`). The reference every faster kernel is held to.
    pub fn simulate(&self, input: &[i8], height: usize, width: usize) -> Result<Vec<i8>> {
        let (h, w) = (height, width);
        if input.len() != h * w {
            return Err(NetError::InvalidNetwork(format!(
                "a {h}x{w} input plane needs {} values, got {}",
                h * w,
                input.len()
            )));
        }
        let (constant, constant_params) = (self.shift_constant, self.shift_constant_params);
        let shift = AddParams::new(self.input, constant_params, self.shifted);
        let t: Vec<i8> = input.iter().map(|&x| shift.add(x, constant)).collect();
        let f0 = self.convs[0].run(&t, h, w);
        let mut features = f0.clone();
        for i in 0..self.m() {
            features = self.convs[i + 1].run(&features, h, w);
            if let Some(p) = self.prelu.get(i) {
                features = p.run(&features);
            }
        }
        let last_block = self.layer_output(self.m());
        let residual = AddParams::new(last_block, self.convs[0].output, self.residual);
        let r: Vec<i8> = features
            .iter()
            .zip(&f0)
            .map(|(&a, &b)| residual.add(a, b))
            .collect();
        let last = &self.convs[self.m() + 1];
        let o = last.run(&r, h, w);
        let channels = last.out_channels;
        let sum = AddParams::new(last.output, self.input, self.output);
        let mut y: Vec<i8> = o
            .iter()
            .enumerate()
            .map(|(i, &v)| sum.add(v, input[i / channels]))
            .collect();
        let (mut height, mut width, mut c) = (h, w, channels);
        for _ in 0..self.scale / 2 {
            y = depth_to_space(&y, height, width, c, 2);
            height *= 2;
            width *= 2;
            c /= 4;
        }
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zero_network(scale: usize) -> Float32Network {
        let conv = |o: usize, i: usize, k: usize| ConvWeights {
            out_channels: o,
            in_channels: i,
            kernel: k,
            weight: vec![0.0; o * i * k * k],
            bias: vec![0.0; o],
        };
        Float32Network {
            scale,
            convs: vec![conv(2, 1, 5), conv(2, 2, 3), conv(scale * scale, 2, 5)],
            prelu: Vec::new(),
        }
    }

    fn ranges() -> ActivationRanges {
        let unit = Range::new(-1.0, 1.0);
        ActivationRanges {
            input: Range::new(0.0, 1.0),
            shifted_input: Range::new(-0.5, 0.5),
            input_conv: unit,
            block_convs: Vec::new(),
            blocks: vec![unit],
            residual_sum: unit,
            output_conv: unit,
            final_sum: Range::new(-0.2, 1.3),
        }
    }

    #[test]
    fn a_zero_network_upscales_by_nearest_neighbour_exactly() {
        for scale in [2, 4] {
            let (h, w) = (3, 5);
            let q = Int8Network::quantize(&zero_network(scale), &ranges()).unwrap();
            let pixels: Vec<u8> = (0..h * w).map(|i| (i * 17) as u8).collect();
            let input = q.quantize_pixels(&pixels);
            assert!(input
                .iter()
                .zip(&pixels)
                .all(|(&q, &p)| q as i32 == p as i32 - 128));
            let out = q.simulate(&input, h, w).unwrap();
            assert_eq!(out.len(), h * w * scale * scale);
            for (i, &v) in out.iter().enumerate() {
                let (y, x) = (i / (w * scale) / scale, i % (w * scale) / scale);
                assert_eq!(v, input[y * w + x], "scale {scale}, output pixel {i}");
            }
            let real = q.dequantize_output(&out);
            assert!(real.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }

    #[test]
    fn ranges_must_match_the_network() {
        let network = zero_network(2);
        let mut r = ranges();
        r.blocks.clear();
        assert!(Int8Network::quantize(&network, &r).is_err());
        let mut r = ranges();
        r.residual_sum = Range::new(1.0, 1.0);
        let err = Int8Network::quantize(&network, &r).unwrap_err().to_string();
        assert!(err.contains("residual_sum"), "{err}");
        let mut r = ranges();
        r.final_sum = Range::new(2.0, 3.0);
        assert!(
            Int8Network::quantize(&network, &r).is_err(),
            "no overlap with [0, 1]"
        );
        let mut prelu = network.clone();
        prelu.prelu = vec![vec![0.1, 0.2]];
        let err = Int8Network::quantize(&prelu, &ranges())
            .unwrap_err()
            .to_string();
        assert!(err.contains("block conv ranges"), "{err}");
        let q = Int8Network::quantize(&network, &ranges()).unwrap();
        assert!(q.simulate(&[0; 3], 2, 2).is_err());
    }

    #[test]
    fn quantized_weights_keep_their_channel_order() {
        let mut network = zero_network(2);
        network.convs[0].weight = (0..50).map(|v| v as f32 / 50.0).collect();
        let q = Int8Network::quantize(&network, &ranges()).unwrap();
        let (values, _) = quantize_weights_per_channel(&network.convs[0].weight, 2);
        assert_eq!(q.convs[0].weight_oihw(), values);
    }
}
