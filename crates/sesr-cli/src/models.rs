//! Loading the model a `--checkpoint` names, for the subcommands that run one (`eval`,
//! `upscale`, `compare`, `collapse`), with messages that name the flag and the file; and the
//! `--device` and `--tile` checks they share.
//!
//! A `--checkpoint` is a file, or the name of a model `sesr-zoo` ships:
//! `PRESET[-xSCALE][-qat|-int8]` (`m5`, `m11-x4`, `m5-x2-int8`; scale 2 when omitted).

use anyhow::{bail, Context, Result};
use sesr_core::checkpoint::{read_meta, sidecar_path, CheckpointKind};
use sesr_core::CollapsedSesr;
use sesr_runtime::Upscaler;
use std::path::{Path, PathBuf};
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

/// Whether the model runs as an int8 `.tflite` (a file, or a shipped `-int8` model).
pub fn is_tflite(path: &Path) -> bool {
    match shipped(path) {
        Some(Ok(zoo)) => zoo.form == Form::Int8,
        _ => path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("tflite")),
    }
}

/// Which of a shipped model's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Float32,
    Qat,
    Int8,
}

/// A shipped model named on the command line.
struct Shipped {
    model: &'static sesr_zoo::Pretrained,
    form: Form,
}

impl Shipped {
    /// How the model is named in messages (as a file would be).
    fn name(&self) -> PathBuf {
        let suffix = match self.form {
            Form::Float32 => "",
            Form::Qat => "-qat",
            Form::Int8 => "-int8",
        };
        PathBuf::from(format!("{}{suffix} (shipped)", self.model.name()))
    }

    fn checkpoint(&self) -> sesr_zoo::Checkpoint {
        match self.form {
            Form::Qat => self.model.qat,
            _ => self.model.float32,
        }
    }
}

/// The shipped model `arg` names, if it is a name (`m5`, `m11-x4-int8`) rather than a path:
/// no folder and no extension, and a preset first. `None` for a path.
fn shipped(arg: &Path) -> Option<Result<Shipped>> {
    let text = arg.to_str()?;
    if text.contains(['/', '\\', '.']) {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let mut parts = lower.split('-');
    let preset = parts.next()?;
    if !sesr_zoo::PRESETS.contains(&preset) {
        return None;
    }
    let resolve = || -> Result<Shipped> {
        let (mut scale, mut form) = (2, Form::Float32);
        for (i, part) in parts.enumerate() {
            match part {
                "x2" | "x4" if i == 0 => scale = if part == "x2" { 2 } else { 4 },
                "qat" if form == Form::Float32 => form = Form::Qat,
                "int8" if form == Form::Float32 => form = Form::Int8,
                _ => bail!(
                    "--checkpoint {text}: a shipped model is named PRESET[-xSCALE][-qat|-int8], \
                     e.g. m5, m11-x4 or m5-x2-int8 (a file needs its extension)"
                ),
            }
        }
        let model =
            sesr_zoo::find(preset, scale).with_context(|| format!("--checkpoint {text}"))?;
        Ok(Shipped { model, form })
    };
    Some(resolve())
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
    if let Some(zoo) = shipped(checkpoint) {
        let zoo = zoo?;
        if zoo.form == Form::Int8 {
            bail!(
                "--checkpoint {}: an int8 model runs on sesr-runtime (`upscale --engine native`, \
                 `eval`, `compare`); name its float32 or -qat form here",
                checkpoint.display()
            );
        }
        let file = zoo.checkpoint();
        return CollapsedSesr::from_bytes(&zoo.name(), file.safetensors, file.sidecar, device)
            .with_context(|| format!("loading --checkpoint {}", checkpoint.display()));
    }
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
    if let Some(zoo) = shipped(checkpoint) {
        let zoo = zoo?;
        let upscaler = match zoo.form {
            Form::Int8 => Upscaler::from_tflite_bytes(&zoo.name(), zoo.model.int8_tflite),
            _ => {
                let file = zoo.checkpoint();
                Upscaler::from_checkpoint_bytes(&zoo.name(), file.safetensors, file.sidecar)
            }
        };
        return upscaler.with_context(|| format!("loading --checkpoint {}", checkpoint.display()));
    }
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
