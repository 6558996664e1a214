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
//! It applies to float32 CPU tensors, f = 16 (every preset but XL) and CPUs with AVX-512F;
//! everything else takes the libtorch path.
// `unsafe` only to call the AVX-512 kernels once the CPU feature has been checked.
#![allow(unsafe_code)]

mod avx512;

use crate::{CollapsedConv, Result, SesrConfig};
use avx512::{FakeQuant, Grad, Padded};
use sesr_quant::{nudged_range, ActivationQuantizer};
use std::any::Any;
use std::ffi::c_void;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};

/// Channels of every hidden feature map the kernels handle: one `zmm` of floats.
const FEATURES: usize = 16;

/// Whether this CPU runs the fused step at all (AVX-512F).
fn cpu_supported() -> bool {
    is_x86_feature_detected!("avx512f")
}

/// Whether [`loss_backward`] takes these operands: float32 CPU batches `lr` `[N, 1, H, W]` and
/// `hr` `[N, 1, sH, sW]` of a network with f = 16, on a CPU with AVX-512F.
pub(crate) fn applies(config: &SesrConfig, lr: &Tensor, hr: &Tensor) -> bool {
    let s = config.scale as i64;
    let shapes = match (&lr.size()[..], &hr.size()[..]) {
        (&[n, 1, h, w], &[hn, 1, hh, hw]) => {
            n > 0 && h > 0 && w > 0 && hn == n && hh == h * s && hw == w * s
        }
        _ => false,
    };
    shapes
        && config.int_features == FEATURES
        && matches!(config.scale, 2 | 4)
        && [lr, hr]
            .iter()
            .all(|t| t.device() == Device::Cpu && t.kind() == Kind::Float)
        && cpu_supported()
}

/// Weights of one step in the kernels' layouts.
struct StepWeights {
    scale: usize,
    input: Vec<f32>,
    input_bias: [f32; 16],
    blocks: Vec<Vec<f32>>,
    /// The blocks' weights for the input gradient: flipped, input and output swapped.
    blocks_backward: Vec<Vec<f32>>,
    /// Both as Winograd F(4,3) points ([`avx512::winograd_weights`]).
    blocks_winograd: Vec<Vec<f32>>,
    blocks_backward_winograd: Vec<Vec<f32>>,
    block_bias: Vec<[f32; 16]>,
    slopes: Vec<[f32; 16]>,
    /// In [`output_layout`].
    output: Vec<f32>,
    output_backward: Vec<f32>,
    output_bias: Vec<f32>,
    /// Under activation QAT: the input block's weights for the gradient at its input, as a
    /// 16 -> 4 correlation (`[5][5][4][16]`, only output 0 real) for [`avx512::conv_row_cout4`].
    input_backward: Vec<f32>,
    /// Under activation QAT the nudged range of each quantizer, in `QuantPoint` order.
    quant: Vec<FakeQuant>,
}

/// How activations pass between layers: PReLU or ReLU, and the fake quantizers of
/// activation QAT (none without).
pub(crate) struct Activations<'a> {
    pub relu: bool,
    pub quantizers: &'a [ActivationQuantizer],
}

fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.detach().to_kind(Kind::Float).flatten(0, -1))
        .expect("a float CPU tensor converts to Vec<f32>")
}

fn vector16(t: &Tensor) -> [f32; 16] {
    values(t).try_into().expect("16 channels")
}

/// Where the kernels keep weight `(o, i, tap)` of a `[co][ci][k][k]` conv.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// `[k][k][ci][16]`: a vector of output channels per tap and input channel (`conv_row`).
    Forward,
    /// The input gradient's correlation: taps flipped, input and output swapped,
    /// `[k][k][co][16]` (`conv_row` over the output gradient).
    Backward,
    /// `[k][k][co][16]`: a vector of input channels per tap and output channel
    /// (`conv_row_cout4`, `weight_grad_cout4`).
    TapOutputInput,
}

impl Layout {
    fn index(self, (co, ci, k): (usize, usize, usize), o: usize, i: usize, tap: usize) -> usize {
        match self {
            Layout::Forward => (tap * ci + i) * 16 + o,
            Layout::Backward => ((k * k - 1 - tap) * co + o) * 16 + i,
            Layout::TapOutputInput => (tap * co + o) * 16 + i,
        }
    }

