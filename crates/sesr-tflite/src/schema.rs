//! The part of the TFLite schema (`schema.fbs`, file identifier `TFL3`, schema version 3) that
//! this crate writes and reads, restated in our own terms.
//!
//! A flatbuffer table stores its fields through a vtable; field number `n` of a table (counted
//! in the order the schema declares them, a union counting as two fields: its type tag, then
//! its value) lives at vtable offset `4 + 2 n`. The enums are newtypes over the stored integer,
//! so a file may carry values this crate has no name for.

/// The four bytes at offset 4 of every TFLite file.
pub const FILE_IDENTIFIER: &str = "TFL3";

/// The schema version written into `Model.version`.
pub const SCHEMA_VERSION: u32 = 3;

/// Vtable offset of field number `n`.
pub(crate) const fn field(n: u16) -> u16 {
    4 + 2 * n
}

/// Element type of a tensor (`TensorType`, stored as a byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TensorType(pub i8);

impl TensorType {
    /// 32-bit float.
    pub const FLOAT32: Self = Self(0);
    /// 16-bit float.
    pub const FLOAT16: Self = Self(1);
    /// 32-bit signed integer (int8 biases, shapes).
    pub const INT32: Self = Self(2);
    /// 8-bit unsigned integer.
    pub const UINT8: Self = Self(3);
    /// 64-bit signed integer.
    pub const INT64: Self = Self(4);
    /// Variable-length strings.
    pub const STRING: Self = Self(5);
    /// Booleans, one byte each.
    pub const BOOL: Self = Self(6);
    /// 16-bit signed integer.
    pub const INT16: Self = Self(7);
    /// 8-bit signed integer (quantized activations and weights).
    pub const INT8: Self = Self(9);
    /// 64-bit float.
    pub const FLOAT64: Self = Self(10);

    /// The schema's name, if this crate knows the type.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::FLOAT32 => "FLOAT32",
            Self::FLOAT16 => "FLOAT16",
            Self::INT32 => "INT32",
            Self::UINT8 => "UINT8",
            Self::INT64 => "INT64",
            Self::STRING => "STRING",
            Self::BOOL => "BOOL",
            Self::INT16 => "INT16",
            Self::INT8 => "INT8",
            Self::FLOAT64 => "FLOAT64",
            _ => return None,
        })
    }

    /// Bytes per element for fixed-size types (`None` for strings and unknown types).
    pub fn element_size(self) -> Option<usize> {
        Some(match self {
            Self::UINT8 | Self::INT8 | Self::BOOL => 1,
            Self::FLOAT16 | Self::INT16 => 2,
            Self::FLOAT32 | Self::INT32 => 4,
            Self::INT64 | Self::FLOAT64 => 8,
            _ => return None,
        })
    }
}

impl std::fmt::Display for TensorType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "TYPE_{}", self.0),
        }
    }
}

/// A builtin operator code (`BuiltinOperator`, an int32).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BuiltinOp(pub i32);

macro_rules! builtin_ops {
    ($($name:ident = $code:expr),* $(,)?) => {
        impl BuiltinOp {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                pub const $name: Self = Self($code);
            )*

            /// The schema's name, if this crate knows the operator.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($code => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

// The operators SESR uses, and those that models made by TensorFlow's converter for SESR-like
// networks commonly contain, so that `inspect` can name them.
builtin_ops! {
    ADD = 0,
    AVERAGE_POOL_2D = 1,
    CONCATENATION = 2,
    CONV_2D = 3,
    DEPTHWISE_CONV_2D = 4,
    DEPTH_TO_SPACE = 5,
    DEQUANTIZE = 6,
    FULLY_CONNECTED = 9,
    LOGISTIC = 14,
    MAX_POOL_2D = 17,
    MUL = 18,
    RELU = 19,
    RELU_N1_TO_1 = 20,
    RELU6 = 21,
    RESHAPE = 22,
    RESIZE_BILINEAR = 23,
    SOFTMAX = 25,
    SPACE_TO_DEPTH = 26,
    TANH = 28,
    CUSTOM = 32,
    PAD = 34,
    GATHER = 36,
    BATCH_TO_SPACE_ND = 37,
    SPACE_TO_BATCH_ND = 38,
    TRANSPOSE = 39,
    MEAN = 40,
    SUB = 41,
    DIV = 42,
    SQUEEZE = 43,
    STRIDED_SLICE = 45,
    SPLIT = 49,
    CAST = 53,
    PRELU = 54,
    MAXIMUM = 55,
    MINIMUM = 57,
    PADV2 = 60,
    SLICE = 65,
    TRANSPOSE_CONV = 67,
    TILE = 69,
    EXPAND_DIMS = 70,
    SHAPE = 77,
    PACK = 83,
    UNPACK = 88,
    RESIZE_NEAREST_NEIGHBOR = 97,
    LEAKY_RELU = 98,
    MIRROR_PAD = 100,
    ABS = 101,
    SPLIT_V = 102,
    QUANTIZE = 114,
    HARD_SWISH = 117,
    PLACEHOLDER_FOR_GREATER_OP_CODES = 127,
    BROADCAST_TO = 130,
    GELU = 150,
    RELU_0_TO_1 = 152,
}

impl std::fmt::Display for BuiltinOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "BUILTIN_{}", self.0),
        }
    }
}

