//! The collapsed inference model: one small conv per block and the PReLU slopes (plus the
//! QAT ranges), its forward pass, calibration and collapsed checkpoints.

use super::block::conv_same;
use super::graph::{activation_fn, check_input, sesr_graph};
use crate::checkpoint::{self, CheckpointKind, CheckpointMeta};
use crate::{CoreError, Result, SesrConfig};
use sesr_collapse::CollapsedConv;
use sesr_model::names::collapsed_tensors;
use sesr_model::{QuantConfig, QuantPoint};
use sesr_quant::fake_quant;
use std::collections::HashMap;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// Activation ranges seen by [`CollapsedSesr::observe_ranges`].
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedRanges {
    /// `(min, max)` per [`QuantPoint`], in [`QuantPoint::all`] order.
    pub points: Vec<(f64, f64)>,
    /// `(min, max)` of each 3x3 conv's output before its activation.
    pub block_convs: Vec<(f64, f64)>,
}

/// The collapsed SESR inference model: one small conv per block and the PReLU slopes; after
/// QAT also the nudged activation ranges and per-channel weight scales (the int8 export's input).
#[derive(Debug)]
pub struct CollapsedSesr {
    pub(super) config: SesrConfig,
    pub(super) quant: QuantConfig,
    /// Input block, m 3x3 blocks (residual folded in), output block.
    pub(super) convs: Vec<CollapsedConv>,
    pub(super) prelu: Vec<Tensor>,
    /// Nudged `(min, max)` per [`QuantPoint`], when activations were quantized.
    pub(super) act_ranges: Vec<(Tensor, Tensor)>,
    /// Per-output-channel weight scales per layer, when weights were quantized.
    pub(super) weight_scales: Vec<Tensor>,
}

impl CollapsedSesr {
    pub fn config(&self) -> &SesrConfig {
        &self.config
    }

    pub fn quant(&self) -> QuantConfig {
        self.quant
    }

    pub fn convs(&self) -> &[CollapsedConv] {
        &self.convs
    }

    pub fn prelu(&self) -> &[Tensor] {
        &self.prelu
    }

    /// Nudged activation ranges in [`QuantPoint::all`] order (empty without activation QAT).
    pub fn activation_ranges(&self) -> Vec<(f64, f64)> {
        self.act_ranges
            .iter()
            .map(|(lo, hi)| (lo.double_value(&[]), hi.double_value(&[])))
            .collect()
    }

    /// Per-channel weight scales per layer (empty without weight QAT).
    pub fn weight_scales(&self) -> Vec<Vec<f64>> {
        self.weight_scales
            .iter()
            .map(|s| Vec::<f64>::try_from(&s.to_kind(Kind::Double)).expect("a [C_out] tensor"))
            .collect()
    }

    pub fn device(&self) -> Device {
        self.convs[0].weight.device()
    }

    pub fn to_device(&self, device: Device) -> CollapsedSesr {
        let move_conv = |c: &CollapsedConv| CollapsedConv {
            weight: c.weight.to_device(device),
            bias: c.bias.to_device(device),
        };
        CollapsedSesr {
            config: self.config,
            quant: self.quant,
            convs: self.convs.iter().map(move_conv).collect(),
            prelu: self.prelu.iter().map(|s| s.to_device(device)).collect(),
            act_ranges: self
                .act_ranges
                .iter()
                .map(|(a, b)| (a.to_device(device), b.to_device(device)))
                .collect(),
            weight_scales: self
                .weight_scales
                .iter()
                .map(|s| s.to_device(device))
                .collect(),
        }
    }

    /// Upscales a batch of Y planes `[N, 1, H, W]` in [0, 1].
    pub fn forward(&self, input: &Tensor) -> Result<Tensor> {
        check_input(input)?;
        let m = self.config.m;
        let quant = |point: QuantPoint, x: Tensor| match self.act_ranges.get(point.index(m)) {
            Some((lo, hi)) => fake_quant(&x, lo, hi, false),
            None => x,
        };
        let activation = activation_fn(self.quant.uses_relu(), &self.prelu);
        Ok(tch::no_grad(|| {
            sesr_graph(input, &self.config, activation, quant, |i, x| {
                conv_same(x, &self.convs[i])
            })
        }))
    }

