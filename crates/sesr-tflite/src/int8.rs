//! The full-integer SESR model: int8 input and output, int8 activations and weights, int32
//! biases, and a bit-exact simulation of what TFLite's reference kernels compute on it.
//!
//! The graph is the float graph of [`crate::sesr`] with two differences:
//!
//! * the blocks' ReLU is fused into their convolutions (a PReLU, if the graph has one, is a
//!   PRELU operator with per-tensor int8 slopes);
//! * there is no clip operator: the final ADD (`o + x`) is quantized on
//!   `final_sum ∩ [0, 1]`, so its saturation to the int8 range *is* `clip(o + x, 0, 1)`, and
//!   the depth-to-space operators, which only move values, keep those parameters. An 8-bit
//!   output on `[0, 1]` is exactly an 8-bit image: `q + 128` is the pixel value.
//!
//! [`QuantizedSesr`] holds the quantized weights and every tensor's parameters once; both the
//! file ([`QuantizedSesr::write`]) and the simulation ([`QuantizedSesr::simulate`]) are made
//! from it, so they cannot disagree about a scale or a rounding.

use crate::error::{Result, TfliteError};
use crate::graph::{emit, names, to_bytes, Constant, Conv, Dims, Layout, Numerics, Role};
use crate::quant::{
    multiply_by_quantized_multiplier, quantize_bias, quantize_multiplier,
    quantize_weights_per_channel, AddParams, PreluParams, QuantParams, QMAX, QMIN,
};
use crate::schema::Quantization;
use crate::sesr::{spread_conv, SesrGraph};

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

/// The calibrated range of every activation of the SESR graph, in the order the network
/// computes them. A quantization pass (calibration or QAT) fills it; [`write_int8`] turns each
/// range into int8 parameters with [`QuantParams::from_range`] (TensorFlow's fake-quant rule).
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationRanges {
    /// The network input `x`, normally `[0, 1]`.
    pub input: Range,
    /// `x - 0.5`, normally `[-0.5, 0.5]`.
    pub shifted_input: Range,
    /// The input 5x5 conv's output `f0`.
    pub input_conv: Range,
    /// Each 3x3 block's conv output before its PReLU (`m` ranges). Only PReLU graphs use
    /// it; leave it empty for ReLU, which is fused into the conv.
    pub block_convs: Vec<Range>,
    /// Each 3x3 block's output after its activation (`m` ranges).
    pub blocks: Vec<Range>,
    /// The long residual sum `h + f0`.
    pub residual_sum: Range,
    /// The output 5x5 conv's output (`scale^2` channels).
    pub output_conv: Range,
    /// `o + x` before the clip. The int8 graph quantizes it on `final_sum ∩ [0, 1]`, which
    /// performs the clip; the depth-to-space outputs and the network output share these
    /// parameters. `[0, 1]` (or anything containing it) gives the 8-bit image grid.
    pub final_sum: Range,
}

/// One int8 convolution: int8 weights per output channel, int32 biases.
#[derive(Clone, Debug)]
struct QConv {
    /// OIHW weights and biases with their scales, as written.
    conv: Conv<i8, i32>,
    /// The weights in OHWI, for the simulation.
    ohwi: Vec<i8>,
    input: QuantParams,
    output: QuantParams,
    relu: bool,
    /// `(significand, shift)` per output channel, as TFLite derives them.
    multipliers: Vec<(i32, i32)>,
}

impl QConv {
    fn new(
        weights: &crate::sesr::ConvWeights,
        input: QuantParams,
        output: QuantParams,
        relu: bool,
    ) -> Self {
        let (weight, weight_scales) =
            quantize_weights_per_channel(&weights.weight, weights.out_channels);
        let (bias, bias_scales) = quantize_bias(&weights.bias, input.scale, &weight_scales);
        let multipliers = weight_scales
            .iter()
            .map(|&s| quantize_multiplier(input.scale as f64 * s as f64 / output.scale as f64))
            .collect();
        let conv = Conv {
            out_channels: weights.out_channels,
            in_channels: weights.in_channels,
            kernel: weights.kernel,
            weight,
            bias,
            weight_scales,
            bias_scales,
        };
        Self {
            ohwi: conv.ohwi(),
            conv,
            input,
            output,
            relu,
            multipliers,
        }
    }

