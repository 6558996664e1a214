//! The runtime's errors: each names the file or the input at fault and what to do.

use std::path::{Path, PathBuf};

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
    /// A checkpoint sidecar that cannot be read or describes no SESR.
    #[error(transparent)]
    Checkpoint(#[from] sesr_model::ModelError),
    /// A network that is not a SESR, or a collapsed checkpoint that cannot be read.
    #[error(transparent)]
    Net(#[from] sesr_net::NetError),
    /// A model file sesr-tflite refuses: not TFLite, corrupt, not an int8 SESR export, or a
    /// network that is not a valid SESR graph.
    #[error("{}: {source}", path.display())]
    TfliteFile {
        path: PathBuf,
        source: sesr_tflite::TfliteError,
    },
    /// A model whose output is all clipped to black or white (or not a number) on an image
    /// that is mostly mid-tones: its weights do not make a working SESR.
    #[error(
        "{}: every output pixel is clipped to black or white on an image that is mostly \
         mid-tones, which no working SESR does: its weights are broken (a corrupt file, or \
         absurd values); retrain it or export it again",
        model.display()
    )]
    SaturatedOutput { model: PathBuf },
    /// A network given in memory that is not a runnable SESR.
    #[error("not a runnable SESR network: {0}")]
    Network(String),
    /// A forced kernel whose instruction set this CPU lacks.
    #[error("the {kernel} kernel needs {needs}, which this CPU lacks; use Kernel::best()")]
    KernelUnavailable {
        kernel: crate::Kernel,
        needs: &'static str,
    },
    /// Input and output paths that cannot work together (upscaling files and folders).
    #[error("{0}")]
    Paths(String),
    /// An option out of range (zero threads, zero tile size).
    #[error("{0}")]
    Option(String),
    #[error("cannot start {threads} worker threads: {source}")]
    ThreadPool {
        threads: usize,
        source: rayon::ThreadPoolBuildError,
    },
    /// A shipped model that does not exist (unknown preset, or not trained at that scale).
    #[error(transparent)]
    Pretrained(#[from] sesr_zoo::ZooError),
    /// A photo that could not be read, upscaled or written (`files::upscale_file`).
    #[error(transparent)]
    Photo(#[from] sesr_photo::PhotoError),
    /// The engine that upscaled a plane failed (see [`sesr_data::UpscaleY`]).
    #[error(transparent)]
    Engine(sesr_data::UpscaleError),
    /// Decoding or colour conversion of an image (the RGB helper).
    #[error(transparent)]
    Data(#[from] sesr_data::DataError),
}

impl RuntimeError {
    /// This error of a network read from `path`, naming the file: sesr-tflite's errors stay
    /// typed (an I/O error as [`RuntimeError::Io`]), a network the runtime cannot run becomes
    /// [`RuntimeError::Model`].
    pub(crate) fn in_file(self, path: &Path) -> Self {
        let path = path.to_path_buf();
        match self {
            Self::Tflite(sesr_tflite::TfliteError::Io { source, .. }) => Self::Io { path, source },
            Self::Tflite(source) => Self::TfliteFile { path, source },
            Self::Network(message) => Self::Model { path, message },
            Self::Net(source @ sesr_net::NetError::InvalidNetwork(_)) => Self::Model {
                path,
                message: source.to_string(),
            },
            other => other,
        }
    }
}
