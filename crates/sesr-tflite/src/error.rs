//! The one error type of `sesr-tflite`.
//!
//! Reading errors say what is wrong with the file (and where), writing errors name the part of
//! the SESR description or the activation range that cannot be turned into a model.

use std::path::PathBuf;

/// Everything that can go wrong while writing, reading or simulating a TFLite model.
#[derive(Debug, thiserror::Error)]
pub enum TfliteError {
    /// The operating system refused to read or write a file.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The bytes do not start like a TFLite model (too short or wrong file identifier).
    #[error("not a TFLite model: {0}")]
    NotTflite(String),

    /// The flatbuffer itself is corrupt: an offset, a vector or a string points outside the
    /// file, is misaligned, or the nesting is too deep.
    #[error("corrupt TFLite flatbuffer: {0}")]
    Flatbuffer(#[from] flatbuffers::InvalidFlatbuffer),

    /// The flatbuffer is well formed but the model it describes is not: an index out of range,
    /// a buffer whose size does not match its tensor, a negative dimension.
    #[error("invalid TFLite model: {0}")]
    Malformed(String),

    /// The SESR description cannot be written: inconsistent channel counts, weight lengths,
    /// scale, or a missing activation range.
    #[error("invalid SESR graph: {0}")]
    InvalidGraph(String),

    /// A tensor would hold more elements than TFLite's `int32` sizes allow.
    #[error(
        "tensor {tensor} would have {elements} elements, more than TFLite's limit of {limit}; \
         use a smaller input size (or tile the image)"
    )]
    TooLarge {
        /// Which tensor.
        tensor: String,
        /// Its element count.
        elements: u128,
        /// The largest count allowed.
        limit: u128,
    },

    /// The network itself is not a SESR (or a range cannot be quantized).
    #[error(transparent)]
    Net(#[from] sesr_net::NetError),
}

/// `Result` with [`TfliteError`].
pub type Result<T> = std::result::Result<T, TfliteError>;
