//! The errors of sesr-video: each says what is wrong with the stream or the frame.

pub type Result<T, E = VideoError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// A stream header this crate cannot read or will not upscale.
    #[error("{0}")]
    Header(String),
    /// A stream that goes wrong after its header (a corrupt frame header).
    #[error("{0}")]
    Stream(String),
    /// The stream ends inside a frame ([`Y4mReader::read_frame`](crate::Y4mReader::read_frame);
    /// [`upscale_y4m`](crate::upscale_y4m) reports it in its `StreamReport` instead).
    #[error("the stream ends inside frame {} ({} bytes of it)", .0.frame, .0.bytes)]
    Truncated(crate::Truncation),
    /// Frames or formats that do not fit together.
    #[error("{0}")]
    Format(String),
    #[error("cannot read the input stream: {0}")]
    Input(std::io::Error),
    #[error("cannot write the output stream: {0}")]
    Output(std::io::Error),
    /// The consumer closed the output pipe: nothing more can be written.
    #[error("the output pipe was closed by its reader")]
    OutputClosed,
    #[error(transparent)]
    Runtime(#[from] sesr_runtime::RuntimeError),
}
