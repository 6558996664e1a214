//! Reading the per-epoch records of a training run.

use crate::error::{ReportError, Result};
use serde::Deserialize;
use std::path::Path;

/// One line of `metrics.jsonl`: the fields the curves need (the file has more).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct EpochRecord {
    pub epoch: usize,
    pub step: u64,
    /// Mean L1 training loss over the epoch.
    pub train_loss: f64,
    /// Validation PSNR on 8-bit Y with a `scale`-pixel border, in dB.
    #[serde(rename = "valid_psnr_y8")]
    pub valid_psnr: f64,
}

/// Reads a run's `metrics.jsonl` (one JSON object per line; blank lines skipped).
pub fn read_metrics(path: &Path) -> Result<Vec<EpochRecord>> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let records = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| ReportError::Metrics {
                path: path.to_path_buf(),
                line: i + 1,
                message: format!(
                    "not a training record ({e}); was it written by `sesr-cli train`?"
                ),
            })
        })
        .collect::<Result<Vec<EpochRecord>>>()?;
    if records.is_empty() {
        return Err(ReportError::Metrics {
            path: path.to_path_buf(),
            line: 0,
            message: "no epochs recorded yet; plot after the first epoch has finished".into(),
        });
    }
    Ok(records)
}
