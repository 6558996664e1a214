//! The SESR network: the training model (expanded weights, expanded or collapsed forward) and
//! the collapsed inference model.

use crate::checkpoint::{self, CheckpointKind, CheckpointMeta};
use crate::ops::{channels_last, depth_to_space};
use crate::{CoreError, Result, SesrConfig};
use serde::{Deserialize, Serialize};
use sesr_collapse::{
    collapse_closed_form, forward_expanded, CollapsedConv, ConvRef, LinearBlockRef,
};
use sesr_quant::{fake_quant, ActivationQuantizer, QuantConfig, WeightQuantizer};
use std::path::Path;
use tch::{nn, Device, Kind, Tensor};

/// How the training model runs its forward pass. Both give the same outputs and gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrainingMode {
    /// Every linear block runs as its kxk conv to `feature_size` channels and 1x1 projection.
    Expanded,
    /// Every step collapses each block into one small conv and runs that (the paper's method);
    /// gradients still reach the expanded weights.
    Collapsed,
}

impl std::str::FromStr for TrainingMode {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "expanded" => Ok(TrainingMode::Expanded),
            "collapsed" => Ok(TrainingMode::Collapsed),
            _ => Err(CoreError::InvalidConfig(format!(
                "unknown linear block type `{s}`; choose `collapsed` or `expanded`"
            ))),
        }
    }
}

impl TrainingMode {
    pub fn name(self) -> &'static str {
        match self {
            TrainingMode::Expanded => "expanded",
            TrainingMode::Collapsed => "collapsed",
        }
    }
}

/// One expanded linear block: kxk conv `in -> feature_size`, 1x1 conv `-> out`, both biased.
#[derive(Debug)]
pub struct LinearBlock {
    pub conv_weight: Tensor,
    pub conv_bias: Tensor,
    pub project_weight: Tensor,
    pub project_bias: Tensor,
    pub residual: bool,
}

impl LinearBlock {
    /// Kernels start as Keras' glorot-uniform (the reference's default), biases at zero.
    fn new(
        p: nn::Path,
        in_ch: i64,
        feature_size: i64,
        out_ch: i64,
        kernel: i64,
        residual: bool,
    ) -> Self {
        let glorot = |fan_in: i64, fan_out: i64| {
            let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
            nn::Init::Uniform {
                lo: -limit,
                up: limit,
            }
        };
        let area = kernel * kernel;
        let conv = &p / "conv";
        let project = &p / "project";
        LinearBlock {
            conv_weight: conv.var(
                "weight",
                &[feature_size, in_ch, kernel, kernel],
                glorot(in_ch * area, feature_size * area),
            ),
            conv_bias: conv.var("bias", &[feature_size], nn::Init::Const(0.0)),
            project_weight: project.var(
                "weight",
                &[out_ch, feature_size, 1, 1],
                glorot(feature_size, out_ch),
            ),
            project_bias: project.var("bias", &[out_ch], nn::Init::Const(0.0)),
            residual,
        }
    }

    pub fn as_ref(&self) -> LinearBlockRef<'_> {
        LinearBlockRef {
            pre: None,
            conv: ConvRef {
                weight: &self.conv_weight,
                bias: &self.conv_bias,
            },
            project: ConvRef {
                weight: &self.project_weight,
                bias: &self.project_bias,
            },
            residual: self.residual,
        }
    }

    pub fn collapse(&self) -> Result<CollapsedConv> {
        Ok(collapse_closed_form(&self.as_ref())?)
    }
}

/// Runs a collapsed conv with "same" zero padding, weights in channels-last layout.
fn conv_same(x: &Tensor, conv: &CollapsedConv) -> Tensor {
    let pad = conv.weight.size()[2] / 2;
    x.conv2d(
        &channels_last(&conv.weight),
        Some(&conv.bias),
        [1, 1],
        [pad, pad],
        [1, 1],
        1,
    )
}

