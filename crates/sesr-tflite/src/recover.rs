//! Recovering the integer network from an int8 SESR `.tflite` file written by this crate, as a
//! description that no longer depends on the file's input size.
//!
//! An exported file has a fixed input size, but its integers (weights, int32 biases,
//! per-channel scales, zero points) do not depend on it: [`Int8Network::from_model`] reads them
//! back so that a runtime can run the same integer arithmetic on an image of any size. Both
//! layouts are recognised: [`Layout::Plain`] operator for operator, and [`Layout::Fast`], whose
//! phase-packed outer convolutions are unpacked to the plain 5x5 ones and checked by packing
//! them again (see [`crate::graph`]: every original weight appears once per block position, so
//! the packed file must be reproduced bit for bit). The blocks are either convs with a fused
//! ReLU (QAT exports) or convs followed by an int8 PRELU operator (post-training calibration
//! of a PReLU model), whose slopes and parameters are kept in [`Int8Prelu`]. Anything else (a
//! float model, an operator or a shape this graph does not have, a model made by TensorFlow's
//! converter with another structure) is an [`TfliteError::InvalidGraph`] that names the
//! operator at fault.

use crate::error::{Result, TfliteError};
use crate::graph::{input_conv_channel, output_conv_channel, Conv, Layout};
use crate::quant::{
    multiply_by_quantized_multiplier, quantize_multiplier, PreluParams, QuantParams, QMAX, QMIN,
};
use crate::read::{Model, Operator, SubGraph, Tensor};
use crate::schema::{Activation, BuiltinOp, OperatorOptions, Padding, TensorType};

/// One int8 convolution, stride 1, SAME padding: `out = requantize(sum w (x - zp_in) + bias)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Conv {
    /// Output channels.
    pub out_channels: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Kernel height and width.
    pub kernel: usize,
    /// Weights in TFLite's OHWI order.
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

    /// The smallest output integer (the output zero point under a fused ReLU).
    pub fn activation_min(&self) -> i32 {
        if self.relu {
            self.output.zero_point.max(QMIN)
        } else {
            QMIN
        }
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
}

/// The integer SESR network of an int8 file, independent of the image size:
///
/// `t = ADD(x, shift_constant)`, `f0 = convs[0](t)`, `h = B_m(...B_1(f0))` where block
/// `B_i` is `convs[i]` with a fused ReLU or `prelu[i - 1](convs[i](.))`, `r = ADD(h, f0)`,
/// `o = convs[m + 1](r)`, `y = depth_to_space(ADD(o, x))`.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Network {
    /// Upscaling factor (2 or 4).
    pub scale: usize,
    /// Height of the file's input (the size it was exported for).
    pub height: usize,
    /// Width of the file's input.
    pub width: usize,
    /// The file's layout ([`Layout::Fast`] when any convolution was phase-packed).
    pub layout: Layout,
    /// Parameters of the int8 input.
    pub input: QuantParams,
    /// The constant added to the input (-0.5 in our files), as stored.
    pub shift_constant: i8,
    /// Its parameters.
    pub shift_constant_params: QuantParams,
    /// Parameters of `x - 0.5`.
    pub shifted: QuantParams,
    /// The input conv, the `m` block convs (ReLU), the output conv (`scale^2` channels).
    pub convs: Vec<Int8Conv>,
    /// The blocks' PReLUs (`m` of them), or none when the blocks fuse a ReLU.
    pub prelu: Vec<Int8Prelu>,
    /// Parameters of the long residual sum `h + f0`.
    pub residual: QuantParams,
    /// Parameters of the final sum, which are the output's.
    pub output: QuantParams,
}

impl Int8Network {
    /// Number of 3x3 blocks.
    pub fn m(&self) -> usize {
        self.convs.len() - 2
    }

    /// Feature channels.
    pub fn features(&self) -> usize {
        self.convs[0].out_channels
    }

