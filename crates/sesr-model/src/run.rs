//! The layout of a training run's folder, defined once for the trainer, the command line, the
//! pipelines and the reports:
//!
//! ```text
//! <out>/SESR_m5_f16_x2_fs256_collapsedTraining_FP32/   run_name(): the reference's naming
//!     config.json        the training configuration, written first; resuming rebuilds from it
//!     metrics.jsonl      one EpochMetrics line per finished epoch
//!     timings.jsonl      one EpochTimings line per finished epoch
//!     last.safetensors   (+ .json) training checkpoint after the latest epoch
//!     best.safetensors   (+ .json) at the best validation PSNR (standard protocol)
//!     resume.safetensors weights, optimizer state and counters: its rename commits an epoch
//! ```

use crate::{SesrConfig, TrainingMode};
use std::path::{Path, PathBuf};

/// The training configuration.
pub const CONFIG: &str = "config.json";
/// The computed per-epoch records (the same bytes for the same seed and data).
pub const METRICS: &str = "metrics.jsonl";
/// The speed and memory per-epoch records.
pub const TIMINGS: &str = "timings.jsonl";
/// The checkpoint after the latest epoch.
pub const LAST: &str = "last.safetensors";
/// The checkpoint at the best validation PSNR.
pub const BEST: &str = "best.safetensors";
/// Weights, optimizer state and counters of the latest finished epoch.
pub const RESUME: &str = "resume.safetensors";

/// The reference's name stem of a model, e.g. `SESR_m5_f16_x2_fs256`.
pub fn stem(model_name: &str, config: &SesrConfig) -> String {
    format!(
        "{model_name}_m{}_f{}_x{}_fs{}",
        config.m, config.int_features, config.scale, config.feature_size
    )
}

/// The reference's run folder name, e.g. `SESR_m5_f16_x2_fs256_collapsedTraining_FP32`.
pub fn run_name(
    model_name: &str,
    config: &SesrConfig,
    mode: TrainingMode,
    quantized: bool,
) -> String {
    format!(
        "{}_{}Training_{}",
        stem(model_name, config),
        mode.name(),
        if quantized { "QAT" } else { "FP32" }
    )
}

/// A run folder and the paths of its files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDir(PathBuf);

impl RunDir {
    /// The run folder at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self(path.into())
    }

    /// The folder itself.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.0.join(CONFIG)
    }

    /// `metrics.jsonl`.
    pub fn metrics(&self) -> PathBuf {
        self.0.join(METRICS)
    }

    /// `timings.jsonl`.
    pub fn timings(&self) -> PathBuf {
        self.0.join(TIMINGS)
    }

    /// `last.safetensors`.
    pub fn last(&self) -> PathBuf {
        self.0.join(LAST)
    }

    /// `best.safetensors`.
    pub fn best(&self) -> PathBuf {
        self.0.join(BEST)
    }

    /// `resume.safetensors`.
    pub fn resume(&self) -> PathBuf {
        self.0.join(RESUME)
    }

    /// Whether a run has committed an epoch here.
    pub fn has_progress(&self) -> bool {
        self.resume().exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_reference() {
        let config = SesrConfig::new(5, 16, 256, 2).unwrap();
        assert_eq!(stem("SESR", &config), "SESR_m5_f16_x2_fs256");
        assert_eq!(
            run_name("SESR", &config, TrainingMode::Collapsed, false),
            "SESR_m5_f16_x2_fs256_collapsedTraining_FP32"
        );
        assert_eq!(
            run_name("SESR", &config, TrainingMode::Expanded, true),
            "SESR_m5_f16_x2_fs256_expandedTraining_QAT"
        );
        let run = RunDir::new("runs/x");
        assert_eq!(run.best(), Path::new("runs/x/best.safetensors"));
        assert_eq!(run.metrics(), Path::new("runs/x/metrics.jsonl"));
    }
}
