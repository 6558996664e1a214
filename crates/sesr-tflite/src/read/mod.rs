//! A validating TFLite reader: any `.tflite` file (ours or one made by TensorFlow's converter)
//! into plain owned structs, checked once, at the root.
//!
//! [`Model::parse`] first runs `flatbuffers`' verifier over every table, vector and string the
//! reader will touch (offsets inside the file, alignment, UTF-8, nesting depth, table count),
//! then decodes with bounds-checked reads, then checks the model itself: every buffer, tensor
//! and operator-code index in range, shapes non-negative, quantization parameters consistent
//! with their tensor, and every non-empty buffer exactly as long as its tensor's shape times
//! its element size. A truncated, corrupt or hostile file gives an error, never a panic; every
//! allocation is bounded by the file's length (vector lengths are checked against the bytes
//! that remain before anything is allocated, and shapes are multiplied in 128 bits).
//!
//! Fields this crate does not use (metadata, signatures, sparsity details, the second options
//! union) are skipped without being decoded.
//!
//! One step a module, each using only those before it: `model` (the types), `verify` (the
//! flatbuffer verifier), `table` (bounds-checked reads), `decode` (tables into the types),
//! `check` (the model they describe), `summary` ([`inspect`]).

mod check;
mod decode;
mod model;
mod summary;
mod table;
mod verify;

use std::path::Path;

pub use model::{BufferInfo, Model, Operator, OperatorCode, SubGraph, Tensor};
pub use summary::inspect;

use crate::error::{Result, TfliteError};

impl Model {
    /// Reads and validates a `.tflite` file.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| TfliteError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&bytes)
    }

    /// Validates and decodes the bytes of a `.tflite` file.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        verify::verify(bytes)?;
        let model = decode::decode(bytes)?;
        model.check()?;
        Ok(model)
    }
}
