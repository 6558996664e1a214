//! `sesr-cli eval`: PSNR and SSIM of a checkpoint, beside bicubic, on folders of HR images.
//!
//! The protocol is sesr-data's default [`Protocol::YFloat`] (the one that reproduces the
//! published bicubic figures): HR cropped to a multiple of the scale, LR by float bicubic on
//! Y, scores on 8-bit Y with `scale` pixels shaved per border. The network runs tile by tile
//! ([`sesr_core::infer::upscale_y`]), so large images (DIV2K) are fine; images are read one at
//! a time. An int8 `.tflite` export is scored too: sesr-runtime runs its integer network (the
//! same integers LiteRT computes, within one step), at each image's own size.

use crate::upscale::{check_tile, is_tflite, load_model, load_native};
use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use sesr_core::checkpoint::write_atomic;
use sesr_core::infer::upscale_y;
use sesr_core::{CollapsedSesr, CoreError, SesrConfig};
use sesr_data::dataset::list_images;
use sesr_data::metrics::SSIM_WINDOW;
use sesr_data::plane::PlaneF32;
use sesr_data::protocol::{bicubic_baseline, score, EvalImage, Protocol, Scores};
use sesr_runtime::Upscaler;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Model weights (.safetensors): a training or a collapsed checkpoint, with its JSON
    /// sidecar (same name, .json) next to it; or an int8 .tflite export. The scale comes from
    /// the model.
    #[arg(long, value_name = "MODEL.safetensors|MODEL.tflite")]
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

/// The scores of one image.
#[derive(Debug, Serialize)]
struct ImageResult {
    name: String,
    file: PathBuf,
    /// HR size after cropping to a multiple of the scale.
    width: usize,
    height: usize,
    gray: bool,
    bicubic: Scores,
    sesr: Scores,
}

/// One folder: mean scores and the images behind them.
#[derive(Debug, Serialize)]
struct DatasetResult {
    name: String,
    path: PathBuf,
    images: usize,
    bicubic: Scores,
    sesr: Scores,
    per_image: Vec<ImageResult>,
}

/// The document `--json` writes.
#[derive(Debug, Serialize)]
struct Report {
    checkpoint: PathBuf,
    /// The architecture, for a checkpoint (a .tflite file holds weights, not the config).
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<SesrConfig>,
    /// What ran the network.
    engine: &'static str,
    scale: usize,
    protocol: Protocol,
    /// Border shaved on each side before scoring, in HR pixels.
    shave: usize,
    datasets: Vec<DatasetResult>,
}

/// The name a folder goes by in the table: its own name, or `parent/HR` for an `HR` folder.
fn dataset_name(dir: &Path) -> String {
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.display().to_string())
    };
    let own = name(dir);
    match dir.parent() {
        Some(parent) if own.eq_ignore_ascii_case("hr") && parent.file_name().is_some() => {
            format!("{}/{own}", name(parent))
        }
        _ => own,
    }
}

fn mean(scores: impl Iterator<Item = Scores>) -> Scores {
    let (mut psnr, mut ssim, mut n) = (0.0, 0.0, 0usize);
    for s in scores {
        psnr += s.psnr;
        ssim += s.ssim;
        n += 1;
    }
    Scores {
        psnr: psnr / n as f64,
        ssim: ssim / n as f64,
    }
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

    fn upscale_y(&self, lr_y: &PlaneF32, tile: usize) -> Result<PlaneF32> {
        Ok(match self {
            EvalModel::Torch(model) => upscale_y(model, lr_y, tile)?,
            EvalModel::Int8(upscaler) => upscaler.upscale_y(lr_y)?,
        })
    }
}

/// Scores one HR image file with bicubic and with the model.
fn eval_image(model: &EvalModel, file: &Path, tile: usize) -> Result<ImageResult> {
    let scale = model.scale();
    let protocol = Protocol::YFloat;
    let hr = sesr_data::load_image_u8(file)?;
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let image = EvalImage::new(&name, &hr, scale, protocol)?;
    let (width, height) = image.hr.size();
    // The protocol shaves `scale` pixels per border; SSIM needs a full window after that.
    let least = (SSIM_WINDOW + 2 * scale).div_ceil(scale) * scale;
    if width < least || height < least {
        bail!(
            "{} is {}x{}, too small to score at x{scale}: after shaving {scale} pixels per \
             border SSIM needs an {SSIM_WINDOW}x{SSIM_WINDOW} window, so images must be at \
             least {least}x{least}; remove it from the folder",
            file.display(),
            hr.width(),
            hr.height()
        );
    }
    let baseline = bicubic_baseline(&hr, scale, protocol)?;
    let bicubic = score(&baseline.bicubic_y, &baseline.hr_y, scale);
    let sr_y = model.upscale_y(&image.lr_y, tile)?;
    let sesr = image.score(&sr_y);
    Ok(ImageResult {
        name,
        file: file.to_path_buf(),
        width,
        height,
        gray: image.gray,
        bicubic,
        sesr,
    })
}

