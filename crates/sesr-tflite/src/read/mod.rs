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

use std::io::Read;
use std::path::Path;

pub use model::{BufferInfo, Model, Operator, OperatorCode, SubGraph, Tensor};
pub use summary::inspect;

use crate::error::{Result, TfliteError};

impl Model {
    /// Reads and validates a `.tflite` file. Its first bytes are checked before the rest is
    /// read, so a file of another kind is refused at once, whatever its size; so is one larger
    /// than the 2 GiB a flatbuffer can address.
    pub fn read(path: &Path) -> Result<Self> {
        let io = |source| TfliteError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mut head = Vec::with_capacity(8);
        (&mut file).take(8).read_to_end(&mut head).map_err(io)?;
        verify::identifier(&head)?;
        let length = file.metadata().map_err(io)?.len();
        if length > verify::MAX_BYTES {
            return Err(TfliteError::NotTflite(format!(
                "{length} bytes is more than the {} a flatbuffer can address (models with \
                 external buffers are not read)",
                verify::MAX_BYTES
            )));
        }
        let mut bytes = head;
        bytes.reserve(length.saturating_sub(8) as usize);
        file.read_to_end(&mut bytes).map_err(io)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Issue #30: a 3 GB file is refused from its first bytes, or its length, without being
    /// read (sparse files: nothing is written to the disk).
    #[test]
    fn huge_files_are_refused_without_being_read() {
        let dir = tempfile::tempdir().unwrap();
        let sparse = |name: &str, head: &[u8]| {
            let path = dir.path().join(name);
            let mut file = std::fs::File::create(&path).unwrap();
            file.write_all(head).unwrap();
            file.set_len(3 << 30).unwrap();
            path
        };
        let start = std::time::Instant::now();
        let zeros = sparse("zeros.bin", b"");
        let err = Model::read(&zeros).unwrap_err().to_string();
        assert!(err.contains("file identifier is \"\\0\\0\\0\\0\""), "{err}");
        let tflite = sparse("huge.tflite", b"\x1c\0\0\0TFL3");
        let err = Model::read(&tflite).unwrap_err().to_string();
        assert!(
            err.contains("3221225472 bytes is more than the 2147483648"),
            "{err}"
        );
        // Reading 3 GB takes seconds; the first bytes, microseconds.
        assert!(start.elapsed().as_secs_f64() < 1.0, "{:?}", start.elapsed());
        let short = dir.path().join("short.tflite");
        std::fs::write(&short, b"TFL").unwrap();
        let err = Model::read(&short).unwrap_err().to_string();
        assert!(err.contains("3 bytes is too short"), "{err}");
    }
}
