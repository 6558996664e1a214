//! The JSON sidecar of a checkpoint: `model.safetensors` holds the named tensors, `model.json`
//! beside it the format version, the kind (training or collapsed) and the architecture.

use crate::atomic::write_file_atomic;
use crate::names::{collapsed_tensors, training_tensors};
use crate::{ModelError, QuantConfig, Result, SesrConfig, TensorSpec, TrainingMode};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
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
    parse_meta(&text, &sidecar)
}

/// Parses and checks a sidecar's text; `sidecar` names it in errors.
pub fn parse_meta(text: &str, sidecar: &Path) -> Result<CheckpointMeta> {
    let bad = |message: String| ModelError::Sidecar {
        path: sidecar.to_path_buf(),
        message,
    };
    let meta: CheckpointMeta = serde_json::from_str(text)
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

/// The architecture a sidecar describes, in words, for messages.
fn describe(meta: &CheckpointMeta) -> String {
    let c = &meta.config;
    let kind = match meta.kind {
        CheckpointKind::Training { .. } => "training",
        CheckpointKind::Collapsed { .. } => "collapsed",
    };
    let quant = meta.kind.quant();
    let qat = match (quant.weights, quant.activations) {
        (true, true) => ", QAT of weights and activations",
        (true, false) => ", QAT of weights",
        (false, true) => ", QAT of activations",
        (false, false) => "",
    };
    format!(
        "{kind} SESR m={} f={} p={} x{}{qat}",
        c.m, c.int_features, c.feature_size, c.scale
    )
}

/// Checks that the weights file `path` holds exactly the tensors its sidecar describes: every
/// name, none missing and none extra, each with its shape. `found` lists the file's tensors
/// as `(name, shape)`. A sidecar edited or swapped for another model's fails here, naming the
/// file and the first tensor that does not fit, instead of loading a truncated network.
pub fn check_tensors<'a>(
    path: &Path,
    meta: &CheckpointMeta,
    found: impl IntoIterator<Item = (&'a str, Vec<usize>)>,
) -> Result<()> {
    let found: BTreeMap<&str, Vec<usize>> = found.into_iter().collect();
    let bad = |message: String| ModelError::Weights {
        path: path.to_path_buf(),
        message,
    };
    let specs = meta.tensors();
    for spec in &specs {
        match found.get(spec.name.as_str()) {
            None => {
                return Err(bad(format!(
                    "has no tensor `{}`, which its sidecar's architecture ({}) needs: the \
                     weights and the .json beside them do not belong together",
                    spec.name,
                    describe(meta)
                )))
            }
            Some(shape) if *shape != spec.shape => {
                return Err(bad(format!(
                    "tensor `{}` has shape {shape:?}, the sidecar's architecture ({}) needs {:?}: \
                     the weights and the .json beside them do not belong together",
                    spec.name,
                    describe(meta),
                    spec.shape
                )))
            }
            Some(_) => {}
        }
    }
    let expected: BTreeSet<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    if let Some(extra) = found.keys().find(|name| !expected.contains(*name)) {
        return Err(bad(format!(
            "holds tensor `{extra}`, which its sidecar's architecture ({}) does not have: the \
             .json beside the weights describes another model (was it edited or swapped?)",
            describe(meta)
        )));
    }
    Ok(())
}

/// Writes the sidecar of the weights file `path`, atomically.
pub fn write_meta(path: &Path, meta: &CheckpointMeta) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(meta).expect("checkpoint metadata always serialises");
    json.push(b'\n');
    write_file_atomic(&sidecar_path(path), &json)
}
