//! Collapsed checkpoints read without libtorch: `<name>.safetensors` (OIHW f32 weights, PReLU
//! slopes and, after QAT, the learned activation ranges) and its JSON sidecar `<name>.json`
//! (format version, kind, architecture), as `sesr-core` writes them.

use crate::error::{NetError, Result};
use crate::float32::{implausible_reason, plausible, ConvWeights, Float32Network};
use crate::int8::ActivationRanges;
use safetensors::{Dtype, SafeTensors};
use sesr_model::checkpoint::{
    check_tensors, parse_meta, read_meta, sidecar_path, CheckpointKind, CheckpointMeta,
};
use sesr_model::names::{layer_shape, TensorSpec};
use sesr_model::{QuantConfig, QuantPoint, SesrConfig};
use std::path::Path;

/// A collapsed SESR as a checkpoint stores it: the architecture, how it was quantized, the
/// float network (ReLU in place of PReLU when both weights and activations were quantized,
/// as in sesr-core) and, after activation QAT, the learned range of every [`QuantPoint`].
#[derive(Clone, Debug, PartialEq)]
pub struct CollapsedModel {
    /// The architecture.
    pub config: SesrConfig,
    /// Quantization-aware training it went through.
    pub quant: QuantConfig,
    /// The network a runtime runs.
    pub network: Float32Network,
    /// Nudged `(min, max)` per [`QuantPoint`] in [`QuantPoint::all`] order; empty without
    /// activation QAT.
    pub activation_ranges: Vec<(f64, f64)>,
}

fn error(path: &Path, message: impl Into<String>) -> NetError {
    NetError::Checkpoint {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

impl CollapsedModel {
    /// Reads `MODEL.safetensors` and its `MODEL.json` sidecar.
    pub fn read(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(error(
                path,
                "no such file (expected MODEL.safetensors with its MODEL.json sidecar next to it)",
            ));
        }
        let sidecar = sidecar_path(path);
        if !sidecar.is_file() {
            return Err(error(
                path,
                format!(
                    "its JSON sidecar {} is missing; keep the .json written with the weights \
                     next to them",
                    sidecar.display()
                ),
            ));
        }
        let meta = collapsed_only(path, read_meta(path)?)?;
        let bytes = std::fs::read(path).map_err(|source| NetError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_parts(path, &meta, &bytes)
    }

    /// A collapsed checkpoint held in memory (safetensors bytes and the sidecar's text), as
    /// [`CollapsedModel::read`] reads it from files; `name` stands for the file in errors.
    pub fn from_bytes(name: &Path, safetensors: &[u8], sidecar: &str) -> Result<Self> {
        let meta = collapsed_only(name, parse_meta(sidecar, &sidecar_path(name))?)?;
        Self::from_parts(name, &meta, safetensors)
    }

    /// The int8 activation ranges learned by QAT of weights and activations (the int8
    /// network's), or `None` for a model without them.
    pub fn qat_ranges(&self) -> Option<ActivationRanges> {
        if !self.quant.uses_relu() {
            return None;
        }
        ActivationRanges::from_points(&self.activation_ranges, self.config.m, None, vec![]).ok()
    }

    fn from_parts(path: &Path, meta: &CheckpointMeta, bytes: &[u8]) -> Result<Self> {
        let config = meta.config;
        let quant = meta.kind.quant();
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|e| error(path, format!("is not a safetensors file: {e}")))?;
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
        // The specs come in model order: each layer's weight and bias, the PReLU slopes,
        // then the activation ranges (min, max per point) and the weight scales.
        let specs = meta.tensors();
        let mut values = specs
            .iter()
            .map(|spec| (spec.name.as_str(), tensor(path, &tensors, spec)));
        let mut next = || values.next().expect("one spec per collapsed tensor");
        // A weight, bias or slope of the network, held to what a trained SESR can have.
        let parameter = |(name, values): (&str, Result<Vec<f32>>)| {
            let values = values?;
            match plausible(&values) {
                Ok(()) => Ok(values),
                Err((index, value)) => Err(error(
                    path,
                    format!(
                        "tensor `{name}` holds {value:e} (value {index}); {}",
                        implausible_reason()
                    ),
                )),
            }
        };
        let mut convs = Vec::with_capacity(config.m + 2);
        for i in 0..config.m + 2 {
            let (out_channels, in_channels, kernel) = layer_shape(&config, i);
            convs.push(ConvWeights {
                out_channels,
                in_channels,
                kernel,
                weight: parameter(next())?,
                bias: parameter(next())?,
            });
        }
        let slopes = (0..config.m)
            .map(|_| parameter(next()))
            .collect::<Result<Vec<_>>>()?;
        let mut activation_ranges = vec![];
        if quant.activations {
            for _ in QuantPoint::all(config.m) {
                let (min, max) = (next().1?[0], next().1?[0]);
                activation_ranges.push((f64::from(min), f64::from(max)));
            }
        }
        let prelu = if quant.uses_relu() { vec![] } else { slopes };
        Ok(Self {
            config,
            quant,
            network: Float32Network {
                scale: config.scale,
                convs,
                prelu,
            },
            activation_ranges,
        })
    }
}

fn collapsed_only(path: &Path, meta: CheckpointMeta) -> Result<CheckpointMeta> {
    match meta.kind {
        CheckpointKind::Collapsed { .. } => Ok(meta),
        CheckpointKind::Training { .. } => Err(error(
            path,
            "is a training checkpoint (expanded linear blocks), not a collapsed one: collapse \
             it first (sesr-core's `CollapsedSesr::from_checkpoint`, or `sesr-cli collapse`)",
        )),
    }
}

/// The f32 values of the tensor `spec` names, with its shape.
fn tensor(path: &Path, tensors: &SafeTensors, spec: &TensorSpec) -> Result<Vec<f32>> {
    let (name, shape) = (spec.name.as_str(), spec.shape.as_slice());
    let view = tensors
        .tensor(name)
        .map_err(|_| error(path, format!("has no tensor `{name}`")))?;
    if view.dtype() != Dtype::F32 {
        return Err(error(
            path,
            format!("tensor `{name}` is {:?}, expected F32", view.dtype()),
        ));
    }
    if view.shape() != shape {
        return Err(error(
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
        return Err(error(
            path,
            format!("tensor `{name}` holds NaN or infinite values"),
        ));
    }
    Ok(values)
}
