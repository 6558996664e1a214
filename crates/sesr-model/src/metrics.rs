//! The per-epoch records of a training run, one JSON object per line, appended by the trainer
//! after each finished epoch: `metrics.jsonl` holds what the run computed (a pure function of
//! its configuration, so two runs with one seed write the same bytes); `timings.jsonl` holds how
//! fast and how big it ran, which differs from run to run and host to host.

use crate::{ModelError, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Figures of one finished epoch, one line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based number of the finished epoch.
    pub epoch: usize,
    /// Optimizer steps taken since the start of the run.
    pub step: u64,
    /// Mean L1 training loss over the epoch.
    pub train_loss: f64,
    /// The reference code's figure: PSNR of float Y in [0, 1] over whole images.
    pub valid_psnr_reference: f64,
    /// The standard protocol: 8-bit Y, `scale` pixels cropped at each border.
    pub valid_psnr_y8: f64,
}

/// Speed and memory of one finished epoch, one line of `timings.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochTimings {
    /// 1-based number of the finished epoch.
    pub epoch: usize,
    /// Optimizer steps per second of training, validation excluded.
    pub steps_per_second: f64,
    /// Wall time of the whole epoch, validation and checkpoints included.
    pub epoch_seconds: f64,
    /// Peak resident memory of the process so far, in MiB (Linux; 0 elsewhere).
    pub peak_rss_mib: f64,
}

/// Reads a run's `metrics.jsonl` (one JSON object per line; blank lines skipped). An empty
/// file is an error: there is nothing to read before the first epoch has finished.
pub fn read_metrics(path: &Path) -> Result<Vec<EpochMetrics>> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let records = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| ModelError::Metrics {
                path: path.to_path_buf(),
                line: i + 1,
                message: format!(
                    "not a training record ({e}); was it written by `sesr-cli train`?"
                ),
            })
        })
        .collect::<Result<Vec<EpochMetrics>>>()?;
    if records.is_empty() {
        return Err(ModelError::Metrics {
            path: path.to_path_buf(),
            line: 0,
            message: "no epochs recorded yet; plot after the first epoch has finished".into(),
        });
    }
    Ok(records)
}
