//! The errors of a training run: each names the run folder, file or setting at fault.

use std::path::PathBuf;

/// Errors of `sesr-train`.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A new run aimed at a folder that already holds one.
    #[error("{} already holds a training run; resume it, or start the new run in another folder", dir.display())]
    RunExists { dir: PathBuf },
    /// A run to resume whose configuration cannot be read.
    #[error("{} is not a training run: {reason}", dir.display())]
    NotARun { dir: PathBuf, reason: String },
    /// The loss stopped being a number.
    #[error("the loss became {loss} at epoch {epoch} step {step}; lower the learning rate")]
    LossDiverged {
        loss: f64,
        epoch: usize,
        step: usize,
    },
    /// Settings that do not fit together (scale of the sampler and the model, ranks).
    #[error("invalid training configuration: {0}")]
    InvalidConfig(String),
    /// A data-parallel exchange that failed.
    #[error("data-parallel run: {0}")]
    Collective(String),
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Core(#[from] sesr_core::CoreError),
    #[error(transparent)]
    Data(#[from] sesr_data::DataError),
    #[error(transparent)]
    Model(#[from] sesr_model::ModelError),
    #[error("libtorch: {0}")]
    Tch(#[from] tch::TchError),
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;
