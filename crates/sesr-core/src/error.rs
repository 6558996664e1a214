//! The errors of sesr-core; the lower crates' errors are wrapped, not flattened.

use std::path::PathBuf;
use thiserror::Error;

/// Errors of the SESR model core.
#[derive(Debug, Error)]
pub enum CoreError {
    #[error("invalid SESR hyper-parameters: {0}")]
    InvalidConfig(String),
    /// A training run that cannot start or go on, with the reason and what to do.
    #[error("{0}")]
    Run(String),
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error(
        "checkpoint {path} does not fit this model: {field} is {found} in the checkpoint but {expected} here; \
         use the checkpoint's architecture (its preset, m, int_features, feature_size and scale)"
    )]
    Mismatch {
        path: PathBuf,
        field: String,
        expected: String,
        found: String,
    },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// Calibration images that cannot give usable int8 ranges.
    #[error("calibration images {}: {why}", path.display())]
    Calibration { path: PathBuf, why: String },
    #[error(transparent)]
    Model(#[from] sesr_model::ModelError),
    #[error(transparent)]
    Net(#[from] sesr_net::NetError),
    #[error(transparent)]
    Data(#[from] sesr_data::DataError),
    #[error(transparent)]
    Collapse(#[from] sesr_collapse::CollapseError),
    #[error("libtorch: {0}")]
    Tch(#[from] tch::TchError),
}

pub type Result<T> = std::result::Result<T, CoreError>;