/// Padding of convolutions and pools (`Padding`, a byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// Output size `ceil(in / stride)`, zeros around the input.
    Same,
    /// No padding.
    Valid,
}

impl Padding {
    pub(crate) fn code(self) -> i8 {
        match self {
            Self::Same => 0,
            Self::Valid => 1,
        }
    }

    pub(crate) fn from_code(code: i8) -> Option<Self> {
        match code {
            0 => Some(Self::Same),
            1 => Some(Self::Valid),
            _ => None,
        }
    }
}

/// An activation fused into an operator (`ActivationFunctionType`, a byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Activation(pub i8);

impl Activation {
    /// No activation.
    pub const NONE: Self = Self(0);
    /// `max(x, 0)`.
    pub const RELU: Self = Self(1);
    /// `clamp(x, -1, 1)`.
    pub const RELU_N1_TO_1: Self = Self(2);
    /// `clamp(x, 0, 6)`.
    pub const RELU6: Self = Self(3);
    /// `tanh(x)`.
    pub const TANH: Self = Self(4);

    /// The schema's name, if known.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::NONE => "NONE",
            Self::RELU => "RELU",
            Self::RELU_N1_TO_1 => "RELU_N1_TO_1",
            Self::RELU6 => "RELU6",
            Self::TANH => "TANH",
            _ => return None,
        })
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "ACTIVATION_{}", self.0),
        }
    }
}

/// Type tags of the `BuiltinOptions` union that this crate writes or decodes.
pub(crate) mod options_tag {
    pub const NONE: u8 = 0;
    pub const CONV_2D: u8 = 1;
    pub const DEPTHWISE_CONV_2D: u8 = 2;
    pub const CONCATENATION: u8 = 10;
    pub const RESHAPE: u8 = 17;
    pub const SPACE_TO_DEPTH: u8 = 19;
    pub const TRANSPOSE: u8 = 26;
    pub const TRANSPOSE_CONV: u8 = 49;
    pub const ADD: u8 = 11;
    pub const MUL: u8 = 21;
    pub const SUB: u8 = 28;
    pub const MAXIMUM_MINIMUM: u8 = 39;
    pub const DEPTH_TO_SPACE: u8 = 94;
}

/// Vtable offsets of the tables' fields, one module per table.
pub(crate) mod vt {
    use super::field;

    pub mod model {
        use super::field;
        pub const VERSION: u16 = field(0);
        pub const OPERATOR_CODES: u16 = field(1);
        pub const SUBGRAPHS: u16 = field(2);
        pub const DESCRIPTION: u16 = field(3);
        pub const BUFFERS: u16 = field(4);
    }

    pub mod operator_code {
        use super::field;
        /// The old one-byte code, capped at 127 for codes that do not fit.
        pub const DEPRECATED_BUILTIN_CODE: u16 = field(0);
        pub const CUSTOM_CODE: u16 = field(1);
        /// Defaults to 1.
        pub const VERSION: u16 = field(2);
        pub const BUILTIN_CODE: u16 = field(3);
    }

    pub mod subgraph {
        use super::field;
        pub const TENSORS: u16 = field(0);
        pub const INPUTS: u16 = field(1);
        pub const OUTPUTS: u16 = field(2);
        pub const OPERATORS: u16 = field(3);
        pub const NAME: u16 = field(4);
    }

    pub mod tensor {
        use super::field;
        pub const SHAPE: u16 = field(0);
        pub const TYPE: u16 = field(1);
        pub const BUFFER: u16 = field(2);
        pub const NAME: u16 = field(3);
        pub const QUANTIZATION: u16 = field(4);
        pub const IS_VARIABLE: u16 = field(5);
        pub const SPARSITY: u16 = field(6);
    }