/// Where activations are fake-quantized, as in the reference's `ActivationQuantizationBlock`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantPoint {
    /// The network input.
    Input,
    /// The input block's output (`features_0`).
    InputBlock,
    /// After the activation of 3x3 block `i`.
    Block(usize),
    /// The long-residual sum.
    LongResidual,
    /// The output block's output.
    OutputBlock,
    /// The sum with the input, before depth-to-space.
    Output,
}

impl QuantPoint {
    /// All `m + 5` points in graph order.
    pub fn all(m: usize) -> Vec<QuantPoint> {
        let mut points = vec![QuantPoint::Input, QuantPoint::InputBlock];
        points.extend((0..m).map(QuantPoint::Block));
        points.extend([
            QuantPoint::LongResidual,
            QuantPoint::OutputBlock,
            QuantPoint::Output,
        ]);
        points
    }

    /// Position in [`QuantPoint::all`].
    pub fn index(self, m: usize) -> usize {
        match self {
            QuantPoint::Input => 0,
            QuantPoint::InputBlock => 1,
            QuantPoint::Block(i) => 2 + i,
            QuantPoint::LongResidual => m + 2,
            QuantPoint::OutputBlock => m + 3,
            QuantPoint::Output => m + 4,
        }
    }

    /// Variable-name stem, e.g. `blocks.3`.
    pub fn name(self) -> String {
        match self {
            QuantPoint::Input => "input".into(),
            QuantPoint::InputBlock => "input_block".into(),
            QuantPoint::Block(i) => format!("blocks.{i}"),
            QuantPoint::LongResidual => "long_residual".into(),
            QuantPoint::OutputBlock => "output_block".into(),
            QuantPoint::Output => "output".into(),
        }
    }
}

/// `p / "a" / "b"` for the name `a.b` (tch path segments cannot hold dots).
fn dotted<'a>(p: nn::Path<'a>, name: &str) -> nn::Path<'a> {
    name.split('.').fold(p, |p, segment| &p / segment)
}

/// Name stem of layer `i` (0: input block, 1..=m: 3x3 blocks, m+1: output block).
fn layer_name(i: usize, m: usize) -> String {
    match i {
        0 => "input_block".to_string(),
        i if i == m + 1 => "output_block".to_string(),
        i => format!("blocks.{}", i - 1),
    }
}

/// The SESR graph around its layers, shared by every model: `layer(i, x)` runs layer `i`
/// (0: input block, 1..=m: 3x3 blocks with their residual, m+1: output block),
/// `activation(i, x)` the non-linearity after 3x3 block `i`, `quant(point, x)` the activation
/// fake quantization (identity when off).
fn sesr_graph(
    input: &Tensor,
    config: &SesrConfig,
    activation: impl Fn(usize, Tensor) -> Tensor,
    quant: impl Fn(QuantPoint, Tensor) -> Tensor,
    layer: impl Fn(usize, &Tensor) -> Tensor,
) -> Tensor {
    let input = quant(QuantPoint::Input, channels_last(input));
    let features_0 = quant(QuantPoint::InputBlock, layer(0, &(&input - 0.5)));
    let mut features = features_0.shallow_clone();
    for i in 0..config.m {
        features = quant(QuantPoint::Block(i), activation(i, layer(i + 1, &features)));
    }
    let residual = quant(QuantPoint::LongResidual, features + &features_0);
    let out = quant(QuantPoint::OutputBlock, layer(config.m + 1, &residual));
    // The input (not input - 0.5) is added to each of the scale^2 output channels.
    let mut out = quant(QuantPoint::Output, out + &input);
    for _ in 0..config.scale / 2 {
        out = depth_to_space(&out, 2);
    }
    out.clamp(0.0, 1.0)
}

/// PReLU with slope `prelu[i]`, or ReLU for the quantized network.
fn activation_fn(relu: bool, prelu: &[Tensor]) -> impl Fn(usize, Tensor) -> Tensor + '_ {
    move |i, x| {
        if relu {
            x.relu()
        } else {
            crate::prelu::prelu(&x, &prelu[i])
        }
    }
}

