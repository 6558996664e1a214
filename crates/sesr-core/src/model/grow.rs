//! Growing a trained network into a deeper or wider preset, the function unchanged: the zoo
//! starts M7 from M5, M11 from M7 and XL from M11 instead of from scratch.
//!
//! Each trained layer is a linear block whose effective kernel (projection . conv) has rank at
//! most `f`, so it fits any expansion `p >= f`: with the same `p` and `f` the expanded weights
//! are copied, otherwise the effective kernel is refactored by SVD, `U sqrt(S)` as the
//! projection and `sqrt(S) V^T` as the conv's first rows (its other rows keep their starting
//! weights and meet zero projection columns). Each new 3x3 block starts as the identity: a zero
//! projection leaves only its residual, and a PReLU slope of 1 passes everything.
//!
//! A collapsed float model (a shipped one) starts a training network the same way: each conv,
//! less the residual identity a 3x3 block folds in, is the effective kernel to factor.
//!
//! Widening (`f` from 16 to 32, M11 to XL) keeps the trained kernel for the old channels and
//! gives the new channels the fresh network's kernel rows (their incoming weights), while every
//! weight that reads a new channel (its outgoing weights) starts at zero: the old channels, the
//! residual sums and the output never see the new ones until training moves those weights.

use super::block::LinearBlock;
use super::training::Sesr;
use crate::checkpoint::{self, checkpoint_error, CheckpointKind, CheckpointMeta};
use crate::{CoreError, Result};
use std::path::Path;
use tch::{Device, Kind, Tensor};

