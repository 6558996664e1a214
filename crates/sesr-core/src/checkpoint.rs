//! Checkpoints: named tensors in safetensors (readable from Python) plus a JSON sidecar
//! (`model.safetensors` + `model.json`) holding the architecture, kind and format version.
//! The sidecar and the tensor names are defined once, in `sesr-model`; this module reads and
//! writes the tensors with libtorch. Both files are written atomically.

pub use sesr_model::atomic::write_atomic;
pub use sesr_model::checkpoint::{
    read_meta, sidecar_path, CheckpointKind, CheckpointMeta, FORMAT_VERSION,
};

use crate::{CoreError, Result, SesrConfig};
use std::collections::HashMap;
use std::path::Path;
use tch::{Kind, Tensor};

pub(crate) fn checkpoint_error(path: &Path, message: impl Into<String>) -> CoreError {
    CoreError::Checkpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Writes weights and sidecar. The sidecar goes last, so a complete sidecar implies its weights.
pub fn write(path: &Path, tensors: &[(String, Tensor)], meta: &CheckpointMeta) -> Result<()> {
    write_safetensors(path, tensors)?;
    Ok(sesr_model::checkpoint::write_meta(path, meta)?)
}

/// Writes `tensors` (float32 or float64, any device) to `path` as safetensors, atomically.
/// Serialised here rather than by libtorch so that a failed write (a read-only folder, a full
/// disk) names the file and gives the system's reason, not a library's debug dump.
pub fn write_safetensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    use safetensors::{tensor::TensorView, Dtype};
    let mut data = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        let flat = tensor.detach().to_device(tch::Device::Cpu).reshape([-1]);
        let shape: Vec<usize> = tensor.size().iter().map(|&d| d as usize).collect();
        let (dtype, bytes): (Dtype, Vec<u8>) = match tensor.kind() {
            Kind::Float => (
                Dtype::F32,
                Vec::<f32>::try_from(&flat)?
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
            ),
            Kind::Double => (
                Dtype::F64,
                Vec::<f64>::try_from(&flat)?
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
            ),
            other => {
                return Err(checkpoint_error(
                    path,
                    format!("cannot hold tensor `{name}` of type {other:?}"),
                ))
            }
        };
        data.push((name.as_str(), dtype, shape, bytes));
    }
    let views = data.iter().map(|(name, dtype, shape, bytes)| {
        let view = TensorView::new(*dtype, shape.clone(), bytes)
            .expect("the bytes were made for this shape and type");
        (*name, view)
    });
    let bytes = safetensors::serialize(views, None)
        .map_err(|e| checkpoint_error(path, format!("cannot be serialised: {e}")))?;
    write_atomic(path, |tmp| -> Result<()> {
        std::fs::write(tmp, &bytes).map_err(|source| CoreError::Io {
            action: "write",
            path: path.to_path_buf(),
            source,
        })
    })
}

pub fn read_tensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    if !path.is_file() {
        return Err(checkpoint_error(
            path,
            "does not exist (expected a .safetensors weights file)",
        ));
    }
    let bytes = std::fs::read(path).map_err(|source| CoreError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    tensors_of(path, &bytes)
}

/// The tensors of safetensors `bytes`; `path` names them in errors.
pub fn tensors_of(path: &Path, bytes: &[u8]) -> Result<HashMap<String, Tensor>> {
    let file = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| checkpoint_error(path, format!("is not a safetensors file: {e}")))?;
    let mut tensors = HashMap::new();
    for (name, view) in file.tensors() {
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let data = view.data();
        let flat = match view.dtype() {
            safetensors::Dtype::F32 => Tensor::from_slice(
                &data
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect::<Vec<f32>>(),
            ),
            safetensors::Dtype::F64 => Tensor::from_slice(
                &data
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                    .collect::<Vec<f64>>(),
            ),
            other => {
                return Err(checkpoint_error(
                    path,
                    format!("holds tensor `{name}` as {other:?}; SESR checkpoints hold float32"),
                ))
            }
        };
        tensors.insert(name, flat.reshape(&shape));
    }
    Ok(tensors)
}

/// The tensors of the checkpoint `path`, checked against its sidecar `meta`: exactly the
/// names and shapes it describes, every value finite. Errors name the file and the tensor.
pub fn read_checked(path: &Path, meta: &CheckpointMeta) -> Result<HashMap<String, Tensor>> {
    check_read(path, meta, read_tensors(path)?)
}

/// [`read_checked`] of tensors already read.
pub fn check_read(
    path: &Path,
    meta: &CheckpointMeta,
    tensors: HashMap<String, Tensor>,
) -> Result<HashMap<String, Tensor>> {
    let shapes = tensors.iter().map(|(name, t)| {
        let shape = t.size().iter().map(|&d| d as usize).collect();
        (name.as_str(), shape)
    });
    sesr_model::checkpoint::check_tensors(path, meta, shapes)?;
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    for name in names {
        let finite = tensors[name].isfinite().all().int64_value(&[]) != 0;
        if !finite {
            return Err(checkpoint_error(
                path,
                format!(
                    "tensor `{name}` holds NaN or infinite values: the checkpoint is broken \
                     (training diverged or the file was damaged); use an earlier checkpoint"
                ),
            ));
        }
    }
    Ok(tensors)
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
