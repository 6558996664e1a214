//! `sesr-cli upscale`: upscale an image or a folder of images with a checkpoint.
//!
//! The luminance (BT.601 studio-swing Y) goes through SESR, tile by tile
//! ([`sesr_core::infer::upscale_y`]), so any image size fits in memory; Cb and Cr are upscaled
//! by bicubic and recombined ([`sesr_data::protocol::merge_sr_y`]). Gray images stay gray.

use anyhow::{bail, Context, Result};
use clap::Args;
use sesr_core::checkpoint::sidecar_path;
use sesr_core::infer::upscale_y;
use sesr_core::CollapsedSesr;
use sesr_data::dataset::list_images;
use sesr_data::io::{has_image_extension, save_png};
use sesr_data::protocol::merge_sr_y;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::Device;

#[derive(Args, Debug)]
pub struct UpscaleArgs {
    /// Model weights (.safetensors): a training or a collapsed checkpoint, with its JSON
    /// sidecar (same name, .json) next to it.
    #[arg(long, value_name = "MODEL.safetensors")]
    checkpoint: PathBuf,
    /// An image (png, jpg, jpeg, bmp) or a folder of images (not searched recursively).
    #[arg(long, value_name = "PATH")]
    input: PathBuf,
    /// Output .png for a single image; for a folder input, a folder (created if missing) that
    /// receives `<name>.png` per image.
    #[arg(long, value_name = "PATH")]
    output: PathBuf,
    /// Side of the low-resolution tiles the network runs on (bounds memory, not the result).
    #[arg(long, default_value_t = 256)]
    tile: usize,
    /// cpu or cuda.
    #[arg(long, default_value = "cpu", value_name = "cpu|cuda")]
    device: String,
}

/// Rejects `--tile 0` before any work is done.
pub(crate) fn check_tile(tile: usize) -> Result<()> {
    if tile == 0 {
        bail!("--tile 0: the tile side must be at least 1 LR pixel (e.g. --tile 256)");
    }
    Ok(())
}

/// Loads a checkpoint (training or collapsed) as the collapsed inference model, with messages
/// that name the `--checkpoint` file or its missing sidecar.
pub(crate) fn load_model(checkpoint: &Path, device: Device) -> Result<CollapsedSesr> {
    if !checkpoint.is_file() {
        bail!(
            "--checkpoint {}: no such file (expected MODEL.safetensors with its MODEL.json \
             sidecar next to it)",
            checkpoint.display()
        );
    }
    let sidecar = sidecar_path(checkpoint);
    if !sidecar.is_file() {
        bail!(
            "--checkpoint {}: its JSON sidecar {} is missing; keep the .json written with the \
             weights next to them",
            checkpoint.display(),
            sidecar.display()
        );
    }
    CollapsedSesr::from_checkpoint(checkpoint, device)
        .with_context(|| format!("loading --checkpoint {}", checkpoint.display()))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn is_png_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
}

/// Whether `a` and `b` name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The (input, output) pairs to process, checked before anything runs.
fn plan(input: &Path, output: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let jobs = if input.is_dir() {
        if output.exists() && !output.is_dir() {
            bail!(
                "--output {} is an existing file, but --input {} is a folder; give a folder \
                 for --output (it is created if missing)",
                output.display(),
                input.display()
            );
        }
        let files = list_images(input, "input image")?;
        let mut seen: HashMap<String, &PathBuf> = HashMap::new();
        for file in &files {
            if let Some(other) = seen.insert(stem(file), file) {
                bail!(
                    "--input {}: {} and {} would both be written as {}.png; rename one of them",
                    input.display(),
                    other.display(),
                    file.display(),
                    stem(file)
                );
            }
        }
        files
            .into_iter()
            .map(|f| {
                let out = output.join(format!("{}.png", stem(&f)));
                (f, out)
            })
            .collect()
    } else if input.is_file() {
        if !has_image_extension(input) {
            bail!(
                "--input {} is not a .png, .jpg, .jpeg or .bmp image",
                input.display()
            );
        }
        let out = if output.is_dir() {
            output.join(format!("{}.png", stem(input)))
        } else if is_png_path(output) {
            output.to_path_buf()
        } else {
            bail!(
                "--output {}: upscale writes PNG images; give a path ending in .png or an \
                 existing folder",
                output.display()
            );
        };
        vec![(input.to_path_buf(), out)]
    } else {
        bail!(
            "--input {} does not exist (give an image file or a folder of images)",
            input.display()
        );
    };
    for (input, output) in &jobs {
        if same_file(input, output) {
            bail!(
                "--output would overwrite the input image {}; write to another file or folder",
                input.display()
            );
        }
    }
    Ok(jobs)
}

/// Upscales one image file into one PNG; returns the input and output sizes.
fn upscale_file(
    model: &CollapsedSesr,
    input: &Path,
    output: &Path,
    tile: usize,
) -> Result<((usize, usize), (usize, usize))> {
    let scale = model.config().scale;
    let image = sesr_data::load_image(input)?;
    let sr_y = upscale_y(model, &image.to_y(), tile)?;
    let sr = merge_sr_y(&image, &sr_y, scale)?;
    save_png(output, &sr)?;
    Ok(((image.width(), image.height()), (sr.width(), sr.height())))
}

pub fn run(args: &UpscaleArgs) -> Result<()> {
    check_tile(args.tile)?;
    let device = crate::train::parse_device(&args.device)?;
    let jobs = plan(&args.input, &args.output)?;
    let model = load_model(&args.checkpoint, device)?;
    let folders: std::collections::BTreeSet<&Path> = jobs
        .iter()
        .filter_map(|(_, out)| out.parent())
        .filter(|d| !d.as_os_str().is_empty())
        .collect();
    for dir in folders {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the --output folder {}", dir.display()))?;
    }
    for (input, output) in &jobs {
        let start = Instant::now();
        let ((w, h), (sw, sh)) = upscale_file(&model, input, output, args.tile)
            .with_context(|| format!("cannot upscale {}", input.display()))?;
        let name = input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
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
