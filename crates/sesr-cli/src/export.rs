//! `sesr-cli export`: a checkpoint as a `.tflite` file, float32 or full-integer int8.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use sesr_export::{export_checkpoint, TfliteFormat};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Float32,
    Int8,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Model weights (.safetensors), training or collapsed, with its JSON sidecar beside it.
    #[arg(long, value_name = "MODEL.safetensors")]
    checkpoint: PathBuf,
    /// float32, or int8 (needs a checkpoint trained with --quant-w --quant-a).
    #[arg(long, value_enum)]
    format: Format,
    /// Where to write; default: beside the checkpoint, `<stem>_<format>_<H>x<W>.tflite`.
    #[arg(long, value_name = "OUT.tflite")]
    output: Option<PathBuf>,
    /// Low-resolution input height of the model (batch 1, one Y channel).
    #[arg(long, default_value_t = 1080)]
    tflite_height: usize,
    /// Low-resolution input width.
    #[arg(long, default_value_t = 1920)]
    tflite_width: usize,
    /// int8 from an FP32 checkpoint: representative images whose activation ranges calibrate
    /// the model (post-training quantization, for users who skip QAT).
    #[arg(long, value_name = "DIR")]
    calibration: Option<PathBuf>,
}

impl From<Format> for TfliteFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Float32 => TfliteFormat::Float32,
            Format::Int8 => TfliteFormat::Int8,
        }
    }
}

pub fn run(args: &ExportArgs) -> Result<()> {
    let exported = export_checkpoint(
        &args.checkpoint,
        args.format.into(),
        args.output.clone(),
        (args.tflite_height, args.tflite_width),
        args.calibration.as_deref(),
    )
    .with_context(|| format!("cannot export --checkpoint {}", args.checkpoint.display()))?;
    println!("{exported}");
    Ok(())
}
