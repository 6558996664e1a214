//! Errors of the model description: each names the file or the field at fault.

use std::path::PathBuf;

/// Errors of `sesr-model`.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Hyper-parameters no SESR can be built from, with the reason.
    #[error("invalid SESR hyper-parameters: {0}")]
    InvalidConfig(String),
    /// A checkpoint sidecar that cannot be used, with what to do.
    #[error("checkpoint {}: {message}", path.display())]
    Sidecar { path: PathBuf, message: String },
    /// A weights file whose tensors do not fit its sidecar, or hold non-finite values.
    #[error("checkpoint {}: {message}", path.display())]
    Weights { path: PathBuf, message: String },
    /// A line of a metrics file that is not a training record.
    #[error("{}, line {line}: {message}", path.display())]
    Metrics {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A shipped model's name spelled wrong, with how they are spelled.
    #[error("`{text}` is not a shipped model's name: {hint}")]
    UnknownModel { text: String, hint: String },
    /// A path that does not hold a model: what it is instead, and what is accepted.
    #[error("{}: {what}", path.display())]
    NotAModel { path: PathBuf, what: String },
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
