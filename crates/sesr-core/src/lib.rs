//! sesr-core: the SESR network of Bhardwaj et al., "Collapsible Linear Blocks for
//! Super-Efficient Super Resolution" (MLSys 2022), on libtorch through tch.
//!
//! - [`SesrConfig`] and [`Preset`]: the architecture (`m`, `f`, `p`, scale) and the paper's
//!   models, defined in `sesr-model` (re-exported here with the checkpoint formats).
//! - [`Sesr`]: the training model. Its linear blocks hold expanded weights; in
//!   [`TrainingMode::Collapsed`] each forward pass collapses them into small convs first (the
//!   paper's fast training), in [`TrainingMode::Expanded`] it runs them as they are.
//! - [`CollapsedSesr`]: the inference model, collapsed weights and PReLU slopes only.
//! - [`checkpoint`]: safetensors weights plus a JSON sidecar, written atomically.
//! - [`Accounting`]: parameters and MACs as the paper counts them.
//! - [`optim::Adam`] and [`train::train_step`]: the reference's optimizer and one step; on x86
//!   Linux CPUs with AVX-512 the collapsed step runs on this crate's own kernels (`cpu_step`).
//! - [`CollapsedSesr::from_ref`]: any checkpoint or shipped model; [`CollapsedSesr::to_model`]:
//!   the format-neutral network (`sesr-net`) that `sesr-runtime` runs and `sesr-export` writes;
//!   [`calibrated_ranges`]: post-training int8 ranges.
//! - [`infer::upscale_y`]: a Y plane through the collapsed model, tile by tile
//!   ([`infer::TiledSesr`] as a `sesr_data::UpscaleY` engine).
//!
//! The whole training run around the step (epochs, validation, run folders, resume,
//! data-parallel ranks) is `sesr-train`'s.
//!
//! A program that uses it needs no other dependency: [`tch`] and the image and data types of
//! `sesr-data` ([`data`]) are re-exported.
//!
//! ```no_run
//! use sesr_core::{Preset, Sesr, TrainingMode};
//! let model = Sesr::new(Preset::M5.config(2)?, TrainingMode::Collapsed, tch::Device::Cpu)?;
//! let lr = tch::Tensor::rand([1, 1, 64, 64], (tch::Kind::Float, tch::Device::Cpu));
//! let hr = model.forward(&lr)?; // [1, 1, 128, 128]
//! let inference = model.collapse()?;
//! inference.save(std::path::Path::new("sesr_m5_x2.safetensors"))?;
//! # Ok::<(), sesr_core::CoreError>(())
//! ```

pub mod checkpoint;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod cpu_step;
mod error;
pub mod infer;
mod model;
pub mod ops;
pub mod optim;
pub mod prelu;
pub mod train;

// What the public API takes and returns, so that a program can depend on sesr-core alone.
pub use sesr_data as data;
pub use tch;

pub use error::{CoreError, Result};
pub use model::{calibrated_ranges, CollapsedSesr, LinearBlock, ObservedRanges, Sesr};
pub use sesr_collapse::CollapsedConv;
pub use sesr_model::{
    Accounting, ModelError, Preset, QuantConfig, QuantPoint, SesrConfig, TrainingMode,
};
