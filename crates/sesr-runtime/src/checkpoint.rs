//! Collapsed float32 checkpoints of sesr-core, read without libtorch: `<name>.safetensors`
//! (OIHW f32 weights) and its JSON sidecar `<name>.json` (format version, kind, architecture).

use crate::{Result, RuntimeError};
use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;
use sesr_tflite::{ConvWeights, SesrGraph};
use std::path::{Path, PathBuf};

/// The sidecar format this runtime reads (sesr-core's `checkpoint::FORMAT_VERSION`).
const FORMAT_VERSION: u32 = 1;

#[derive(Deserialize)]
struct Sidecar {
    format_version: u32,
    kind: String,
    #[serde(default)]
    quant: Quant,
    config: Config,
}

#[derive(Deserialize, Default)]
struct Quant {
    #[serde(default)]
    weights: bool,
    #[serde(default)]
    activations: bool,
}

#[derive(Deserialize)]
struct Config {
    m: usize,
    int_features: usize,
    scale: usize,
}

fn model_error(path: &Path, message: impl Into<String>) -> RuntimeError {
    RuntimeError::Model {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn sidecar_path(path: &Path) -> PathBuf {
    path.with_extension("json")
}

fn read_sidecar(path: &Path) -> Result<Sidecar> {
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
    let text = std::fs::read_to_string(&sidecar).map_err(|source| RuntimeError::Io {
        path: sidecar.clone(),
        source,
    })?;
    let meta: Sidecar = serde_json::from_str(&text)
        .map_err(|e| model_error(&sidecar, format!("is not a SESR checkpoint sidecar: {e}")))?;
    if meta.format_version != FORMAT_VERSION {
        return Err(model_error(
            &sidecar,
            format!(
                "has checkpoint format version {}, this runtime reads version {FORMAT_VERSION}",
                meta.format_version
            ),
        ));
    }
    match meta.kind.as_str() {
        "collapsed" => Ok(meta),
        "training" => Err(model_error(
            path,
            "is a training checkpoint (expanded linear blocks); this runtime runs collapsed \
             models only: write a collapsed copy with `sesr-cli collapse --checkpoint ... \
             --output ...` (`sesr-cli upscale` also collapses it on the fly)",
        )),
        other => Err(model_error(
            &sidecar,
            format!("has unknown checkpoint kind `{other}` (expected `collapsed`)"),
        )),
    }
}

/// The f32 values of tensor `name` with shape `shape`.
fn tensor(path: &Path, tensors: &SafeTensors, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
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
pub(crate) fn read_collapsed(path: &Path) -> Result<SesrGraph> {
    if !path.is_file() {
        return Err(model_error(
            path,
            "no such file (expected MODEL.safetensors with its MODEL.json sidecar next to it)",
        ));
    }
    let meta = read_sidecar(path)?;
    let Config {
        m,
        int_features: f,
        scale,
    } = meta.config;
    if m == 0 || f == 0 || !(scale == 2 || scale == 4) || m > 1024 || f > 4096 {
        return Err(model_error(
            &sidecar_path(path),
            format!("describes no runnable SESR: m={m}, int_features={f}, scale={scale}"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|source| RuntimeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let tensors = SafeTensors::deserialize(&bytes)
        .map_err(|e| model_error(path, format!("is not a safetensors file: {e}")))?;
    let conv = |stem: &str, o: usize, i: usize, k: usize| -> Result<ConvWeights> {
        Ok(ConvWeights {
            out_channels: o,
            in_channels: i,
            kernel: k,
            weight: tensor(path, &tensors, &format!("{stem}.weight"), &[o, i, k, k])?,
            bias: tensor(path, &tensors, &format!("{stem}.bias"), &[o])?,
        })
    };
    let mut convs = vec![conv("input_block", f, 1, 5)?];
    for i in 0..m {
        convs.push(conv(&format!("blocks.{i}"), f, f, 3)?);
    }
    convs.push(conv("output_block", scale * scale, f, 5)?);
    let prelu = if meta.quant.weights && meta.quant.activations {
        vec![]
    } else {
        (0..m)
            .map(|i| tensor(path, &tensors, &format!("prelu.{i}"), &[f]))
            .collect::<Result<_>>()?
    };
    Ok(SesrGraph {
        scale,
        height: 1,
        width: 1,
        convs,
        prelu,
    })
}
