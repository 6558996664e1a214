//! `sesr-cli upscale`: upscale an image or a folder of images with a checkpoint.
//!
//! The luminance (BT.601 studio-swing Y) goes through SESR, Cb and Cr are upscaled by
//! bicubic and recombined ([`sesr_runtime::upscale_image_with`]); gray images stay gray.
//! SESR runs on sesr-runtime by default (`--engine native`: fused tiles, SIMD, no libtorch;
//! it also runs the int8 `.tflite` export), or on the tch model (`--engine torch`, tile by
//! tile through [`sesr_core::infer::upscale_y`]; also for `--device cuda`). Both fit any image
//! size in bounded memory.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use sesr_core::checkpoint::{read_meta, sidecar_path, CheckpointKind};
use sesr_core::infer::upscale_y;
use sesr_core::CollapsedSesr;
use sesr_data::dataset::list_images;
use sesr_data::io::{has_image_extension, save_png};
use sesr_runtime::{upscale_image_with, Upscaler};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::Device;

#[derive(Args, Debug)]
pub struct UpscaleArgs {
    /// Model weights (.safetensors): a training or a collapsed checkpoint, with its JSON
    /// sidecar (same name, .json) next to it; with `--engine native` also an int8 .tflite
    /// written by `sesr-cli export --format int8`.
    #[arg(long, value_name = "MODEL.safetensors")]
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

/// Rejects `--tile 0` before any work is done.
pub(crate) fn check_tile(tile: usize) -> Result<()> {
    if tile == 0 {
        bail!("--tile 0: the tile side must be at least 1 LR pixel (e.g. --tile 256)");
    }
    Ok(())
}

pub(crate) fn is_tflite(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tflite"))
}

/// Loads a checkpoint (training or collapsed) as the collapsed inference model, with messages
/// that name the `--checkpoint` file or its missing sidecar.
pub(crate) fn load_model(checkpoint: &Path, device: Device) -> Result<CollapsedSesr> {
    if is_tflite(checkpoint) {
        bail!(
            "--checkpoint {}: a .tflite model runs with `--engine native` only; give the \
             .safetensors checkpoint it was exported from",
            checkpoint.display()
        );
    }
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

/// Loads a `--checkpoint` for sesr-runtime: an int8 `.tflite`, a collapsed checkpoint, or a
/// training checkpoint, which is collapsed here with sesr-core first (sesr-runtime reads
/// collapsed checkpoints only).
pub(crate) fn load_native(checkpoint: &Path) -> Result<Upscaler> {
    if is_tflite(checkpoint) {
        return Upscaler::load(checkpoint)
            .with_context(|| format!("loading --checkpoint {}", checkpoint.display()));
    }
    let sidecar_exists = sidecar_path(checkpoint).is_file();
    let training = sidecar_exists
        && matches!(
            read_meta(checkpoint).map(|m| m.kind),
            Ok(CheckpointKind::Training { .. })
        );
    if training || !checkpoint.is_file() || !sidecar_exists {
        // The torch loader names a missing file or sidecar as the torch engine does.
        let model = load_model(checkpoint, Device::Cpu)?;
        Ok(Upscaler::from_graph(&crate::export::graph_of(
            &model, 1, 1,
        )?)?)
    } else {
        Upscaler::load(checkpoint)
            .with_context(|| format!("loading --checkpoint {}", checkpoint.display()))
    }
}

/// [`load_native`] with the `--threads` and `--tile` of `upscale`.
fn load_native_for(args: &UpscaleArgs) -> Result<Upscaler> {
    let upscaler = load_native(&args.checkpoint)?;
    let upscaler = match args.threads {
        Some(threads) => upscaler.with_threads(threads)?,
        None => upscaler,
    };
    Ok(match args.tile {
        Some(tile) => upscaler.with_tile(tile, Some(tile))?,
        None => upscaler,
    })
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
    model: &Model,
    input: &Path,
    output: &Path,
) -> Result<((usize, usize), (usize, usize))> {
    let image = sesr_data::load_image(input)?;
    let sr = upscale_image_with(&image, model.scale(), |y| -> Result<_> {
        Ok(match model {
            Model::Native(upscaler) => upscaler.upscale_y(y)?,
            Model::Torch { model, tile } => upscale_y(model, y, *tile)?,
        })
    })?;
    save_png(output, &sr)?;
    Ok(((image.width(), image.height()), (sr.width(), sr.height())))
}

pub fn run(args: &UpscaleArgs) -> Result<()> {
    if let Some(tile) = args.tile {
        check_tile(tile)?;
    }
    if args.threads == Some(0) {
        bail!("--threads 0: give at least 1 worker thread (default: every core)");
    }
    let device = crate::train::parse_device(&args.device)?;
    if args.engine == Engine::Native && device != Device::Cpu {
        bail!(
            "--device {}: the native engine runs on the CPU; add --engine torch",
            args.device
        );
    }
    if args.engine == Engine::Torch && args.threads.is_some() {
        bail!("--threads sets the native engine's threads; libtorch picks its own");
    }
    let jobs = plan(&args.input, &args.output)?;
    let model = match args.engine {
        Engine::Native => Model::Native(load_native_for(args)?),
        Engine::Torch => Model::Torch {
            model: load_model(&args.checkpoint, device)?,
            tile: args.tile.unwrap_or(TORCH_TILE),
        },
    };
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
        let ((w, h), (sw, sh)) = upscale_file(&model, input, output)
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
