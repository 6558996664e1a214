//! `sesr-cli export`: a checkpoint as a `.tflite` (float32 or full-integer int8, one input
//! size) or an `.onnx` (float32 or int8 QDQ, any input size).

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use sesr_export::{export_checkpoint, ExportFormat};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// float32 .tflite.
    Float32,
    /// Full-integer .tflite (int8 input, weights, activations, output).
    Int8,
    /// float32 .onnx, any input size.
    Onnx,
    /// int8 .onnx in QDQ form (float input and output), any input size.
    OnnxInt8,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Model weights (.safetensors), training or collapsed, with its JSON sidecar beside it.
    #[arg(long, value_name = "MODEL.safetensors")]
    checkpoint: PathBuf,
    /// float32 or int8 (.tflite), onnx or onnx-int8 (.onnx); the int8 flavours need a
    /// checkpoint trained with --quant-w --quant-a, or --calibration.
    #[arg(long, value_enum)]
    format: Format,
    /// Where to write; default: beside the checkpoint, `<stem>_<format>_<H>x<W>.tflite` or
    /// `<stem>_<format>.onnx`.
    #[arg(long, value_name = "OUT.tflite|OUT.onnx")]
    output: Option<PathBuf>,
    /// Low-resolution input height of a .tflite model (batch 1, one Y channel); default 1080.
    /// ONNX files take any size.
    #[arg(long)]
    tflite_height: Option<usize>,
    /// Low-resolution input width of a .tflite model; default 1920.
    #[arg(long)]
    tflite_width: Option<usize>,
    /// int8 from an FP32 checkpoint: representative images whose activation ranges calibrate
    /// the model (post-training quantization, for users who skip QAT).
    #[arg(long, value_name = "DIR")]
    calibration: Option<PathBuf>,
}

impl From<Format> for ExportFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Float32 => ExportFormat::Float32,
            Format::Int8 => ExportFormat::Int8,
            Format::Onnx => ExportFormat::OnnxFloat32,
            Format::OnnxInt8 => ExportFormat::OnnxInt8,
        }
    }
}

pub fn run(args: &ExportArgs) -> Result<()> {
    let format = ExportFormat::from(args.format);
    if format.is_onnx() && (args.tflite_height.is_some() || args.tflite_width.is_some()) {
        bail!(
            "--tflite-height and --tflite-width size a .tflite model; an ONNX file takes any \
             input size, drop them"
        );
    }
    let size = (
        args.tflite_height
            .unwrap_or(sesr_tflite::sesr::DEFAULT_HEIGHT),
        args.tflite_width
            .unwrap_or(sesr_tflite::sesr::DEFAULT_WIDTH),
    );
    let exported = export_checkpoint(
        &args.checkpoint,
        format,
        args.output.clone(),
        size,
        args.calibration.as_deref(),
    )
    .with_context(|| format!("cannot export --checkpoint {}", args.checkpoint.display()))?;
    println!("{exported}");
    Ok(())
}
