//! The runtime's errors: each names the file or the input at fault and what to do.

use std::path::PathBuf;

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A model file this runtime can't run (unsupported op, wrong shapes, wrong kind).
    #[error("{}: {message}", path.display())]
    Model { path: PathBuf, message: String },
    /// An input image the runtime refuses (zero-sized, too large).
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Tflite(#[from] sesr_tflite::TfliteError),
}
