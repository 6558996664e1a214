//! `sesr-cli eval`: PSNR and SSIM of a checkpoint, beside bicubic, on folders of HR images.
//!
//! The protocol, the report and its table are `sesr-eval`'s. A checkpoint runs on libtorch
//! tile by tile ([`sesr_core::infer::upscale_y`]), so large images (DIV2K) are fine; images
//! are read one at a time. An int8 `.tflite` export is scored too: sesr-runtime runs its
//! integer network (the same integers LiteRT computes, within one step), at each image's own
//! size.

use crate::models::{check_tile, is_tflite, load_checkpoint, load_upscaler, parse_device};
use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sesr_core::infer::upscale_y;
use sesr_core::CollapsedSesr;
use sesr_data::protocol::Protocol;
use sesr_eval::{
    evaluate_image, format_table, list_hr_images, write_report, DatasetResult, EvalReport,
    ImageResult,
};
use sesr_runtime::Upscaler;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Model weights (.safetensors): a training or a collapsed checkpoint, with its JSON
    /// sidecar (same name, .json) next to it; or an int8 .tflite export; or a shipped model's
    /// name, PRESET[-xSCALE][-qat|-int8] (docs/models.md). The scale comes from the model.
    #[arg(long, value_name = "MODEL.safetensors|MODEL.tflite|NAME")]
    checkpoint: PathBuf,
    /// A folder of HR images (Set5, Set14, BSD100, Urban100, DIV2K_valid_HR, ...); repeat the
    /// flag for several.
    #[arg(long = "data", required = true, value_name = "DIR")]
    data: Vec<PathBuf>,
    /// Also write the results (means and per-image values) to this JSON file.
    #[arg(long, value_name = "OUT.json")]
    json: Option<PathBuf>,
    /// Print a row per image under each dataset.
    #[arg(long)]
    per_image: bool,
    /// cpu or cuda.
    #[arg(long, default_value = "cpu", value_name = "cpu|cuda")]
    device: String,
    /// Side of the low-resolution tiles the network runs on (bounds memory, not the result).
    #[arg(long, default_value_t = 512)]
    tile: usize,
}

/// The model under evaluation: a checkpoint on libtorch, or an int8 .tflite on sesr-runtime.
enum EvalModel {
    Torch(CollapsedSesr),
    Int8(Upscaler),
}

impl EvalModel {
    fn scale(&self) -> usize {
        match self {
            EvalModel::Torch(model) => model.config().scale,
            EvalModel::Int8(upscaler) => upscaler.scale(),
        }
    }

    fn evaluate(&self, file: &Path, tile: usize) -> sesr_eval::Result<ImageResult> {
        let scale = self.scale();
        match self {
            EvalModel::Torch(model) => evaluate_image(file, scale, |y| upscale_y(model, y, tile)),
            EvalModel::Int8(upscaler) => evaluate_image(file, scale, |y| upscaler.upscale_y(y)),
        }
    }
}

/// Scores every image of `dir`, with a progress bar.
fn eval_dataset(model: &EvalModel, dir: &Path, tile: usize) -> Result<DatasetResult> {
    let files = list_hr_images(dir).with_context(|| format!("--data {}", dir.display()))?;
    let bar = ProgressBar::new(files.len() as u64).with_prefix(sesr_eval::dataset_name(dir));
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid progress template")
            .progress_chars("=> "),
    );
    let mut per_image = Vec::with_capacity(files.len());
    for file in &files {
        bar.set_message(
            file.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
        );
        match model.evaluate(file, tile) {
            Ok(result) => per_image.push(result),
            Err(e) => {
                bar.abandon();
                return Err(e).with_context(|| format!("cannot evaluate {}", file.display()));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(DatasetResult::new(dir, per_image))
}

pub fn run(args: &EvalArgs) -> Result<()> {
    check_tile(args.tile)?;
    let device = parse_device(&args.device)?;
    // Every folder is checked before the (long) evaluation starts.
    for dir in &args.data {
        list_hr_images(dir).with_context(|| format!("--data {}", dir.display()))?;
    }
    let model = if is_tflite(&args.checkpoint) {
        if device != tch::Device::Cpu {
            bail!(
                "--device {}: an int8 .tflite runs on the CPU (sesr-runtime); drop --device",
                args.device
            );
        }
        EvalModel::Int8(load_upscaler(&args.checkpoint)?)
    } else {
        EvalModel::Torch(load_checkpoint(&args.checkpoint, device)?)
    };
    let datasets = args
        .data
        .iter()
        .map(|dir| eval_dataset(&model, dir, args.tile))
        .collect::<Result<Vec<_>>>()?;
    let report = EvalReport {
        checkpoint: args.checkpoint.clone(),
        config: match &model {
            EvalModel::Torch(m) => Some(*m.config()),
            EvalModel::Int8(_) => None,
        },
        engine: match &model {
            EvalModel::Torch(_) => "float32 on libtorch",
            EvalModel::Int8(_) => "int8 .tflite on sesr-runtime",
        }
        .to_string(),
        scale: model.scale(),
        protocol: Protocol::YFloat,
        shave: model.scale(),
        datasets,
    };
    print!("{}", format_table(&report, args.per_image));
    if let Some(path) = &args.json {
        write_report(path, &report)
            .with_context(|| format!("cannot write --json {}", path.display()))?;
        println!("results written to {}", path.display());
    }
    Ok(())
}