    /// libtorch's `[co][ci][k][k]` -> this layout; lanes beyond the channels stay zero.
    fn arrange(self, w: &[f32], shape: (usize, usize, usize)) -> Vec<f32> {
        let (co, ci, k) = shape;
        let lanes = match self {
            Layout::Forward => ci,
            Layout::Backward | Layout::TapOutputInput => co,
        };
        let mut out = vec![0.0; k * k * lanes * 16];
        for (n, value) in w.iter().enumerate() {
            let (o, i, tap) = (n / (ci * k * k), n / (k * k) % ci, n % (k * k));
            out[self.index(shape, o, i, tap)] = *value;
        }
        out
    }

    /// This layout -> libtorch's `[co][ci][k][k]`.
    fn to_torch(self, d: &[f32], shape: (usize, usize, usize)) -> Vec<f32> {
        let (co, ci, k) = shape;
        (0..co * ci * k * k)
            .map(|n| d[self.index(shape, n / (ci * k * k), n / (k * k) % ci, n % (k * k))])
            .collect()
    }
}

/// The output block's layout: the x4 block runs like the others, the x2 block (4 outputs) on
/// the kernels vectorised over input channels.
fn output_layout(out_channels: usize) -> Layout {
    if out_channels == FEATURES {
        Layout::Forward
    } else {
        Layout::TapOutputInput
    }
}

impl StepWeights {
    fn new(
        config: &SesrConfig,
        convs: &[CollapsedConv],
        slopes: &[Tensor],
        relu: bool,
        quant: Vec<FakeQuant>,
    ) -> Self {
        let m = config.m;
        let oc = config.scale * config.scale;
        let input = Layout::Forward.arrange(&values(&convs[0].weight), (16, 1, 5));
        let blocks = convs[1..=m]
            .iter()
            .map(|c| Layout::Forward.arrange(&values(&c.weight), (16, 16, 3)))
            .collect();
        let blocks_backward = convs[1..=m]
            .iter()
            .map(|c| Layout::Backward.arrange(&values(&c.weight), (16, 16, 3)))
            .collect();
        let output_weight = values(&convs[m + 1].weight);
        let winograd = |weights: &Vec<Vec<f32>>| -> Vec<Vec<f32>> {
            weights
                .iter()
                .map(|w| avx512::winograd_weights(w))
                .collect()
        };
        StepWeights {
            blocks_winograd: winograd(&blocks),
            blocks_backward_winograd: winograd(&blocks_backward),
            scale: config.scale,
            input,
            input_bias: vector16(&convs[0].bias),
            blocks,
            blocks_backward,
            block_bias: convs[1..=m].iter().map(|c| vector16(&c.bias)).collect(),
            // ReLU is PReLU with a zero slope, forward and backward.
            slopes: match relu {
                true => vec![[0.0; 16]; m],
                false => slopes.iter().map(vector16).collect(),
            },
            output: output_layout(oc).arrange(&output_weight, (oc, 16, 5)),
            output_backward: Layout::Backward.arrange(&output_weight, (oc, 16, 5)),
            output_bias: values(&convs[m + 1].bias),
            input_backward: match quant.is_empty() {
                true => vec![],
                false => {
                    let w0 = values(&convs[0].weight);
                    let mut out = vec![0.0; 25 * 4 * 16];
                    for tap in 0..25 {
                        for i in 0..16 {
                            out[tap * 64 + i] = w0[i * 25 + 24 - tap];
                        }
                    }
                    out
                }
            },
            quant,
        }
    }
}

/// One worker's sums over its images.
struct Gradients {
    loss: f64,
    input_dw: Vec<f32>,
    input_db: [f32; 16],
    block_dw: Vec<Vec<f32>>,
    block_db: Vec<[f32; 16]>,
    dslope: Vec<[f32; 16]>,
    /// In [`output_layout`].
    output_dw: Vec<f32>,
    output_db: Vec<f32>,
    /// Per activation quantizer (`QuantPoint` order): gradient sums for its nudged range's
    /// `[min, scale, max]`; empty without activation QAT.
    range: Vec<[f64; 3]>,
}

