//! Errors of an evaluation: each names the image or folder at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(
        "{} is {width}x{height}, too small to score at x{scale}: after shaving {scale} pixels \
         per border SSIM needs an {window}x{window} window, so images must be at least \
         {least}x{least}; remove it from the folder",
        file.display(),
        window = sesr_data::metrics::SSIM_WINDOW
    )]
    TooSmall {
        file: PathBuf,
        width: usize,
        height: usize,
        scale: usize,
        least: usize,
    },
    /// The engine under evaluation failed on an image.
    #[error("upscaling {}: {source}", file.display())]
    Upscale {
        file: PathBuf,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Data(#[from] sesr_data::DataError),
    #[error(transparent)]
    Model(#[from] sesr_model::ModelError),
}

pub type Result<T, E = EvalError> = std::result::Result<T, E>;
