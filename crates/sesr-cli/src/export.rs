//! `sesr-cli export`: a checkpoint as a `.tflite` file, float32 or full-integer int8.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use sesr_core::checkpoint::write_atomic;
use sesr_core::infer::plane_to_tensor;
use sesr_core::{CollapsedSesr, CoreError, QuantPoint};
use sesr_data::dataset::list_images;
use sesr_data::load_y;
use sesr_tflite::{write_float32, write_int8, ActivationRanges, ConvWeights, Range, SesrGraph};
use std::path::{Path, PathBuf};
use tch::{Device, Kind};

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

/// The graph description sesr-tflite writes, from a collapsed model.
pub fn graph_of(model: &CollapsedSesr, height: usize, width: usize) -> Result<SesrGraph> {
    let convs = model
        .convs()
        .iter()
        .map(|c| {
            let [o, i, k, _] = c.weight.size()[..] else {
                unreachable!("collapsed convs are 4-D")
            };
            Ok(ConvWeights {
                out_channels: o as usize,
                in_channels: i as usize,
                kernel: k as usize,
                weight: Vec::<f32>::try_from(
                    &c.weight
                        .to_device(Device::Cpu)
                        .to_kind(Kind::Float)
                        .flatten(0, -1),
                )?,
                bias: Vec::<f32>::try_from(&c.bias.to_device(Device::Cpu).to_kind(Kind::Float))?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let prelu = match model.quant().uses_relu() {
        true => vec![],
        false => model
            .prelu()
            .iter()
            .map(|s| {
                Ok(Vec::<f32>::try_from(
                    &s.to_device(Device::Cpu).to_kind(Kind::Float),
                )?)
            })
            .collect::<Result<Vec<_>>>()?,
    };
    Ok(SesrGraph {
        scale: model.config().scale,
        height,
        width,
        convs,
        prelu,
    })
}

/// The writer's ranges from per-[`QuantPoint`] `(min, max)` pairs; `input` overrides the
/// input point's range, `block_convs` are the pre-PReLU ranges (empty for ReLU).
pub fn ranges_from(
    points: &[(f64, f64)],
    m: usize,
    input: Option<Range>,
    block_convs: Vec<Range>,
) -> ActivationRanges {
    let at = |point: QuantPoint| {
        let (lo, hi) = points[point.index(m)];
        Range::new(lo as f32, hi as f32)
    };
    let input = input.unwrap_or_else(|| at(QuantPoint::Input));
    ActivationRanges {
        input,
        shifted_input: Range::new(input.min - 0.5, input.max - 0.5),
        input_conv: at(QuantPoint::InputBlock),
        block_convs,
        blocks: (0..m).map(|i| at(QuantPoint::Block(i))).collect(),
        residual_sum: at(QuantPoint::LongResidual),
        output_conv: at(QuantPoint::OutputBlock),
        final_sum: at(QuantPoint::Output),
    }
}

/// The int8 activation ranges of a QAT model (its nudged ranges, point by point).
pub fn qat_ranges(model: &CollapsedSesr, checkpoint: &Path) -> Result<ActivationRanges> {
    let quant = model.quant();
    if !(quant.weights && quant.activations) {
        bail!(
            "{} was not trained with quantization-aware training of weights and activations, so it has no int8 \
             ranges: fine-tune it with `sesr-cli train --quant-w --quant-a --init-from {}` and export that checkpoint, \
             or pass --calibration DIR with representative images (post-training quantization)",
            checkpoint.display(),
            checkpoint.display()
        );
    }
    Ok(ranges_from(
        &model.activation_ranges(),
        model.config().m,
        None,
        vec![],
    ))
}

/// Post-training ranges: the float model's activations over the images of `dir` (Y planes,
/// whole images). The input range is the full `[0, 1]` any image can use.
pub fn calibrated_ranges(model: &CollapsedSesr, dir: &Path) -> Result<ActivationRanges> {
    if model.quant().any() {
        bail!("--calibration: this checkpoint was trained with quantization and carries its own ranges; drop --calibration");
    }
    let files = list_images(dir, "calibration")
        .with_context(|| format!("--calibration {}", dir.display()))?;
    let mut inputs = vec![];
    for file in &files {
        let y = load_y(file).with_context(|| format!("--calibration image {}", file.display()))?;
        inputs.push(plane_to_tensor(&y, Device::Cpu)?);
    }
    let observed = model.observe_ranges(&inputs)?;
    let block_convs = match model.quant().uses_relu() {
        true => vec![],
        false => observed
            .block_convs
            .iter()
            .map(|(lo, hi)| Range::new(*lo as f32, *hi as f32))
            .collect(),
    };
    Ok(ranges_from(
        &observed.points,
        model.config().m,
        Some(Range::new(0.0, 1.0)),
        block_convs,
    ))
}

pub fn run(args: &ExportArgs) -> Result<()> {
    export_checkpoint(
        &args.checkpoint,
        args.format,
        args.output.clone(),
        (args.tflite_height, args.tflite_width),
        args.calibration.as_deref(),
    )
    .map(|_| ())
}

/// Writes `checkpoint` as a `.tflite` of `format` for an LR input of `(height, width)`, at
/// `output` or beside the checkpoint (`<stem>_<format>_<H>x<W>.tflite`); returns the path.
pub fn export_checkpoint(
    checkpoint: &Path,
    format: Format,
    output: Option<PathBuf>,
    (h, w): (usize, usize),
    calibration: Option<&Path>,
) -> Result<PathBuf> {
    if h == 0 || w == 0 {
        bail!("--tflite-height and --tflite-width must be at least 1, got {h}x{w}");
    }
    let model = CollapsedSesr::from_checkpoint(checkpoint, Device::Cpu)
        .with_context(|| format!("--checkpoint {}", checkpoint.display()))?;
    let graph = graph_of(&model, h, w)?;
    let bytes = match format {
        Format::Float32 => write_float32(&graph),
        Format::Int8 => {
            let ranges = match calibration {
                Some(dir) => calibrated_ranges(&model, dir)?,
                None => qat_ranges(&model, checkpoint)?,
            };
            write_int8(&graph, &ranges)
        }
    }
    .with_context(|| format!("cannot export a {h}x{w} input"))?;
    let name = match format {
        Format::Float32 => "float32",
        Format::Int8 => "int8",
    };
    let output = output.unwrap_or_else(|| {
        let stem = checkpoint.file_stem().unwrap_or_default().to_string_lossy();
        checkpoint.with_file_name(format!("{stem}_{name}_{h}x{w}.tflite"))
    });
    write_atomic(&output, |tmp| {
        std::fs::write(tmp, &bytes).map_err(|source| CoreError::Io {
            action: "write",
            path: tmp.to_path_buf(),
            source,
        })
    })?;
    let s = model.config().scale;
    println!(
        "{}: {name}, input 1x{h}x{w}x1 -> output 1x{}x{}x1, {} bytes",
        output.display(),
        h * s,
        w * s,
        bytes.len()
    );
    Ok(output)
}
