//! Collapsed float32 checkpoints of sesr-core, read without libtorch: `<name>.safetensors`
//! (OIHW f32 weights) and its JSON sidecar `<name>.json` (format version, kind, architecture).

use crate::{Result, RuntimeError};
use safetensors::{Dtype, SafeTensors};
use sesr_model::checkpoint::{
    check_tensors, parse_meta, read_meta, sidecar_path, CheckpointKind, CheckpointMeta,
};
use sesr_model::names::{layer_shape, TensorSpec};
use sesr_tflite::{ConvWeights, SesrGraph};
use std::path::Path;

fn model_error(path: &Path, message: impl Into<String>) -> RuntimeError {
    RuntimeError::Model {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn read_sidecar(path: &Path) -> Result<CheckpointMeta> {
    let sidecar = sidecar_path(path);
    if !sidecar.is_file() {
        return Err(model_error(
            path,
            format!(
                "its JSON sidecar {} is missing; keep the .json written with the weights next \
                 to them",
                sidecar.display()
            ),
        ));
    }
    collapsed_only(path, read_meta(path)?)
}

fn collapsed_only(path: &Path, meta: CheckpointMeta) -> Result<CheckpointMeta> {
    match meta.kind {
        CheckpointKind::Collapsed { .. } => Ok(meta),
        CheckpointKind::Training { .. } => Err(model_error(
            path,
            "is a training checkpoint (expanded linear blocks); this runtime runs collapsed \
             models only: write a collapsed copy with `sesr-cli collapse --checkpoint ... \
             --output ...` (`sesr-cli upscale` also collapses it on the fly)",
        )),
    }
}

/// The f32 values of tensor `name` with shape `shape`.
fn tensor(path: &Path, tensors: &SafeTensors, spec: &TensorSpec) -> Result<Vec<f32>> {
    let (name, shape) = (spec.name.as_str(), spec.shape.as_slice());
    let view = tensors
        .tensor(name)
        .map_err(|_| model_error(path, format!("has no tensor `{name}`")))?;
    if view.dtype() != Dtype::F32 {
        return Err(model_error(
            path,
            format!("tensor `{name}` is {:?}, expected F32", view.dtype()),
        ));
    }
    if view.shape() != shape {
        return Err(model_error(
            path,
            format!(
                "tensor `{name}` has shape {:?}, the sidecar's architecture needs {shape:?}",
                view.shape()
            ),
        ));
    }
    let values: Vec<f32> = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if values.iter().any(|v| !v.is_finite()) {
        return Err(model_error(
            path,
            format!("tensor `{name}` holds NaN or infinite values"),
        ));
    }
    Ok(values)
}

/// Reads a collapsed checkpoint as the network description sesr-tflite also writes from.
///
/// A QAT checkpoint runs on its float weights; its activation ranges are not applied. ReLU
/// replaces PReLU when both weights and activations were quantized, as in sesr-core.
pub fn read_collapsed(path: &Path) -> Result<SesrGraph> {
    if !path.is_file() {
        return Err(model_error(
            path,
            "no such file (expected MODEL.safetensors with its MODEL.json sidecar next to it)",
        ));
    }
    let meta = read_sidecar(path)?;
    let bytes = std::fs::read(path).map_err(|source| RuntimeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    graph_of(path, &meta, &bytes)
}

/// A collapsed checkpoint held in memory (`safetensors` bytes and the sidecar's text), as
/// [`read_collapsed`] reads it from files; `name` stands for the file in errors.
pub(crate) fn collapsed_from_bytes(
    name: &Path,
    safetensors: &[u8],
    sidecar: &str,
) -> Result<SesrGraph> {
    let meta = collapsed_only(name, parse_meta(sidecar, &sidecar_path(name))?)?;
    graph_of(name, &meta, safetensors)
}

fn graph_of(path: &Path, meta: &CheckpointMeta, bytes: &[u8]) -> Result<SesrGraph> {
    let config = meta.config;
    let tensors = SafeTensors::deserialize(bytes)
        .map_err(|e| model_error(path, format!("is not a safetensors file: {e}")))?;
    let found: Vec<(String, Vec<usize>)> = tensors
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, view.shape().to_vec()))
        .collect();
    check_tensors(
        path,
        meta,
        found
            .iter()
            .map(|(name, shape)| (name.as_str(), shape.clone())),
    )?;
    // The specs come in model order: each layer's weight and bias, then the PReLU slopes.
    let specs = meta.tensors();
    let mut values = specs.iter().map(|spec| tensor(path, &tensors, spec));
    let mut next = || values.next().expect("one spec per collapsed tensor");
    let mut convs = Vec::with_capacity(config.m + 2);
    for i in 0..config.m + 2 {
        let (out_channels, in_channels, kernel) = layer_shape(&config, i);
        convs.push(ConvWeights {
            out_channels,
            in_channels,
            kernel,
            weight: next()?,
            bias: next()?,
        });
    }
    let slopes = (0..config.m).map(|_| next()).collect::<Result<Vec<_>>>()?;
    let prelu = if meta.kind.quant().uses_relu() {
        vec![]
    } else {
        slopes
    };
    let scale = config.scale;
    Ok(SesrGraph {
        scale,
        height: 1,
        width: 1,
        convs,
        prelu,
    })
}
