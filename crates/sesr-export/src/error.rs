//! Errors of an export: each names the model, folder or size at fault and what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// int8 asked of a model that has no quantization ranges and no calibration.
    #[error(
        "{} was not trained with quantization-aware training of weights and activations, so it \
         has no int8 ranges: fine-tune it with QAT (`sesr-cli train --quant-w --quant-a \
         --init-from ...`) and export that checkpoint, or calibrate it on representative \
         images (post-training quantization)",
        model.display()
    )]
    NoInt8Ranges { model: PathBuf },
    /// Calibrated ranges given for a model that carries its own (QAT) ranges, or for a format
    /// that does not use them.
    #[error("{}: {why}; export without calibration images", model.display())]
    UnusedCalibration { model: PathBuf, why: &'static str },
    /// A float format asked of an int8 model.
    #[error(
        "{} is an int8 model, which holds no float32 weights; export the float32 or QAT \
         checkpoint it was made from",
        model.display()
    )]
    FloatFromInt8 { model: PathBuf },
    /// An NPU target asked of a format other than the int8 `.tflite`.
    #[error(
        "the {target} target is for the int8 .tflite (Ethos-U NPUs run integers, through \
         Vela); a {format} export targets CPUs"
    )]
    NpuNeedsInt8 {
        target: &'static str,
        format: &'static str,
    },
    /// A model the exporter cannot read without libtorch, or at all.
    #[error("{}: {why}", model.display())]
    Unsupported { model: PathBuf, why: String },
    /// An output path that names the model being exported (or its sidecar).
    #[error(
        "the output {} would overwrite the checkpoint or model being exported; write the file \
         elsewhere",
        path.display()
    )]
    OverwritesInput { path: PathBuf },
    /// An output whose extension says another format than the one written.
    #[error(
        "the output {} has the wrong extension: the {format} format writes a .{extension} \
         file; name it {}",
        path.display(),
        path.with_extension(extension).display()
    )]
    WrongExtension {
        path: PathBuf,
        format: &'static str,
        extension: &'static str,
    },
    /// The ONNX writer refused the network.
    #[error(transparent)]
    Onnx(#[from] sesr_onnx::OnnxError),
    /// The TFLite writer refused the network at this input size.
    #[error("cannot write a {size} input: {source}")]
    Tflite {
        size: sesr_tflite::InputSize,
        source: sesr_tflite::TfliteError,
    },
    /// The network or its ranges cannot be quantized.
    #[error(transparent)]
    Net(#[from] sesr_net::NetError),
    #[error(transparent)]
    Model(#[from] sesr_model::ModelError),
}

pub type Result<T, E = ExportError> = std::result::Result<T, E>;