fn eval_dataset(model: &EvalModel, dir: &Path, tile: usize) -> Result<DatasetResult> {
    let files =
        list_images(dir, "HR image").with_context(|| format!("--data {}", dir.display()))?;
    let name = dataset_name(dir);
    let bar = ProgressBar::new(files.len() as u64).with_prefix(name.clone());
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
        let result = eval_image(model, file, tile)
            .with_context(|| format!("cannot evaluate {}", file.display()));
        match result {
            Ok(r) => per_image.push(r),
            Err(e) => {
                bar.abandon();
                return Err(e);
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(DatasetResult {
        name,
        path: dir.to_path_buf(),
        images: per_image.len(),
        bicubic: mean(per_image.iter().map(|r| r.bicubic)),
        sesr: mean(per_image.iter().map(|r| r.sesr)),
        per_image,
    })
}

fn scores(s: Scores) -> String {
    format!("{:>6.2} dB / {:.4}", s.psnr, s.ssim)
}

fn print_table(report: &Report, per_image: bool) {
    match &report.config {
        Some(c) => println!(
            "SESR m={} f={} p={} x{}  (checkpoint: {})",
            c.m,
            c.int_features,
            c.feature_size,
            c.scale,
            report.checkpoint.display()
        ),
        None => println!(
            "SESR x{}, {}  (model: {})",
            report.scale,
            report.engine,
            report.checkpoint.display()
        ),
    }
    let mut width = report
        .datasets
        .iter()
        .map(|d| d.name.len())
        .chain(std::iter::once("dataset".len()))
        .max()
        .unwrap_or(0);
    if per_image {
        let images = report.datasets.iter().flat_map(|d| &d.per_image);
        width = width.max(images.map(|r| r.name.len() + 2).max().unwrap_or(0));
    }
    println!(
        "{:<width$}  {:>6}  {:>20}  {:>20}",
        "dataset", "images", "bicubic PSNR / SSIM", "SESR PSNR / SSIM"
    );
    for d in &report.datasets {
        println!(
            "{:<width$}  {:>6}  {:>20}  {:>20}",
            d.name,
            d.images,
            scores(d.bicubic),
            scores(d.sesr)
        );
        if per_image {
            for r in &d.per_image {
                println!(
                    "  {:<w$}  {:>6}  {:>20}  {:>20}",
                    r.name,
                    "",
                    scores(r.bicubic),
                    scores(r.sesr),
                    w = width - 2
                );
            }
        }
    }
}

fn write_json(path: &Path, report: &Report) -> Result<()> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    write_atomic(path, |tmp| {
        std::fs::write(tmp, &text).map_err(|source| CoreError::Io {
            action: "write",
            path: tmp.to_path_buf(),
            source,
        })
    })
    .with_context(|| format!("cannot write --json {}", path.display()))
}

pub fn run(args: &EvalArgs) -> Result<()> {
    check_tile(args.tile)?;
    let device = crate::train::parse_device(&args.device)?;
    // Every folder is checked before the (long) evaluation starts.
    for dir in &args.data {
        list_images(dir, "HR image").with_context(|| format!("--data {}", dir.display()))?;
    }
    let model = if is_tflite(&args.checkpoint) {
        if device != tch::Device::Cpu {
            bail!(
                "--device {}: an int8 .tflite runs on the CPU (sesr-runtime); drop --device",
                args.device
            );
        }
        EvalModel::Int8(load_native(&args.checkpoint)?)
    } else {
        EvalModel::Torch(load_model(&args.checkpoint, device)?)
    };
    let datasets = args
        .data
        .iter()
        .map(|dir| eval_dataset(&model, dir, args.tile))
        .collect::<Result<Vec<_>>>()?;
    let report = Report {
        checkpoint: args.checkpoint.clone(),
        config: match &model {
            EvalModel::Torch(m) => Some(*m.config()),
            EvalModel::Int8(_) => None,
        },
        engine: match &model {
            EvalModel::Torch(_) => "float32 on libtorch",
            EvalModel::Int8(_) => "int8 .tflite on sesr-runtime",
        },
        scale: model.scale(),
        protocol: Protocol::YFloat,
        shave: model.scale(),
        datasets,
    };
    print_table(&report, args.per_image);
    if let Some(path) = &args.json {
        write_json(path, &report)?;
        println!("results written to {}", path.display());
    }
    Ok(())
}
