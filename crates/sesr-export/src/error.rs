//! Errors of an export: each names the checkpoint, folder or size at fault and what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// int8 asked of a model that has no quantization ranges and no calibration images.
    #[error(
        "{} was not trained with quantization-aware training of weights and activations, so it \
         has no int8 ranges: fine-tune it with `sesr-cli train --quant-w --quant-a --init-from \
         {}` and export that checkpoint, or pass --calibration DIR with representative images \
         (post-training quantization)",
        checkpoint.display(),
        checkpoint.display()
    )]
    NoInt8Ranges { checkpoint: PathBuf },
    /// Calibration images given for a model that carries its own (QAT) ranges.
    #[error(
        "--calibration: this checkpoint was trained with quantization and carries its own \
         ranges; drop --calibration"
    )]
    CalibrationOfQuantized,
    /// A `.tflite` or `.onnx` file given where a checkpoint is needed.
    #[error(
        "--checkpoint {} is already an exported model; export reads the .safetensors \
         checkpoint it was written from",
        path.display()
    )]
    NotACheckpoint { path: PathBuf },
    /// An output path that names the checkpoint being exported (or its sidecar).
    #[error(
        "--output {} would overwrite the checkpoint being exported; write the model \
         elsewhere",
        path.display()
    )]
    OverwritesInput { path: PathBuf },
    #[error("--tflite-height and --tflite-width must be at least 1, got {height}x{width}")]
    EmptyInput { height: usize, width: usize },
    /// The ONNX writer refused the network.
    #[error(transparent)]
    Onnx(#[from] sesr_onnx::OnnxError),
    /// The TFLite writer refused the graph at this input size.
    #[error("cannot export a {height}x{width} input: {source}")]
    Tflite {
        height: usize,
        width: usize,
        source: sesr_tflite::TfliteError,
    },
    /// A calibration image or folder that cannot be read.
    #[error("--calibration {}: {source}", path.display())]
    Calibration {
        path: PathBuf,
        source: Box<sesr_data::DataError>,
    },
    /// Loading the checkpoint or running the model (boxed: it is large).
    /// Calibration images that cannot give usable int8 ranges.
    #[error(
        "--calibration {}: {why}; calibrate on representative images (for example the training \
         photos), several of them and larger than a 64x64 patch",
        path.display()
    )]
    DegenerateCalibration { path: PathBuf, why: String },
    #[error(transparent)]
    Core(Box<sesr_core::CoreError>),
    #[error(transparent)]
    Model(#[from] sesr_model::ModelError),
    #[error("libtorch: {0}")]
    Tch(#[from] tch::TchError),
}

impl From<sesr_core::CoreError> for ExportError {
    fn from(error: sesr_core::CoreError) -> Self {
        ExportError::Core(Box::new(error))
    }
}

pub type Result<T, E = ExportError> = std::result::Result<T, E>;
