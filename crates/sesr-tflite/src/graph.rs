//! The SESR graph, emitted once for both numeric types, and the phase packing of its input and
//! output convolutions.
//!
//! # Phase packing
//!
//! XNNPACK computes a convolution as a matrix product whose output channels are processed 16
//! at a time, so SESR's two outer convolutions waste most of the work on this hardware: the
//! 5x5 output conv has 4 output channels at x2 (three quarters of each tile padded), and the
//! 5x5 input conv reads a single channel. On an input of even height and width, both are
//! computed exactly on the 2x2 space-to-depth of their input instead: a stride-1 SAME
//! convolution with a `k x k` kernel, `C` inputs and `O` outputs equals, block by block, a
//! SAME convolution on the packed image (`4C` channels, half the size) with a
//! `(k/2 + 1) | 1`-sized kernel (3x3 for 5x5) and `4O` outputs, one per output pixel of the
//! 2x2 block and channel. Every original weight appears once per block position and the
//! other taps are zero, so an int8 model keeps the very same integers (and the same
//! per-channel scales): it computes bit for bit what the unpacked graph computes, and float
//! models differ only by the order of the additions.
//!
//! * Input conv: `SPACE_TO_DEPTH(2)` of the input, the packed conv (4 -> 4f), then
//!   `DEPTH_TO_SPACE(2)` restores `f0`.
//! * Output conv at x2: `SPACE_TO_DEPTH(2)` of the long residual sum, the packed conv
//!   (4f -> 16) whose output channels are ordered so that one `DEPTH_TO_SPACE(4)` lays out the
//!   high-resolution image exactly as the reference's `depth_to_space(2)` does, and the input
//!   added to each of the 16 channels of its 2x2 block by a 1x1 conv with one-hot weights
//!   (exact: one product by one, the rest by zero). At x4 the output conv already has 16
//!   channels and stays as it is.
//!
//! On the project's 2-core machine (LiteRT 2.3, 2 threads) this takes SESR-M5 x2 with ReLU from
//! 1080p to 4K from about 600 to 470 ms in float32 and from 191 to 113-148 ms in int8 (see
//! `tests/latency.rs`).

use crate::error::Result;
use crate::schema::{Activation, BuiltinOp, OperatorOptions, Padding, Quantization, TensorType};
use crate::write::{dim, ModelBuilder, SubgraphBuilder};

/// How the graph is laid out in the `.tflite` file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// Phase-packed input and output convolutions where the input size allows (even height
    /// and width), the fastest form in LiteRT; otherwise [`Layout::Plain`].
    #[default]
    Fast,
    /// The reference graph operator for operator.
    Plain,
}

/// Operator versions written. LiteRT 2.3 runs every one of them; the int8 versions are the
/// ones TensorFlow's converter assigns to int8 kernels (`op_version.cc`).
pub(crate) fn version(op: BuiltinOp, int8: bool) -> i32 {
    match (op, int8) {
        (BuiltinOp::CONV_2D, true) => 3,
        (BuiltinOp::ADD, true) => 2,
        (BuiltinOp::DEPTH_TO_SPACE | BuiltinOp::SPACE_TO_DEPTH, true) => 2,
        _ => 1,
    }
}

/// Names of the activation tensors.
pub(crate) mod names {
    pub const INPUT: &str = "input";
    pub const INPUT_S2D: &str = "input_space_to_depth";
    pub const SHIFTED: &str = "input_minus_half";
    pub const INPUT_CONV_PACKED: &str = "input_conv_packed";
    pub const INPUT_CONV: &str = "input_conv";
    pub const RESIDUAL: &str = "residual_sum";
    pub const RESIDUAL_S2D: &str = "residual_space_to_depth";
    pub const OUTPUT_CONV: &str = "output_conv";
    pub const INPUT_SPREAD: &str = "input_spread";
    pub const FINAL_SUM: &str = "final_sum";
    pub const CLIPPED: &str = "clipped";
    pub const OUTPUT: &str = "output";

    pub fn block_conv(i: usize) -> String {
        format!("block_{i}_conv")
    }

    pub fn block(i: usize) -> String {
        format!("block_{i}")
    }

    pub fn depth_to_space(i: usize, last: bool) -> String {
        if last {
            OUTPUT.to_string()
        } else {
            format!("depth_to_space_{i}")
        }
    }
}

/// A tensor element type written to buffers.
pub(crate) trait Element: Copy + Default {
    const TYPE: TensorType;
    fn extend_bytes(self, out: &mut Vec<u8>);
}