impl Sesr {
    /// [`Sesr::init_from`] for a float checkpoint with fewer blocks, another expansion or
    /// collapsed weights.
    pub(super) fn grow_from(&self, path: &Path, meta: &CheckpointMeta) -> Result<Vec<String>> {
        let (from, to) = (meta.config, self.config);
        if from.int_features > to.int_features || from.m > to.m {
            let (field, expected, found) = if from.int_features > to.int_features {
                ("int_features", to.int_features, from.int_features)
            } else {
                ("m", to.m, from.m)
            };
            return Err(CoreError::Mismatch {
                path: path.to_path_buf(),
                field: field.into(),
                expected: format!("at most {expected}"),
                found: found.to_string(),
            });
        }
        let grows = from.m != to.m
            || from.int_features != to.int_features
            || from.feature_size != to.feature_size;
        // QAT may start from a collapsed float model of its own shape (its ranges then start
        // from the first batch), never from a quantized one or straight into a bigger preset.
        if meta.kind.quant().any() || (self.quant.any() && grows) {
            return Err(checkpoint_error(
                path,
                "growing into another preset needs float training on both sides; grow from a \
                 float checkpoint, then run QAT on the grown network",
            ));
        }
        let tensors = checkpoint::read_checked(path, meta)?;
        let copy_output = from.scale == to.scale;
        let mut layers: Vec<(String, &LinearBlock)> =
            vec![("input_block".into(), &self.input_block)];
        layers.extend((0..from.m).map(|i| (format!("blocks.{i}"), &self.blocks[i])));
        if copy_output {
            layers.push(("output_block".into(), &self.output_block));
        }
        let widen = from.int_features < to.int_features;
        let collapsed = matches!(meta.kind, CheckpointKind::Collapsed { .. });
        let same_p = from.feature_size == to.feature_size && !widen && !collapsed;
        let is_trained_layer = |name: &str| {
            layers.iter().any(|(layer, _)| {
                name.strip_prefix(layer.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
            })
        };
        let is_trained_slope = |name: &str| {
            !widen
                && name
                    .strip_prefix("prelu.")
                    .and_then(|i| i.parse::<usize>().ok())
                    .is_some_and(|i| i < from.m)
        };
        // The same expansion: the trained tensors as they are; another: refactored below.
        let copied = |name: &str| is_trained_slope(name) || (same_p && is_trained_layer(name));
        let vars = self.var_store.variables();
        checkpoint::copy_into(path, &tensors, &vars, copied)?;
        let mut set: Vec<String> = vars.into_keys().filter(|n| copied(n)).collect();
        tch::no_grad(|| -> Result<()> {
            if !same_p {
                for (name, block) in &layers {
                    let source = |part: &str| -> Result<&Tensor> {
                        let key = format!("{name}.{part}");
                        tensors
                            .get(&key)
                            .ok_or_else(|| checkpoint_error(path, format!("has no tensor `{key}`")))
                    };
                    let (kernel, bias) = match collapsed {
                        true => {
                            without_residual(source("weight")?, source("bias")?, block.residual)
                        }
                        false => effective([
                            source("conv.weight")?,
                            source("conv.bias")?,
                            source("project.weight")?,
                            source("project.bias")?,
                        ]),
                    };
                    let (kernel, bias) = match widen {
                        true => widened(kernel, bias, block),
                        false => (kernel, bias),
                    };
                    factor_into(block, &kernel, &bias)?;
                    set.extend(
                        ["conv.weight", "conv.bias", "project.weight", "project.bias"]
                            .map(|part| format!("{name}.{part}")),
                    );
                }
            }
            if widen {
                // The trained slopes for the old channels; the new ones keep their start.
                for i in 0..from.m {
                    let key = format!("prelu.{i}");
                    let trained = tensors
                        .get(&key)
                        .ok_or_else(|| checkpoint_error(path, format!("has no tensor `{key}`")))?;
                    self.prelu[i]
                        .narrow(0, 0, from.int_features as i64)
                        .copy_(trained);
                    set.push(key);
                }
            }
            for i in from.m..to.m {
                let block = &self.blocks[i];
                let _ = block.project_weight.shallow_clone().zero_();
                let _ = block.project_bias.shallow_clone().zero_();
                let _ = self.prelu[i].shallow_clone().fill_(1.0);
                set.extend([
                    format!("blocks.{i}.project.weight"),
                    format!("blocks.{i}.project.bias"),
                    format!("prelu.{i}"),
                ]);
            }
            Ok(())
        })?;
        set.sort();
        Ok(set)
    }
}

/// The effective kernel `[out, in * k * k]` and bias of `[conv weight, conv bias, projection
/// weight, projection bias]`, in double precision on the CPU.
fn effective(parts: [&Tensor; 4]) -> (Tensor, Tensor) {
    let f64_cpu = |t: &Tensor| t.to_device(Device::Cpu).to_kind(Kind::Double);
    let [conv_w, conv_b, proj_w, proj_b] = parts.map(f64_cpu);
    let source_p = conv_w.size()[0];
    let out = proj_w.size()[0];
    let projection = proj_w.view([out, source_p]);
    let kernel = projection.matmul(&conv_w.view([source_p, -1]));
    let bias = projection.matmul(&conv_b) + proj_b;
    (kernel, bias)
}

/// The effective kernel `[out, in * k * k]` and bias of a collapsed conv: its weight less the
/// identity that a residual block's collapse adds at the centre tap.
fn without_residual(weight: &Tensor, bias: &Tensor, residual: bool) -> (Tensor, Tensor) {
    let f64_cpu = |t: &Tensor| t.to_device(Device::Cpu).to_kind(Kind::Double);
    let kernel = f64_cpu(weight).copy();
    if residual {
        let size = kernel.size();
        let (channels, centre) = (size[0], size[2] / 2);
        for c in 0..channels {
            let _ = kernel
                .get(c)
                .get(c)
                .get(centre)
                .get(centre)
                .g_sub_scalar_(1.0);
        }
    }
    (kernel.view([kernel.size()[0], -1]), f64_cpu(bias))
}

/// A trained layer's kernel and bias widened to `block`'s channels: the trained kernel for the
/// old output channels reading the old inputs, zero for them reading new inputs, and the
/// fresh block's rows (and bias) for the new output channels.
fn widened(kernel: Tensor, bias: Tensor, block: &LinearBlock) -> (Tensor, Tensor) {
    let (fresh_kernel, fresh_bias) = effective([
        &block.conv_weight,
        &block.conv_bias,
        &block.project_weight,
        &block.project_bias,
    ]);
    let (fresh_size, size) = (fresh_kernel.size(), kernel.size());
    let (out_t, in_k_t, out_s, in_k_s) = (fresh_size[0], fresh_size[1], size[0], size[1]);
    let area = block.conv_weight.size()[2] * block.conv_weight.size()[3];
    let (in_t, in_s) = (in_k_t / area, in_k_s / area);
    let wide = fresh_kernel.view([out_t, in_t, area]).copy();
    let old_rows = wide.narrow(0, 0, out_s);
    let _ = old_rows.shallow_clone().zero_();
    old_rows
        .narrow(1, 0, in_s)
        .copy_(&kernel.view([out_s, in_s, area]));
    let wide_bias = fresh_bias.copy();
    wide_bias.narrow(0, 0, out_s).copy_(&bias);
    (wide.view([out_t, in_k_t]), wide_bias)
}

/// Writes an effective `kernel` (`[out, in * k * k]`) and `bias` into `block`'s expansion by
/// SVD (see the module doc).
fn factor_into(block: &LinearBlock, kernel: &Tensor, bias: &Tensor) -> Result<()> {
    let out = kernel.size()[0];
    let (u, s, v) = kernel.f_svd(true, true)?;
    let vh = v.tr();
    let rank = s.size()[0];
    let p = block.conv_weight.size()[0];
    if rank > p {
        return Err(CoreError::InvalidConfig(format!(
            "a layer of rank up to {rank} does not fit an expansion of {p} channels"
        )));
    }
    let root = s.sqrt();
    let device = block.conv_weight.device();
    let as_slot = |t: Tensor| t.to_kind(Kind::Float).to_device(device);
    block
        .conv_weight
        .view([p, -1])
        .narrow(0, 0, rank)
        .copy_(&as_slot(root.unsqueeze(1) * vh));
    let _ = block.conv_bias.shallow_clone().zero_();
    let projection = Tensor::zeros([out, p], (Kind::Double, Device::Cpu));
    projection
        .narrow(1, 0, rank)
        .copy_(&(u * root.unsqueeze(0)));
    block
        .project_weight
        .shallow_clone()
        .copy_(&as_slot(projection.view([out, p, 1, 1])));
    block
        .project_bias
        .shallow_clone()
        .copy_(&as_slot(bias.shallow_clone()));
    Ok(())
}