fn check_input(input: &Tensor) -> Result<()> {
    match input.size()[..] {
        [_, 1, h, w] if h > 0 && w > 0 => Ok(()),
        _ => Err(CoreError::InvalidConfig(format!(
            "SESR takes a batch of Y planes [N, 1, H, W] with H, W > 0, got {:?}",
            input.size()
        ))),
    }
}

/// The training model: expanded weights in a [`nn::VarStore`], PReLU slopes per channel.
///
/// Variable names follow the module tree (`input_block.conv.weight`, `blocks.3.project.bias`,
/// `prelu.0`, `output_block.conv.weight`), so checkpoints read naturally from Python too.
pub struct Sesr {
    config: SesrConfig,
    mode: TrainingMode,
    quant: QuantConfig,
    var_store: nn::VarStore,
    input_block: LinearBlock,
    blocks: Vec<LinearBlock>,
    prelu: Vec<Tensor>,
    output_block: LinearBlock,
    /// One per [`QuantPoint`] when activations are quantized (`quant.act.<point>.{min,max}`).
    act_quant: Vec<ActivationQuantizer>,
    /// One per layer when weights are quantized (`quant.weight.<layer>.{min,max}`).
    weight_quant: Vec<WeightQuantizer>,
    /// Feature-map buffers of `cpu_step`, kept from step to step.
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    cpu_workspaces: crate::cpu_step::Workspaces,
}

impl std::fmt::Debug for Sesr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sesr")
            .field("config", &self.config)
            .field("mode", &self.mode)
            .field("quant", &self.quant)
            .finish()
    }
}

impl Sesr {
    /// A freshly initialised floating-point network on `device`.
    pub fn new(config: SesrConfig, mode: TrainingMode, device: Device) -> Result<Self> {
        Sesr::with_quant(config, mode, QuantConfig::default(), device)
    }

    /// A freshly initialised network with quantization-aware training as `quant` says.
    pub fn with_quant(
        config: SesrConfig,
        mode: TrainingMode,
        quant: QuantConfig,
        device: Device,
    ) -> Result<Self> {
        config.validate()?;
        if quant.weights && mode == TrainingMode::Expanded {
            return Err(CoreError::InvalidConfig(
                "weight quantization acts on the collapsed kernel: use the collapsed linear block type"
                    .into(),
            ));
        }
        let var_store = nn::VarStore::new(device);
        let root = var_store.root();
        let (f, p) = (config.int_features as i64, config.feature_size as i64);
        let out = (config.scale * config.scale) as i64;
        let input_block = LinearBlock::new(&root / "input_block", 1, p, f, 5, false);
        let blocks = (0..config.m)
            .map(|i| LinearBlock::new(&root / "blocks" / i, f, p, f, 3, true))
            .collect();
        // Keras' PReLU starts with zero slopes, i.e. as a ReLU.
        let prelu = (0..config.m)
            .map(|i| (&root / "prelu").var(&i.to_string(), &[f], nn::Init::Const(0.0)))
            .collect();
        let output_block = LinearBlock::new(&root / "output_block", f, p, out, 5, false);
        let quant_root = &root / "quant";
        let act_quant = match quant.activations {
            true => QuantPoint::all(config.m)
                .into_iter()
                .map(|point| ActivationQuantizer::new(dotted(&quant_root / "act", &point.name())))
                .collect(),
            false => vec![],
        };
        let weight_quant = match quant.weights {
            true => (0..config.m + 2)
                .map(|i| {
                    let out_ch = if i == config.m + 1 { out } else { f };
                    WeightQuantizer::new(
                        dotted(&quant_root / "weight", &layer_name(i, config.m)),
                        out_ch,
                    )
                })
                .collect(),
            false => vec![],
        };
        Ok(Sesr {
            config,
            mode,
            quant,
            var_store,
            input_block,
            blocks,
            prelu,
            output_block,
            act_quant,
            weight_quant,
            #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
            cpu_workspaces: Default::default(),
        })
    }

    pub fn config(&self) -> &SesrConfig {
        &self.config
    }

    pub fn mode(&self) -> TrainingMode {
        self.mode
    }

