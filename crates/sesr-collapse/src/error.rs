use thiserror::Error;

/// Errors of the collapse algebra: a block whose parameter shapes do not chain.
#[derive(Debug, Error)]
pub enum CollapseError {
    #[error("linear block shapes do not chain: {0}")]
    Shape(String),
}

pub type Result<T> = std::result::Result<T, CollapseError>;