    /// Post-training calibration for users who skip QAT: runs this float model on `inputs`
    /// and returns the min and max seen at every [`QuantPoint`], and at the output of each 3x3
    /// conv before its activation (the input of an int8 PReLU).
    pub fn observe_ranges(&self, inputs: &[Tensor]) -> Result<ObservedRanges> {
        let m = self.config.m;
        let empty = (f64::INFINITY, f64::NEG_INFINITY);
        let points = std::cell::RefCell::new(vec![empty; m + 5]);
        let block_convs = std::cell::RefCell::new(vec![empty; m]);
        let grow = |slot: &mut (f64, f64), x: &Tensor| {
            slot.0 = slot.0.min(x.min().double_value(&[]));
            slot.1 = slot.1.max(x.max().double_value(&[]));
        };
        let activation = activation_fn(self.quant.uses_relu(), &self.prelu);
        for input in inputs {
            check_input(input)?;
            let _ = tch::no_grad(|| {
                sesr_graph(
                    input,
                    &self.config,
                    |i, x| {
                        grow(&mut block_convs.borrow_mut()[i], &x);
                        activation(i, x)
                    },
                    |point, x| {
                        grow(&mut points.borrow_mut()[point.index(m)], &x);
                        x
                    },
                    |i, x| conv_same(x, &self.convs[i]),
                )
            });
        }
        Ok(ObservedRanges {
            points: points.into_inner(),
            block_convs: block_convs.into_inner(),
        })
    }

    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let tensors = self
            .convs
            .iter()
            .flat_map(|c| [c.weight.shallow_clone(), c.bias.shallow_clone()])
            .chain(self.prelu.iter().map(Tensor::shallow_clone))
            .chain(
                self.act_ranges
                    .iter()
                    .flat_map(|(lo, hi)| [lo.shallow_clone(), hi.shallow_clone()]),
            )
            .chain(self.weight_scales.iter().map(Tensor::shallow_clone));
        collapsed_tensors(&self.config, self.quant)
            .into_iter()
            .map(|spec| spec.name)
            .zip(tensors)
            .collect()
    }

    /// Writes the collapsed weights only (no expanded weights), atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let meta =
            CheckpointMeta::new(self.config, CheckpointKind::Collapsed { quant: self.quant });
        checkpoint::write(path, &self.named_tensors(), &meta)
    }

    /// Loads a collapsed checkpoint whose sidecar `meta` has been read (see
    /// [`CollapsedSesr::from_checkpoint`] for any checkpoint).
    pub(super) fn from_collapsed_file(
        path: &Path,
        meta: &CheckpointMeta,
        quant: QuantConfig,
        device: Device,
    ) -> Result<Self> {
        let tensors = checkpoint::read_checked(path, meta)?;
        Self::from_tensors(path, meta.config, quant, tensors, device)
    }

    /// A collapsed checkpoint held in memory: its safetensors bytes and its sidecar's text
    /// (the shipped models of `sesr-zoo`); `name` stands for the file in errors.
    pub fn from_bytes(
        name: &Path,
        safetensors: &[u8],
        sidecar: &str,
        device: Device,
    ) -> Result<Self> {
        let meta = sesr_model::checkpoint::parse_meta(sidecar, &checkpoint::sidecar_path(name))?;
        let CheckpointKind::Collapsed { quant } = meta.kind else {
            return Err(CoreError::Checkpoint {
                path: name.to_path_buf(),
                message: "is a training checkpoint; only collapsed ones load from memory".into(),
            });
        };
        let tensors = checkpoint::tensors_of(name, safetensors)?;
        let tensors = checkpoint::check_read(name, &meta, tensors)?;
        Self::from_tensors(name, meta.config, quant, tensors, device)
    }

    fn from_tensors(
        path: &Path,
        config: SesrConfig,
        quant: QuantConfig,
        tensors: HashMap<String, Tensor>,
        device: Device,
    ) -> Result<Self> {
        let opts = (Kind::Float, device);
        let mut slots = collapsed_tensors(&config, quant).into_iter().map(|spec| {
            let shape: Vec<i64> = spec.shape.iter().map(|&d| d as i64).collect();
            Tensor::zeros(shape, opts)
        });
        let mut next = || slots.next().expect("one slot per collapsed tensor");
        let convs = (0..config.m + 2)
            .map(|_| CollapsedConv {
                weight: next(),
                bias: next(),
            })
            .collect();
        let prelu = (0..config.m).map(|_| next()).collect();
        let act_ranges = match quant.activations {
            true => QuantPoint::all(config.m)
                .iter()
                .map(|_| (next(), next()))
                .collect(),
            false => vec![],
        };
        let weight_scales = match quant.weights {
            true => (0..config.m + 2).map(|_| next()).collect(),
            false => vec![],
        };
        let model = CollapsedSesr {
            config,
            quant,
            convs,
            prelu,
            act_ranges,
            weight_scales,
        };
        let slots = model.named_tensors().into_iter().collect();
        tch::no_grad(|| checkpoint::copy_into(path, &tensors, &slots, |_| true))?;
        Ok(model)
    }
}
