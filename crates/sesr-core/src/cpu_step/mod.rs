//! The collapsed training step's forward and backward pass on x86 CPUs, by hand-written
//! AVX-512 kernels instead of libtorch's convolutions.
//!
//! Why: libtorch (oneDNN) runs SESR's 16-channel convolutions at about half of the CPU's FMA
//! peak and its 4-channel output block at a quarter; a whole M5 step took ~118 ms on the 2-core
//! machine. Here each worker thread takes whole images and runs the network's forward and
//! backward pass image by image (an image's feature maps, a few MB at 64x64, stay near the
//! core), bias, PReLU, residuals, depth-to-space, clamp and the L1 loss are fused into the
//! convolutions' epilogues, and the loss gradient never exists as a full tensor.
//!
//! Autograd still owns the paper's trick: the collapsed weights come from
//! [`crate::Sesr`]'s collapse graph, these kernels return the gradients of the collapsed
//! weights, biases and PReLU slopes, and one backward pass of
//! `sum(W_c * dW_c) + sum(b_c * db_c) + sum(slope * dslope)` carries them through the collapse
//! into the expanded weights. The results equal the autograd step's within float rounding
//! (`tests/cpu_step.rs`).
//!
//! Quantization-aware training runs here too: weight fake quantization is part of the collapse
//! (autograd), activation fake quantization sits in the epilogues with the reference's float
//! operations, and the gradients of the quantizers' nudged ranges go back through
//! `sesr_quant::nudged_range` by autograd like the weights'. The first QAT step, which sets the
//! ranges from the batch, stays on autograd.
//!
//! It applies to float32 CPU tensors, f = 16 (M3 to M11) or f = 32 (XL: a pixel's channels are
//! two groups of 16, and each kernel loops over the output groups) and CPUs with AVX-512F;
//! everything else takes the libtorch path.
// `unsafe` only to call the AVX-512 kernels once the CPU feature has been checked.
#![allow(unsafe_code)]

//!
//! Files: `weights` (the step's operands in the kernels' layouts), `workspace` (one image's
//! forward and backward pass, layer by layer), `avx512` (the kernels), `parallel` (libtorch's
//! thread pool).

mod avx512;
mod parallel;
mod weights;
mod workspace;

pub(crate) use workspace::Workspaces;

use crate::{CollapsedConv, Result, SesrConfig};
use avx512::FakeQuant;
use parallel::parallel_for;
use sesr_quant::{nudged_range, ActivationQuantizer};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};
use weights::{output_layout, values, Gradients, Layout, StepWeights};

/// Floats in one `zmm` register: the kernels' unit of channels.
const LANES: usize = 16;

/// The feature counts f the kernels handle: one or two registers of channels per pixel.
const FEATURES: [usize; 2] = [16, 32];

/// Whether this CPU runs the fused step at all (AVX-512F).
fn cpu_supported() -> bool {
    is_x86_feature_detected!("avx512f")
}

/// Whether [`loss_backward`] takes these operands: float32 CPU batches `lr` `[N, 1, H, W]` and
/// `hr` `[N, 1, sH, sW]` of a network with f = 16 or 32, on a CPU with AVX-512F.
pub(crate) fn applies(config: &SesrConfig, lr: &Tensor, hr: &Tensor) -> bool {
    let s = config.scale as i64;
    let shapes = match (&lr.size()[..], &hr.size()[..]) {
        (&[n, 1, h, w], &[hn, 1, hh, hw]) => {
            n > 0 && h > 0 && w > 0 && hn == n && hh == h * s && hw == w * s
        }
        _ => false,
    };
    shapes
        && FEATURES.contains(&config.int_features)
        && matches!(config.scale, 2 | 4)
        && [lr, hr]
            .iter()
            .all(|t| t.device() == Device::Cpu && t.kind() == Kind::Float)
        && cpu_supported()
}

/// How activations pass between layers: PReLU or ReLU, and the fake quantizers of
/// activation QAT (none without).
pub(crate) struct Activations<'a> {
    pub relu: bool,
    pub quantizers: &'a [ActivationQuantizer],
}

