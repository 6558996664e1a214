//! `sesr-cli upscale`: upscale an image or a folder of images with a checkpoint.
//!
//! The luminance (BT.601 studio-swing Y) goes through SESR, Cb and Cr are upscaled by
//! bicubic and recombined (`sesr_runtime::files`, which also plans the output of each input);
//! gray images stay gray.
//! SESR runs on sesr-runtime by default (`--engine native`: fused tiles, SIMD, no libtorch;
//! it also runs the int8 `.tflite` export), or on the tch model (`--engine torch`, tile by
//! tile; also for `--device cuda`; needs the `train` feature). Both fit any image size in
//! bounded memory.

use crate::models::{engine, model_ref, DeviceArg, Engine};
use anyhow::{bail, Context, Result};
use clap::Args;
use sesr_runtime::files::{create_output_folders, plan_files, upscale_file};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct UpscaleArgs {
    /// The model: a checkpoint (.safetensors, training or collapsed, with its JSON sidecar
    /// beside it), an int8 .tflite written by `sesr-cli export --format int8`, or a shipped
    /// model's name, PRESET[-xSCALE][-qat|-int8] (docs/models.md): m5 (the default) is SESR-M5
    /// x2 float32.
    #[arg(
        long,
        value_name = "MODEL.safetensors|MODEL.tflite|NAME",
        default_value = "m5"
    )]
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
    /// cpu, or cuda with --engine torch.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
    /// What runs the network: native (sesr-runtime) or torch (libtorch, for comparison; needs
    /// the `train` feature).
    #[arg(long, value_enum, default_value_t = Engine::Native)]
    engine: Engine,
    /// Worker threads of the native engine (default: every core).
    #[arg(long)]
    threads: Option<usize>,
}

pub fn run(args: &UpscaleArgs) -> Result<()> {
    if args.threads == Some(0) {
        bail!("--threads 0: give at least 1 worker thread (default: every core)");
    }
    let reference = model_ref("--checkpoint", &args.checkpoint)?;
    let jobs = plan_files(&args.input, &args.output).with_context(|| {
        format!(
            "--input {} --output {}",
            args.input.display(),
            args.output.display()
        )
    })?;
    let model = engine(
        "--checkpoint",
        &reference,
        args.engine,
        args.device,
        args.tile,
        args.threads,
    )?;
    create_output_folders(&jobs).context("cannot create the --output folder")?;
    for job in &jobs {
        let start = Instant::now();
        let sizes = upscale_file(job, model.as_ref())
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