    /// TFLite's reference `ConvPerChannel`, stride 1, SAME padding (taps outside the image
    /// are skipped, i.e. padded with the input's zero point).
    fn run(&self, input: &[i8], height: usize, width: usize) -> Vec<i8> {
        let (ic, oc, k) = (
            self.conv.in_channels,
            self.conv.out_channels,
            self.conv.kernel,
        );
        let pad = k / 2;
        let input_offset = -self.input.zero_point;
        let act_min = if self.relu {
            self.output.zero_point.max(QMIN)
        } else {
            QMIN
        };
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
                            let w = &self.ohwi[((o * k + ky) * k + kx) * ic..][..ic];
                            for (&wv, &iv) in w.iter().zip(inp) {
                                acc += wv as i32 * (iv as i32 + input_offset);
                            }
                        }
                    }
                    acc += self.conv.bias[o];
                    let (significand, shift) = self.multipliers[o];
                    let v = multiply_by_quantized_multiplier(acc, significand, shift)
                        + self.output.zero_point;
                    out[out_base + o] = v.clamp(act_min, QMAX) as i8;
                }
            }
        }
        out
    }
}

/// An int8 PReLU: per-channel slopes stored as one per-tensor int8 vector.
#[derive(Clone, Debug)]
struct QPrelu {
    alpha: Vec<i8>,
    alpha_params: QuantParams,
    input: QuantParams,
    output: QuantParams,
}

impl QPrelu {
    fn new(slopes: &[f32], input: QuantParams, output: QuantParams) -> Self {
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

    /// TFLite's reference int8 PRELU: identity multiplier for `x >= 0`, `x * alpha`
    /// multiplier below.
    fn run(&self, input: &[i8]) -> Vec<i8> {
        let params = PreluParams::new(self.input, self.alpha_params, self.output);
        let channels = self.alpha.len();
        input
            .iter()
            .enumerate()
            .map(|(i, &q)| params.apply(q, self.alpha[i % channels]))
            .collect()
    }
}

/// A SESR graph quantized for int8: every tensor's parameters and the integer weights.
#[derive(Clone, Debug)]
pub struct QuantizedSesr {
    input: QuantParams,
    /// The constant -0.5: stored as -128 with scale 1/256, zero point 0 (exact).
    minus_half: QuantParams,
    shifted: QuantParams,
    /// Input conv, `m` block convs, output conv.
    convs: Vec<QConv>,
    /// `m` PReLUs, or none for ReLU.
    prelu: Vec<QPrelu>,
    residual: QuantParams,
    /// The final sum, the depth-to-space outputs and the network output.
    output: QuantParams,
    dims: Dims,
}

/// The integer that stores -0.5 with [`QuantizedSesr`]'s `minus_half` parameters.
const MINUS_HALF_Q: i8 = -128;

impl QuantizedSesr {
    /// Quantizes `graph` with `ranges`.
    pub fn new(graph: &SesrGraph, ranges: &ActivationRanges) -> Result<Self> {
        graph.validate()?;
        let m = graph.m();
        let params = |name: &str, r: Range| QuantParams::from_range(name, r.min, r.max);
        if ranges.blocks.len() != m {
            return Err(TfliteError::InvalidGraph(format!(
                "{} block ranges for {m} blocks",
                ranges.blocks.len()
            )));
        }
        if graph.uses_prelu() && ranges.block_convs.len() != m {
            return Err(TfliteError::InvalidGraph(format!(
                "a PReLU graph needs {m} block conv ranges (before the PReLU), got {}",
                ranges.block_convs.len()
            )));
        }
        let input = params(names::INPUT, ranges.input)?;
        let shifted = params(names::SHIFTED, ranges.shifted_input)?;
        let f0 = params(names::INPUT_CONV, ranges.input_conv)?;
        let mut convs = vec![QConv::new(&graph.convs[0], shifted, f0, false)];
        let mut prelu = Vec::new();
        let mut h = f0;
        for i in 0..m {
            let out = params(&names::block(i), ranges.blocks[i])?;
            if graph.uses_prelu() {
                let pre = params(&names::block_conv(i), ranges.block_convs[i])?;
                convs.push(QConv::new(&graph.convs[i + 1], h, pre, false));
                prelu.push(QPrelu::new(&graph.prelu[i], pre, out));
            } else {
                convs.push(QConv::new(&graph.convs[i + 1], h, out, true));
            }
            h = out;
        }
        let residual = params(names::RESIDUAL, ranges.residual_sum)?;
        let output_conv = params(names::OUTPUT_CONV, ranges.output_conv)?;
        convs.push(QConv::new(
            &graph.convs[m + 1],
            residual,
            output_conv,
            false,
        ));
        let clipped = Range::new(ranges.final_sum.min.max(0.0), ranges.final_sum.max.min(1.0));
        let output =
            QuantParams::from_range(names::FINAL_SUM, clipped.min, clipped.max).map_err(|_| {
                TfliteError::InvalidRange {
                    tensor: format!("{} (within [0, 1])", names::FINAL_SUM),
                    min: ranges.final_sum.min,
                    max: ranges.final_sum.max,
                }
            })?;
        Ok(Self {
            input,
            minus_half: QuantParams {
                scale: 1.0 / 256.0,
                zero_point: 0,
            },
            shifted,
            convs,
            prelu,
            residual,
            output,
            dims: graph.dims(),
        })
    }