/// A lock that a panicked worker did not spoil: the data are plain buffers.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// L1 loss (mean) of the collapsed network on `lr` against `hr`, with the gradients of the
/// collapsed weights and biases and of the slopes pushed through `convs`' autograd graph into
/// the expanded weights. `convs` are the collapsed convs in graph order, `slopes` the PReLU
/// slopes; [`applies`] must hold.
pub(crate) fn loss_backward(
    config: &SesrConfig,
    workspaces: &Workspaces,
    convs: &[CollapsedConv],
    (slopes, activations): (&[Tensor], Activations),
    lr: &Tensor,
    hr: &Tensor,
) -> Result<f64> {
    let [n, _, h, w] = lr.size()[..] else {
        unreachable!("applies() checked the shape")
    };
    let (n, h, w) = (n as usize, h as usize, w as usize);
    let s = config.scale;
    let (oc, f) = (s * s, config.int_features);
    // The nudged ranges on autograd (their gradients go back through them) and as values.
    let ranges: Vec<(Tensor, Tensor, Tensor)> = activations
        .quantizers
        .iter()
        .map(|q| nudged_range(&q.min, &q.max, false))
        .collect();
    let quant = ranges
        .iter()
        .map(|(min, max, scale)| FakeQuant {
            min: min.double_value(&[]) as f32,
            scale: scale.double_value(&[]) as f32,
            max: max.double_value(&[]) as f32,
        })
        .collect();
    let weights = StepWeights::new(config, convs, slopes, activations.relu, quant);
    let lr = values(lr);
    let hr = values(hr);
    let inv_numel = 1.0 / (n * h * w * oc) as f32;
    // Each worker takes the next image as it finishes one (a core that other work slows down
    // then takes fewer), and every image's gradients are kept apart and summed in image order:
    // the result depends neither on the scheduling nor on the number of threads.
    let next_image = AtomicUsize::new(0);
    let per_image: Mutex<Vec<(usize, Gradients)>> = Mutex::new(Vec::with_capacity(n));
    let threads = (tch::get_num_threads().max(1) as usize).min(n);
    parallel_for(threads, |_| {
        let mut workspace = workspaces.take(h, w, (config.m, f, oc));
        loop {
            let image = next_image.fetch_add(1, Ordering::Relaxed);
            if image >= n {
                break;
            }
            let lr = &lr[image * h * w..(image + 1) * h * w];
            let hr = &hr[image * h * w * oc..(image + 1) * h * w * oc];
            let mut grads = Gradients::zero((config.m, f, oc), weights.quant.len());
            // SAFETY: `applies` checked that the CPU has AVX-512F.
            unsafe {
                match f {
                    16 => workspace.run::<16>(&weights, lr, hr, inv_numel, &mut grads),
                    _ => workspace.run::<32>(&weights, lr, hr, inv_numel, &mut grads),
                }
            };
            lock(&per_image).push((image, grads));
        }
        workspaces.put(workspace);
    });
    let mut partial = per_image.into_inner().unwrap_or_else(|e| e.into_inner());
    partial.sort_by_key(|(image, _)| *image);
    let mut grads = Gradients::zero((config.m, f, oc), weights.quant.len());
    for (_, image_grads) in &partial {
        grads.add(image_grads);
    }
    let slopes = if activations.relu { &[][..] } else { slopes };
    backward_through_collapse(config, convs, slopes, &ranges, &grads)?;
    Ok(grads.loss / (n * h * w * oc) as f64)
}

/// Hands the collapsed gradients to autograd: the gradient of `sum(param * grad)` with respect
/// to `param` is `grad`, so one backward pass of that sum reaches the expanded weights.
fn backward_through_collapse(
    config: &SesrConfig,
    convs: &[CollapsedConv],
    slopes: &[Tensor],
    ranges: &[(Tensor, Tensor, Tensor)],
    grads: &Gradients,
) -> Result<()> {
    let (oc, f) = (config.scale * config.scale, config.int_features);
    let conv_grad = |layout: Layout, d: &[f32], (co, ci, k): (usize, usize, usize)| {
        let shape = [co, ci, k, k].map(|n| n as i64);
        Tensor::from_slice(&layout.to_torch(d, (co, ci, k))).view(shape)
    };
    let mut layer_grads = vec![(
        conv_grad(Layout::Forward, &grads.input_dw, (f, 1, 5)),
        Tensor::from_slice(&grads.input_db),
    )];
    for (dw, db) in grads.block_dw.iter().zip(&grads.block_db) {
        layer_grads.push((
            conv_grad(Layout::Forward, dw, (f, f, 3)),
            Tensor::from_slice(db),
        ));
    }
    layer_grads.push((
        conv_grad(output_layout(oc), &grads.output_dw, (oc, f, 5)),
        Tensor::from_slice(&grads.output_db),
    ));
    let mut terms = vec![];
    for (conv, (dw, db)) in convs.iter().zip(&layer_grads) {
        terms.push((&conv.weight * dw).sum(Kind::Float));
        terms.push((&conv.bias * db).sum(Kind::Float));
    }
    for (slope, ds) in slopes.iter().zip(&grads.dslope) {
        terms.push((slope * Tensor::from_slice(ds)).sum(Kind::Float));
    }
    for ((min, max, scale), sums) in ranges.iter().zip(&grads.range) {
        let [below, d_scale, above] = sums.map(|v| v as f32 as f64);
        terms.push(min * below + scale * d_scale + max * above);
    }
    let proxy = Tensor::stack(&terms, 0).sum(Kind::Float);
    proxy.f_backward()?;
    Ok(())
}
