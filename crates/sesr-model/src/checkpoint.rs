//! The JSON sidecar of a checkpoint: `model.safetensors` holds the named tensors, `model.json`
//! beside it the format version, the kind (training or collapsed) and the architecture.

use crate::atomic::write_file_atomic;
use crate::names::{collapsed_tensors, training_tensors};
use crate::{ModelError, QuantConfig, Result, SesrConfig, TensorSpec, TrainingMode};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Bumped when the layout of names or the sidecar changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CheckpointKind {
    /// Expanded weights of the training model, the forward mode it trained with and its
    /// quantization-aware training settings.
    Training {
        mode: TrainingMode,
        #[serde(default)]
        quant: QuantConfig,
    },
    /// Collapsed inference weights only (plus quantization ranges after QAT).
    Collapsed {
        #[serde(default)]
        quant: QuantConfig,
    },
}

impl CheckpointKind {
    pub fn quant(&self) -> QuantConfig {
        match *self {
            CheckpointKind::Training { quant, .. } | CheckpointKind::Collapsed { quant } => quant,
        }
    }
}

/// The JSON sidecar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    pub format_version: u32,
    #[serde(flatten)]
    pub kind: CheckpointKind,
    pub config: SesrConfig,
}

impl CheckpointMeta {
    pub fn new(config: SesrConfig, kind: CheckpointKind) -> Self {
        CheckpointMeta {
            format_version: FORMAT_VERSION,
            kind,
            config,
        }
    }

    /// Every tensor the weights file must hold for this sidecar, with its shape.
    pub fn tensors(&self) -> Vec<TensorSpec> {
        match self.kind {
            CheckpointKind::Training { quant, .. } => training_tensors(&self.config, quant),
            CheckpointKind::Collapsed { quant } => collapsed_tensors(&self.config, quant),
        }
    }
}

/// The sidecar that belongs to a weights file: same stem, `.json`.
pub fn sidecar_path(path: &Path) -> PathBuf {
    path.with_extension("json")
}

/// Reads and checks the sidecar of the weights file `path`.
pub fn read_meta(path: &Path) -> Result<CheckpointMeta> {
    let sidecar = sidecar_path(path);
    let text = std::fs::read_to_string(&sidecar).map_err(|source| ModelError::Io {
        action: "read the checkpoint sidecar",
        path: sidecar.clone(),
        source,
    })?;
    let bad = |message: String| ModelError::Sidecar {
        path: sidecar.clone(),
        message,
    };
    let meta: CheckpointMeta = serde_json::from_str(&text)
        .map_err(|e| bad(format!("is not a SESR checkpoint sidecar: {e}")))?;
    if meta.format_version != FORMAT_VERSION {
        return Err(bad(format!(
            "has format version {}, this build reads version {FORMAT_VERSION}",
            meta.format_version
        )));
    }
    match meta.config.validate() {
        Ok(()) => Ok(meta),
        Err(ModelError::InvalidConfig(why)) => {
            Err(bad(format!("describes no runnable SESR: {why}")))
        }
        Err(other) => Err(other),
    }
}

/// Writes the sidecar of the weights file `path`, atomically.
pub fn write_meta(path: &Path, meta: &CheckpointMeta) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(meta).expect("checkpoint metadata always serialises");
    json.push(b'\n');
    write_file_atomic(&sidecar_path(path), &json)
}
