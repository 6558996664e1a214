//! Model arguments in the words of the flags: `--checkpoint` and `--model` become a
//! [`ModelRef`] (parsed by `sesr-model`), a runnable engine or an export source (loaded by the
//! libraries), with messages that name the flag, and the `--device`, `--engine` and `--tile`
//! checks the subcommands share. Nothing here parses a name or opens a file itself.
//!
//! A training checkpoint needs libtorch to collapse: a sesr-cli built without the `train`
//! feature says so.

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use sesr_data::UpscaleY;
use sesr_export::ExportSource;
use sesr_model::{CheckpointKind, ModelRef};
use sesr_runtime::Upscaler;
use std::path::Path;

/// What a sesr-cli built without libtorch says of a request that needs it.
#[cfg(not(feature = "train"))]
pub const NEEDS_TRAIN: &str = "this sesr-cli was built without libtorch; build it with the \
                               `train` feature (the default: `cargo install --path \
                               crates/sesr-cli`)";

/// The model a flag names, parsed; a local file that a shipped name shadows gets a warning.
pub fn model_ref(flag: &str, text: &Path) -> Result<ModelRef> {
    let model = ModelRef::parse(&text.to_string_lossy()).with_context(|| flag.to_string())?;
    if let ModelRef::Shipped {
        name,
        shadows: Some(file),
    } = &model
    {
        eprintln!(
            "warning: {flag} {}: the shipped model {name} is used, not the file of that name \
             here; write ./{} for the file",
            file.display(),
            file.display()
        );
    }
    Ok(model)
}

/// `--device cpu|cuda`, checked before any work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    Cpu,
    Cuda,
}

/// What runs the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// sesr-runtime: pure Rust, fused tiles, SIMD; float32 models and int8 .tflite.
    Native,
    /// The tch (libtorch) collapsed model, tile by tile: float32 models, on the CPU or CUDA.
    Torch,
}

/// The libtorch device of `--device`.
#[cfg(feature = "train")]
pub fn torch_device(device: DeviceArg) -> Result<tch::Device> {
    match device {
        DeviceArg::Cpu => Ok(tch::Device::Cpu),
        DeviceArg::Cuda if tch::Cuda::is_available() => Ok(tch::Device::Cuda(0)),
        DeviceArg::Cuda => {
            bail!("--device cuda: no CUDA GPU is available to libtorch here; use --device cpu")
        }
    }
}

/// Rejects `--tile 0` before any work is done.
pub fn check_tile(tile: usize) -> Result<()> {
    if tile == 0 {
        bail!("--tile 0: the tile side must be at least 1 LR pixel (e.g. --tile 256)");
    }
    Ok(())
}

/// The model on sesr-runtime. A training checkpoint is collapsed by sesr-core first.
pub fn native(flag: &str, model: &ModelRef) -> Result<Upscaler> {
    let context = || format!("loading {flag} {}", model.display_name().display());
    if is_training_checkpoint(model) {
        #[cfg(feature = "train")]
        {
            let collapsed = sesr_core::CollapsedSesr::from_ref(model, tch::Device::Cpu)
                .and_then(|m| m.to_model())
                .with_context(context)?;
            return Ok(Upscaler::from_network(&collapsed.network)?.with_name(model.display_name()));
        }
    }
    Upscaler::load_ref(model).with_context(context)
}

/// The model on libtorch, on `device`.
#[cfg(feature = "train")]
pub fn torch(flag: &str, model: &ModelRef, device: DeviceArg) -> Result<sesr_core::CollapsedSesr> {
    // Implausible weights are refused at load, naming the file, as the native engine does.
    sesr_core::CollapsedSesr::from_ref(model, torch_device(device)?)
        .and_then(|m| {
            m.to_model()?.network.validate()?;
            Ok(m)
        })
        .with_context(|| format!("loading {flag} {}", model.display_name().display()))
}

/// The model as an engine of `engine`'s kind: `threads` and `tile` for the native engine, `tile`
/// (default 256) and `device` for torch.
pub fn engine(
    flag: &str,
    model: &ModelRef,
    engine: Engine,
    device: DeviceArg,
    tile: Option<usize>,
    threads: Option<usize>,
) -> Result<Box<dyn UpscaleY>> {
    if let Some(tile) = tile {
        check_tile(tile)?;
    }
    // A missing GPU is said first: naming another engine would not help.
    #[cfg(feature = "train")]
    if device == DeviceArg::Cuda {
        torch_device(device)?;
    }
    match engine {
        Engine::Native => {
            if device != DeviceArg::Cpu {
                bail!("--device cuda: the native engine runs on the CPU; add --engine torch");
            }
            let mut upscaler = native(flag, model)?;
            if let Some(threads) = threads {
                upscaler = upscaler.with_threads(threads)?;
            }
            if let Some(tile) = tile {
                upscaler = upscaler.with_tile(tile, Some(tile))?;
            }
            Ok(Box::new(upscaler))
        }
        Engine::Torch => {
            if threads.is_some() {
                bail!("--threads sets the native engine's threads; libtorch picks its own");
            }
            if model.is_int8() {
                bail!(
                    "{flag} {}: an int8 model runs on sesr-runtime: use --engine native (the \
                     default)",
                    model.display_name().display()
                );
            }
            #[cfg(feature = "train")]
            {
                Ok(Box::new(sesr_core::infer::TiledSesr {
                    model: torch(flag, model, device)?,
                    tile: tile.unwrap_or(256),
                }))
            }
            #[cfg(not(feature = "train"))]
            {
                let _ = device;
                bail!("--engine torch: {NEEDS_TRAIN}")
            }
        }
    }
}

/// What `export` reads from the model, and the ranges `--calibration` observed (post-training
/// quantization) when given. Training checkpoints and calibration run on libtorch.
pub fn export_source(
    model: &ModelRef,
    calibration: Option<&Path>,
) -> Result<(ExportSource, Option<sesr_net::ActivationRanges>)> {
    let context = || format!("--checkpoint {}", model.display_name().display());
    if calibration.is_none() && !is_training_checkpoint(model) {
        return Ok((ExportSource::load(model).with_context(context)?, None));
    }
    #[cfg(feature = "train")]
    {
        let collapsed =
            sesr_core::CollapsedSesr::from_ref(model, tch::Device::Cpu).with_context(context)?;
        let calibrated = match calibration {
            Some(dir) => Some(
                sesr_core::calibrated_ranges(&collapsed, dir)
                    .with_context(|| format!("--calibration {}", dir.display()))?,
            ),
            None => None,
        };
        Ok((ExportSource::Float(collapsed.to_model()?), calibrated))
    }
    #[cfg(not(feature = "train"))]
    {
        match calibration {
            Some(_) => {
                bail!("--calibration: post-training calibration runs on libtorch; {NEEDS_TRAIN}")
            }
            None => bail!(
                "{}: a training checkpoint is collapsed on libtorch; {NEEDS_TRAIN} (or give \
                 the collapsed checkpoint `sesr-cli collapse` writes)",
                context()
            ),
        }
    }
}

fn is_training_checkpoint(model: &ModelRef) -> bool {
    matches!(
        model,
        ModelRef::Checkpoint { meta, .. } if matches!(meta.kind, CheckpointKind::Training { .. })
    )
}
