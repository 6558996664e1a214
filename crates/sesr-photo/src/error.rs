//! The one error type of `sesr-photo`.

use std::path::PathBuf;

/// What can go wrong while upscaling a photo; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// Reading the input (or a folder) failed: not an image, truncated, animated, too large.
    #[error(transparent)]
    Data(#[from] sesr_data::DataError),
    /// The atomic write of the output failed.
    #[error(transparent)]
    Write(#[from] sesr_model::ModelError),
    /// The engine that runs the network failed.
    #[error("the network failed on {path}: {source}")]
    Engine {
        /// The input photo.
        path: PathBuf,
        /// The engine's error.
        #[source]
        source: sesr_data::UpscaleError,
    },
    /// The output cannot hold this photo (size, transparency) or could not be encoded.
    #[error("cannot write {path}: {reason}")]
    Output {
        /// The output file.
        path: PathBuf,
        /// Why, and what to do.
        reason: String,
    },
}

/// Result with [`PhotoError`].
pub type Result<T> = std::result::Result<T, PhotoError>;
