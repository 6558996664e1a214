//! The SESR graph matched part by part, in the order the writer emits it: the input (and its
//! space-to-depth when packed), the shift `x - 0.5`, the input conv, the 3x3 blocks, the
//! residual sum, the output conv with the final sum, and the depth-to-space.

use super::matcher::{int8_conv, unsupported, Matcher};
use super::unpack::unpack;
use super::Int8File;
use crate::error::Result;
use crate::graph::{input_conv_channel, output_conv_channel, Layout};
use crate::schema::{BuiltinOp, TensorType};
use sesr_net::quant::{multiply_by_quantized_multiplier, QuantParams, QMAX, QMIN};
use sesr_net::{Int8Conv, Int8Network, Int8Prelu};

/// The graph's input tensor.
struct Input {
    tensor: i32,
    params: QuantParams,
    height: usize,
    width: usize,
    /// Its SPACE_TO_DEPTH, when the outer convs are phase-packed.
    packed: Option<i32>,
}

impl Input {
    /// Height and width of the packed (space-to-depth) planes.
    fn half(&self) -> [usize; 2] {
        [self.height / 2, self.width / 2]
    }
}

/// The shift `x - 0.5`: its constant and its output.
struct Shift {
    constant: i8,
    constant_params: QuantParams,
    tensor: i32,
    params: QuantParams,
}

/// The 3x3 blocks: their convs, their PReLUs (none when they fuse a ReLU), the last output.
struct Blocks {
    convs: Vec<Int8Conv>,
    prelu: Vec<Int8Prelu>,
    output: i32,
}