    pub mod quantization {
        use super::field;
        pub const MIN: u16 = field(0);
        pub const MAX: u16 = field(1);
        pub const SCALE: u16 = field(2);
        /// `[long]`.
        pub const ZERO_POINT: u16 = field(3);
        /// Union `details` (type tag field 4, value field 5), unused by SESR.
        pub const DETAILS_TYPE: u16 = field(4);
        pub const QUANTIZED_DIMENSION: u16 = field(6);
    }

    pub mod operator {
        use super::field;
        pub const OPCODE_INDEX: u16 = field(0);
        pub const INPUTS: u16 = field(1);
        pub const OUTPUTS: u16 = field(2);
        pub const BUILTIN_OPTIONS_TYPE: u16 = field(3);
        pub const BUILTIN_OPTIONS: u16 = field(4);
        pub const CUSTOM_OPTIONS: u16 = field(5);
    }

    pub mod buffer {
        use super::field;
        /// `[ubyte]`, aligned to 16 bytes.
        pub const DATA: u16 = field(0);
        /// For models over 2 GB: data stored after the flatbuffer, at this file offset.
        pub const OFFSET: u16 = field(1);
        pub const SIZE: u16 = field(2);
    }

    /// `Conv2DOptions` and `DepthwiseConv2DOptions` share padding and strides; the depthwise
    /// table inserts `depth_multiplier` before the activation.
    pub mod conv2d {
        use super::field;
        pub const PADDING: u16 = field(0);
        pub const STRIDE_W: u16 = field(1);
        pub const STRIDE_H: u16 = field(2);
        pub const ACTIVATION: u16 = field(3);
        /// Defaults to 1.
        pub const DILATION_W: u16 = field(4);
        /// Defaults to 1.
        pub const DILATION_H: u16 = field(5);
    }

    pub mod depthwise_conv2d {
        use super::field;
        pub const PADDING: u16 = field(0);
        pub const STRIDE_W: u16 = field(1);
        pub const STRIDE_H: u16 = field(2);
        pub const DEPTH_MULTIPLIER: u16 = field(3);
        pub const ACTIVATION: u16 = field(4);
        pub const DILATION_W: u16 = field(5);
        pub const DILATION_H: u16 = field(6);
    }

    /// `AddOptions`, `SubOptions`, `MulOptions`, `ConcatenationOptions` (axis first) all hold
    /// a fused activation.
    pub mod elementwise {
        use super::field;
        pub const ACTIVATION: u16 = field(0);
    }

    pub mod concatenation {
        use super::field;
        pub const AXIS: u16 = field(0);
        pub const ACTIVATION: u16 = field(1);
    }

    /// `DepthToSpaceOptions` and `SpaceToDepthOptions`.
    pub mod depth_to_space {
        use super::field;
        pub const BLOCK_SIZE: u16 = field(0);
    }

    pub mod transpose_conv {
        use super::field;
        pub const PADDING: u16 = field(0);
        pub const STRIDE_W: u16 = field(1);
        pub const STRIDE_H: u16 = field(2);
    }

    pub mod reshape {
        use super::field;
        /// `[int]`.
        pub const NEW_SHAPE: u16 = field(0);
    }
}

