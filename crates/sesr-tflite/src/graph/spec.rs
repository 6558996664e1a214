//! What the float32 and int8 writers give the one emitter: the layout, the sizes, the numerics
//! of each tensor (types, quantization, constants) and the names of the activations.

use super::conv::{Conv, Element};
use crate::schema::Quantization;

/// How the graph is laid out in the `.tflite` file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// Phase-packed input and output convolutions where the input size allows (even height
    /// and width), the fastest form in LiteRT; otherwise [`Layout::Plain`].
    #[default]
    Fast,
    /// The reference graph operator for operator.
    Plain,
    /// For Arm's Ethos-U55 and U65 NPUs, which have no DEPTH_TO_SPACE: the plain graph with
    /// each depth-to-space (2) as a stride-2 TRANSPOSE_CONV whose 2x2 kernel of 0/1 weights
    /// (scale 1) copies every input channel to its pixel, exactly. int8 only.
    NpuTransposeConv,
    /// For Arm's Ethos-U NPUs: the plain graph with the output conv split by output row: conv
    /// `r` computes, for each low-resolution pixel, the `scale` pixels of row `r` of its block
    /// (the same weights, biases and scales as before, in another order), adds the input, and
    /// is reshaped to one row of `scale W` pixels; a CONCATENATION interleaves the rows and a
    /// RESHAPE gives the image. Moves no data the NPU must shuffle. int8 only.
    NpuRows,
}

impl Layout {
    /// Whether the layout is one of the NPUs' (every operator an Ethos-U maps).
    pub fn is_npu(self) -> bool {
        matches!(self, Layout::NpuTransposeConv | Layout::NpuRows)
    }
}

/// Names of the activation tensors: the network's own (`sesr_net::names`) and those only the
/// file's layout has.
pub(crate) mod names {
    pub use sesr_net::names::*;

    pub const INPUT_S2D: &str = "input_space_to_depth";
    pub const INPUT_CONV_PACKED: &str = "input_conv_packed";
    pub const RESIDUAL_S2D: &str = "residual_space_to_depth";
    pub const INPUT_SPREAD: &str = "input_spread";
    pub const CLIPPED: &str = "clipped";
    pub const OUTPUT: &str = "output";

    pub fn depth_to_space(i: usize, last: bool) -> String {
        if last {
            OUTPUT.to_string()
        } else {
            format!("depth_to_space_{i}")
        }
    }
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