    /// Parameters of block `i`'s output (`f0`'s for `i = 0`, the input conv's): what the next
    /// layer reads.
    pub fn layer_output(&self, i: usize) -> QuantParams {
        match i.checked_sub(1).and_then(|b| self.prelu.get(b)) {
            Some(p) => p.output,
            None => self.convs[i].output,
        }
    }

    /// Reads the network from a model written by [`crate::write_int8`] (either layout).
    pub fn from_model(model: &Model) -> Result<Self> {
        let graph = model
            .subgraphs
            .first()
            .ok_or_else(|| unsupported("the model has no subgraph".into()))?;
        Matcher {
            model,
            graph,
            next: 0,
        }
        .network()
    }
}

fn unsupported(what: String) -> TfliteError {
    TfliteError::InvalidGraph(format!(
        "not an int8 SESR model written by sesr-tflite: {what}"
    ))
}

/// Walks the operators in the order the writer emits them, checking every connection.
struct Matcher<'m> {
    model: &'m Model,
    graph: &'m SubGraph,
    next: usize,
}

impl<'m> Matcher<'m> {
    fn tensor(&self, index: i32) -> Result<&'m Tensor> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.graph.tensors.get(i))
            .ok_or_else(|| unsupported(format!("tensor index {index} out of range")))
    }

    fn describe(&self, index: i32) -> String {
        match self.tensor(index) {
            Ok(t) => format!("tensor {index} ({:?}, {:?})", t.name, t.shape),
            Err(_) => format!("tensor {index}"),
        }
    }

    /// The next operator, which must be `op` with `inputs` inputs and one output.
    fn expect(&mut self, op: BuiltinOp, inputs: usize, what: &str) -> Result<&'m Operator> {
        let k = self.next;
        let Some(operator) = self.graph.operators.get(k) else {
            return Err(unsupported(format!(
                "the graph ends after {k} operators, expected {what} ({op})"
            )));
        };
        let found = self.model.op(operator).unwrap_or(BuiltinOp(-1));
        if found != op {
            return Err(unsupported(format!(
                "operator {k} is {found}, expected {what} ({op})"
            )));
        }
        if operator.inputs.len() != inputs || operator.outputs.len() != 1 {
            return Err(unsupported(format!(
                "operator {k} ({what}) has {} inputs and {} outputs, expected {inputs} and 1",
                operator.inputs.len(),
                operator.outputs.len()
            )));
        }
        self.next += 1;
        Ok(operator)
    }

    /// Checks that operator input `slot` of the operator just matched is `tensor`.
    fn check_input(&self, operator: &Operator, slot: usize, tensor: i32, what: &str) -> Result<()> {
        if operator.inputs[slot] != tensor {
            return Err(unsupported(format!(
                "operator {} ({what}) reads {} where {} was expected",
                self.next - 1,
                self.describe(operator.inputs[slot]),
                self.describe(tensor)
            )));
        }
        Ok(())
    }

    /// An int8 activation of shape `[1, h, w, c]` with per-tensor parameters.
    fn activation(&self, index: i32, shape: [usize; 3], what: &str) -> Result<QuantParams> {
        let t = self.tensor(index)?;
        let want: Vec<i32> = [1, shape[0], shape[1], shape[2]]
            .iter()
            .map(|&d| i32::try_from(d).unwrap_or(-1))
            .collect();
        if t.shape != want {
            return Err(unsupported(format!(
                "{what} {} has shape {:?}, expected {want:?}",
                self.describe(index),
                t.shape
            )));
        }
        self.per_tensor(t, index, what)
    }

    fn per_tensor(&self, t: &Tensor, index: i32, what: &str) -> Result<QuantParams> {
        if t.dtype != TensorType::INT8 {
            return Err(unsupported(format!(
                "{what} {} is {}, expected INT8 (is this a float model?)",
                self.describe(index),
                t.dtype
            )));
        }
        let q = t.quantization.as_ref();
        let (scale, zero_point) = match q {
            Some(q) if q.scale.len() == 1 && q.zero_point.len() == 1 => {
                (q.scale[0], q.zero_point[0])
            }
            _ => {
                return Err(unsupported(format!(
                    "{what} {} lacks per-tensor quantization parameters",
                    self.describe(index)
                )))
            }
        };
        let valid =
            scale.is_normal() && scale > 0.0 && (QMIN as i64..=QMAX as i64).contains(&zero_point);
        if !valid {
            return Err(unsupported(format!(
                "{what} {} has scale {scale} and zero point {zero_point}",
                self.describe(index)
            )));
        }
        Ok(QuantParams {
            scale,
            zero_point: zero_point as i32,
        })
    }

    /// A constant tensor's bytes, with its expected shape and type.
    fn constant(
        &self,
        index: i32,
        shape: &[usize],
        dtype: TensorType,
        what: &str,
    ) -> Result<&'m [u8]> {
        let t = self.tensor(index)?;
        let want: Vec<i32> = shape
            .iter()
            .map(|&d| i32::try_from(d).unwrap_or(-1))
            .collect();
        if t.shape != want || t.dtype != dtype {
            return Err(unsupported(format!(
                "{what} {} is {} {:?}, expected {dtype} {want:?}",
                self.describe(index),
                t.dtype,
                t.shape
            )));
        }
        let data = usize::try_from(index)
            .ok()
            .and_then(|i| self.model.tensor_data(0, i))
            .ok_or_else(|| {
                unsupported(format!(
                    "{what} {} has no constant data",
                    self.describe(index)
                ))
            })?;
        Ok(data)
    }

    fn per_channel_scales(&self, index: i32, channels: usize, what: &str) -> Result<Vec<f32>> {
        let t = self.tensor(index)?;
        match &t.quantization {
            Some(q)
                if q.scale.len() == channels
                    && q.zero_point.iter().all(|&z| z == 0)
                    && (channels == 1 || q.quantized_dimension == 0)
                    && q.scale.iter().all(|s| s.is_normal() && *s > 0.0) =>
            {
                Ok(q.scale.clone())
            }
            _ => Err(unsupported(format!(
                "{what} {} needs {channels} positive per-channel scales with zero points 0",
                self.describe(index)
            ))),
        }
    }

    /// The next CONV_2D: stride 1, SAME, no dilation; weights `[o, k, k, i]` (`k` as found).
    fn conv(
        &mut self,
        input: i32,
        in_channels: usize,
        out_channels: usize,
        size: [usize; 2],
        what: &str,
    ) -> Result<(Conv<i8, i32>, Activation, i32, QuantParams)> {
        let op = self.expect(BuiltinOp::CONV_2D, 3, what)?;
        self.check_input(op, 0, input, what)?;
        let activation = match op.options {
            OperatorOptions::Conv2D {
                padding: Padding::Same,
                stride_w: 1,
                stride_h: 1,
                activation,
                dilation_w: 1,
                dilation_h: 1,
            } if activation == Activation::NONE || activation == Activation::RELU => activation,
            ref other => {
                return Err(unsupported(format!(
                    "operator {} ({what}) has options {other}; expected SAME padding, stride 1, \
                     no dilation, activation NONE or RELU",
                    self.next - 1
                )))
            }
        };
        let kernel = {
            let w = self.tensor(op.inputs[1])?;
            match w.shape.as_slice() {
                [_, k, k2, _] if k == k2 && *k > 0 && k % 2 == 1 => *k as usize,
                _ => {
                    return Err(unsupported(format!(
                        "{what} weight {} is not a square odd kernel",
                        self.describe(op.inputs[1])
                    )))
                }
            }
        };
        let weight = self.constant(
            op.inputs[1],
            &[out_channels, kernel, kernel, in_channels],
            TensorType::INT8,
            &format!("{what} weight"),
        )?;
        let bias = self.constant(
            op.inputs[2],
            &[out_channels],
            TensorType::INT32,
            &format!("{what} bias"),
        )?;
        let weight_scales =
            self.per_channel_scales(op.inputs[1], out_channels, &format!("{what} weight"))?;
        let bias_scales =
            self.per_channel_scales(op.inputs[2], out_channels, &format!("{what} bias"))?;
        let output = op.outputs[0];
        let out_params = self.activation(output, [size[0], size[1], out_channels], what)?;
        // OHWI in the file; `Conv` keeps OIHW.
        let (o, k, i) = (out_channels, kernel, in_channels);
        let mut oihw = vec![0i8; weight.len()];
        for oc in 0..o {
            for ky in 0..k {
                for kx in 0..k {
                    for ic in 0..i {
                        oihw[((oc * i + ic) * k + ky) * k + kx] =
                            weight[((oc * k + ky) * k + kx) * i + ic] as i8;
                    }
                }
            }
        }
        let conv = Conv {
            out_channels: o,
            in_channels: i,
            kernel: k,
            weight: oihw,
            bias: bias
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            weight_scales,
            bias_scales,
        };
        Ok((conv, activation, output, out_params))
    }

    /// The next ADD of `a` and `b` (in this order), no activation, output of `shape`.
    fn add(&mut self, a: i32, b: i32, shape: [usize; 3], what: &str) -> Result<(i32, QuantParams)> {
        let op = self.expect(BuiltinOp::ADD, 2, what)?;
        self.check_input(op, 0, a, what)?;
        self.check_input(op, 1, b, what)?;
        if op.options
            != (OperatorOptions::Add {
                activation: Activation::NONE,
            })
        {
            return Err(unsupported(format!(
                "operator {} ({what}) has options {}, expected no fused activation",
                self.next - 1,
                op.options
            )));
        }
        let out = op.outputs[0];
        Ok((out, self.activation(out, shape, what)?))
    }

    /// The next SPACE_TO_DEPTH / DEPTH_TO_SPACE of `input` with `block`; its output keeps the
    /// input's parameters (the operator only moves bytes).
    fn rearrange(
        &mut self,
        op: BuiltinOp,
        input: i32,
        block: usize,
        params: QuantParams,
        shape: [usize; 3],
        what: &str,
    ) -> Result<i32> {
        let operator = self.expect(op, 1, what)?;
        self.check_input(operator, 0, input, what)?;
        let found = match operator.options {
            OperatorOptions::DepthToSpace { block_size }
            | OperatorOptions::SpaceToDepth { block_size } => block_size,
            _ => -1,
        };
        if usize::try_from(found).ok() != Some(block) {
            return Err(unsupported(format!(
                "operator {} ({what}) has options {}, expected block size {block}",
                self.next - 1,
                operator.options
            )));
        }
        let out = operator.outputs[0];
        let out_params = self.activation(out, shape, what)?;
        if out_params != params {
            return Err(unsupported(format!(
                "{what} {} changes the quantization parameters",
                self.describe(out)
            )));
        }
        Ok(out)
    }

    fn network(mut self) -> Result<Int8Network> {
        let graph = self.graph;
        if graph.inputs.len() != 1 || graph.outputs.len() != 1 {
            return Err(unsupported(format!(
                "{} inputs and {} outputs, expected one of each",
                graph.inputs.len(),
                graph.outputs.len()
            )));
        }
        let input = graph.inputs[0];
        let (h, w) = match self.tensor(input)?.shape.as_slice() {
            [1, h, w, 1] if *h > 0 && *w > 0 => (*h as usize, *w as usize),
            other => {
                return Err(unsupported(format!(
                    "input shape {other:?}, expected [1, height, width, 1]"
                )))
            }
        };
        let input_params = self.activation(input, [h, w, 1], "the input")?;

        // Phase packing shows as a SPACE_TO_DEPTH first.
        let first = graph
            .operators
            .first()
            .and_then(|op| self.model.op(op))
            .ok_or_else(|| unsupported("the graph has no operators".into()))?;
        let packed_input = first == BuiltinOp::SPACE_TO_DEPTH;
        let (hh, wh) = (h / 2, w / 2);
        let (input_s2d, shift_in, shift_shape) = if packed_input {
            if !h.is_multiple_of(2) || !w.is_multiple_of(2) {
                return Err(unsupported(format!(
                    "a packed graph with odd input size {h}x{w}"
                )));
            }
            let t = self.rearrange(
                BuiltinOp::SPACE_TO_DEPTH,
                input,
                2,
                input_params,
                [hh, wh, 4],
                "the input's space-to-depth",
            )?;
            (Some(t), t, [hh, wh, 4])
        } else {
            (None, input, [h, w, 1])
        };

        // x - 0.5
        let shift_op = self.expect(BuiltinOp::ADD, 2, "the input shift (x - 0.5)")?;
        let constant = shift_op.inputs[1];
        let bytes = self.constant(constant, &[1], TensorType::INT8, "the shift constant")?;
        let shift_constant = bytes[0] as i8;
        let shift_constant_params =
            self.per_tensor(self.tensor(constant)?, constant, "the shift constant")?;
        self.next -= 1;
        let (shifted_t, shifted) =
            self.add(shift_in, constant, shift_shape, "the input shift (x - 0.5)")?;

        // Input conv (f channels, found from its weight).
        let f = graph
            .operators
            .get(self.next)
            .and_then(|op| op.inputs.get(1))
            .and_then(|&i| self.tensor(i).ok())
            .and_then(|t| t.shape.first().copied())
            .and_then(|o| usize::try_from(o).ok())
            .filter(|&o| o > 0)
            .ok_or_else(|| unsupported("cannot find the input conv's weight".into()))?;
        let (input_conv, f0_t, f0) = if packed_input {
            if !f.is_multiple_of(4) {
                return Err(unsupported(format!("a packed input conv with {f} outputs")));
            }
            let f = f / 4;
            let (conv, act, packed_t, packed) =
                self.conv(shifted_t, 4, 4 * f, [hh, wh], "the input conv")?;
            let conv = unpack(&conv, input_conv_channel(f), f, 1, "the input conv")?;
            let f0_t = self.rearrange(
                BuiltinOp::DEPTH_TO_SPACE,
                packed_t,
                2,
                packed,
                [h, w, f],
                "the input conv's depth-to-space",
            )?;
            (
                int8_conv(conv, shifted, packed, act, "the input conv")?,
                f0_t,
                packed,
            )
        } else {
            let (conv, act, f0_t, f0) = self.conv(shifted_t, 1, f, [h, w], "the input conv")?;
            (
                int8_conv(conv, shifted, f0, act, "the input conv")?,
                f0_t,
                f0,
            )
        };
        if input_conv.relu {
            return Err(unsupported("the input conv has a fused ReLU".into()));
        }
        let f = input_conv.out_channels;

        // The 3x3 blocks: CONV_2D with a fused ReLU, or CONV_2D then PRELU, until the
        // residual ADD.
        let mut convs = vec![input_conv];
        let mut prelu = Vec::new();
        let (mut h_t, mut h_params) = (f0_t, f0);
        while let Some(op) = graph.operators.get(self.next) {
            if self.model.op(op) != Some(BuiltinOp::CONV_2D) {
                break;
            }
            let what = format!("block {}", convs.len() - 1);
            let (conv, act, out_t, out) = self.conv(h_t, f, f, [h, w], &what)?;
            let conv = int8_conv(conv, h_params, out, act, &what)?;
            let next = graph
                .operators
                .get(self.next)
                .and_then(|op| self.model.op(op));
            if next == Some(BuiltinOp::PRELU) {
                if conv.relu {
                    return Err(unsupported(format!(
                        "{what} has a fused ReLU before its PReLU"
                    )));
                }
                let (p, p_t) = self.prelu(out_t, out, [h, w, f], &format!("{what}'s PReLU"))?;
                (h_t, h_params) = (p_t, p.output);
                prelu.push(p);
            } else {
                if !conv.relu {
                    return Err(unsupported(format!("{what} has no fused ReLU or PReLU")));
                }
                (h_t, h_params) = (out_t, out);
            }
            convs.push(conv);
        }
        if !prelu.is_empty() && prelu.len() != convs.len() - 1 {
            return Err(unsupported(
                "some blocks end in a PReLU and others in a ReLU".into(),
            ));
        }
        let (residual_t, residual) = self.add(h_t, f0_t, [h, w, f], "the residual sum")?;

        // Output conv and the final sum.
        let scale = match self.tensor(graph.outputs[0])?.shape.as_slice() {
            [1, oh, ow, 1] if *oh as usize == 2 * h && *ow as usize == 2 * w => 2,
            [1, oh, ow, 1] if *oh as usize == 4 * h && *ow as usize == 4 * w => 4,
            other => {
                return Err(unsupported(format!(
                    "output shape {other:?} for a {h}x{w} input, expected x2 or x4"
                )))
            }
        };
        let s2 = scale * scale;
        let packed_output = graph
            .operators
            .get(self.next)
            .and_then(|op| self.model.op(op))
            == Some(BuiltinOp::SPACE_TO_DEPTH);
        let (output_conv, sum_t, output) = if packed_output {
            let Some(input_s2d) = input_s2d.filter(|_| scale == 2) else {
                return Err(unsupported(
                    "a packed output conv needs a packed input and scale 2".into(),
                ));
            };
            let rs = self.rearrange(
                BuiltinOp::SPACE_TO_DEPTH,
                residual_t,
                2,
                residual,
                [hh, wh, 4 * f],
                "the residual's space-to-depth",
            )?;
            let (conv, act, o_t, o) = self.conv(rs, 4 * f, 16, [hh, wh], "the output conv")?;
            let conv = unpack(&conv, output_conv_channel, 4, f, "the output conv")?;
            let output_conv = int8_conv(conv, residual, o, act, "the output conv")?;
            let spread_t = self.spread(input_s2d, input_params, [hh, wh])?;
            let (sum_t, output) = self.add(o_t, spread_t, [hh, wh, 16], "the final sum")?;
            (output_conv, sum_t, output)
        } else {
            let (conv, act, o_t, o) = self.conv(residual_t, f, s2, [h, w], "the output conv")?;
            let output_conv = int8_conv(conv, residual, o, act, "the output conv")?;
            let (sum_t, output) = self.add(o_t, input, [h, w, s2], "the final sum")?;
            (output_conv, sum_t, output)
        };
        if output_conv.relu {
            return Err(unsupported("the output conv has a fused ReLU".into()));
        }
        convs.push(output_conv);

        // Depth-to-space: one of 4 after a packed output conv, else log2(scale) of 2.
        let mut y = sum_t;
        if packed_output {
            y = self.rearrange(
                BuiltinOp::DEPTH_TO_SPACE,
                y,
                4,
                output,
                [2 * h, 2 * w, 1],
                "the depth-to-space",
            )?;
        } else {
            let (mut side_h, mut side_w, mut c) = (h, w, s2);
            for _ in 0..scale / 2 {
                (side_h, side_w, c) = (side_h * 2, side_w * 2, c / 4);
                y = self.rearrange(
                    BuiltinOp::DEPTH_TO_SPACE,
                    y,
                    2,
                    output,
                    [side_h, side_w, c],
                    "a depth-to-space",
                )?;
            }
        }
        if y != graph.outputs[0] || self.next != graph.operators.len() {
            return Err(unsupported(format!(
                "{} operators where the SESR graph has {}, or the output is not the last \
                 depth-to-space",
                graph.operators.len(),
                self.next
            )));
        }
        Ok(Int8Network {
            scale,
            height: h,
            width: w,
            layout: if packed_input {
                Layout::Fast
            } else {
                Layout::Plain
            },
            input: input_params,
            shift_constant,
            shift_constant_params,
            shifted,
            convs,
            prelu,
            residual,
            output,
        })
    }

    /// The next PRELU, of `input` (with `params`): slopes `[1, 1, channels]` int8, per tensor.
    fn prelu(
        &mut self,
        input: i32,
        params: QuantParams,
        shape: [usize; 3],
        what: &str,
    ) -> Result<(Int8Prelu, i32)> {
        let op = self.expect(BuiltinOp::PRELU, 2, what)?;
        self.check_input(op, 0, input, what)?;
        if op.options != OperatorOptions::None {
            return Err(unsupported(format!(
                "operator {} ({what}) has options {}, expected none",
                self.next - 1,
                op.options
            )));
        }
        let slopes = op.inputs[1];
        let alpha = self
            .constant(
                slopes,
                &[1, 1, shape[2]],
                TensorType::INT8,
                &format!("{what} slopes"),
            )?
            .iter()
            .map(|&b| b as i8)
            .collect();
        let alpha_params =
            self.per_tensor(self.tensor(slopes)?, slopes, &format!("{what} slopes"))?;
        let out = op.outputs[0];
        let output = self.activation(out, shape, what)?;
        Ok((
            Int8Prelu {
                alpha,
                alpha_params,
                input: params,
                output,
            },
            out,
        ))
    }

    /// The 1x1 conv that copies each packed input pixel to its 4 output channels: it must
    /// compute the identity on every int8 value, so that the final sum is `ADD(o, x)`.
    fn spread(&mut self, input_s2d: i32, input: QuantParams, size: [usize; 2]) -> Result<i32> {
        let what = "the input spread";
        let (conv, act, out_t, out) = self.conv(input_s2d, 4, 16, size, what)?;
        let conv = int8_conv(conv, input, out, act, what)?;
        let multipliers = conv.multipliers();
        // Output channel `oc` must read input channel `source` alone and reproduce every int8
        // value exactly.
        let copies = |oc: usize, source: usize| {
            let row = &conv.weight[oc * 4..oc * 4 + 4];
            let weight = row[source] as i32;
            let (significand, shift) = multipliers[oc];
            row.iter()
                .enumerate()
                .all(|(c, &v)| (c == source) == (v != 0))
                && (QMIN..=QMAX).all(|x| {
                    let acc = weight * (x - input.zero_point) + conv.bias[oc];
                    multiply_by_quantized_multiplier(acc, significand, shift) + out.zero_point == x
                })
        };
        let identity = conv.kernel == 1
            && out == input
            && !conv.relu
            && (0..2).all(|a| {
                (0..2).all(|b| (0..4).all(|s| copies(output_conv_channel(a, b, s), a * 2 + b)))
            });
        if !identity {
            return Err(unsupported(format!(
                "{what} does not copy each input pixel to the output channels of its position"
            )));
        }
        Ok(out_t)
    }
}

