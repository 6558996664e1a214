//! sesr-model: what a SESR model *is*, on disk and in words, without libtorch. One definition,
//! shared by the training core (`sesr-core`), the runtime (`sesr-runtime`), the exporters and
//! the reports.
//!
//! - [`Accounting`]: parameters and MACs of an architecture, as the paper counts them.
//! - [`SesrConfig`] and [`Preset`]: the architecture (`m`, `f`, `p`, scale) and the paper's
//!   models (M3, M5, M7, M11, XL); [`TrainingMode`] and [`QuantConfig`], how a model trains.
//! - [`names`]: the tensor names and shapes of training and collapsed checkpoints, and the
//!   activation quantization points ([`QuantPoint`]).
//! - [`checkpoint`]: the JSON sidecar beside every `.safetensors` checkpoint and its version.
//! - [`reference`]: what a model argument names ([`ModelRef`]): a shipped model
//!   ([`ShippedName`], and the files the zoo keeps it in) or a file and what it holds.
//! - [`metrics`]: the per-epoch records of a training run (`metrics.jsonl`, `timings.jsonl`).
//! - [`run`]: the layout and name of a training run's folder.
//! - [`atomic`]: how every file of the project is written (a reader sees the old file or the
//!   new one, never half).
//! - [`winograd`]: the F(4,3) transform both CPU engines apply to the 3x3 kernels.

pub mod accounting;
pub mod atomic;
pub mod checkpoint;
mod config;
pub mod display;
mod error;
pub mod metrics;
pub mod names;
pub mod reference;
pub mod run;
pub mod winograd;

pub use accounting::Accounting;
pub use checkpoint::{CheckpointKind, CheckpointMeta, FORMAT_VERSION};
pub use config::{Preset, QuantConfig, SesrConfig, TrainingMode};
pub use error::{ModelError, Result};
pub use metrics::{EpochMetrics, EpochTimings};
pub use names::{QuantPoint, TensorSpec};
pub use reference::{ModelRef, ShippedForm, ShippedName};
