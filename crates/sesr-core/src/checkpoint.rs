//! Checkpoints: named tensors in safetensors (readable from Python) plus a JSON sidecar
//! (`model.safetensors` + `model.json`) holding the architecture, kind and format version.
//! Both files are written atomically: to a temporary name in the same folder, then renamed.

use crate::{CoreError, Result, SesrConfig, TrainingMode};
use serde::{Deserialize, Serialize};
use sesr_quant::QuantConfig;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::Tensor;

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
}

/// The sidecar that belongs to a weights file: same stem, `.json`.
pub fn sidecar_path(path: &Path) -> PathBuf {
    path.with_extension("json")
}

fn checkpoint_error(path: &Path, message: impl Into<String>) -> CoreError {
    CoreError::Checkpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, never half.
pub fn write_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| checkpoint_error(path, "is not a file path"))?;
    let mut tmp_name = file_name.to_os_string();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| CoreError::Io {
            action: "create folder",
            path: dir.to_path_buf(),
            source,
        })?;
    }
    write(&tmp).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    std::fs::rename(&tmp, path).map_err(|source| CoreError::Io {
        action: "rename into place",
        path: path.to_path_buf(),
        source,
    })
}

/// Writes weights and sidecar. The sidecar goes last, so a complete sidecar implies its weights.
pub fn write(path: &Path, tensors: &[(String, Tensor)], meta: &CheckpointMeta) -> Result<()> {
    let cpu: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                t.detach().to_device(tch::Device::Cpu).contiguous(),
            )
        })
        .collect();
    write_atomic(path, |tmp| Ok(Tensor::write_safetensors(&cpu, tmp)?))?;
    let json = serde_json::to_vec_pretty(meta).expect("checkpoint metadata always serialises");
    let sidecar = sidecar_path(path);
    write_atomic(&sidecar, |tmp| {
        std::fs::write(tmp, &json).map_err(|source| CoreError::Io {
            action: "write",
            path: tmp.to_path_buf(),
            source,
        })
    })
}

/// Reads and checks the sidecar of `path`.
pub fn read_meta(path: &Path) -> Result<CheckpointMeta> {
    let sidecar = sidecar_path(path);
    let text = std::fs::read_to_string(&sidecar).map_err(|source| CoreError::Io {
        action: "read the checkpoint sidecar",
        path: sidecar.clone(),
        source,
    })?;
    let meta: CheckpointMeta = serde_json::from_str(&text).map_err(|e| {
        checkpoint_error(&sidecar, format!("is not a SESR checkpoint sidecar: {e}"))
    })?;
    if meta.format_version != FORMAT_VERSION {
        return Err(checkpoint_error(
            &sidecar,
            format!(
                "has format version {}, this build reads version {FORMAT_VERSION}",
                meta.format_version
            ),
        ));
    }
    meta.config.validate()?;
    Ok(meta)
}

pub fn read_tensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    if !path.is_file() {
        return Err(checkpoint_error(
            path,
            "does not exist (expected a .safetensors weights file)",
        ));
    }
    let tensors = Tensor::read_safetensors(path)
        .map_err(|e| checkpoint_error(path, format!("unreadable weights: {e}")))?;
    Ok(tensors.into_iter().collect())
}

/// Fails with the first architecture field that differs.
pub fn check_config(path: &Path, found: &SesrConfig, expected: &SesrConfig) -> Result<()> {
    let fields = [
        ("m", found.m, expected.m),
        ("int_features", found.int_features, expected.int_features),
        ("feature_size", found.feature_size, expected.feature_size),
        ("scale", found.scale, expected.scale),
    ];
    for (field, found, expected) in fields {
        if found != expected {
            return Err(CoreError::Mismatch {
                path: path.to_path_buf(),
                field: field.into(),
                expected: expected.to_string(),
                found: found.to_string(),
            });
        }
    }
    Ok(())
}

/// Copies each checkpoint tensor into the slot of the same name, for the slots `wanted` selects.
/// Every selected slot must be present with the same shape.
pub fn copy_into(
    path: &Path,
    tensors: &HashMap<String, Tensor>,
    slots: &HashMap<String, Tensor>,
    wanted: impl Fn(&str) -> bool,
) -> Result<()> {
    let mut names: Vec<&String> = slots.keys().filter(|n| wanted(n)).collect();
    names.sort();
    for name in names {
        let mut slot = slots[name].shallow_clone();
        let source = tensors
            .get(name)
            .ok_or_else(|| checkpoint_error(path, format!("has no tensor `{name}`")))?;
        if source.size() != slot.size() {
            return Err(CoreError::Mismatch {
                path: path.to_path_buf(),
                field: format!("the shape of `{name}`"),
                expected: format!("{:?}", slot.size()),
                found: format!("{:?}", source.size()),
            });
        }
        tch::no_grad(|| slot.copy_(source));
    }
    Ok(())
}