/// Checks and converts a recovered conv (OIHW) to [`Int8Conv`].
fn int8_conv(
    conv: Conv<i8, i32>,
    input: QuantParams,
    output: QuantParams,
    activation: Activation,
    what: &str,
) -> Result<Int8Conv> {
    let weight = conv.ohwi();
    if weight.contains(&i8::MIN) {
        return Err(unsupported(format!(
            "{what} has weight -128 (int8 weights are symmetric, [-127, 127])"
        )));
    }
    Ok(Int8Conv {
        out_channels: conv.out_channels,
        in_channels: conv.in_channels,
        kernel: conv.kernel,
        weight,
        bias: conv.bias,
        weight_scales: conv.weight_scales,
        input,
        output,
        relu: activation == Activation::RELU,
    })
}

/// The plain conv (`out_channels` x `in_channels`) whose phase packing with `out_index` is
/// `packed`, trying the kernel sizes that pack to `packed.kernel`; the packing is redone and
/// compared with the file, weight for weight.
fn unpack(
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
        let p = (k / 2) as isize;
        let q = (p + 1) / 2;
        if (2 * q + 1) as usize != kq {
            continue;
        }
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
            // Block position (0, 0) alone holds every tap (the packing's inverse there).
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
        if conv.packed(&out_index) == *packed {
            return Ok(conv);
        }
    }
    Err(unsupported(format!(
        "{what} is not the phase packing of a plain convolution"
    )))
}
