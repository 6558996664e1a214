//! sesr-tflite: the TFLite flatbuffer format for SESR: a writer for float32 and int8 models, and a validating reader.
//!
//! SESR ("Collapsible Linear Blocks for Super-Efficient Super Resolution", Bhardwaj et al.,
//! MLSys 2022) deploys as a chain of small convolutions; this crate turns a collapsed network,
//! described by plain vectors ([`SesrGraph`]), into `.tflite` files that LiteRT (the TFLite
//! runtime) runs with its default XNNPACK delegate, without TensorFlow and without tensors:
//!
//! * [`write_float32`]: the float32 model; every operator is delegated to XNNPACK;
//! * [`write_int8`]: the full-integer model (int8 input and output), from the calibrated
//!   range of every activation ([`ActivationRanges`]) with TensorFlow's quantization rules;
//!   [`simulate_int8`] computes, bit for bit, what TFLite's reference kernels compute on it
//!   (LiteRT's XNNPACK output is within one step of it);
//! * [`read`](mod@read): a reader for any `.tflite` file (ours or TensorFlow's), verified
//!   once at the root and safe on hostile input, with [`inspect`] to print operators, tensors,
//!   quantization parameters and MACs.
//!
//! The modules underneath: [`schema`] (the subset of the TFLite schema used, in our words),
//! [`write`](mod@write) (the model and subgraph builders), [`quant`] (int8 parameters and TFLite's
//! fixed-point arithmetic), [`sesr`] (the network description and the float model),
//! [`int8`] (the integer model and its simulation), [`graph`] (the graph both are written
//! as, and the phase packing of its outer convolutions).
//!
//! # Example
//!
//! ```
//! use sesr_tflite::{inspect, read::Model, write_float32, ConvWeights, SesrGraph};
//!
//! # fn main() -> sesr_tflite::Result<()> {
//! let conv = |o: usize, i: usize, k: usize| ConvWeights {
//!     out_channels: o,
//!     in_channels: i,
//!     kernel: k,
//!     weight: vec![0.01; o * i * k * k],
//!     bias: vec![0.0; o],
//! };
//! // SESR-M1 with 4 features, x2, for 32x32 inputs, ReLU.
//! let graph = SesrGraph {
//!     scale: 2,
//!     height: 32,
//!     width: 32,
//!     convs: vec![conv(4, 1, 5), conv(4, 4, 3), conv(4, 4, 5)],
//!     prelu: vec![],
//! };
//! let bytes = write_float32(&graph)?;
//! let model = Model::parse(&bytes)?;
//! assert!(inspect(&model).contains("DEPTH_TO_SPACE"));
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod graph;
pub mod int8;
pub mod quant;
pub mod read;
pub mod recover;
pub mod schema;
pub mod sesr;
pub mod write;

pub use error::{Result, TfliteError};
pub use graph::Layout;
pub use int8::{simulate_int8, write_int8, ActivationRanges, QuantizedSesr, Range};
pub use read::{inspect, Model};
pub use recover::{Int8Conv, Int8Network, Int8Prelu};
pub use sesr::{write_float32, write_float32_with, ConvWeights, SesrGraph};
