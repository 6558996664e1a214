//! `sesr-cli upscale`: upscale an image or a folder of images with a checkpoint.
//!
//! The luminance (BT.601 studio-swing Y) goes through SESR, Cb, Cr and alpha are upscaled by
//! bicubic (colour premultiplied by alpha) and recombined, in bands of rows
//! (`sesr_runtime::files` plans the output of each input, `sesr_photo` does the work); gray
//! images stay gray, photos stay upright with their colour metadata, 16-bit stays 16-bit
//! where the format and the model allow, and the output's extension picks its format.
//! SESR runs on sesr-runtime by default (`--engine native`: fused tiles, SIMD, no libtorch;
//! it also runs the int8 `.tflite` export), or on the tch model (`--engine torch`, tile by
//! tile; also for `--device cuda`; needs the `train` feature). Both fit any image size in
//! bounded memory.

use crate::models::{engine, model_ref, DeviceArg, Engine};
use anyhow::{bail, Context, Result};
use clap::Args;
use sesr_photo::{OutputFormat, WriteOptions};
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
    /// An image (png, jpg, jpeg, webp, tif, tiff, bmp, gif; still images only) or a folder of
    /// images (not searched recursively).
    #[arg(long, value_name = "PATH")]
    input: PathBuf,
    /// The output file for a single image; its extension picks the format: .png, .jpg/.jpeg
    /// (see --quality), .webp (lossless) or .tif/.tiff. For a folder input, a folder (created
    /// if missing) that receives `<name>.png` per image.
    #[arg(long, value_name = "PATH")]
    output: PathBuf,
    /// JPEG quality of a .jpg/.jpeg output, 1 to 100.
    #[arg(long, value_name = "1-100", value_parser = parse_quality)]
    quality: Option<u8>,
    /// Side of the low-resolution tiles the network runs on (bounds memory, not the result);
    /// default 256 for torch (which runs tiles of at least 64), sesr-runtime's own choice for
    /// native.
    #[arg(long, value_name = "PIXELS", allow_negative_numbers = true, value_parser = parse_tile)]
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

/// `--tile`: a whole number of LR pixels, at least 1 (a message of our own, not clap's).
fn parse_tile(value: &str) -> std::result::Result<usize, String> {
    match value.trim().parse::<i64>() {
        Ok(n) if n >= 1 => Ok(n as usize),
        Ok(n) => Err(format!(
            "{n} is not a tile side: give the side of the network's tiles in low-resolution \
             pixels, at least 1 (e.g. --tile 256), or leave --tile out for the default"
        )),
        Err(_) => Err(format!(
            "`{value}` is not a number: give the side of the network's tiles in \
             low-resolution pixels (e.g. --tile 256), or leave --tile out for the default"
        )),
    }
}

/// `--quality`: 1 to 100.
fn parse_quality(value: &str) -> std::result::Result<u8, String> {
    match value.trim().parse::<i64>() {
        Ok(n @ 1..=100) => Ok(n as u8),
        _ => Err(format!(
            "`{value}` is not a JPEG quality: give a whole number from 1 (smallest file) to 100 \
             (best), default {}",
            WriteOptions::DEFAULT_JPEG_QUALITY
        )),
    }
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
    if args.quality.is_some()
        && !jobs
            .iter()
            .any(|j| OutputFormat::from_path(&j.output) == Some(OutputFormat::Jpeg))
    {
        bail!(
            "--quality applies to JPEG output, but --output {} is not written as JPEG; give an \
             output ending in .jpg or .jpeg, or leave --quality out",
            args.output.display()
        );
    }
    let options = WriteOptions {
        jpeg_quality: args.quality.unwrap_or(WriteOptions::DEFAULT_JPEG_QUALITY),
    };
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
        let report = upscale_file(job, model.as_ref(), options)
            .with_context(|| format!("cannot upscale {}", job.input.display()))?;
        let ((w, h), (sw, sh)) = (report.input, report.output);
        let name = job.input.file_name().unwrap_or_default().to_string_lossy();
        for note in &report.notes {
            eprintln!("note: {name}: {note}");
        }
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