    pub fn quant(&self) -> QuantConfig {
        self.quant
    }

    /// Switches between expanded and collapsed forward passes; the weights stay the same.
    pub fn set_mode(&mut self, mode: TrainingMode) {
        self.mode = mode;
    }

    pub fn var_store(&self) -> &nn::VarStore {
        &self.var_store
    }

    pub fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.var_store
    }

    pub fn device(&self) -> Device {
        self.var_store.device()
    }

    /// The blocks in graph order: input block, the m 3x3 blocks, output block.
    pub fn linear_blocks(&self) -> impl Iterator<Item = &LinearBlock> {
        std::iter::once(&self.input_block)
            .chain(&self.blocks)
            .chain(std::iter::once(&self.output_block))
    }

    /// The collapsed convs of every layer, weights fake-quantized when QAT says so.
    fn collapsed_convs(&self) -> Result<Vec<CollapsedConv>> {
        self.linear_blocks()
            .enumerate()
            .map(|(i, block)| {
                let conv = block.collapse()?;
                Ok(match self.weight_quant.get(i) {
                    Some(wq) => CollapsedConv {
                        weight: wq.apply(&conv.weight),
                        bias: conv.bias,
                    },
                    None => conv,
                })
            })
            .collect()
    }

    fn quant_activation(&self, point: QuantPoint, x: Tensor) -> Tensor {
        match self.act_quant.get(point.index(self.config.m)) {
            Some(q) => q.apply(&x),
            None => x,
        }
    }

    /// Upscales a batch of Y planes `[N, 1, H, W]` in [0, 1] to `[N, 1, sH, sW]`.
    pub fn forward(&self, input: &Tensor) -> Result<Tensor> {
        check_input(input)?;
        let activation = activation_fn(self.quant.uses_relu(), &self.prelu);
        let quant = |point, x| self.quant_activation(point, x);
        Ok(match self.mode {
            TrainingMode::Collapsed => {
                let convs = self.collapsed_convs()?;
                sesr_graph(input, &self.config, activation, quant, |i, x| {
                    conv_same(x, &convs[i])
                })
            }
            TrainingMode::Expanded => {
                let blocks: Vec<&LinearBlock> = self.linear_blocks().collect();
                sesr_graph(input, &self.config, activation, quant, |i, x| {
                    forward_expanded(&blocks[i].as_ref(), x)
                        .expect("block shapes were validated at construction")
                })
            }
        })
    }

    /// Whether [`Sesr::loss_backward`] runs on the CPU kernels of `cpu_step` for
    /// these batches: collapsed mode (QAT included once its activation ranges were set by a
    /// first step), f = 16, float32 CPU tensors, x86-64 Linux with AVX-512F.
    pub fn uses_cpu_step(&self, lr: &Tensor, hr: &Tensor) -> bool {
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        return self.mode == TrainingMode::Collapsed
            && self.act_quant.iter().all(|q| q.is_initialized())
            && self.device() == Device::Cpu
            && crate::cpu_step::applies(&self.config, lr, hr);
        #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
        {
            let _ = (lr, hr);
            false
        }
    }

    /// L1 loss (mean) of `forward(lr)` against `hr` (`[N, 1, sH, sW]`); the gradients of every
    /// parameter are accumulated as `loss.backward()` would. Returns the loss.
    ///
    /// On the CPU the collapsed model runs its forward and backward pass on this crate's own
    /// kernels ([`Sesr::uses_cpu_step`]); anything else goes through libtorch's autograd.
    pub fn loss_backward(&self, lr: &Tensor, hr: &Tensor) -> Result<f64> {
        check_input(lr)?;
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        if self.uses_cpu_step(lr, hr) {
            let convs = self.collapsed_convs()?;
            let activations = crate::cpu_step::Activations {
                relu: self.quant.uses_relu(),
                quantizers: &self.act_quant,
            };
            return crate::cpu_step::loss_backward(
                &self.config,
                &self.cpu_workspaces,
                &convs,
                (&self.prelu, activations),
                lr,
                hr,
            );
        }
        let loss = self.forward(lr)?.f_l1_loss(hr, tch::Reduction::Mean)?;
        loss.f_backward()?;
        Ok(loss.double_value(&[]))
    }

    /// The inference model: collapsed convs and PReLU slopes only, detached from training.
    /// After QAT its weights are the fake-quantized kernels (on their int8 grids) and it
    /// carries the nudged activation ranges, so it computes what the QAT model computes.
    pub fn collapse(&self) -> Result<CollapsedSesr> {
        tch::no_grad(|| {
            let convs = self
                .collapsed_convs()?
                .into_iter()
                .map(|c| CollapsedConv {
                    weight: c.weight.detach().copy(),
                    bias: c.bias.detach().copy(),
                })
                .collect();
            let prelu = self.prelu.iter().map(|s| s.detach().copy()).collect();
            let scalar = |v: f64| {
                Tensor::from_slice(&[v as f32])
                    .view([])
                    .to_device(self.device())
            };
            let act_ranges = self
                .act_quant
                .iter()
                .map(|q| {
                    let (lo, hi) = q.nudged();
                    (scalar(lo), scalar(hi))
                })
                .collect();
            let weight_scales = self
                .weight_quant
                .iter()
                .map(|q| {
                    Tensor::from_slice(&q.scales().iter().map(|s| *s as f32).collect::<Vec<_>>())
                })
                .collect();
            Ok(CollapsedSesr {
                config: self.config,
                quant: self.quant,
                convs,
                prelu,
                act_ranges,
                weight_scales,
            })
        })
    }

    /// Named tensors, sorted by name.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut vars: Vec<_> = self.var_store.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars
    }

    fn meta(&self) -> CheckpointMeta {
        CheckpointMeta::new(
            self.config,
            CheckpointKind::Training {
                mode: self.mode,
                quant: self.quant,
            },
        )
    }

    /// Writes `path` (safetensors) and its JSON sidecar, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        checkpoint::write(path, &self.named_tensors(), &self.meta())
    }

    /// Builds the network a checkpoint describes and loads its weights.
    pub fn from_checkpoint(path: &Path, device: Device) -> Result<Self> {
        let meta = checkpoint::read_meta(path)?;
        let CheckpointKind::Training { mode, quant } = meta.kind else {
            return Err(CoreError::Checkpoint {
                path: path.to_path_buf(),
                message:
                    "holds a collapsed inference model, which has no expanded weights to train; \
                          load it with CollapsedSesr::from_checkpoint"
                        .into(),
            });
        };
        let mut model = Sesr::with_quant(meta.config, mode, quant, device)?;
        model.load_weights(path)?;
        Ok(model)
    }

    /// Starts from another training checkpoint with the same `m`, `f` and `p`. At the same scale
    /// every tensor is copied; at another scale (x4 from x2) every tensor but the output block's,
    /// whose projection has `scale^2` outputs. Quantization ranges are copied when the source
    /// has them. Returns the names copied.
    ///
    /// The reference intends the x2 -> x4 copy but never performs it (pitfall 1); this does.
    pub fn init_from(&self, path: &Path) -> Result<Vec<String>> {
        let meta = checkpoint::read_meta(path)?;
        if let CheckpointKind::Collapsed { .. } = meta.kind {
            return Err(CoreError::Checkpoint {
                path: path.to_path_buf(),
                message: "holds a collapsed model; initialisation needs a training checkpoint with expanded weights".into(),
            });
        }
        let same_scale = SesrConfig {
            scale: self.config.scale,
            ..meta.config
        };
        checkpoint::check_config(path, &same_scale, &self.config)?;
        let copy_output = meta.config.scale == self.config.scale;
        let tensors = checkpoint::read_tensors(path)?;
        // QAT starting from an FP32 checkpoint: the ranges start from the first batch instead.
        let wanted = |name: &str| {
            (copy_output || !name.starts_with("output_block."))
                && (!name.starts_with("quant.") || tensors.contains_key(name))
        };
        let vars = self.var_store.variables();
        checkpoint::copy_into(path, &tensors, &vars, wanted)?;
        let mut copied: Vec<String> = vars.into_keys().filter(|n| wanted(n)).collect();
        copied.sort();
        Ok(copied)
    }

    /// Loads a checkpoint's weights into this network; the architectures must match exactly.
    pub fn load_weights(&mut self, path: &Path) -> Result<()> {
        let meta = checkpoint::read_meta(path)?;
        checkpoint::check_config(path, &meta.config, &self.config)?;
        let tensors = checkpoint::read_tensors(path)?;
        let vars = self.var_store.variables();
        checkpoint::copy_into(path, &tensors, &vars, |_| true)
    }
}

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
    config: SesrConfig,
    quant: QuantConfig,
    /// Input block, m 3x3 blocks (residual folded in), output block.
    convs: Vec<CollapsedConv>,
    prelu: Vec<Tensor>,
    /// Nudged `(min, max)` per [`QuantPoint`], when activations were quantized.
    act_ranges: Vec<(Tensor, Tensor)>,
    /// Per-output-channel weight scales per layer, when weights were quantized.
    weight_scales: Vec<Tensor>,
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

    fn tensor_names(config: &SesrConfig, quant: QuantConfig) -> Vec<String> {
        let m = config.m;
        let mut names = vec![];
        for i in 0..m + 2 {
            names.push(format!("{}.weight", layer_name(i, m)));
            names.push(format!("{}.bias", layer_name(i, m)));
        }
        names.extend((0..m).map(|i| format!("prelu.{i}")));
        if quant.activations {
            for point in QuantPoint::all(m) {
                names.push(format!("quant.act.{}.min", point.name()));
                names.push(format!("quant.act.{}.max", point.name()));
            }
        }
        if quant.weights {
            names.extend((0..m + 2).map(|i| format!("quant.weight.{}.scale", layer_name(i, m))));
        }
        names
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
        Self::tensor_names(&self.config, self.quant)
            .into_iter()
            .zip(tensors)
            .collect()
    }

    /// Writes the collapsed weights only (no expanded weights), atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let meta =
            CheckpointMeta::new(self.config, CheckpointKind::Collapsed { quant: self.quant });
        checkpoint::write(path, &self.named_tensors(), &meta)
    }

    /// Loads a collapsed checkpoint, or collapses a training checkpoint on the way in.
    pub fn from_checkpoint(path: &Path, device: Device) -> Result<Self> {
        let meta = checkpoint::read_meta(path)?;
        let quant = match meta.kind {
            CheckpointKind::Training { .. } => {
                return Sesr::from_checkpoint(path, device)?.collapse()
            }
            CheckpointKind::Collapsed { quant } => quant,
        };
        let config = meta.config;
        config.validate()?;
        let (f, out) = (
            config.int_features as i64,
            (config.scale * config.scale) as i64,
        );
        let opts = (Kind::Float, device);
        let conv = |o: i64, i: i64, k: i64| CollapsedConv {
            weight: Tensor::zeros([o, i, k, k], opts),
            bias: Tensor::zeros([o], opts),
        };
        let convs = std::iter::once(conv(f, 1, 5))
            .chain((0..config.m).map(|_| conv(f, f, 3)))
            .chain(std::iter::once(conv(out, f, 5)))
            .collect();
        let prelu = (0..config.m).map(|_| Tensor::zeros([f], opts)).collect();
        let scalar = || Tensor::zeros([], opts);
        let act_ranges = match quant.activations {
            true => QuantPoint::all(config.m)
                .iter()
                .map(|_| (scalar(), scalar()))
                .collect(),
            false => vec![],
        };
        let weight_scales = match quant.weights {
            true => (0..config.m + 2)
                .map(|i| Tensor::zeros([if i == config.m + 1 { out } else { f }], opts))
                .collect(),
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
        let tensors = checkpoint::read_tensors(path)?;
        let slots = model.named_tensors().into_iter().collect();
        tch::no_grad(|| checkpoint::copy_into(path, &tensors, &slots, |_| true))?;
        Ok(model)
    }
}
