//! The training model: expanded weights in a VarStore, collapsed or expanded forward pass,
//! quantization-aware training, training checkpoints.

use super::block::{conv_same, LinearBlock};
use super::collapsed::CollapsedSesr;
use super::graph::{activation_fn, check_input, dotted, sesr_graph};
use crate::checkpoint::{self, CheckpointKind, CheckpointMeta};
use crate::{CoreError, Result, SesrConfig};
use sesr_collapse::{forward_expanded, CollapsedConv};
use sesr_model::names::layer_name;
use sesr_model::{QuantConfig, QuantPoint, TrainingMode};
use sesr_quant::{ActivationQuantizer, WeightQuantizer};
use std::path::Path;
use tch::{nn, Device, Tensor};

/// The training model: expanded weights in a [`nn::VarStore`], PReLU slopes per channel.
///
/// Variable names follow the module tree (`input_block.conv.weight`, `blocks.3.project.bias`,
/// `prelu.0`, `output_block.conv.weight`), so checkpoints read naturally from Python too.
pub struct Sesr {
    pub(super) config: SesrConfig,
    mode: TrainingMode,
    pub(super) quant: QuantConfig,
    pub(super) var_store: nn::VarStore,
    pub(super) input_block: LinearBlock,
    pub(super) blocks: Vec<LinearBlock>,
    pub(super) prelu: Vec<Tensor>,
    pub(super) output_block: LinearBlock,
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
    /// first step), f = 16 or 32, float32 CPU tensors, x86-64 Linux with AVX-512F.
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
    /// carries the nudged activation ranges, so it computes what the QAT model computes, except
    /// that its final sum is quantized on the 8-bit pixel grid `[0, 1]`.
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
            // The final sum goes on the 8-bit pixel grid [0, 1] (scale 1/255) rather than on
            // its trained range: the int8 output is then the 8-bit image itself instead of
            // being rounded twice (docs/differences.md has the measurements).
            let final_sum = QuantPoint::Output.index(self.config.m);
            let act_ranges = self
                .act_quant
                .iter()
                .enumerate()
                .map(|(i, q)| {
                    let (lo, hi) = if i == final_sum {
                        (0.0, 1.0)
                    } else {
                        q.nudged()
                    };
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

    /// Draws every kernel anew, glorot-uniform as at construction, from a generator seeded by
    /// `seed` (biases and slopes back to zero): the starting weights become a pure function of
    /// the seed, independent of libtorch's global generator and of anything else the process
    /// drew before. Quantization ranges are left for the first batch to set.
    pub fn initialize(&self, seed: u64) {
        let mut random = SplitMix64(seed);
        tch::no_grad(|| {
            for (name, mut tensor) in self.named_tensors() {
                if name.starts_with("quant.") {
                    continue;
                }
                let size = tensor.size();
                let values: Vec<f32> = match size[..] {
                    [o, i, kh, kw] if name.ends_with(".weight") => {
                        let area = kh * kw;
                        let limit = (6.0 / ((i + o) * area) as f64).sqrt() as f32;
                        (0..o * i * area)
                            .map(|_| (2.0 * random.unit() - 1.0) * limit)
                            .collect()
                    }
                    _ => vec![0.0; tensor.numel()],
                };
                let drawn = Tensor::from_slice(&values)
                    .view(size.as_slice())
                    .to_device(tensor.device());
                tensor.copy_(&drawn);
            }
        });
    }

    /// Starts from another training checkpoint. With the same `m`, `f` and `p` at the same scale
    /// every tensor is copied; at another scale (x4 from x2) every tensor but the output block's,
    /// whose projection has `scale^2` outputs. Quantization ranges are copied when the source
    /// has them. A float checkpoint with the same `f` but fewer blocks or another `p` grows
    /// into this network, computing the same function (see `grow`), and so does a collapsed
    /// float model (a shipped one, say): each of its convs is factored into this network's
    /// expansion. Returns the names set.
    ///
    /// The reference intends the x2 -> x4 copy but never performs it (pitfall 1); this does.
    pub fn init_from(&self, path: &Path) -> Result<Vec<String>> {
        let meta = checkpoint::read_meta(path)?;
        let (from, to) = (meta.config, self.config);
        if matches!(meta.kind, CheckpointKind::Collapsed { .. })
            || from.m != to.m
            || from.feature_size != to.feature_size
            || from.int_features != to.int_features
        {
            return self.grow_from(path, &meta);
        }
        let same_scale = SesrConfig {
            scale: self.config.scale,
            ..meta.config
        };
        checkpoint::check_config(path, &same_scale, &self.config)?;
        let copy_output = meta.config.scale == self.config.scale;
        let tensors = checkpoint::read_checked(path, &meta)?;
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
        let tensors = checkpoint::read_checked(path, &meta)?;
        let vars = self.var_store.variables();
        checkpoint::copy_into(path, &tensors, &vars, |_| true)
    }
}

/// SplitMix64: a small, well-mixed 64-bit generator, enough to draw starting weights.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 24 bits.
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}