impl Element for f32 {
    const TYPE: TensorType = TensorType::FLOAT32;
    fn extend_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Element for i8 {
    const TYPE: TensorType = TensorType::INT8;
    fn extend_bytes(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
}

impl Element for i32 {
    const TYPE: TensorType = TensorType::INT32;
    fn extend_bytes(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

pub(crate) fn to_bytes<T: Element>(values: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 4);
    for &v in values {
        v.extend_bytes(&mut out);
    }
    out
}

/// A convolution's constants: weight in OIHW (PyTorch) order, bias, and for int8 the
/// per-output-channel scales of both (empty in float).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Conv<W, B> {
    pub out_channels: usize,
    pub in_channels: usize,
    pub kernel: usize,
    pub weight: Vec<W>,
    pub bias: Vec<B>,
    pub weight_scales: Vec<f32>,
    pub bias_scales: Vec<f32>,
}

impl<W: Element, B: Element> Conv<W, B> {
    /// The weight in TFLite's OHWI order.
    pub fn ohwi(&self) -> Vec<W> {
        let (o, i, k) = (self.out_channels, self.in_channels, self.kernel);
        let mut out = Vec::with_capacity(self.weight.len());
        for oc in 0..o {
            for ky in 0..k {
                for kx in 0..k {
                    for ic in 0..i {
                        out.push(self.weight[((oc * i + ic) * k + ky) * k + kx]);
                    }
                }
            }
        }
        out
    }

    /// The phase-packed convolution (see the module doc): input channel `(i * 2 + j) * C + c`
    /// is channel `c` of pixel `(2Y + i, 2X + j)` (TensorFlow's space-to-depth), and output
    /// `(a, b, o)` (pixel `(2Y + a, 2X + b)`, channel `o`) goes to channel `out_index(a, b, o)`.
    pub fn packed(&self, out_index: impl Fn(usize, usize, usize) -> usize) -> Self {
        let (o, i, k) = (self.out_channels, self.in_channels, self.kernel);
        let p = (k / 2) as isize;
        let q = (p + 1) / 2;
        let kq = (2 * q + 1) as usize;
        let (po, pi) = (4 * o, 4 * i);
        let mut packed = Conv {
            out_channels: po,
            in_channels: pi,
            kernel: kq,
            weight: vec![W::default(); po * pi * kq * kq],
            bias: vec![B::default(); po],
            weight_scales: vec![0.0; if self.weight_scales.is_empty() { 0 } else { po }],
            bias_scales: vec![0.0; if self.bias_scales.is_empty() { 0 } else { po }],
        };
        for a in 0..2 {
            for b in 0..2 {
                for s in 0..o {
                    let oc = out_index(a, b, s);
                    packed.bias[oc] = self.bias[s];
                    if let Some(scale) = self.weight_scales.get(s) {
                        packed.weight_scales[oc] = *scale;
                    }
                    if let Some(scale) = self.bias_scales.get(s) {
                        packed.bias_scales[oc] = *scale;
                    }
                    for dy in 0..kq {
                        for dx in 0..kq {
                            for ii in 0..2 {
                                for jj in 0..2 {
                                    // Original tap reading row 2(Y + dy - q) + ii from output
                                    // row 2Y + a.
                                    let ky = 2 * (dy as isize - q) + ii as isize - a as isize + p;
                                    let kx = 2 * (dx as isize - q) + jj as isize - b as isize + p;
                                    if !(0..k as isize).contains(&ky)
                                        || !(0..k as isize).contains(&kx)
                                    {
                                        continue;
                                    }
                                    let (ky, kx) = (ky as usize, kx as usize);
                                    for c in 0..i {
                                        let ic = (ii * 2 + jj) * i + c;
                                        packed.weight[((oc * pi + ic) * kq + dy) * kq + dx] =
                                            self.weight[((s * i + c) * k + ky) * k + kx];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        packed
    }
}

/// Output channel of the packed input conv: `DEPTH_TO_SPACE(2)` turns it back into `f0`.
pub(crate) fn input_conv_channel(features: usize) -> impl Fn(usize, usize, usize) -> usize {
    move |a, b, c| (a * 2 + b) * features + c
}

/// Output channel of the packed x2 output conv: channel `s = i * 2 + j` of low-resolution
/// pixel `(2Y + a, 2X + b)` is high-resolution pixel `(4Y + 2a + i, 4X + 2b + j)`, which
/// `DEPTH_TO_SPACE(4)` reads from channel `(2a + i) * 4 + 2b + j`.
pub(crate) fn output_conv_channel(a: usize, b: usize, s: usize) -> usize {
    (2 * a + s / 2) * 4 + 2 * b + s % 2
}

/// Which activation a tensor holds, for its int8 parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Input,
    Shifted,
    InputConv,
    BlockConv(usize),
    Block(usize),
    Residual,
    OutputConv,
    Output,
}

/// A constant tensor's contents.
pub(crate) struct Constant {
    pub data: Vec<u8>,
    pub quantization: Option<Quantization>,
}

/// What differs between the float32 and the int8 model.
pub(crate) trait Numerics {
    type W: Element;
    type B: Element;
    fn int8(&self) -> bool;
    /// Parameters of an activation (none in float).
    fn quantization(&self, role: Role) -> Option<Quantization>;
    /// Conv `index`: 0 the input conv, `1..=m` the blocks, `m + 1` the output conv.
    fn conv(&self, index: usize) -> &Conv<Self::W, Self::B>;
    /// The 1x1 conv that spreads the packed input over the 16 packed outputs.
    fn spread(&self) -> Conv<Self::W, Self::B>;
    /// The constant -0.5, shape `[1]`.
    fn minus_half(&self) -> Constant;
    /// PReLU `i`'s slopes, shape `[1, 1, f]`, or `None` for ReLU.
    fn prelu(&self, i: usize) -> Option<Constant>;
}

/// The sizes of a SESR graph.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    pub scale: usize,
    pub height: usize,
    pub width: usize,
    pub features: usize,
    pub m: usize,
}

fn per_channel(scales: &[f32]) -> Option<Quantization> {
    (!scales.is_empty()).then(|| Quantization {
        scale: scales.to_vec(),
        zero_point: vec![0; scales.len()],
        quantized_dimension: 0,
        ..Quantization::default()
    })
}

struct Emitter<'n, N: Numerics> {
    n: &'n N,
    model: ModelBuilder,
    sg: SubgraphBuilder,
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

    fn space_to_depth(&mut self, input: i32, output: i32) -> Result<()> {
        self.op(
            BuiltinOp::SPACE_TO_DEPTH,
            OperatorOptions::SpaceToDepth { block_size: 2 },
            &[input],
            &[output],
        )
    }
}

/// Writes the SESR graph of `dims` with `numerics` in `layout`.
pub(crate) fn emit<N: Numerics>(n: &N, dims: Dims, prelu: bool, layout: Layout) -> Result<Vec<u8>> {
    let Dims {
        scale,
        height: h,
        width: w,
        features: f,
        m,
    } = dims;
    let pack_input = layout == Layout::Fast && h % 2 == 0 && w % 2 == 0;
    let pack_output = pack_input && scale == 2;
    let description = format!(
        "SESR-M{m} f{f} x{scale} {}, {}, input {h}x{w}{} (sesr-tflite {})",
        if n.int8() { "int8" } else { "float32" },
        if prelu { "PReLU" } else { "ReLU" },
        match (pack_input, pack_output) {
            (true, true) => ", input and output convs phase-packed",
            (true, false) => ", input conv phase-packed",
            _ => "",
        },
        env!("CARGO_PKG_VERSION")
    );
    let mut e = Emitter {
        n,
        model: ModelBuilder::new(&description),
        sg: SubgraphBuilder::new("sesr"),
    };
    let (hh, wh) = (h / 2, w / 2);

    let input = e.activation(names::INPUT, [1, h, w, 1], Role::Input)?;
    // x - 0.5 (on the packed input when the input conv is packed: the same elements).
    let input_s2d = if pack_input {
        let t = e.activation(names::INPUT_S2D, [1, hh, wh, 4], Role::Input)?;
        e.space_to_depth(input, t)?;
        Some(t)
    } else {
        None
    };
    let minus_half = n.minus_half();
    let minus_half = e.sg.constant(
        &mut e.model,
        "minus_half",
        &[1],
        N::W::TYPE,
        minus_half.data,
        minus_half.quantization,
    )?;
    let shifted_shape = if pack_input {
        [1, hh, wh, 4]
    } else {
        [1, h, w, 1]
    };
    let shifted = e.activation(names::SHIFTED, shifted_shape, Role::Shifted)?;
    e.add(
        input_s2d.unwrap_or(input),
        minus_half,
        shifted,
        Activation::NONE,
    )?;

    let f0 = e.activation(names::INPUT_CONV, [1, h, w, f], Role::InputConv)?;
    if pack_input {
        let packed = e.activation(
            names::INPUT_CONV_PACKED,
            [1, hh, wh, 4 * f],
            Role::InputConv,
        )?;
        let conv = n.conv(0).packed(input_conv_channel(f));
        e.conv(names::INPUT_CONV, &conv, shifted, packed, Activation::NONE)?;
        e.depth_to_space(packed, f0, 2)?;
    } else {
        e.conv(names::INPUT_CONV, n.conv(0), shifted, f0, Activation::NONE)?;
    }

    let mut h_t = f0;
    for i in 0..m {
        let conv = n.conv(i + 1);
        if let Some(slopes) = n.prelu(i) {
            let pre = e.activation(&names::block_conv(i), [1, h, w, f], Role::BlockConv(i))?;
            e.conv(&names::block(i), conv, h_t, pre, Activation::NONE)?;
            let alpha = e.sg.constant(
                &mut e.model,
                &format!("{}/prelu_alpha", names::block(i)),
                &[1, 1, f as i32],
                N::W::TYPE,
                slopes.data,
                slopes.quantization,
            )?;
            let out = e.activation(&names::block(i), [1, h, w, f], Role::Block(i))?;
            e.op(
                BuiltinOp::PRELU,
                OperatorOptions::None,
                &[pre, alpha],
                &[out],
            )?;
            h_t = out;
        } else {
            debug_assert!(!prelu);
            let out = e.activation(&names::block(i), [1, h, w, f], Role::Block(i))?;
            e.conv(&names::block(i), conv, h_t, out, Activation::RELU)?;
            h_t = out;
        }
    }
    let residual = e.activation(names::RESIDUAL, [1, h, w, f], Role::Residual)?;
    e.add(h_t, f0, residual, Activation::NONE)?;

    let s2 = scale * scale;
    let (sum_shape, o, x, blocks) = if pack_output {
        let packed = e.activation(names::RESIDUAL_S2D, [1, hh, wh, 4 * f], Role::Residual)?;
        e.space_to_depth(residual, packed)?;
        let o = e.activation(names::OUTPUT_CONV, [1, hh, wh, 16], Role::OutputConv)?;
        let conv = n.conv(m + 1).packed(output_conv_channel);
        e.conv(names::OUTPUT_CONV, &conv, packed, o, Activation::NONE)?;
        let spread = e.activation(names::INPUT_SPREAD, [1, hh, wh, 16], Role::Input)?;
        let input_s2d = input_s2d.expect("the input is packed whenever the output is");
        e.conv(
            names::INPUT_SPREAD,
            &n.spread(),
            input_s2d,
            spread,
            Activation::NONE,
        )?;
        ([1, hh, wh, 16], o, spread, vec![4])
    } else {
        let o = e.activation(names::OUTPUT_CONV, [1, h, w, s2], Role::OutputConv)?;
        e.conv(
            names::OUTPUT_CONV,
            n.conv(m + 1),
            residual,
            o,
            Activation::NONE,
        )?;
        ([1, h, w, s2], o, input, vec![2; scale / 2])
    };
    let sum = e.activation(names::FINAL_SUM, sum_shape, Role::Output)?;
    let mut y = if n.int8() {
        // The output parameters cover [0, 1] at most: the ADD's saturation is the clip.
        e.add(o, x, sum, Activation::NONE)?;
        sum
    } else {
        // clip(v, 0, 1) = relu_n1_to_1(relu(v)): a ReLU fused into the ADD, then
        // RELU_N1_TO_1. XNNPACK merges both clamps into the ADD; LiteRT 2.3's XNNPACK does not
        // take RELU_0_TO_1, which would split the graph into two delegate partitions.
        e.add(o, x, sum, Activation::RELU)?;
        let clipped = e.activation(names::CLIPPED, sum_shape, Role::Output)?;
        e.op(
            BuiltinOp::RELU_N1_TO_1,
            OperatorOptions::None,
            &[sum],
            &[clipped],
        )?;
        clipped
    };
    // The clip ran before the depth-to-space: both are exact and the clip is elementwise.
    let (mut side_h, mut side_w, mut channels) = (sum_shape[1], sum_shape[2], sum_shape[3]);
    for (i, &block) in blocks.iter().enumerate() {
        side_h *= block;
        side_w *= block;
        channels /= block * block;
        let name = names::depth_to_space(i, i + 1 == blocks.len());
        let out = e.activation(&name, [1, side_h, side_w, channels], Role::Output)?;
        e.depth_to_space(y, out, block as i32)?;
        y = out;
    }
    e.sg.set_io(&[input], &[y])?;
    e.model.finish(&e.sg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct SAME convolution, NHWC, OIHW weights, f64.
    fn conv(x: &[f64], h: usize, w: usize, c: &Conv<f64, f64>) -> Vec<f64> {
        let (ic, oc, k) = (c.in_channels, c.out_channels, c.kernel);
        let p = (k / 2) as isize;
        let mut out = vec![0.0; h * w * oc];
        for y in 0..h {
            for xx in 0..w {
                for o in 0..oc {
                    let mut acc = c.bias[o];
                    for ky in 0..k {
                        for kx in 0..k {
                            let (iy, ix) =
                                (y as isize + ky as isize - p, xx as isize + kx as isize - p);
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                continue;
                            }
                            for i in 0..ic {
                                acc += x[(iy as usize * w + ix as usize) * ic + i]
                                    * c.weight[((o * ic + i) * k + ky) * k + kx];
                            }
                        }
                    }
                    out[(y * w + xx) * oc + o] = acc;
                }
            }
        }
        out
    }

    fn space_to_depth(x: &[f64], h: usize, w: usize, c: usize) -> Vec<f64> {
        let mut out = vec![0.0; x.len()];
        for y in 0..h {
            for xx in 0..w {
                for ch in 0..c {
                    let (yy, i, xs, j) = (y / 2, y % 2, xx / 2, xx % 2);
                    out[(yy * (w / 2) + xs) * 4 * c + (i * 2 + j) * c + ch] =
                        x[(y * w + xx) * c + ch];
                }
            }
        }
        out
    }

    impl Element for f64 {
        const TYPE: TensorType = TensorType::FLOAT64;
        fn extend_bytes(self, out: &mut Vec<u8>) {
            out.extend_from_slice(&self.to_le_bytes());
        }
    }

    fn sample(o: usize, i: usize, k: usize) -> Conv<f64, f64> {
        let mut v = 0.37f64;
        let mut next = move || {
            v = (v * 97.3 + 0.11).fract();
            v - 0.5
        };
        Conv {
            out_channels: o,
            in_channels: i,
            kernel: k,
            weight: (0..o * i * k * k).map(|_| next()).collect(),
            bias: (0..o).map(|_| next()).collect(),
            weight_scales: Vec::new(),
            bias_scales: Vec::new(),
        }
    }

    #[test]
    fn packed_convolutions_compute_the_same_values() {
        let (h, w) = (6, 8);
        for (o, i, k) in [(4, 3, 5), (2, 1, 5), (3, 2, 3), (2, 2, 7), (2, 2, 1)] {
            let c = sample(o, i, k);
            let x: Vec<f64> = (0..h * w * i)
                .map(|v| ((v * 7) % 13) as f64 - 6.0)
                .collect();
            let want = conv(&x, h, w, &c);
            let packed = c.packed(|a, b, s| (a * 2 + b) * o + s);
            assert_eq!(
                packed.kernel,
                if k == 7 {
                    5
                } else if k == 1 {
                    1
                } else {
                    3
                }
            );
            let got = conv(&space_to_depth(&x, h, w, i), h / 2, w / 2, &packed);
            // Undo: packed channel (a * 2 + b) * o + s is pixel (2Y + a, 2X + b), channel s.
            for y in 0..h {
                for xx in 0..w {
                    for s in 0..o {
                        let pc = ((y % 2) * 2 + xx % 2) * o + s;
                        let g = got[((y / 2) * (w / 2) + xx / 2) * 4 * o + pc];
                        let want = want[(y * w + xx) * o + s];
                        assert!((g - want).abs() < 1e-9, "k {k}: {g} vs {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_weight_appears_once_per_block_position() {
        let c = sample(4, 3, 5);
        let packed = c.packed(output_conv_channel);
        for s in 0..4 {
            let mut original: Vec<f64> = c.weight[s * 75..(s + 1) * 75].to_vec();
            original.sort_by(f64::total_cmp);
            for (a, b) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let oc = output_conv_channel(a, b, s);
                let n = 12 * 9;
                let mut taps: Vec<f64> = packed.weight[oc * n..(oc + 1) * n]
                    .iter()
                    .copied()
                    .filter(|v| *v != 0.0)
                    .collect();
                taps.sort_by(f64::total_cmp);
                assert_eq!(taps, original);
            }
        }
        // DEPTH_TO_SPACE(4) order: the 16 channels are a permutation.
        let mut seen: Vec<usize> = (0..16)
            .map(|n| output_conv_channel(n / 8, (n / 4) % 2, n % 4))
            .collect();
        seen.sort();
        assert_eq!(seen, (0..16).collect::<Vec<_>>());
    }
}
