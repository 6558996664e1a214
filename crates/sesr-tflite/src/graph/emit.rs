//! The SESR graph written once for both numeric types: its tensors and operators, part by part,
//! phase-packed where the layout and the input size allow.

use super::conv::{
    input_conv_channel, output_conv_channel, shuffled_channel, to_bytes, Conv, Element,
};
use super::spec::{names, Constant, Dims, Layout, Numerics, Role};
use crate::error::Result;
use crate::schema::{Activation, BuiltinOp, OperatorOptions, Padding, Quantization, TensorType};
use crate::write::{dim, ModelBuilder, SubgraphBuilder};

/// Operator versions written. LiteRT 2.3 runs every one of them; the int8 versions are the
/// ones TensorFlow's converter assigns to int8 kernels (`op_version.cc`).
fn version(op: BuiltinOp, int8: bool) -> i32 {
    match (op, int8) {
        (BuiltinOp::CONV_2D, true) => 3,
        (BuiltinOp::ADD, true) => 2,
        (BuiltinOp::DEPTH_TO_SPACE | BuiltinOp::SPACE_TO_DEPTH, true) => 2,
        // With a bias input (op_version.cc).
        (BuiltinOp::TRANSPOSE_CONV, true) => 3,
        (BuiltinOp::CONCATENATION, true) => 2,
        _ => 1,
    }
}

fn per_channel(scales: &[f32]) -> Option<Quantization> {
    (!scales.is_empty()).then(|| Quantization {
        scale: scales.to_vec(),
        zero_point: vec![0; scales.len()],
        quantized_dimension: 0,
        ..Quantization::default()
    })
}

/// Writes the SESR graph of `dims` with `numerics` in `layout`.
pub(crate) fn emit<N: Numerics>(n: &N, dims: Dims, prelu: bool, layout: Layout) -> Result<Vec<u8>> {
    let Dims {
        height: h,
        width: w,
        features: f,
        ..
    } = dims;
    if layout.is_npu() && !n.int8() {
        return Err(crate::TfliteError::InvalidGraph(format!(
            "the {layout:?} layout is for int8 models (Ethos-U NPUs run integers only)"
        )));
    }
    let pack_input = layout == Layout::Fast && h % 2 == 0 && w % 2 == 0;
    let pack_output = pack_input && dims.scale == 2;
    let mut e = Emitter {
        n,
        model: ModelBuilder::new(&description(
            n.int8(),
            dims,
            prelu,
            layout,
            pack_input,
            pack_output,
        )),
        sg: SubgraphBuilder::new("sesr"),
        dims,
        layout,
        pack_input,
        pack_output,
    };
    let input = e.activation(names::INPUT, [1, h, w, 1], Role::Input)?;
    let input_s2d = e.input_space_to_depth(input)?;
    let shifted = e.input_shift(input_s2d.unwrap_or(input))?;
    let f0 = e.input_conv(shifted)?;
    let blocks = e.blocks(f0, prelu)?;
    let residual = e.activation(names::RESIDUAL, [1, h, w, f], Role::Residual)?;
    e.add(blocks, f0, residual, Activation::NONE)?;
    if layout == Layout::NpuRows {
        let y = e.output_rows(residual, input)?;
        e.sg.set_io(&[input], &[y])?;
        return e.model.finish(&e.sg);
    }
    let (o, x, sum_shape) = e.output_conv(residual, input, input_s2d)?;
    let sum = e.final_sum(o, x, sum_shape)?;
    let y = e.depth_to_space_to_output(sum, sum_shape)?;
    e.sg.set_io(&[input], &[y])?;
    e.model.finish(&e.sg)
}

/// The model's description: network, numeric type, activation, size and packing.
fn description(
    int8: bool,
    dims: Dims,
    prelu: bool,
    layout: Layout,
    pack_input: bool,
    pack_output: bool,
) -> String {
    let Dims {
        scale,
        height: h,
        width: w,
        features: f,
        m,
    } = dims;
    format!(
        "SESR-M{m} f{f} x{scale} {}, {}, input {h}x{w}{} (sesr-tflite {})",
        if int8 { "int8" } else { "float32" },
        if prelu { "PReLU" } else { "ReLU" },
        match (pack_input, pack_output, layout) {
            (true, true, _) => ", input and output convs phase-packed",
            (true, false, _) => ", input conv phase-packed",
            (_, _, Layout::NpuTransposeConv) => ", pixel shuffle as TRANSPOSE_CONV (Ethos-U55/U65)",
            (_, _, Layout::NpuRows) => ", output conv split by output row (Ethos-U)",
            _ => "",
        },
        env!("CARGO_PKG_VERSION")
    )
}