impl Gradients {
    fn zero(m: usize, oc: usize, quant_points: usize) -> Self {
        Gradients {
            loss: 0.0,
            input_dw: vec![0.0; 25 * 16],
            input_db: [0.0; 16],
            block_dw: vec![vec![0.0; 9 * 256]; m],
            block_db: vec![[0.0; 16]; m],
            dslope: vec![[0.0; 16]; m],
            output_dw: vec![0.0; 25 * 16 * oc],
            output_db: vec![0.0; oc],
            range: vec![[0.0; 3]; quant_points],
        }
    }

    fn add(&mut self, other: &Gradients) {
        fn add_all(a: &mut [f32], b: &[f32]) {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        }
        self.loss += other.loss;
        add_all(&mut self.input_dw, &other.input_dw);
        add_all(&mut self.input_db, &other.input_db);
        for (a, b) in self.block_dw.iter_mut().zip(&other.block_dw) {
            add_all(a, b);
        }
        for (a, b) in self.block_db.iter_mut().zip(&other.block_db) {
            add_all(a, b);
        }
        for (a, b) in self.dslope.iter_mut().zip(&other.dslope) {
            add_all(a, b);
        }
        add_all(&mut self.output_dw, &other.output_dw);
        add_all(&mut self.output_db, &other.output_db);
        for (a, b) in self.range.iter_mut().zip(&other.range) {
            for (a, b) in a.iter_mut().zip(b) {
                *a += b;
            }
        }
    }
}

/// Workspaces kept between steps (allocating and faulting in ~5 MB per thread each step
/// showed up in profiles); one per worker thread.
#[derive(Default)]
pub(crate) struct Workspaces(Mutex<Vec<Workspace>>);

impl Workspaces {
    fn take(&self, height: usize, width: usize, m: usize, oc: usize) -> Workspace {
        let mut pool = lock(&self.0);
        pool.retain(|w| w.fits(height, width, m, oc));
        pool.pop()
            .unwrap_or_else(|| Workspace::new(height, width, m, oc))
    }

    fn put(&self, workspace: Workspace) {
        lock(&self.0).push(workspace);
    }
}

impl std::fmt::Debug for Workspaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Workspaces")
    }
}

/// A lock that a panicked worker did not spoil: the data are plain buffers.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

extern "C" {
    fn sesr_parallel_for(n: i64, work: extern "C" fn(*mut c_void, i64, i64), context: *mut c_void);
}

/// Runs `work` over ranges that cover `0..n` on libtorch's intra-op threads
/// (`csrc/parallel.cpp`); a panic in `work` is carried back to the caller.
fn parallel_for<F: Fn(Range<usize>) + Sync>(n: usize, work: F) {
    struct Context<'a, F> {
        work: &'a F,
        panic: Mutex<Option<Box<dyn Any + Send>>>,
    }
    extern "C" fn trampoline<F: Fn(Range<usize>) + Sync>(
        context: *mut c_void,
        begin: i64,
        end: i64,
    ) {
        // SAFETY: `context` is the `Context<F>` below, alive until `sesr_parallel_for` returns.
        let context = unsafe { &*(context as *const Context<F>) };
        let run = || (context.work)(begin as usize..end as usize);
        if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(run)) {
            lock(&context.panic).get_or_insert(panic);
        }
    }
    let context = Context {
        work: &work,
        panic: Mutex::new(None),
    };
    // SAFETY: the callback matches the C signature and never unwinds into C++.
    unsafe {
        sesr_parallel_for(
            n as i64,
            trampoline::<F>,
            &context as *const Context<F> as *mut c_void,
        )
    };
    if let Some(panic) = context
        .panic
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
    {
        std::panic::resume_unwind(panic);
    }
}

