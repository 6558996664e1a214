//! sesr-runtime: a pure-Rust CPU runtime for collapsed SESR models, without libtorch.
//!
//! (Work in progress: the float32 path, the Upscaler API and the RGB helper land next to
//! the int8 path in `int8/`.)

pub mod error;
pub mod int8;

pub use error::{Result, RuntimeError};
