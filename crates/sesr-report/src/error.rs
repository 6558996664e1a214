use std::path::PathBuf;

/// Errors of the report pictures: each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Nothing to draw, or inputs that do not fit together.
    #[error("{0}")]
    Input(String),
    #[error("drawing {}: {message}", path.display())]
    Draw { path: PathBuf, message: String },
    #[error(transparent)]
    Data(#[from] sesr_data::DataError),
}

pub type Result<T, E = ReportError> = std::result::Result<T, E>;
