//! The SESR network: the training model (expanded weights, expanded or collapsed forward) and
//! the collapsed inference model.

use crate::checkpoint::{self, CheckpointKind, CheckpointMeta};
use crate::ops::{channels_last, depth_to_space};
use crate::{CoreError, Result, SesrConfig};
use serde::{Deserialize, Serialize};
use sesr_collapse::{
    collapse_closed_form, forward_expanded, CollapsedConv, ConvRef, LinearBlockRef,
};
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

/// The SESR graph around its layers, shared by every model: `layer(i, x)` runs layer `i`
/// (0: input block, 1..=m: 3x3 blocks with their residual, m+1: output block).
fn sesr_graph(
    input: &Tensor,
    config: &SesrConfig,
    prelu: &[Tensor],
    layer: impl Fn(usize, &Tensor) -> Tensor,
) -> Tensor {
    let input = channels_last(input);
    let features_0 = layer(0, &(&input - 0.5));
    let mut features = features_0.shallow_clone();
    for (i, slope) in prelu.iter().enumerate() {
        features = layer(i + 1, &features).prelu(slope);
    }
    let residual = features + &features_0;
    // The input (not input - 0.5) is added to each of the scale^2 output channels.
    let mut out = layer(config.m + 1, &residual) + &input;
    for _ in 0..config.scale / 2 {
        out = depth_to_space(&out, 2);
    }
    out.clamp(0.0, 1.0)
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
    var_store: nn::VarStore,
    input_block: LinearBlock,
    blocks: Vec<LinearBlock>,
    prelu: Vec<Tensor>,
    output_block: LinearBlock,
}

impl std::fmt::Debug for Sesr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sesr")
            .field("config", &self.config)
            .field("mode", &self.mode)
            .finish()
    }
}

impl Sesr {
    /// A freshly initialised network on `device`.
    pub fn new(config: SesrConfig, mode: TrainingMode, device: Device) -> Result<Self> {
        config.validate()?;
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
        Ok(Sesr {
            config,
            mode,
            var_store,
            input_block,
            blocks,
            prelu,
            output_block,
        })
    }

    pub fn config(&self) -> &SesrConfig {
        &self.config
    }