/// One worker's feature maps for one image, reused image after image. `pad1`/`pad2` buffers
/// carry a zero border of 1/2 pixels for the 3x3/5x5 layer that reads them.
struct Workspace {
    height: usize,
    width: usize,
    /// `lr - 0.5`, pad2, 1 channel.
    input: Vec<f32>,
    /// Conv outputs before the activation: `z[0]` the input block's, `z[i]` block `i - 1`'s.
    z: Vec<Vec<f32>>,
    /// `act[b]`: block `b`'s input, pad1 (`z[0]`, then `prelu(z[b])`).
    act: Vec<Vec<f32>>,
    /// The long-residual sum, the output block's input, pad2.
    residual: Vec<f32>,
    /// Loss gradient at the output block's output, pad2, `scale^2` channels.
    out_grad: Vec<f32>,
    /// Gradient at the long-residual sum.
    residual_grad: Vec<f32>,
    /// Gradients at the current and the previous block's `z`, pad1.
    dz: [Vec<f32>; 2],
    /// The long-residual sum before its fake quantization.
    long_residual: Vec<f32>,
    /// Gradient at the (quantized) input from `+ input`, per pixel.
    input_grad: Vec<f32>,
    /// Gradient at `z[0]`, pad2.
    dz0: Vec<f32>,
    row: Vec<f32>,
    row2: Vec<f32>,
}

impl Workspace {
    fn fits(&self, height: usize, width: usize, m: usize, oc: usize) -> bool {
        (self.height, self.width, self.z.len()) == (height, width, m + 1)
            && self.out_grad.len() == (height + 4) * (width + 4) * oc
    }

    fn new(height: usize, width: usize, m: usize, oc: usize) -> Self {
        let plain = height * width * FEATURES;
        let pad1 = (height + 2) * (width + 2) * FEATURES;
        let pad2 = (height + 4) * (width + 4);
        Workspace {
            height,
            width,
            input: vec![0.0; pad2],
            z: vec![vec![0.0; plain]; m + 1],
            act: vec![vec![0.0; pad1]; m],
            residual: vec![0.0; pad2 * FEATURES],
            out_grad: vec![0.0; pad2 * oc],
            residual_grad: vec![0.0; plain],
            dz: [vec![0.0; pad1], vec![0.0; pad1]],
            long_residual: vec![0.0; plain],
            input_grad: vec![0.0; height * width],
            dz0: vec![0.0; pad2 * FEATURES],
            row: vec![0.0; width * FEATURES],
            row2: vec![0.0; width * FEATURES],
        }
    }

    /// Row `y` of a padded buffer's interior, `channels` floats per pixel.
    fn interior_range(pad: usize, width: usize, channels: usize, y: usize) -> Range<usize> {
        let start = ((y + pad) * (width + 2 * pad) + pad) * channels;
        start..start + width * channels
    }

    fn interior(
        buffer: &mut [f32],
        pad: usize,
        width: usize,
        channels: usize,
        y: usize,
    ) -> &mut [f32] {
        &mut buffer[Self::interior_range(pad, width, channels, y)]
    }

