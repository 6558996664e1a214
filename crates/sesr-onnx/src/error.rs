//! The errors of sesr-onnx.

pub type Result<T, E = OnnxError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// Bytes that do not decode as an ONNX model.
    #[error("not an ONNX model: {0}")]
    NotOnnx(String),
    /// A network or parameters the writer cannot express.
    #[error("cannot write as ONNX: {0}")]
    Unsupported(String),
    /// Weights the graph checks refuse (shapes, non-finite values).
    #[error(transparent)]
    Network(#[from] sesr_net::NetError),
}