    /// Parameters of the int8 input: `q = round(x / scale) + zero_point`.
    pub fn input_params(&self) -> QuantParams {
        self.input
    }

    /// Parameters of the int8 output: `y = scale * (q - zero_point)`.
    pub fn output_params(&self) -> QuantParams {
        self.output
    }

    /// Quantizes a plane of Y values in `[0, 1]` for the model's input.
    pub fn quantize_input(&self, plane: &[f32]) -> Vec<i8> {
        plane.iter().map(|&v| self.input.quantize(v)).collect()
    }

    /// An 8-bit image (0..=255) as the model's input. With the usual `[0, 1]` input range
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

    fn m(&self) -> usize {
        self.convs.len() - 2
    }

    /// The parameters of the last block's output (or `f0` when there are no blocks).
    fn last_block(&self) -> QuantParams {
        match self.prelu.last() {
            Some(p) => p.output,
            None => self.convs[self.m()].output,
        }
    }

    /// The int8 `.tflite` file, in the fastest [`Layout`].
    pub fn write(&self) -> Result<Vec<u8>> {
        self.write_with(Layout::Fast)
    }

    /// The int8 `.tflite` file in `layout` (both compute the same integers).
    pub fn write_with(&self, layout: Layout) -> Result<Vec<u8>> {
        emit(self, self.dims, !self.prelu.is_empty(), layout)
    }