    /// Forward and backward pass of one image; adds its loss and gradients to `grads`.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    unsafe fn run(
        &mut self,
        weights: &StepWeights,
        lr: &[f32],
        hr: &[f32],
        inv_numel: f32,
        grads: &mut Gradients,
    ) {
        let (h, w) = (self.height, self.width);
        let m = weights.blocks.len();
        let oc = weights.scale * weights.scale;
        let plain_row = |y: usize| y * w * FEATURES..(y + 1) * w * FEATURES;
        // Fake quantization at `QuantPoint` index `i`, and its range sums.
        let quant = |i: usize| weights.quant.get(i).copied();
        let (input_point, input_block_point) = (0, 1);
        let (long_residual_point, output_block_point, output_point) = (m + 2, m + 3, m + 4);
        let mut range_sums = vec![[0.0f64; 3]; weights.quant.len()];

        // Input block: 5x5, 1 -> 16 on `fq(lr) - 0.5`.
        let quantized_input = |v: f32| quant(input_point).map_or(v, |q| q.apply(v));
        for y in 0..h {
            let row = Self::interior(&mut self.input, 2, w, 1, y);
            for (d, s) in row.iter_mut().zip(&lr[y * w..(y + 1) * w]) {
                *d = quantized_input(*s) - 0.5;
            }
        }
        let input = Padded {
            data: &self.input,
            row: w + 4,
            channels: 1,
        };
        for y in 0..h {
            avx512::conv_row::<5, 1>(input, y, w, &weights.input, &mut self.row);
            let z0 = &mut self.z[0][plain_row(y)];
            for (z, (c, b)) in z0
                .iter_mut()
                .zip(self.row.iter().zip(weights.input_bias.iter().cycle()))
            {
                *z = c + b;
            }
            let next = Self::interior(&mut self.act[0], 1, w, FEATURES, y);
            avx512::quantize(z0, quant(input_block_point), next);
        }

        // The m 3x3 blocks with their activation; the last adds the long residual.
        for b in 0..m {
            let (done, rest) = self.act.split_at_mut(b + 1);
            let block_input = Padded {
                data: &done[b],
                row: w + 2,
                channels: FEATURES,
            };
            for y in 0..h {
                avx512::conv_row_winograd(
                    block_input,
                    y,
                    w,
                    (&weights.blocks[b], &weights.blocks_winograd[b]),
                    &mut self.row,
                );
                let z = &mut self.z[b + 1][plain_row(y)];
                let params = (&weights.block_bias[b], &weights.slopes[b]);
                if b + 1 < m {
                    let next = Self::interior(&mut rest[0], 1, w, FEATURES, y);
                    avx512::block_forward_epilogue(&self.row, params, quant(2 + b), z, next);
                } else {
                    let (row, sum) = (&mut self.row2, &mut self.long_residual[plain_row(y)]);
                    avx512::block_forward_epilogue(&self.row, params, quant(2 + b), z, row);
                    // The long residual: the first block's (quantized) output, interior of act[0].
                    let first = &done[0][Self::interior_range(1, w, FEATURES, y)];
                    for ((s, a), f) in sum.iter_mut().zip(row.iter()).zip(first.iter()) {
                        *s = a + f;
                    }
                    let next = Self::interior(&mut self.residual, 2, w, FEATURES, y);
                    avx512::quantize(sum, quant(long_residual_point), next);
                }
            }
        }

        // Output block, + input, depth-to-space, clamp, L1 loss and its gradient (through the
        // output's fake quantizations under activation QAT).
        let residual = Padded {
            data: &self.residual,
            row: w + 4,
            channels: FEATURES,
        };
        let s = weights.scale;
        let hr_width = w * s;
        let hr_offsets: Vec<usize> = (0..oc)
            .map(|c| {
                let (dy, dx) = depth_to_space_offset(c, s);
                dy * hr_width + dx
            })
            .collect();
        let mut loss = 0.0f64;
        // Floats per pixel in `row`: the x2 kernel packs its 4 outputs.
        let stride = if oc == FEATURES { FEATURES } else { oc };
        let (output_block_quant, output_quant) = (quant(output_block_point), quant(output_point));
        let mut output_sums = [[0.0f64; 3]; 2];
        for y in 0..h {
            if oc == FEATURES {
                avx512::conv_row::<5, 16>(residual, y, w, &weights.output, &mut self.row);
            } else {
                avx512::conv_row_cout4::<5>(residual, y, w, &weights.output, &mut self.row);
            }
            let grad_row = Self::interior(&mut self.out_grad, 2, w, oc, y);
            let mut row_loss = 0.0f32;
            for x in 0..w {
                let base = y * s * hr_width + x * s;
                let input = quantized_input(lr[y * w + x]);
                let mut input_grad = 0.0f32;
                for c in 0..oc {
                    let conv = self.row[x * stride + c] + weights.output_bias[c];
                    let block = output_block_quant.map_or(conv, |q| q.apply(conv));
                    let sum = block + input;
                    let out = output_quant.map_or(sum, |q| q.apply(sum));
                    let diff = out.clamp(0.0, 1.0) - hr[base + hr_offsets[c]];
                    row_loss += diff.abs();
                    let inside = (0.0..=1.0).contains(&out);
                    let sign = if diff > 0.0 {
                        1.0
                    } else if diff < 0.0 {
                        -1.0
                    } else {
                        0.0
                    };
                    let mut g = if inside { sign * inv_numel } else { 0.0 };
                    if let (Some(qo), Some(qb)) = (output_quant, output_block_quant) {
                        g = qo.backward(g, sum, &mut output_sums[1]);
                        input_grad += g;
                        g = qb.backward(g, conv, &mut output_sums[0]);
                    }
                    grad_row[x * oc + c] = g;
                }
                self.input_grad[y * w + x] = input_grad;
            }
            loss += row_loss as f64;
        }
        grads.loss += loss;
        if !weights.quant.is_empty() {
            for (point, sums) in [output_block_point, output_point]
                .into_iter()
                .zip(output_sums)
            {
                range_sums[point] = sums;
            }
        }

        // Backward: output block.
        let out_grad = Grad {
            data: &self.out_grad,
            origin: 2 * (w + 4) + 2,
            row: w + 4,
            channels: oc,
        };
        if oc == FEATURES {
            let mut db = [0.0; 16];
            avx512::weight_grad_c16::<5>(residual, out_grad, h, w, &mut grads.output_dw, &mut db);
            for (a, b) in grads.output_db.iter_mut().zip(db) {
                *a += b;
            }
        } else {
            avx512::weight_grad_cout4::<5>(residual, out_grad, h, w, &mut grads.output_dw);
            avx512::channel_sums(out_grad, h, w, &mut grads.output_db);
        }
        let out_grad = Padded {
            data: &self.out_grad,
            row: w + 4,
            channels: oc,
        };
        let (mut sums, mut last_block_sums) = ([0.0f64; 3], [0.0f64; 3]);
        for y in 0..h {
            if oc == FEATURES {
                avx512::conv_row::<5, 16>(out_grad, y, w, &weights.output_backward, &mut self.row);
            } else {
                avx512::conv_row::<5, 4>(out_grad, y, w, &weights.output_backward, &mut self.row);
            }
            let residual_grad = &mut self.residual_grad[plain_row(y)];
            avx512::quantize_backward(
                &self.row,
                &self.long_residual[plain_row(y)],
                quant(long_residual_point),
                residual_grad,
                &mut sums,
            );
            avx512::activation_backward(
                residual_grad,
                &self.z[m][plain_row(y)],
                (&weights.slopes[m - 1], quant(2 + m - 1)),
                Self::interior(&mut self.dz[0], 1, w, FEATURES, y),
                (&mut grads.dslope[m - 1], &mut last_block_sums),
            );
        }
        if !weights.quant.is_empty() {
            range_sums[long_residual_point] = sums;
            range_sums[2 + m - 1] = last_block_sums;
        }

        // The blocks, last to first.
        for b in (0..m).rev() {
            let (current, previous) = {
                let [d0, d1] = &mut self.dz;
                if (m - 1 - b).is_multiple_of(2) {
                    (&*d0, d1)
                } else {
                    (&*d1, d0)
                }
            };
            let dz = Grad {
                data: current,
                origin: w + 2 + 1,
                row: w + 2,
                channels: FEATURES,
            };
            let block_input = Padded {
                data: &self.act[b],
                row: w + 2,
                channels: FEATURES,
            };
            avx512::weight_grad_c16::<3>(
                block_input,
                dz,
                h,
                w,
                &mut grads.block_dw[b],
                &mut grads.block_db[b],
            );
            let dz_padded = Padded {
                data: current,
                row: w + 2,
                channels: FEATURES,
            };
            let mut sums = [0.0f64; 3];
            for y in 0..h {
                avx512::conv_row_winograd(
                    dz_padded,
                    y,
                    w,
                    (
                        &weights.blocks_backward[b],
                        &weights.blocks_backward_winograd[b],
                    ),
                    &mut self.row,
                );
                if b > 0 {
                    avx512::activation_backward(
                        &self.row,
                        &self.z[b][plain_row(y)],
                        (&weights.slopes[b - 1], quant(2 + b - 1)),
                        Self::interior(previous, 1, w, FEATURES, y),
                        (&mut grads.dslope[b - 1], &mut sums),
                    );
                } else {
                    // The first block's output feeds block 0 and the long residual.
                    for (a, r) in self.row.iter_mut().zip(&self.residual_grad[plain_row(y)]) {
                        *a += r;
                    }
                    avx512::quantize_backward(
                        &self.row,
                        &self.z[0][plain_row(y)],
                        quant(input_block_point),
                        Self::interior(&mut self.dz0, 2, w, FEATURES, y),
                        &mut sums,
                    );
                }
            }
            let point = if b > 0 { 2 + b - 1 } else { input_block_point };
            if let Some(r) = range_sums.get_mut(point) {
                for (r, s) in r.iter_mut().zip(sums) {
                    *r += s;
                }
            }
        }

        // Input block: weight and bias gradients; under activation QAT also the input's range,
        // whose gradient comes from this block's input gradient and from `+ input`.
        let dz0 = Grad {
            data: &self.dz0,
            origin: 2 * (w + 4) + 2,
            row: w + 4,
            channels: FEATURES,
        };
        avx512::weight_grad_c1::<5>(input, dz0, h, w, &mut grads.input_dw, &mut grads.input_db);
        if let Some(q) = quant(input_point) {
            let dz0 = Padded {
                data: &self.dz0,
                row: w + 4,
                channels: FEATURES,
            };
            let mut sums = [0.0f64; 3];
            for y in 0..h {
                avx512::conv_row_cout4::<5>(dz0, y, w, &weights.input_backward, &mut self.row);
                for x in 0..w {
                    let g = self.row[x * 4] + self.input_grad[y * w + x];
                    q.backward(g, lr[y * w + x], &mut sums);
                }
            }
            range_sums[input_point] = sums;
        }
        for (total, sums) in grads.range.iter_mut().zip(&range_sums) {
            for (t, s) in total.iter_mut().zip(sums) {
                *t += s;
            }
        }
    }
}

