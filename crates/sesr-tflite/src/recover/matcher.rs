//! The matcher's steps: one tensor or one operator at a time, in the order the writer emits
//! them, each checked (type, shape, quantization, options, connection) with an error that
//! names the operator or tensor at fault.

use crate::error::{Result, TfliteError};
use crate::graph::Conv;
use crate::read::{Model, Operator, SubGraph, Tensor};
use crate::schema::{Activation, BuiltinOp, OperatorOptions, Padding, TensorType};
use sesr_net::quant::{QuantParams, QMAX, QMIN};
use sesr_net::{Int8Conv, Int8Prelu};

/// The error for a file that is not what the writer writes, saying why.
pub(super) fn unsupported(what: String) -> TfliteError {
    TfliteError::InvalidGraph(format!(
        "not an int8 SESR model written by sesr-tflite: {what}"
    ))
}

/// Walks the operators in the order the writer emits them, checking every connection.
pub(super) struct Matcher<'m> {
    pub(super) model: &'m Model,
    pub(super) graph: &'m SubGraph,
    /// Index of the next operator to match.
    pub(super) next: usize,
}

impl<'m> Matcher<'m> {
    pub(super) fn tensor(&self, index: i32) -> Result<&'m Tensor> {
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

    /// What the next operator runs, if there is one.
    pub(super) fn next_op(&self) -> Option<BuiltinOp> {
        self.graph
            .operators
            .get(self.next)
            .and_then(|op| self.model.op(op))
    }

    /// The next operator, which must be `op` with `inputs` inputs and one output.
    pub(super) fn expect(
        &mut self,
        op: BuiltinOp,
        inputs: usize,
        what: &str,
    ) -> Result<&'m Operator> {
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
    pub(super) fn activation(
        &self,
        index: i32,
        shape: [usize; 3],
        what: &str,
    ) -> Result<QuantParams> {
        let t = self.tensor(index)?;
        let want = dims(&[1, shape[0], shape[1], shape[2]]);
        if t.shape != want {
            return Err(unsupported(format!(
                "{what} {} has shape {:?}, expected {want:?}",
                self.describe(index),
                t.shape
            )));
        }
        self.per_tensor(t, index, what)
    }

    pub(super) fn per_tensor(&self, t: &Tensor, index: i32, what: &str) -> Result<QuantParams> {
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
    pub(super) fn constant(
        &self,
        index: i32,
        shape: &[usize],
        dtype: TensorType,
        what: &str,
    ) -> Result<&'m [u8]> {
        let t = self.tensor(index)?;
        let want = dims(shape);
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
    pub(super) fn conv(
        &mut self,
        input: i32,
        in_channels: usize,
        out_channels: usize,
        size: [usize; 2],
        what: &str,
    ) -> Result<(Conv<i8, i32>, Activation, i32, QuantParams)> {
        let op = self.expect(BuiltinOp::CONV_2D, 3, what)?;
        self.check_input(op, 0, input, what)?;
        let activation = self.conv_activation(op, what)?;
        let kernel = self.conv_kernel(op.inputs[1], what)?;
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
        let conv = Conv {
            out_channels,
            in_channels,
            kernel,
            weight: oihw(weight, out_channels, in_channels, kernel),
            bias: bias
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            weight_scales,
            bias_scales,
        };
        Ok((conv, activation, output, out_params))
    }

    /// The fused activation of a CONV_2D that is stride 1, SAME, without dilation.
    fn conv_activation(&self, op: &Operator, what: &str) -> Result<Activation> {
        match op.options {
            OperatorOptions::Conv2D {
                padding: Padding::Same,
                stride_w: 1,
                stride_h: 1,
                activation,
                dilation_w: 1,
                dilation_h: 1,
            } if activation == Activation::NONE || activation == Activation::RELU => Ok(activation),
            ref other => Err(unsupported(format!(
                "operator {} ({what}) has options {other}; expected SAME padding, stride 1, \
                 no dilation, activation NONE or RELU",
                self.next - 1
            ))),
        }
    }

    /// The size of a conv's square odd kernel, from its weight's shape `[o, k, k, i]`.
    fn conv_kernel(&self, weight: i32, what: &str) -> Result<usize> {
        match self.tensor(weight)?.shape.as_slice() {
            [_, k, k2, _] if k == k2 && *k > 0 && k % 2 == 1 => Ok(*k as usize),
            _ => Err(unsupported(format!(
                "{what} weight {} is not a square odd kernel",
                self.describe(weight)
            ))),
        }
    }

    /// The next ADD of `a` and `b` (in this order), no activation, output of `shape`.
    pub(super) fn add(
        &mut self,
        a: i32,
        b: i32,
        shape: [usize; 3],
        what: &str,
    ) -> Result<(i32, QuantParams)> {
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
    pub(super) fn rearrange(
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

    /// The next PRELU, of `input` (with `params`): slopes `[1, 1, channels]` int8, per tensor.
    pub(super) fn prelu(
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
}

/// Checks and converts a recovered conv (OIHW) to [`Int8Conv`].
pub(super) fn int8_conv(
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
    // Every int8 engine sums `w * (x - zp)` and the bias in int32, and sesr-runtime also folds
    // `(128 + zp) * sum(w)` into the bias: |x - zp| and |128 + zp| are at most 255, so the
    // sum stays within |bias| + 510 * sum|w|. Beyond int32 the result would wrap.
    let per_channel = conv.in_channels * conv.kernel * conv.kernel;
    for (oc, (w, &b)) in weight
        .chunks(per_channel.max(1))
        .zip(&conv.bias)
        .enumerate()
    {
        let weights: i64 = w.iter().map(|&v| i64::from(v).abs()).sum();
        if i64::from(b).abs() + 510 * weights > i64::from(i32::MAX) {
            return Err(unsupported(format!(
                "{what} output channel {oc} has bias {b}: with its weights it can overflow the \
                 int32 accumulator, which no int8 export produces"
            )));
        }
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

/// A shape as the file stores it (-1, which no tensor has, for a size beyond `i32`).
fn dims(shape: &[usize]) -> Vec<i32> {
    shape
        .iter()
        .map(|&d| i32::try_from(d).unwrap_or(-1))
        .collect()
}

/// OHWI weight bytes (the file's order) as int8 in OIHW (what [`Conv`] keeps).
fn oihw(ohwi: &[u8], o: usize, i: usize, k: usize) -> Vec<i8> {
    sesr_net::layout::oihw(ohwi, o, i, k)
        .into_iter()
        .map(|b| b as i8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oihw_undoes_ohwi() {
        let (o, i, k) = (3, 2, 5);
        let weight: Vec<i8> = (0..o * i * k * k).map(|v| (v % 127) as i8 - 63).collect();
        let file: Vec<u8> = sesr_net::layout::ohwi(&weight, o, i, k)
            .iter()
            .map(|&w| w as u8)
            .collect();
        assert_eq!(oihw(&file, o, i, k), weight);
    }
}