/// The options of an operator (the `BuiltinOptions` union), for the operators this crate
/// writes or decodes. Operators without options (PRELU, RELU, DEPTH_TO_SPACE's siblings...)
/// use [`OperatorOptions::None`].
#[derive(Clone, Debug, PartialEq)]
pub enum OperatorOptions {
    /// No options table.
    None,
    /// `Conv2DOptions`.
    Conv2D {
        /// Padding.
        padding: Padding,
        /// Horizontal stride.
        stride_w: i32,
        /// Vertical stride.
        stride_h: i32,
        /// Fused activation.
        activation: Activation,
        /// Horizontal dilation.
        dilation_w: i32,
        /// Vertical dilation.
        dilation_h: i32,
    },
    /// `DepthwiseConv2DOptions`.
    DepthwiseConv2D {
        /// Padding.
        padding: Padding,
        /// Horizontal stride.
        stride_w: i32,
        /// Vertical stride.
        stride_h: i32,
        /// Channel multiplier (redundant with the filter shape).
        depth_multiplier: i32,
        /// Fused activation.
        activation: Activation,
        /// Horizontal dilation.
        dilation_w: i32,
        /// Vertical dilation.
        dilation_h: i32,
    },
    /// `AddOptions`.
    Add {
        /// Fused activation.
        activation: Activation,
    },
    /// `SubOptions`.
    Sub {
        /// Fused activation.
        activation: Activation,
    },
    /// `MulOptions`.
    Mul {
        /// Fused activation.
        activation: Activation,
    },
    /// `ConcatenationOptions`.
    Concatenation {
        /// Axis of concatenation.
        axis: i32,
        /// Fused activation.
        activation: Activation,
    },
    /// `MaximumMinimumOptions` (an empty table).
    MaximumMinimum,
    /// `DepthToSpaceOptions`.
    DepthToSpace {
        /// Side of the block of pixels one input pixel's channels become.
        block_size: i32,
    },
    /// `SpaceToDepthOptions`.
    SpaceToDepth {
        /// Side of the block of pixels that becomes one pixel's channels.
        block_size: i32,
    },
    /// `TransposeConvOptions`.
    TransposeConv {
        /// Padding.
        padding: Padding,
        /// Horizontal stride.
        stride_w: i32,
        /// Vertical stride.
        stride_h: i32,
    },
    /// `ReshapeOptions`.
    Reshape {
        /// The output shape (the shape input tensor says the same).
        new_shape: Vec<i32>,
    },
    /// `TransposeOptions` (an empty table).
    Transpose,
    /// An options table this crate does not decode, by its union tag.
    Other {
        /// The `BuiltinOptions` type tag.
        tag: u8,
    },
}

impl OperatorOptions {
    /// A stride-1, undilated convolution with `padding` and a fused `activation`.
    pub fn conv2d(padding: Padding, activation: Activation) -> Self {
        Self::Conv2D {
            padding,
            stride_w: 1,
            stride_h: 1,
            activation,
            dilation_w: 1,
            dilation_h: 1,
        }
    }
}

impl std::fmt::Display for OperatorOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => Ok(()),
            Self::Conv2D {
                padding,
                stride_w,
                stride_h,
                activation,
                dilation_w,
                dilation_h,
            } => write!(
                f,
                "padding {padding:?}, stride {stride_h}x{stride_w}, dilation \
                 {dilation_h}x{dilation_w}, activation {activation}"
            ),
            Self::DepthwiseConv2D {
                padding,
                stride_w,
                stride_h,
                depth_multiplier,
                activation,
                dilation_w,
                dilation_h,
            } => write!(
                f,
                "padding {padding:?}, stride {stride_h}x{stride_w}, dilation \
                 {dilation_h}x{dilation_w}, depth multiplier {depth_multiplier}, activation \
                 {activation}"
            ),
            Self::Add { activation } | Self::Sub { activation } | Self::Mul { activation } => {
                write!(f, "activation {activation}")
            }
            Self::Concatenation { axis, activation } => {
                write!(f, "axis {axis}, activation {activation}")
            }
            Self::MaximumMinimum => Ok(()),
            Self::DepthToSpace { block_size } | Self::SpaceToDepth { block_size } => {
                write!(f, "block size {block_size}")
            }
            Self::TransposeConv {
                padding,
                stride_w,
                stride_h,
            } => write!(f, "padding {padding:?}, stride {stride_h}x{stride_w}"),
            Self::Reshape { new_shape } => write!(f, "shape {new_shape:?}"),
            Self::Transpose => Ok(()),
            Self::Other { tag } => write!(f, "options type {tag} (not decoded)"),
        }
    }
}

/// Quantization parameters of a tensor (`QuantizationParameters`): real value
/// `scale * (q - zero_point)`, per tensor (one scale) or per channel along
/// `quantized_dimension`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Quantization {
    /// Scales, one per tensor or one per channel.
    pub scale: Vec<f32>,
    /// Zero points, as many as scales.
    pub zero_point: Vec<i64>,
    /// The axis of per-channel parameters.
    pub quantized_dimension: i32,
    /// Calibration minimum, informational (one per scale, or empty).
    pub min: Vec<f32>,
    /// Calibration maximum, informational (one per scale, or empty).
    pub max: Vec<f32>,
}

impl Quantization {
    /// Per-tensor parameters.
    pub fn per_tensor(scale: f32, zero_point: i64) -> Self {
        Self {
            scale: vec![scale],
            zero_point: vec![zero_point],
            ..Self::default()
        }
    }
}