/// Where channel `c` of a pixel lands in its `scale x scale` output patch: TensorFlow's
/// depth-to-space by 2, applied once (x2) or twice (x4), as [`crate::ops::depth_to_space`].
fn depth_to_space_offset(c: usize, scale: usize) -> (usize, usize) {
    if scale == 2 {
        (c / 2, c % 2)
    } else {
        // First depth-to-space: channel (i*2 + j)*4 + c2; second: c2 = i2*2 + j2.
        let (ij, c2) = (c / 4, c % 4);
        (2 * (ij / 2) + c2 / 2, 2 * (ij % 2) + c2 % 2)
    }
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
    let oc = s * s;
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
        let mut workspace = workspaces.take(h, w, config.m, oc);
        loop {
            let image = next_image.fetch_add(1, Ordering::Relaxed);
            if image >= n {
                break;
            }
            let lr = &lr[image * h * w..(image + 1) * h * w];
            let hr = &hr[image * h * w * oc..(image + 1) * h * w * oc];
            let mut grads = Gradients::zero(config.m, oc, weights.quant.len());
            // SAFETY: `applies` checked that the CPU has AVX-512F.
            unsafe { workspace.run(&weights, lr, hr, inv_numel, &mut grads) };
            lock(&per_image).push((image, grads));
        }
        workspaces.put(workspace);
    });
    let mut partial = per_image.into_inner().unwrap_or_else(|e| e.into_inner());
    partial.sort_by_key(|(image, _)| *image);
    let mut grads = Gradients::zero(config.m, oc, weights.quant.len());
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
    let oc = config.scale * config.scale;
    let conv_grad = |layout: Layout, d: &[f32], (co, ci, k): (usize, usize, usize)| {
        let shape = [co, ci, k, k].map(|n| n as i64);
        Tensor::from_slice(&layout.to_torch(d, (co, ci, k))).view(shape)
    };
    let mut layer_grads = vec![(
        conv_grad(Layout::Forward, &grads.input_dw, (16, 1, 5)),
        Tensor::from_slice(&grads.input_db),
    )];
    for (dw, db) in grads.block_dw.iter().zip(&grads.block_db) {
        layer_grads.push((
            conv_grad(Layout::Forward, dw, (16, 16, 3)),
            Tensor::from_slice(db),
        ));
    }
    layer_grads.push((
        conv_grad(output_layout(oc), &grads.output_dw, (oc, 16, 5)),
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
