//! sesr-tflite: the TFLite flatbuffer format for SESR: a writer for float32 and int8 models, and a validating reader.

pub mod error;
pub mod int8;
pub mod quant;
pub mod read;
pub mod schema;
pub mod sesr;
pub mod write;

pub use error::{Result, TfliteError};
pub use int8::{simulate_int8, write_int8, ActivationRanges, QuantizedSesr, Range};
pub use read::{inspect, Model};
pub use sesr::{write_float32, ConvWeights, SesrGraph};
