//! `sesr-cli upscale`: upscale an image or a folder of images with a checkpoint.
//!
//! The luminance (BT.601 studio-swing Y) goes through SESR, Cb and Cr are upscaled by
//! bicubic and recombined (`sesr_runtime::files`, which also plans the output of each input);
//! gray images stay gray.
//! SESR runs on sesr-runtime by default (`--engine native`: fused tiles, SIMD, no libtorch;
//! it also runs the int8 `.tflite` export), or on the tch model (`--engine torch`, tile by
//! tile through [`sesr_core::infer::upscale_y`]; also for `--device cuda`). Both fit any image
//! size in bounded memory.

use crate::models::{check_tile, load_checkpoint, load_upscaler, parse_device};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use sesr_core::infer::upscale_y;
use sesr_core::CollapsedSesr;
use sesr_runtime::files::{create_output_folders, plan_files, upscale_file, FileJob, FileSizes};
use sesr_runtime::Upscaler;
use std::path::PathBuf;
use std::time::Instant;
use tch::Device;

#[derive(Args, Debug)]
pub struct UpscaleArgs {
    /// Model weights (.safetensors): a training or a collapsed checkpoint, with its JSON
    /// sidecar (same name, .json) next to it; with `--engine native` also an int8 .tflite
    /// written by `sesr-cli export --format int8`. Or a shipped model's name,
    /// PRESET[-xSCALE][-qat|-int8] (docs/models.md): m5 (the default) is SESR-M5 x2 float32.
    #[arg(long, value_name = "MODEL.safetensors|NAME", default_value = "m5")]
    checkpoint: PathBuf,
    /// An image (png, jpg, jpeg, bmp) or a folder of images (not searched recursively).
    #[arg(long, value_name = "PATH")]
    input: PathBuf,
    /// Output .png for a single image; for a folder input, a folder (created if missing) that
    /// receives `<name>.png` per image.
    #[arg(long, value_name = "PATH")]
    output: PathBuf,
    /// Side of the low-resolution tiles the network runs on (bounds memory, not the result);
    /// default 256 for torch, sesr-runtime's own choice for native.
    #[arg(long)]
    tile: Option<usize>,
    /// cpu or cuda (cuda needs `--engine torch`).
    #[arg(long, default_value = "cpu", value_name = "cpu|cuda")]
    device: String,
    /// What runs the network: native (sesr-runtime) or torch (libtorch, for comparison).
    #[arg(long, value_enum, default_value_t = Engine::Native)]
    engine: Engine,
    /// Worker threads of the native engine (default: every core).
    #[arg(long)]
    threads: Option<usize>,
}

/// What runs the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// sesr-runtime: pure Rust, fused tiles, SIMD.
    Native,
    /// The tch (libtorch) collapsed model.
    Torch,
}

/// The tile side of the torch engine when `--tile` is not given.
const TORCH_TILE: usize = 256;

/// A loaded model, whichever engine runs it.
enum Model {
    Native(Upscaler),
    Torch { model: CollapsedSesr, tile: usize },
}

impl Model {
    fn scale(&self) -> usize {
        match self {
            Model::Native(upscaler) => upscaler.scale(),
            Model::Torch { model, .. } => model.config().scale,
        }
    }
}

/// The native engine with the `--threads` and `--tile` of `upscale`.
fn load_native(args: &UpscaleArgs) -> Result<Upscaler> {
    let upscaler = load_upscaler(&args.checkpoint)?;
    let upscaler = match args.threads {
        Some(threads) => upscaler.with_threads(threads)?,
        None => upscaler,
    };
    Ok(match args.tile {
        Some(tile) => upscaler.with_tile(tile, Some(tile))?,
        None => upscaler,
    })
}

impl Model {
    fn upscale(&self, job: &FileJob) -> Result<FileSizes> {
        Ok(match self {
            Model::Native(upscaler) => upscale_file(job, self.scale(), |y| upscaler.upscale_y(y))?,
            Model::Torch { model, tile } => {
                upscale_file(job, self.scale(), |y| upscale_y(model, y, *tile))?
            }
        })
    }
}

/// Rejects flag combinations the engines cannot run.
fn check_args(args: &UpscaleArgs, device: Device) -> Result<()> {
    if let Some(tile) = args.tile {
        check_tile(tile)?;
    }
    if args.threads == Some(0) {
        bail!("--threads 0: give at least 1 worker thread (default: every core)");
    }
    if args.engine == Engine::Native && device != Device::Cpu {
        bail!(
            "--device {}: the native engine runs on the CPU; add --engine torch",
            args.device
        );
    }
    if args.engine == Engine::Torch && args.threads.is_some() {
        bail!("--threads sets the native engine's threads; libtorch picks its own");
    }
    Ok(())
}

pub fn run(args: &UpscaleArgs) -> Result<()> {
    let device = parse_device(&args.device)?;
    check_args(args, device)?;
    let jobs = plan_files(&args.input, &args.output).with_context(|| {
        format!(
            "--input {} --output {}",
            args.input.display(),
            args.output.display()
        )
    })?;
    let model = match args.engine {
        Engine::Native => Model::Native(load_native(args)?),
        Engine::Torch => Model::Torch {
            model: load_checkpoint(&args.checkpoint, device)?,
            tile: args.tile.unwrap_or(TORCH_TILE),
        },
    };
    create_output_folders(&jobs).context("cannot create the --output folder")?;
    for job in &jobs {
        let start = Instant::now();
        let sizes = model
            .upscale(job)
            .with_context(|| format!("cannot upscale {}", job.input.display()))?;
        let ((w, h), (sw, sh)) = (sizes.input, sizes.output);
        let name = job.input.file_name().unwrap_or_default().to_string_lossy();
        println!(
            "{name}: {w}x{h} -> {sw}x{sh}, {} ms",
            start.elapsed().as_millis()
        );
    }
    if args.input.is_dir() {
        let plural = if jobs.len() == 1 { "" } else { "s" };
        println!(
            "{} image{plural} written to {}",
            jobs.len(),
            args.output.display()
        );
    }
    Ok(())
}