    pub fn mode(&self) -> TrainingMode {
        self.mode
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

    /// Upscales a batch of Y planes `[N, 1, H, W]` in [0, 1] to `[N, 1, sH, sW]`.
    pub fn forward(&self, input: &Tensor) -> Result<Tensor> {
        check_input(input)?;
        let blocks: Vec<&LinearBlock> = self.linear_blocks().collect();
        Ok(match self.mode {
            TrainingMode::Collapsed => {
                let convs = blocks
                    .iter()
                    .map(|b| b.collapse())
                    .collect::<Result<Vec<_>>>()?;
                sesr_graph(input, &self.config, &self.prelu, |i, x| {
                    conv_same(x, &convs[i])
                })
            }
            TrainingMode::Expanded => sesr_graph(input, &self.config, &self.prelu, |i, x| {
                forward_expanded(&blocks[i].as_ref(), x)
                    .expect("block shapes were validated at construction")
            }),
        })
    }

    /// The inference model: collapsed convs and PReLU slopes only, detached from training.
    pub fn collapse(&self) -> Result<CollapsedSesr> {
        tch::no_grad(|| {
            let convs = self
                .linear_blocks()
                .map(|b| {
                    let c = b.collapse()?;
                    Ok(CollapsedConv {
                        weight: c.weight.detach().copy(),
                        bias: c.bias.detach().copy(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let prelu = self.prelu.iter().map(|s| s.detach().copy()).collect();
            Ok(CollapsedSesr {
                config: self.config,
                convs,
                prelu,
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
        CheckpointMeta::new(self.config, CheckpointKind::Training { mode: self.mode })
    }

    /// Writes `path` (safetensors) and its JSON sidecar, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        checkpoint::write(path, &self.named_tensors(), &self.meta())
    }

    /// Builds the network a checkpoint describes and loads its weights.
    pub fn from_checkpoint(path: &Path, device: Device) -> Result<Self> {
        let meta = checkpoint::read_meta(path)?;
        let CheckpointKind::Training { mode } = meta.kind else {
            return Err(CoreError::Checkpoint {
                path: path.to_path_buf(),
                message:
                    "holds a collapsed inference model, which has no expanded weights to train; \
                          load it with CollapsedSesr::from_checkpoint"
                        .into(),
            });
        };
        let mut model = Sesr::new(meta.config, mode, device)?;
        model.load_weights(path)?;
        Ok(model)
    }

    /// Starts from another training checkpoint with the same `m`, `f` and `p`. At the same scale
    /// every tensor is copied; at another scale (x4 from x2) every tensor but the output block's,
    /// whose projection has `scale^2` outputs. Returns the names copied.
    ///
    /// The reference intends the x2 -> x4 copy but never performs it (pitfall 1); this does.
    pub fn init_from(&self, path: &Path) -> Result<Vec<String>> {
        let meta = checkpoint::read_meta(path)?;
        if meta.kind == CheckpointKind::Collapsed {
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
        let wanted = |name: &str| copy_output || !name.starts_with("output_block.");
        let tensors = checkpoint::read_tensors(path)?;
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

/// The collapsed SESR inference model: one small conv per block and the PReLU slopes.
#[derive(Debug)]
pub struct CollapsedSesr {
    config: SesrConfig,
    /// Input block, m 3x3 blocks (residual folded in), output block.
    convs: Vec<CollapsedConv>,
    prelu: Vec<Tensor>,
}

impl CollapsedSesr {
    pub fn config(&self) -> &SesrConfig {
        &self.config
    }

    pub fn convs(&self) -> &[CollapsedConv] {
        &self.convs
    }

    pub fn prelu(&self) -> &[Tensor] {
        &self.prelu
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
            convs: self.convs.iter().map(move_conv).collect(),
            prelu: self.prelu.iter().map(|s| s.to_device(device)).collect(),
        }
    }

    /// Upscales a batch of Y planes `[N, 1, H, W]` in [0, 1].
    pub fn forward(&self, input: &Tensor) -> Result<Tensor> {
        check_input(input)?;
        Ok(tch::no_grad(|| {
            sesr_graph(input, &self.config, &self.prelu, |i, x| {
                conv_same(x, &self.convs[i])
            })
        }))
    }

    fn tensor_names(&self) -> Vec<String> {
        let m = self.config.m;
        let mut names = vec![];
        for i in 0..m + 2 {
            let layer = match i {
                0 => "input_block".to_string(),
                i if i == m + 1 => "output_block".to_string(),
                i => format!("blocks.{}", i - 1),
            };
            names.push(format!("{layer}.weight"));
            names.push(format!("{layer}.bias"));
        }
        names.extend((0..m).map(|i| format!("prelu.{i}")));
        names
    }

    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let tensors = self
            .convs
            .iter()
            .flat_map(|c| [c.weight.shallow_clone(), c.bias.shallow_clone()])
            .chain(self.prelu.iter().map(Tensor::shallow_clone));
        self.tensor_names().into_iter().zip(tensors).collect()
    }

    /// Writes the collapsed weights only (no expanded weights), atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        checkpoint::write(
            path,
            &self.named_tensors(),
            &CheckpointMeta::new(self.config, CheckpointKind::Collapsed),
        )
    }

    /// Loads a collapsed checkpoint, or collapses a training checkpoint on the way in.
    pub fn from_checkpoint(path: &Path, device: Device) -> Result<Self> {
        let meta = checkpoint::read_meta(path)?;
        if let CheckpointKind::Training { .. } = meta.kind {
            return Sesr::from_checkpoint(path, device)?.collapse();
        }
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
        let model = CollapsedSesr {
            config,
            convs,
            prelu,
        };
        let tensors = checkpoint::read_tensors(path)?;
        let slots = model.named_tensors().into_iter().collect();
        tch::no_grad(|| checkpoint::copy_into(path, &tensors, &slots, |_| true))?;
        Ok(model)
    }
}