    /// Runs the int8 graph on an int8 input plane (`H * W` values, row-major) with the integer
    /// arithmetic of TFLite's reference kernels, returning the int8 output plane
    /// (`scale H * scale W` values).
    pub fn simulate(&self, input: &[i8]) -> Result<Vec<i8>> {
        let (h, w) = (self.dims.height, self.dims.width);
        if input.len() != h * w {
            return Err(TfliteError::InvalidGraph(format!(
                "the model takes a {h}x{w} plane ({} values), got {} values",
                h * w,
                input.len()
            )));
        }
        let shift = AddParams::new(self.input, self.minus_half, self.shifted);
        let t: Vec<i8> = input.iter().map(|&x| shift.add(x, MINUS_HALF_Q)).collect();
        let f0 = self.convs[0].run(&t, h, w);
        let mut features = f0.clone();
        for i in 0..self.m() {
            features = self.convs[i + 1].run(&features, h, w);
            if let Some(p) = self.prelu.get(i) {
                features = p.run(&features);
            }
        }
        let residual = AddParams::new(self.last_block(), self.convs[0].output, self.residual);
        let r: Vec<i8> = features
            .iter()
            .zip(&f0)
            .map(|(&a, &b)| residual.add(a, b))
            .collect();
        let last = &self.convs[self.m() + 1];
        let o = last.run(&r, h, w);
        let channels = last.conv.out_channels;
        let sum = AddParams::new(last.output, self.input, self.output);
        let s: Vec<i8> = o
            .iter()
            .enumerate()
            .map(|(i, &v)| sum.add(v, input[i / channels]))
            .collect();
        let mut y = s;
        let (mut height, mut width, mut c) = (h, w, channels);
        for _ in 0..self.dims.scale / 2 {
            y = depth_to_space(&y, height, width, c, 2);
            height *= 2;
            width *= 2;
            c /= 4;
        }
        Ok(y)
    }
}

fn per_tensor(p: QuantParams) -> Option<Quantization> {
    Some(Quantization::per_tensor(p.scale, p.zero_point as i64))
}

impl Numerics for QuantizedSesr {
    type W = i8;
    type B = i32;

    fn int8(&self) -> bool {
        true
    }

    fn quantization(&self, role: Role) -> Option<Quantization> {
        let m = self.m();
        per_tensor(match role {
            Role::Input => self.input,
            Role::Shifted => self.shifted,
            Role::InputConv => self.convs[0].output,
            Role::BlockConv(i) => self.convs[i + 1].output,
            Role::Block(i) => match self.prelu.get(i) {
                Some(p) => p.output,
                None => self.convs[i + 1].output,
            },
            Role::Residual => self.residual,
            Role::OutputConv => self.convs[m + 1].output,
            Role::Output => self.output,
        })
    }

    fn conv(&self, index: usize) -> &Conv<i8, i32> {
        &self.convs[index].conv
    }

    /// Weight 127 with scale 1/127 (the narrow-range convention), so the input's integers
    /// come out unchanged: the requantization multiplier is 1/127 to float precision, and
    /// `round(127 d / 127)` is `d` for every `|d| <= 255`.
    fn spread(&self) -> Conv<i8, i32> {
        let mut conv = spread_conv(127i8, 0i32);
        let weight_scale = 1.0f32 / 127.0;
        conv.weight_scales = vec![weight_scale; 16];
        conv.bias_scales = vec![self.input.scale * weight_scale; 16];
        conv
    }

    fn minus_half(&self) -> Constant {
        Constant {
            data: to_bytes(&[MINUS_HALF_Q]),
            quantization: per_tensor(self.minus_half),
        }
    }

