//! `sesr-cli eval`: PSNR and SSIM of a checkpoint, beside bicubic, on folders of HR images.
//!
//! The protocol, the report and its table are `sesr-eval`'s. The model runs on sesr-runtime
//! (float32 checkpoints and the integer network of int8 `.tflite` exports, the same integers
//! LiteRT computes within one step) or, with `--engine torch`, on libtorch tile by tile; both
//! take images of any size, read one at a time.

use crate::models::{engine, model_ref, DeviceArg, Engine};
use crate::paths::{check_input, check_output_file};
use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sesr_data::protocol::Protocol;
use sesr_data::UpscaleY;
use sesr_eval::{
    evaluate_image, format_table, list_hr_images, write_report, DatasetResult, EvalReport,
};
use sesr_model::checkpoint::sidecar_path;
use sesr_model::ModelRef;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The model: a checkpoint (.safetensors, training or collapsed, with its JSON sidecar
    /// beside it), an int8 .tflite export, or a shipped model's name,
    /// PRESET[-xSCALE][-qat|-int8] (docs/models.md). The scale comes from the model.
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
    /// What runs the network: native (sesr-runtime, any model) or torch (libtorch: a float or
    /// QAT checkpoint as trained, fake quantization included; needs the `train` feature).
    /// Default: torch for checkpoints when sesr-cli has libtorch, native otherwise.
    #[arg(long, value_enum)]
    engine: Option<Engine>,
    /// cpu, or cuda with --engine torch.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
    /// Side of the low-resolution tiles the network runs on (bounds memory, not the result);
    /// default 512 for torch (which runs tiles of at least 64), sesr-runtime's own choice for
    /// native.
    #[arg(long, allow_negative_numbers = true)]
    tile: Option<usize>,
}

/// Scores every image of `dir`, with a progress bar.
fn eval_dataset(model: &dyn UpscaleY, dir: &Path) -> Result<DatasetResult> {
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
        match evaluate_image(file, model) {
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
    let reference = model_ref("--checkpoint", &args.checkpoint)?;
    // Every folder, and where the results go, are checked before the (long) evaluation.
    for dir in &args.data {
        check_input("--data", dir)?;
        list_hr_images(dir).with_context(|| format!("--data {}", dir.display()))?;
    }
    if let Some(json) = &args.json {
        let sidecar = sidecar_path(&args.checkpoint);
        let inputs: Vec<(&str, &Path)> = match &reference {
            ModelRef::Shipped { .. } => vec![],
            ModelRef::Checkpoint { .. } => vec![
                ("--checkpoint", &args.checkpoint),
                ("--checkpoint's sidecar", &sidecar),
            ],
            ModelRef::Tflite(_) | ModelRef::Onnx(_) => vec![("--checkpoint", &args.checkpoint)],
        };
        check_output_file("--json", json, "eval.json", &inputs)?;
    }
    let chosen = args
        .engine
        .unwrap_or(match cfg!(feature = "train") && !reference.is_int8() {
            true => Engine::Torch,
            false => Engine::Native,
        });
    if chosen == Engine::Native && reference.quant().is_some_and(|q| q.any()) {
        eprintln!(
            "note: sesr-runtime runs a QAT checkpoint on its float weights, without fake \
             quantization; its int8 .tflite export scores the int8 model"
        );
    }
    let tile = match chosen {
        Engine::Torch => Some(args.tile.unwrap_or(512)),
        Engine::Native => args.tile,
    };
    let model = engine("--checkpoint", &reference, chosen, args.device, tile, None)?;
    let datasets = args
        .data
        .iter()
        .map(|dir| eval_dataset(model.as_ref(), dir))
        .collect::<Result<Vec<_>>>()?;
    let config = match &reference {
        ModelRef::Checkpoint { meta, .. } => Some(meta.config),
        ModelRef::Shipped { name, .. } if !reference.is_int8() => {
            Some(name.preset.config(name.scale)?)
        }
        _ => None,
    };
    let report = EvalReport {
        checkpoint: args.checkpoint.clone(),
        config,
        engine: model.engine(),
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
