//! Loading the model a `--checkpoint` names, for the subcommands that run one (`eval`,
//! `upscale`, `compare`, `collapse`), with messages that name the flag and the file; and the
//! `--device` and `--tile` checks they share.

use anyhow::{bail, Context, Result};
use sesr_core::checkpoint::{read_meta, sidecar_path, CheckpointKind};
use sesr_core::CollapsedSesr;
use sesr_runtime::Upscaler;
use std::path::Path;
use tch::Device;

/// `--device cpu|cuda` as a libtorch device.
pub fn parse_device(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
        "cuda" => {
            bail!("--device cuda: no CUDA GPU is available to libtorch here; use --device cpu")
        }
        other => bail!("--device {other}: choose cpu or cuda"),
    }
}

/// Rejects `--tile 0` before any work is done.
pub fn check_tile(tile: usize) -> Result<()> {
    if tile == 0 {
        bail!("--tile 0: the tile side must be at least 1 LR pixel (e.g. --tile 256)");
    }
    Ok(())
}

pub fn is_tflite(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tflite"))
}

/// A folder given as `--checkpoint` (a run folder, typically) named as such.
fn refuse_folder(checkpoint: &Path) -> Result<()> {
    if checkpoint.is_dir() {
        bail!(
            "--checkpoint {} is a folder; give a MODEL.safetensors file (a run folder holds \
             best.safetensors and last.safetensors)",
            checkpoint.display()
        );
    }
    Ok(())
}

/// Loads a checkpoint (training or collapsed) as the collapsed inference model on libtorch.
pub fn load_checkpoint(checkpoint: &Path, device: Device) -> Result<CollapsedSesr> {
    if is_tflite(checkpoint) {
        bail!(
            "--checkpoint {} is a .tflite model: this needs the .safetensors checkpoint it was \
             exported from (.tflite files run with `upscale --engine native`, `eval` and \
             `compare`)",
            checkpoint.display()
        );
    }
    refuse_folder(checkpoint)?;
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
pub fn load_upscaler(checkpoint: &Path) -> Result<Upscaler> {
    refuse_folder(checkpoint)?;
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
        let model = load_checkpoint(checkpoint, Device::Cpu)?;
        Ok(Upscaler::from_graph(&sesr_export::graph_of(&model, 1, 1)?)?)
    } else {
        Upscaler::load(checkpoint)
            .with_context(|| format!("loading --checkpoint {}", checkpoint.display()))
    }
}
