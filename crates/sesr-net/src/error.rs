//! The one error type of `sesr-net`: it names the part of the network, the range or the file at
//! fault.

use std::path::PathBuf;

/// A network that is not a SESR, a range that cannot be quantized, or a checkpoint that does
/// not hold a collapsed SESR.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Inconsistent channel counts, weight lengths, scale or slopes.
    #[error("invalid SESR network: {0}")]
    InvalidNetwork(String),

    /// An activation range cannot be quantized (not finite, or empty).
    #[error(
        "activation range of {tensor} is [{min}, {max}]; int8 needs finite bounds with \
         min < max (widen the calibration range)"
    )]
    InvalidRange {
        /// Which activation.
        tensor: String,
        /// Lower bound given.
        min: f32,
        /// Upper bound given.
        max: f32,
    },

    /// A collapsed checkpoint that cannot be read as one.
    #[error("{}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint (or what stands for it, for a model held in memory).
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },

    /// The operating system refused to read a file.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A sidecar that cannot be read or describes no SESR.
    #[error(transparent)]
    Model(#[from] sesr_model::ModelError),
}

/// `Result` with [`NetError`].
pub type Result<T, E = NetError> = std::result::Result<T, E>;
