//! sesr-net: the SESR inference network, format-neutral.
//!
//! SESR ("Collapsible Linear Blocks for Super-Efficient Super Resolution", Bhardwaj et al.,
//! MLSys 2022) at inference time is a chain of small convolutions: a collapsed model holds one
//! 5x5 input conv, `m` 3x3 convs (their short residuals already folded into the kernels), and
//! a 5x5 output conv. The network, on one luminance plane `x` with values in `[0, 1]`:
//!
//! ```text
//! t  = x - 0.5
//! f0 = conv5x5(t)                         SAME zero padding, bias
//! h  = f0; m times: h = act(conv3x3(h))   PReLU, or ReLU after QAT
//! r  = h + f0
//! o  = conv5x5(r) + x                     f -> scale^2 channels, x added to each
//! y  = depth_to_space(clip(o, 0, 1))      TensorFlow's order, 2 at a time (x4: twice)
//! ```
//!
//! This crate describes that network once, with no input size and no file format, so that
//! every writer (TFLite, ONNX) and every runtime depends on it and not on each other:
//!
//! * [`Float32Network`] ([`ConvWeights`] and PReLU slopes) is the float network;
//! * [`Int8Network`] is its int8 form, made by [`Int8Network::quantize`] from the float
//!   network and the [`ActivationRanges`] of QAT or calibration with TensorFlow's rules, and
//!   run by [`Int8Network::simulate`] bit for bit as TFLite's reference kernels do
//!   ([`quant`] holds that integer arithmetic);
//! * [`CollapsedModel`] reads a collapsed checkpoint (safetensors and JSON sidecar) without
//!   libtorch.
//!
//! ```
//! use sesr_net::{ActivationRanges, ConvWeights, Float32Network, Int8Network, Range};
//!
//! # fn main() -> sesr_net::Result<()> {
//! let conv = |o: usize, i: usize, k: usize| ConvWeights {
//!     out_channels: o,
//!     in_channels: i,
//!     kernel: k,
//!     weight: vec![0.0; o * i * k * k],
//!     bias: vec![0.0; o],
//! };
//! // SESR-M1 with 4 features, x2, ReLU, all weights zero.
//! let network = Float32Network {
//!     scale: 2,
//!     convs: vec![conv(4, 1, 5), conv(4, 4, 3), conv(4, 4, 5)],
//!     prelu: vec![],
//! };
//! let unit = Range::new(-1.0, 1.0);
//! let ranges = ActivationRanges {
//!     input: Range::new(0.0, 1.0),
//!     shifted_input: Range::new(-0.5, 0.5),
//!     input_conv: unit,
//!     block_convs: vec![],
//!     blocks: vec![unit],
//!     residual_sum: unit,
//!     output_conv: unit,
//!     final_sum: Range::new(0.0, 1.0),
//! };
//! let int8 = Int8Network::quantize(&network, &ranges)?;
//! let pixels = int8.quantize_pixels(&[0, 100, 200, 255]);
//! // Zero weights: every output pixel is its input pixel (the input skip connection).
//! let out = int8.simulate(&pixels, 2, 2)?;
//! assert_eq!(out[0..4], [pixels[0], pixels[0], pixels[1], pixels[1]]);
//! # Ok(())
//! # }
//! ```

mod checkpoint;
mod error;
mod float32;
mod int8;
pub mod layout;
pub mod quant;

pub use checkpoint::CollapsedModel;
pub use error::{NetError, Result};
pub use float32::{ConvWeights, Float32Network, MAX_PARAMETER_MAGNITUDE};
pub use int8::{names, ActivationRanges, Int8Conv, Int8Network, Int8Prelu, Range};
pub use quant::QuantParams;
