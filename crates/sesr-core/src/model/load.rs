//! Loading the inference model from anything that holds one: a collapsed checkpoint, a
//! training checkpoint (collapsed on the way in), a shipped model; and handing it to the
//! format-neutral description (`sesr-net`) that runtimes and exporters take. The one module that
//! knows both models, so that neither imports the other's loader.

use super::collapsed::CollapsedSesr;
use super::training::Sesr;
use crate::checkpoint::{self, CheckpointKind};
use crate::{CoreError, Result};
use sesr_model::ModelRef;
use sesr_net::{CollapsedModel, ConvWeights, Float32Network};
use std::path::Path;
use tch::{Device, Kind, Tensor};

impl CollapsedSesr {
    /// Loads a collapsed checkpoint, or collapses a training checkpoint on the way in.
    pub fn from_checkpoint(path: &Path, device: Device) -> Result<Self> {
        let meta = checkpoint::read_meta(path)?;
        match meta.kind {
            CheckpointKind::Training { .. } => Sesr::from_checkpoint(path, device)?.collapse(),
            CheckpointKind::Collapsed { quant } => {
                Self::from_collapsed_file(path, &meta, quant, device)
            }
        }
    }

    /// The model a [`ModelRef`] names: a checkpoint of either kind or a shipped float32 or QAT
    /// model. An int8 model (`.tflite`, a shipped `-int8`) holds no float weights.
    pub fn from_ref(model: &ModelRef, device: Device) -> Result<Self> {
        let refuse = |what: &str| {
            Err(CoreError::Checkpoint {
                path: model.display_name(),
                message: what.into(),
            })
        };
        match model {
            ModelRef::Shipped { name, .. } => {
                let zoo =
                    sesr_zoo::find(name.preset, name.scale).map_err(|e| CoreError::Checkpoint {
                        path: model.display_name(),
                        message: e.to_string(),
                    })?;
                match zoo.checkpoint(name.form) {
                    Some(file) => Self::from_bytes(
                        &model.display_name(),
                        file.safetensors,
                        file.sidecar,
                        device,
                    ),
                    None => refuse(
                        "is an int8 model: it runs on sesr-runtime; name its float32 or -qat \
                         form for libtorch",
                    ),
                }
            }
            ModelRef::Checkpoint { path, .. } => Self::from_checkpoint(path, device),
            ModelRef::Tflite(_) => refuse(
                "is a .tflite model: libtorch needs the .safetensors checkpoint it was exported \
                 from (.tflite files run on sesr-runtime)",
            ),
            ModelRef::Onnx(_) => refuse(
                "is an ONNX model: libtorch needs the .safetensors checkpoint it was exported \
                 from",
            ),
        }
    }

    /// The format-neutral description of this model (what `sesr-runtime` runs and
    /// `sesr-export` writes): the float network, ReLU in place of PReLU after QAT of weights and
    /// activations, and the learned activation ranges.
    pub fn to_model(&self) -> Result<CollapsedModel> {
        let floats = |tensor: &Tensor| -> Result<Vec<f32>> {
            Ok(Vec::<f32>::try_from(
                &tensor
                    .to_device(Device::Cpu)
                    .to_kind(Kind::Float)
                    .flatten(0, -1),
            )?)
        };
        let convs = self
            .convs()
            .iter()
            .map(|c| {
                let [o, i, k, _] = c.weight.size()[..] else {
                    unreachable!("collapsed convs are 4-D")
                };
                Ok(ConvWeights {
                    out_channels: o as usize,
                    in_channels: i as usize,
                    kernel: k as usize,
                    weight: floats(&c.weight)?,
                    bias: floats(&c.bias)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let prelu = match self.quant().uses_relu() {
            true => vec![],
            false => self.prelu().iter().map(floats).collect::<Result<_>>()?,
        };
        Ok(CollapsedModel {
            config: *self.config(),
            quant: self.quant(),
            network: Float32Network {
                scale: self.config().scale,
                convs,
                prelu,
            },
            activation_ranges: self.activation_ranges(),
        })
    }
}
