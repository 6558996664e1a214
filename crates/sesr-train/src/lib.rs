//! sesr-train: the training run around sesr-core's train step.
//!
//! `sesr-core` builds, steps, collapses, saves and runs a SESR; this crate runs the whole
//! training of one: epochs over a `sesr_data::Loader`, validation of the collapsed model after
//! each, the run folder (`sesr_model::run`: configuration, metrics and timings records,
//! `last`/`best` checkpoints) and exact resumption, and data-parallel runs whose ranks sum
//! their gradients through a [`distributed::Collective`] (`sesr-dist` binds MPI).
//!
//! ```no_run
//! use sesr_core::data::{load_pairs, LoadOptions, SamplerConfig, Source, Split};
//! use sesr_core::tch::Device;
//! use sesr_core::{Preset, QuantConfig, TrainingMode};
//! use sesr_train::{TrainConfig, Trainer};
//! use std::sync::Arc;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let source = Source::detect("photos", Split::Train)?;
//! let pairs = load_pairs(&source, 2, &LoadOptions::for_scale(2))?.pairs;
//! let config = TrainConfig {
//!     model: Preset::M5.config(2)?,
//!     mode: TrainingMode::Collapsed,
//!     quant: QuantConfig::default(),
//!     epochs: 10,
//!     learning_rate: 5e-4,
//!     sampler: SamplerConfig::for_scale(2, 0),
//!     steps_per_epoch: None,
//!     init_from: None,
//!     ranks: 1,
//! };
//! let mut trainer = Trainer::create(config, "runs/m5".as_ref(), Device::Cpu)?;
//! trainer.run(Arc::new(pairs.clone()), &pairs[..1], |_| {})?;
//! # Ok(())
//! # }
//! ```

pub mod distributed;
mod error;
pub mod trainer;

pub use error::{Result, TrainError};
pub use trainer::{validate, Progress, TrainConfig, Trainer, Validation};