struct Emitter<'n, N: Numerics> {
    n: &'n N,
    model: ModelBuilder,
    sg: SubgraphBuilder,
    dims: Dims,
    layout: Layout,
    /// Whether the input conv is phase-packed (even input size in the fast layout).
    pack_input: bool,
    /// Whether the output conv is too (at x2).
    pack_output: bool,
}

impl<N: Numerics> Emitter<'_, N> {
    fn dtype(&self) -> TensorType {
        N::W::TYPE
    }

    fn activation(&mut self, name: &str, shape: [usize; 4], role: Role) -> Result<i32> {
        let dims = [
            dim(name, shape[0])?,
            dim(name, shape[1])?,
            dim(name, shape[2])?,
            dim(name, shape[3])?,
        ];
        let dtype = self.dtype();
        let q = self.n.quantization(role);
        self.sg.activation(name, &dims, dtype, q)
    }

    fn constant(&mut self, name: &str, shape: &[i32], constant: Constant) -> Result<i32> {
        self.sg.constant(
            &mut self.model,
            name,
            shape,
            N::W::TYPE,
            constant.data,
            constant.quantization,
        )
    }

    fn op(
        &mut self,
        op: BuiltinOp,
        options: OperatorOptions,
        inputs: &[i32],
        outputs: &[i32],
    ) -> Result<()> {
        let version = version(op, self.n.int8());
        self.sg
            .operator(&mut self.model, op, version, options, inputs, outputs)
    }

    fn conv(
        &mut self,
        name: &str,
        conv: &Conv<N::W, N::B>,
        input: i32,
        output: i32,
        activation: Activation,
    ) -> Result<()> {
        let (o, i, k) = (
            conv.out_channels as i32,
            conv.in_channels as i32,
            conv.kernel as i32,
        );
        let weight = self.sg.constant(
            &mut self.model,
            &format!("{name}/weight"),
            &[o, k, k, i],
            N::W::TYPE,
            to_bytes(&conv.ohwi()),
            per_channel(&conv.weight_scales),
        )?;
        let bias = self.sg.constant(
            &mut self.model,
            &format!("{name}/bias"),
            &[o],
            N::B::TYPE,
            to_bytes(&conv.bias),
            per_channel(&conv.bias_scales),
        )?;
        self.op(
            BuiltinOp::CONV_2D,
            OperatorOptions::conv2d(Padding::Same, activation),
            &[input, weight, bias],
            &[output],
        )
    }

    fn add(&mut self, a: i32, b: i32, out: i32, activation: Activation) -> Result<()> {
        self.op(
            BuiltinOp::ADD,
            OperatorOptions::Add { activation },
            &[a, b],
            &[out],
        )
    }

    fn depth_to_space(&mut self, input: i32, output: i32, block: i32) -> Result<()> {
        self.op(
            BuiltinOp::DEPTH_TO_SPACE,
            OperatorOptions::DepthToSpace { block_size: block },
            &[input],
            &[output],
        )
    }

    /// An int32 constant vector (shapes and permutations).
    fn int32_vector(&mut self, name: &str, values: &[i32]) -> Result<i32> {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.sg.constant(
            &mut self.model,
            name,
            &[values.len() as i32],
            TensorType::INT32,
            data,
            None,
        )
    }

    /// Depth-to-space (2) of `input` (`[1, h, w, 4c]`, on the output's parameters) into
    /// `output` as a stride-2 TRANSPOSE_CONV: kernel tap `(i, j)` of output channel `k`
    /// copies input channel `(2i + j) c + k`, weight 1 at scale 1 and zero bias, so the
    /// requantization multiplier is exactly 1 and every integer passes unchanged.
    fn transpose_conv_shuffle(
        &mut self,
        name: &str,
        input: i32,
        output: i32,
        out_shape: [usize; 4],
        role: Role,
    ) -> Result<()> {
        let c = out_shape[3];
        let mut weight = vec![0u8; c * 2 * 2 * 4 * c];
        for k in 0..c {
            for i in 0..2 {
                for j in 0..2 {
                    // OHWI: [k][i][j][input channel]
                    weight[((k * 2 + i) * 2 + j) * 4 * c + (2 * i + j) * c + k] = 1;
                }
            }
        }
        let input_scale = self.n.quantization(role).map_or(1.0, |q| q.scale[0]);
        let shape = out_shape.map(|d| d as i32);
        let output_shape = self.int32_vector(&format!("{name}/output_shape"), &shape)?;
        let weight = self.sg.constant(
            &mut self.model,
            &format!("{name}/weight"),
            &[c as i32, 2, 2, 4 * c as i32],
            TensorType::INT8,
            weight,
            per_channel(&vec![1.0; c]),
        )?;
        let bias = self.sg.constant(
            &mut self.model,
            &format!("{name}/bias"),
            &[c as i32],
            TensorType::INT32,
            vec![0; 4 * c],
            per_channel(&vec![input_scale; c]),
        )?;
        self.op(
            BuiltinOp::TRANSPOSE_CONV,
            OperatorOptions::TransposeConv {
                padding: Padding::Valid,
                stride_w: 2,
                stride_h: 2,
            },
            &[output_shape, weight, input, bias],
            &[output],
        )
    }

    fn space_to_depth(&mut self, input: i32, output: i32) -> Result<()> {
        self.op(
            BuiltinOp::SPACE_TO_DEPTH,
            OperatorOptions::SpaceToDepth { block_size: 2 },
            &[input],
            &[output],
        )
    }

    /// Height and width of the packed (space-to-depth) planes.
    fn half(&self) -> [usize; 2] {
        [self.dims.height / 2, self.dims.width / 2]
    }

    /// The input's SPACE_TO_DEPTH, when the input conv is packed.
    fn input_space_to_depth(&mut self, input: i32) -> Result<Option<i32>> {
        if !self.pack_input {
            return Ok(None);
        }
        let [hh, wh] = self.half();
        let t = self.activation(names::INPUT_S2D, [1, hh, wh, 4], Role::Input)?;
        self.space_to_depth(input, t)?;
        Ok(Some(t))
    }

    /// `x - 0.5`, on the packed input when the input conv is packed (the same elements).
    fn input_shift(&mut self, x: i32) -> Result<i32> {
        let minus_half = self.n.minus_half();
        let minus_half = self.constant("minus_half", &[1], minus_half)?;
        let [hh, wh] = self.half();
        let shape = if self.pack_input {
            [1, hh, wh, 4]
        } else {
            [1, self.dims.height, self.dims.width, 1]
        };
        let shifted = self.activation(names::SHIFTED, shape, Role::Shifted)?;
        self.add(x, minus_half, shifted, Activation::NONE)?;
        Ok(shifted)
    }

    /// The input conv, giving `f0`; when packed, its DEPTH_TO_SPACE restores `f0`'s layout.
    fn input_conv(&mut self, shifted: i32) -> Result<i32> {
        let Dims {
            height: h,
            width: w,
            features: f,
            ..
        } = self.dims;
        let n = self.n;
        let f0 = self.activation(names::INPUT_CONV, [1, h, w, f], Role::InputConv)?;
        if self.pack_input {
            let [hh, wh] = self.half();
            let packed = self.activation(
                names::INPUT_CONV_PACKED,
                [1, hh, wh, 4 * f],
                Role::InputConv,
            )?;
            let conv = n.conv(0).packed(input_conv_channel(f));
            self.conv(names::INPUT_CONV, &conv, shifted, packed, Activation::NONE)?;
            self.depth_to_space(packed, f0, 2)?;
        } else {
            self.conv(names::INPUT_CONV, n.conv(0), shifted, f0, Activation::NONE)?;
        }
        Ok(f0)
    }

    /// The `m` blocks from `f0`: a conv with a fused ReLU, or a conv then a PRELU. Returns the
    /// last block's output.
    fn blocks(&mut self, f0: i32, prelu: bool) -> Result<i32> {
        let Dims {
            height: h,
            width: w,
            features: f,
            m,
            ..
        } = self.dims;
        let n = self.n;
        let mut h_t = f0;
        for i in 0..m {
            let conv = n.conv(i + 1);
            if let Some(slopes) = n.prelu(i) {
                let pre =
                    self.activation(&names::block_conv(i), [1, h, w, f], Role::BlockConv(i))?;
                self.conv(&names::block(i), conv, h_t, pre, Activation::NONE)?;
                let alpha = self.constant(
                    &format!("{}/prelu_alpha", names::block(i)),
                    &[1, 1, f as i32],
                    slopes,
                )?;
                let out = self.activation(&names::block(i), [1, h, w, f], Role::Block(i))?;
                self.op(
                    BuiltinOp::PRELU,
                    OperatorOptions::None,
                    &[pre, alpha],
                    &[out],
                )?;
                h_t = out;
            } else {
                debug_assert!(!prelu);
                let out = self.activation(&names::block(i), [1, h, w, f], Role::Block(i))?;
                self.conv(&names::block(i), conv, h_t, out, Activation::RELU)?;
                h_t = out;
            }
        }
        Ok(h_t)
    }

    /// The output conv on the residual sum, and what the final sum adds to it: the input, or
    /// (packed) the input spread over the 16 channels of its 2x2 block. Returns both and their
    /// shape.
    fn output_conv(
        &mut self,
        residual: i32,
        input: i32,
        input_s2d: Option<i32>,
    ) -> Result<(i32, i32, [usize; 4])> {
        let Dims {
            scale,
            height: h,
            width: w,
            features: f,
            m,
        } = self.dims;
        let n = self.n;
        if !self.pack_output {
            let s2 = scale * scale;
            let o = self.activation(names::OUTPUT_CONV, [1, h, w, s2], Role::OutputConv)?;
            self.conv(
                names::OUTPUT_CONV,
                n.conv(m + 1),
                residual,
                o,
                Activation::NONE,
            )?;
            return Ok((o, input, [1, h, w, s2]));
        }
        let [hh, wh] = self.half();
        let packed = self.activation(names::RESIDUAL_S2D, [1, hh, wh, 4 * f], Role::Residual)?;
        self.space_to_depth(residual, packed)?;
        let o = self.activation(names::OUTPUT_CONV, [1, hh, wh, 16], Role::OutputConv)?;
        let conv = n.conv(m + 1).packed(output_conv_channel);
        self.conv(names::OUTPUT_CONV, &conv, packed, o, Activation::NONE)?;
        let spread = self.activation(names::INPUT_SPREAD, [1, hh, wh, 16], Role::Input)?;
        let input_s2d = input_s2d.expect("the input is packed whenever the output is");
        self.conv(
            names::INPUT_SPREAD,
            &n.spread(),
            input_s2d,
            spread,
            Activation::NONE,
        )?;
        Ok((o, spread, [1, hh, wh, 16]))
    }

    /// `o + x` clipped to [0, 1].
    fn final_sum(&mut self, o: i32, x: i32, shape: [usize; 4]) -> Result<i32> {
        let sum = self.activation(names::FINAL_SUM, shape, Role::Output)?;
        if self.n.int8() {
            // The output parameters cover [0, 1] at most: the ADD's saturation is the clip.
            self.add(o, x, sum, Activation::NONE)?;
            return Ok(sum);
        }
        // clip(v, 0, 1) = relu_n1_to_1(relu(v)): a ReLU fused into the ADD, then
        // RELU_N1_TO_1. XNNPACK merges both clamps into the ADD; LiteRT 2.3's XNNPACK does not
        // take RELU_0_TO_1, which would split the graph into two delegate partitions.
        self.add(o, x, sum, Activation::RELU)?;
        let clipped = self.activation(names::CLIPPED, shape, Role::Output)?;
        self.op(
            BuiltinOp::RELU_N1_TO_1,
            OperatorOptions::None,
            &[sum],
            &[clipped],
        )?;
        Ok(clipped)
    }

    /// The DEPTH_TO_SPACE operators from the clipped sum `y` of `shape` to the output: one of
    /// 4 after a packed output conv, else log2(scale) of 2.
    fn depth_to_space_to_output(&mut self, mut y: i32, shape: [usize; 4]) -> Result<i32> {
        let blocks = if self.pack_output {
            vec![4]
        } else {
            vec![2; self.dims.scale / 2]
        };
        // The clip ran before the depth-to-space: both are exact and the clip is elementwise.
        let (mut side_h, mut side_w, mut channels) = (shape[1], shape[2], shape[3]);
        for (i, &block) in blocks.iter().enumerate() {
            side_h *= block;
            side_w *= block;
            channels /= block * block;
            let name = names::depth_to_space(i, i + 1 == blocks.len());
            let out_shape = [1, side_h, side_w, channels];
            let out = self.activation(&name, out_shape, Role::Output)?;
            match self.layout {
                Layout::NpuTransposeConv => {
                    self.transpose_conv_shuffle(&name, y, out, out_shape, Role::Output)?
                }
                _ => self.depth_to_space(y, out, block as i32)?,
            }
            y = out;
        }
        Ok(y)
    }

    /// Interleaves `rows` (each `[1, h, w, c]`: row `r` of every block of output pixels) into
    /// `output` of `out_shape`: each reshaped to `[1, h, 1, w c]`, their CONCATENATION on
    /// axis 2 (`[1, h, rows, w c]`) is the output in memory, reshaped. Moves, never changes,
    /// a value.
    fn interleave_rows(
        &mut self,
        name: &str,
        rows: &[i32],
        row_shape: [usize; 4],
        output: i32,
        out_shape: [usize; 4],
        role: Role,
    ) -> Result<()> {
        let [_, h, w, c] = row_shape;
        let mut flat = vec![];
        for (r, &row) in rows.iter().enumerate() {
            let shape = [1, h, 1, w * c];
            let t = self.activation(&format!("{name}_row_{r}/flat"), shape, role)?;
            self.reshape(&format!("{name}_row_{r}"), row, t, shape)?;
            flat.push(t);
        }
        let joined = self.activation(&format!("{name}/rows"), [1, h, rows.len(), w * c], role)?;
        self.op(
            BuiltinOp::CONCATENATION,
            OperatorOptions::Concatenation {
                axis: 2,
                activation: Activation::NONE,
            },
            &flat,
            &[joined],
        )?;
        self.reshape(name, joined, output, out_shape)
    }

    /// RESHAPE of `input` into `output` of `shape` (the shape given as a constant input and
    /// as the options both).
    fn reshape(&mut self, name: &str, input: i32, output: i32, shape: [usize; 4]) -> Result<()> {
        let shape_i32 = shape.map(|d| d as i32);
        let shape = self.int32_vector(&format!("{name}/shape"), &shape_i32)?;
        self.op(
            BuiltinOp::RESHAPE,
            OperatorOptions::Reshape {
                new_shape: shape_i32.to_vec(),
            },
            &[input, shape],
            &[output],
        )
    }

    /// The output conv, the final sum and the pixel shuffle of [`Layout::NpuRows`]: per row
    /// `r` of each `scale x scale` block, the conv of the `scale` channels that row's pixels
    /// come from (in column order), `+ x`; the rows interleave into the image.
    fn output_rows(&mut self, residual: i32, input: i32) -> Result<i32> {
        let Dims {
            scale,
            height: h,
            width: w,
            m,
            ..
        } = self.dims;
        let n = self.n;
        let mut rows = vec![];
        for r in 0..scale {
            let channels: Vec<usize> = (0..scale).map(|c| shuffled_channel(scale, r, c)).collect();
            let conv = n.conv(m + 1).select(&channels);
            let name = format!("{}_row_{r}", names::OUTPUT_CONV);
            let o = self.activation(&name, [1, h, w, scale], Role::OutputConv)?;
            self.conv(&name, &conv, residual, o, Activation::NONE)?;
            let name = format!("{}_row_{r}", names::FINAL_SUM);
            let sum = self.activation(&name, [1, h, w, scale], Role::Output)?;
            // The output parameters cover [0, 1] at most: the ADD's saturation is the clip.
            self.add(o, input, sum, Activation::NONE)?;
            rows.push(sum);
        }
        let out_shape = [1, scale * h, scale * w, 1];
        let output = self.activation(names::OUTPUT, out_shape, Role::Output)?;
        self.interleave_rows(
            names::FINAL_SUM,
            &rows,
            [1, h, w, scale],
            output,
            out_shape,
            Role::Output,
        )?;
        Ok(output)
    }
}
