//! `sesr-cli export`: a checkpoint as a `.tflite` (float32 or full-integer int8, one input
//! size) or an `.onnx` (float32 or int8 QDQ, any input size).

use crate::models::{export_source, model_ref};
use crate::paths::{check_input, check_output_file};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use sesr_export::{check_output, default_output, export, ExportError, ExportFormat, Target};
use sesr_tflite::InputSize;
use std::path::{Path, PathBuf};

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

/// What runs the `.tflite`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// Phones' and PCs' CPUs through LiteRT (XNNPACK): the phase-packed graph, LiteRT's
    /// fastest.
    Cpu,
    /// Arm Ethos-U55 (through Vela): every operator on the NPU, depth-to-space as
    /// TRANSPOSE_CONV. int8 only.
    EthosU55,
    /// Arm Ethos-U65: as ethos-u55. int8 only.
    EthosU65,
    /// Arm Ethos-U85: every operator on the NPU, the output conv split by output row.
    /// int8 only.
    EthosU85,
}

impl From<TargetArg> for Target {
    fn from(target: TargetArg) -> Self {
        match target {
            TargetArg::Cpu => Target::Cpu,
            TargetArg::EthosU55 => Target::EthosU55,
            TargetArg::EthosU65 => Target::EthosU65,
            TargetArg::EthosU85 => Target::EthosU85,
        }
    }
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The model: a checkpoint (.safetensors, training or collapsed, with its JSON sidecar
    /// beside it; a training checkpoint needs the `train` feature), a shipped model's name
    /// (m5, m5-x4-qat, m5-int8; docs/models.md), or an int8 .tflite (to re-export its integers
    /// at another size or as ONNX).
    #[arg(long, value_name = "MODEL.safetensors|NAME|MODEL.tflite")]
    checkpoint: PathBuf,
    /// float32 or int8 (.tflite), onnx or onnx-int8 (.onnx); the int8 flavours need a
    /// checkpoint trained with --quant-w --quant-a, or --calibration.
    #[arg(long, value_enum)]
    format: Format,
    /// Where to write; default: beside the checkpoint (a shipped model: in the working
    /// folder), `<stem>_<format>_<H>x<W>.tflite` or `<stem>_<format>.onnx`.
    #[arg(long, value_name = "OUT.tflite|OUT.onnx")]
    output: Option<PathBuf>,
    /// Low-resolution input height of a .tflite model (batch 1, one Y channel); default 1080.
    /// ONNX files take any size.
    #[arg(long, allow_negative_numbers = true)]
    tflite_height: Option<usize>,
    /// Low-resolution input width of a .tflite model; default 1920.
    #[arg(long, allow_negative_numbers = true)]
    tflite_width: Option<usize>,
    /// What runs the .tflite: cpu (LiteRT; the default), or an Arm Ethos-U NPU, whose int8
    /// file places every operator on the NPU (check it with `sesr-cli npu`). Every target
    /// computes the same integers.
    #[arg(long, value_enum, default_value_t = TargetArg::Cpu)]
    target: TargetArg,
    /// int8 from an FP32 checkpoint: representative images whose activation ranges calibrate
    /// the model (post-training quantization, for users who skip QAT; needs the `train`
    /// feature).
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
    let target = Target::from(args.target);
    if target.is_npu() && format != ExportFormat::Int8 {
        bail!(
            "--target {}: NPUs run the int8 .tflite; add --format int8",
            target.name()
        );
    }
    if format.is_onnx() && (args.tflite_height.is_some() || args.tflite_width.is_some()) {
        bail!(
            "--tflite-height and --tflite-width size a .tflite model; an ONNX file takes any \
             input size, drop them"
        );
    }
    if !format.is_int8() && args.calibration.is_some() {
        bail!(
            "--calibration sets int8 ranges; a {} export has none: drop --calibration or \
             export --format int8 or onnx-int8",
            format.name()
        );
    }
    let size = InputSize::new(
        args.tflite_height.unwrap_or(InputSize::FULL_HD.height),
        args.tflite_width.unwrap_or(InputSize::FULL_HD.width),
    );
    if size.height == 0 || size.width == 0 {
        bail!(
            "--tflite-height and --tflite-width must be at least 1, got {}x{}",
            size.height,
            size.width
        );
    }
    let model = model_ref("--checkpoint", &args.checkpoint)?;
    // The output is checked before any work: its extension, and that it is not the input.
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&model, (format, target), size));
    let default_name = default_output(&model, (format, target), size);
    check_output_file(
        "--output",
        &output,
        &default_name
            .file_name()
            .unwrap_or_default()
            .to_string_lossy(),
        &[],
    )?;
    check_output(&model, format, &output).map_err(|e| match e {
        ExportError::OverwritesInput { .. } => anyhow::anyhow!("--output: {e}"),
        ExportError::WrongExtension { .. } => {
            anyhow::anyhow!("--output: {e}{}", other_format(args.format, &output))
        }
        other => other.into(),
    })?;
    if let Some(dir) = &args.calibration {
        check_input("--calibration", dir)?;
    }
    let (source, calibrated) = export_source(&model, args.calibration.as_deref())?;
    let exported = export(
        &model,
        &source,
        (format, target),
        Some(output),
        size,
        calibrated.as_ref(),
    )
    .map_err(|e| match e {
        ExportError::NoInt8Ranges { .. } => anyhow::anyhow!(
            "{e}: pass --calibration DIR with representative images, or fine-tune with \
             `sesr-cli train --quant-w --quant-a --init-from ...`"
        ),
        other => other.into(),
    })
    .with_context(|| format!("cannot export --checkpoint {}", args.checkpoint.display()))?;
    println!("{exported}");
    Ok(())
}

/// For an output named like the other family of formats (`x.onnx` with `--format int8`), the
/// `--format` that writes it.
fn other_format(format: Format, output: &Path) -> String {
    let onnx = output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    let tflite = output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tflite"));
    let other = match format {
        Format::Float32 if onnx => "onnx",
        Format::Int8 if onnx => "onnx-int8",
        Format::Onnx if tflite => "float32",
        Format::OnnxInt8 if tflite => "int8",
        _ => return String::new(),
    };
    format!(", or give --format {other} for that file")
}
