//! sesr-tflite: the TFLite flatbuffer format for SESR: writers for float32 and int8 models,
//! and a validating reader.
//!
//! SESR ("Collapsible Linear Blocks for Super-Efficient Super Resolution", Bhardwaj et al.,
//! MLSys 2022) deploys as a chain of small convolutions; this crate writes the format-neutral
//! network of `sesr-net` as `.tflite` files that LiteRT (the TFLite runtime) runs with its
//! default XNNPACK delegate, without TensorFlow and without tensors. A TFLite file has a fixed
//! input size ([`InputSize`], a writer argument; the network itself has none):
//!
//! * [`write_float32`]: the float32 model of a [`sesr_net::Float32Network`]; every operator is
//!   delegated to XNNPACK;
//! * [`write_int8`]: the full-integer model (int8 input and output) of a
//!   [`sesr_net::Int8Network`], whose integers `sesr-net` quantized with TensorFlow's rules
//!   (LiteRT's XNNPACK output is within one step of `Int8Network::simulate`);
//! * [`read`](mod@read): a reader for any `.tflite` file (ours or TensorFlow's), verified
//!   once at the root and safe on hostile input, with [`inspect`] to print operators, tensors,
//!   quantization parameters and MACs; [`read_int8`] recovers the integer network of an int8
//!   export.
//!
//! The modules underneath: [`schema`] (the subset of the TFLite schema used, in our words),
//! [`write`](mod@write) (the model and subgraph builders), [`sesr`] (the float model and the
//! input size), [`int8`] (the integer model), [`graph`] (the graph both are written as, and
//! the phase packing of its outer convolutions), [`recover`] (the int8 network read back).
//!
//! # Example
//!
//! ```
//! use sesr_net::{ConvWeights, Float32Network};
//! use sesr_tflite::{inspect, read::Model, write_float32, InputSize};
//!
//! # fn main() -> sesr_tflite::Result<()> {
//! let conv = |o: usize, i: usize, k: usize| ConvWeights {
//!     out_channels: o,
//!     in_channels: i,
//!     kernel: k,
//!     weight: vec![0.01; o * i * k * k],
//!     bias: vec![0.0; o],
//! };
//! // SESR-M1 with 4 features, x2, ReLU, for 32x32 inputs.
//! let network = Float32Network {
//!     scale: 2,
//!     convs: vec![conv(4, 1, 5), conv(4, 4, 3), conv(4, 4, 5)],
//!     prelu: vec![],
//! };
//! let bytes = write_float32(&network, InputSize::new(32, 32))?;
//! let model = Model::parse(&bytes)?;
//! assert!(inspect(&model).contains("DEPTH_TO_SPACE"));
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod graph;
pub mod int8;
pub mod read;
pub mod recover;
pub mod schema;
pub mod sesr;
pub mod write;

pub use error::{Result, TfliteError};
pub use graph::Layout;
pub use int8::{write_int8, write_int8_with};
pub use read::{inspect, Model};
pub use recover::{read_int8, Int8File};
pub use sesr::{write_float32, write_float32_with, InputSize};