impl Matcher<'_> {
    /// Matches the whole graph.
    pub(super) fn network(mut self) -> Result<Int8File> {
        let input = self.input()?;
        let (h, w) = (input.height, input.width);
        let shift = self.input_shift(&input)?;
        let (input_conv, f0_t, f0) = self.input_conv(&input, &shift)?;
        let f = input_conv.out_channels;
        let blocks = self.blocks(f0_t, f0, f, [h, w])?;
        let (residual_t, residual) =
            self.add(blocks.output, f0_t, [h, w, f], "the residual sum")?;
        let scale = self.scale(&input)?;
        let packed_output = self.next_op() == Some(BuiltinOp::SPACE_TO_DEPTH);
        let (output_conv, sum_t, output) = if packed_output {
            self.packed_output_conv(&input, residual_t, residual, f, scale)?
        } else {
            self.output_conv(&input, residual_t, residual, f, scale)?
        };
        if output_conv.relu {
            return Err(unsupported("the output conv has a fused ReLU".into()));
        }
        let y = self.depth_to_space(&input, sum_t, output, scale, packed_output)?;
        self.end(y)?;
        let mut convs = vec![input_conv];
        convs.extend(blocks.convs);
        convs.push(output_conv);
        let network = Int8Network {
            scale,
            input: input.params,
            shift_constant: shift.constant,
            shift_constant_params: shift.constant_params,
            shifted: shift.params,
            convs,
            prelu: blocks.prelu,
            residual,
            output,
        };
        Ok(Int8File {
            network,
            height: h,
            width: w,
            layout: if input.packed.is_some() {
                Layout::Fast
            } else {
                Layout::Plain
            },
        })
    }

    /// The one input, `[1, h, w, 1]` int8, and its SPACE_TO_DEPTH in a packed graph.
    fn input(&mut self) -> Result<Input> {
        let graph = self.graph;
        if graph.inputs.len() != 1 || graph.outputs.len() != 1 {
            return Err(unsupported(format!(
                "{} inputs and {} outputs, expected one of each",
                graph.inputs.len(),
                graph.outputs.len()
            )));
        }
        let tensor = graph.inputs[0];
        let (h, w) = match self.tensor(tensor)?.shape.as_slice() {
            [1, h, w, 1] if *h > 0 && *w > 0 => (*h as usize, *w as usize),
            other => {
                return Err(unsupported(format!(
                    "input shape {other:?}, expected [1, height, width, 1]"
                )))
            }
        };
        let mut input = Input {
            tensor,
            params: self.activation(tensor, [h, w, 1], "the input")?,
            height: h,
            width: w,
            packed: None,
        };
        // Phase packing shows as a SPACE_TO_DEPTH first.
        let first = self
            .next_op()
            .ok_or_else(|| unsupported("the graph has no operators".into()))?;
        if first == BuiltinOp::SPACE_TO_DEPTH {
            if !h.is_multiple_of(2) || !w.is_multiple_of(2) {
                return Err(unsupported(format!(
                    "a packed graph with odd input size {h}x{w}"
                )));
            }
            let [hh, wh] = input.half();
            input.packed = Some(self.rearrange(
                BuiltinOp::SPACE_TO_DEPTH,
                tensor,
                2,
                input.params,
                [hh, wh, 4],
                "the input's space-to-depth",
            )?);
        }
        Ok(input)
    }

    /// `x - 0.5`: an ADD of the (packed) input and an int8 constant.
    fn input_shift(&mut self, input: &Input) -> Result<Shift> {
        let what = "the input shift (x - 0.5)";
        // Peek at the ADD for its constant, then match it as any other ADD.
        let shift_op = self.expect(BuiltinOp::ADD, 2, what)?;
        let constant = shift_op.inputs[1];
        let bytes = self.constant(constant, &[1], TensorType::INT8, "the shift constant")?;
        let constant_params =
            self.per_tensor(self.tensor(constant)?, constant, "the shift constant")?;
        self.next -= 1;
        let (x, shape) = match input.packed {
            Some(packed) => {
                let [hh, wh] = input.half();
                (packed, [hh, wh, 4])
            }
            None => (input.tensor, [input.height, input.width, 1]),
        };
        let (tensor, params) = self.add(x, constant, shape, what)?;
        Ok(Shift {
            constant: bytes[0] as i8,
            constant_params,
            tensor,
            params,
        })
    }

    /// The input conv (its outputs found from its weight), without activation: the conv and
    /// `f0`, its output, with its parameters.
    fn input_conv(&mut self, input: &Input, shift: &Shift) -> Result<(Int8Conv, i32, QuantParams)> {
        let f = self
            .graph
            .operators
            .get(self.next)
            .and_then(|op| op.inputs.get(1))
            .and_then(|&i| self.tensor(i).ok())
            .and_then(|t| t.shape.first().copied())
            .and_then(|o| usize::try_from(o).ok())
            .filter(|&o| o > 0)
            .ok_or_else(|| unsupported("cannot find the input conv's weight".into()))?;
        let (h, w) = (input.height, input.width);
        let what = "the input conv";
        let (input_conv, f0_t, f0) = if input.packed.is_some() {
            if !f.is_multiple_of(4) {
                return Err(unsupported(format!("a packed input conv with {f} outputs")));
            }
            let f = f / 4;
            let (conv, act, packed_t, packed) =
                self.conv(shift.tensor, 4, 4 * f, input.half(), what)?;
            let conv = unpack(&conv, input_conv_channel(f), f, 1, what)?;
            let f0_t = self.rearrange(
                BuiltinOp::DEPTH_TO_SPACE,
                packed_t,
                2,
                packed,
                [h, w, f],
                "the input conv's depth-to-space",
            )?;
            (
                int8_conv(conv, shift.params, packed, act, what)?,
                f0_t,
                packed,
            )
        } else {
            let (conv, act, f0_t, f0) = self.conv(shift.tensor, 1, f, [h, w], what)?;
            (int8_conv(conv, shift.params, f0, act, what)?, f0_t, f0)
        };
        if input_conv.relu {
            return Err(unsupported("the input conv has a fused ReLU".into()));
        }
        Ok((input_conv, f0_t, f0))
    }

    /// The 3x3 blocks from `f0` until the residual ADD: each a CONV_2D with a fused ReLU, or a
    /// CONV_2D then a PRELU, all alike.
    fn blocks(&mut self, f0_t: i32, f0: QuantParams, f: usize, size: [usize; 2]) -> Result<Blocks> {
        let [h, w] = size;
        let (mut convs, mut prelu) = (Vec::new(), Vec::new());
        let (mut h_t, mut h_params) = (f0_t, f0);
        while self.next_op() == Some(BuiltinOp::CONV_2D) {
            let what = format!("block {}", convs.len());
            let (conv, act, out_t, out) = self.conv(h_t, f, f, size, &what)?;
            let conv = int8_conv(conv, h_params, out, act, &what)?;
            if self.next_op() == Some(BuiltinOp::PRELU) {
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
        if !prelu.is_empty() && prelu.len() != convs.len() {
            return Err(unsupported(
                "some blocks end in a PReLU and others in a ReLU".into(),
            ));
        }
        Ok(Blocks {
            convs,
            prelu,
            output: h_t,
        })
    }

    /// The upscaling factor, from the output's shape.
    fn scale(&self, input: &Input) -> Result<usize> {
        let (h, w) = (input.height, input.width);
        match self.tensor(self.graph.outputs[0])?.shape.as_slice() {
            [1, oh, ow, 1] if *oh as usize == 2 * h && *ow as usize == 2 * w => Ok(2),
            [1, oh, ow, 1] if *oh as usize == 4 * h && *ow as usize == 4 * w => Ok(4),
            other => Err(unsupported(format!(
                "output shape {other:?} for a {h}x{w} input, expected x2 or x4"
            ))),
        }
    }

    /// The plain output conv (`scale^2` channels) and the final sum `ADD(o, x)`: the conv and
    /// the sum's tensor and parameters.
    fn output_conv(
        &mut self,
        input: &Input,
        residual_t: i32,
        residual: QuantParams,
        f: usize,
        scale: usize,
    ) -> Result<(Int8Conv, i32, QuantParams)> {
        let size = [input.height, input.width];
        let s2 = scale * scale;
        let (conv, act, o_t, o) = self.conv(residual_t, f, s2, size, "the output conv")?;
        let output_conv = int8_conv(conv, residual, o, act, "the output conv")?;
        let (sum_t, output) =
            self.add(o_t, input.tensor, [size[0], size[1], s2], "the final sum")?;
        Ok((output_conv, sum_t, output))
    }

    /// The packed x2 output conv on the residual's SPACE_TO_DEPTH, and the final sum with the
    /// input spread over its 16 channels (see [`crate::graph`]).
    fn packed_output_conv(
        &mut self,
        input: &Input,
        residual_t: i32,
        residual: QuantParams,
        f: usize,
        scale: usize,
    ) -> Result<(Int8Conv, i32, QuantParams)> {
        let Some(input_s2d) = input.packed.filter(|_| scale == 2) else {
            return Err(unsupported(
                "a packed output conv needs a packed input and scale 2".into(),
            ));
        };
        let [hh, wh] = input.half();
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
        let spread_t = self.spread(input_s2d, input.params, [hh, wh])?;
        let (sum_t, output) = self.add(o_t, spread_t, [hh, wh, 16], "the final sum")?;
        Ok((output_conv, sum_t, output))
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

    /// The depth-to-space of the final sum `sum_t` (with `params`): one of 4 after a packed
    /// output conv, else log2(scale) of 2. Returns the last one's output.
    fn depth_to_space(
        &mut self,
        input: &Input,
        sum_t: i32,
        params: QuantParams,
        scale: usize,
        packed_output: bool,
    ) -> Result<i32> {
        let (h, w) = (input.height, input.width);
        if packed_output {
            return self.rearrange(
                BuiltinOp::DEPTH_TO_SPACE,
                sum_t,
                4,
                params,
                [2 * h, 2 * w, 1],
                "the depth-to-space",
            );
        }
        let mut y = sum_t;
        let (mut side_h, mut side_w, mut c) = (h, w, scale * scale);
        for _ in 0..scale / 2 {
            (side_h, side_w, c) = (side_h * 2, side_w * 2, c / 4);
            y = self.rearrange(
                BuiltinOp::DEPTH_TO_SPACE,
                y,
                2,
                params,
                [side_h, side_w, c],
                "a depth-to-space",
            )?;
        }
        Ok(y)
    }

    /// Checks that `y` is the graph's output and that no operator follows.
    fn end(&self, y: i32) -> Result<()> {
        let graph = self.graph;
        if y != graph.outputs[0] || self.next != graph.operators.len() {
            return Err(unsupported(format!(
                "{} operators where the SESR graph has {}, or the output is not the last \
                 depth-to-space",
                graph.operators.len(),
                self.next
            )));
        }
        Ok(())
    }
}