    fn prelu(&self, i: usize) -> Option<Constant> {
        self.prelu.get(i).map(|p| Constant {
            data: to_bytes(&p.alpha),
            quantization: per_tensor(p.alpha_params),
        })
    }
}

/// TensorFlow's `depth_to_space` on one NHWC image: channel `(i * block + j) * C' + c` of pixel
/// `(y, x)` goes to channel `c` of pixel `(y * block + i, x * block + j)`.
pub fn depth_to_space<T: Copy>(
    input: &[T],
    height: usize,
    width: usize,
    channels: usize,
    block: usize,
) -> Vec<T> {
    let out_c = channels / (block * block);
    let (out_h, out_w) = (height * block, width * block);
    let mut out = Vec::with_capacity(input.len());
    for oy in 0..out_h {
        for ox in 0..out_w {
            let (y, i) = (oy / block, oy % block);
            let (x, j) = (ox / block, ox % block);
            let base = (y * width + x) * channels + (i * block + j) * out_c;
            out.extend_from_slice(&input[base..base + out_c]);
        }
    }
    out
}

/// Writes the full-integer model of `graph` with activation `ranges`: int8 input
/// `[1, H, W, 1]` and int8 output `[1, sH, sW, 1]`, whose parameters
/// [`QuantizedSesr::input_params`] and [`QuantizedSesr::output_params`] give.
pub fn write_int8(graph: &SesrGraph, ranges: &ActivationRanges) -> Result<Vec<u8>> {
    QuantizedSesr::new(graph, ranges)?.write()
}

/// What TFLite's reference kernels compute on the int8 model of `graph` and `ranges` for the
/// int8 `input` plane: the int8 output plane.
pub fn simulate_int8(
    graph: &SesrGraph,
    ranges: &ActivationRanges,
    input: &[i8],
) -> Result<Vec<i8>> {
    QuantizedSesr::new(graph, ranges)?.simulate(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sesr::ConvWeights;

    fn zero_graph(scale: usize, height: usize, width: usize) -> SesrGraph {
        let conv = |o: usize, i: usize, k: usize| ConvWeights {
            out_channels: o,
            in_channels: i,
            kernel: k,
            weight: vec![0.0; o * i * k * k],
            bias: vec![0.0; o],
        };
        SesrGraph {
            scale,
            height,
            width,
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
            let q = QuantizedSesr::new(&zero_graph(scale, h, w), &ranges()).unwrap();
            let pixels: Vec<u8> = (0..h * w).map(|i| (i * 17) as u8).collect();
            let input = q.quantize_pixels(&pixels);
            assert!(input
                .iter()
                .zip(&pixels)
                .all(|(&q, &p)| q as i32 == p as i32 - 128));
            let out = q.simulate(&input).unwrap();
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
    fn ranges_must_match_the_graph() {
        let graph = zero_graph(2, 2, 2);
        let mut r = ranges();
        r.blocks.clear();
        assert!(QuantizedSesr::new(&graph, &r).is_err());
        let mut r = ranges();
        r.residual_sum = Range::new(1.0, 1.0);
        let err = QuantizedSesr::new(&graph, &r).unwrap_err().to_string();
        assert!(err.contains("residual_sum"), "{err}");
        let mut r = ranges();
        r.final_sum = Range::new(2.0, 3.0);
        assert!(
            QuantizedSesr::new(&graph, &r).is_err(),
            "no overlap with [0, 1]"
        );
        let mut prelu = graph.clone();
        prelu.prelu = vec![vec![0.1, 0.2]];
        let err = QuantizedSesr::new(&prelu, &ranges())
            .unwrap_err()
            .to_string();
        assert!(err.contains("block conv ranges"), "{err}");
        let q = QuantizedSesr::new(&graph, &ranges()).unwrap();
        assert!(q.simulate(&[0; 3]).is_err());
    }

    #[test]
    fn depth_to_space_follows_tensorflow() {
        // One pixel, 4 channels -> 2x2 pixels: channel (i * 2 + j) goes to pixel (i, j).
        assert_eq!(depth_to_space(&[0, 1, 2, 3], 1, 1, 4, 2), vec![0, 1, 2, 3]);
        // One pixel, 8 channels (C' = 2): pixel (i, j) gets channels (i*2+j)*2 + {0, 1}.
        let out = depth_to_space(&[0, 1, 2, 3, 4, 5, 6, 7], 1, 1, 8, 2);
        assert_eq!(out, vec![0, 1, 2, 3, 4, 5, 6, 7]);
        // 1x2 pixels, 4 channels -> 2x4: rows interleave the pixels.
        let out = depth_to_space(&[0, 1, 2, 3, 10, 11, 12, 13], 1, 2, 4, 2);
        assert_eq!(out, vec![0, 1, 10, 11, 2, 3, 12, 13]);
    }
}
