//! The collapsed training step's forward and backward pass on x86 CPUs, by hand-written
//! AVX-512 kernels instead of libtorch's convolutions.
//!
//! Why: libtorch (oneDNN) runs SESR's 16-channel convolutions at about half of the CPU's FMA
//! peak and its 4-channel output block at a quarter; a whole M5 step took ~118 ms on the 2-core
//! machine. Here each worker thread takes whole images and runs the network's forward and
//! backward pass image by image, so an image's activations (~1.5 MB at 64x64) stay in the
//! core's cache, bias, PReLU, residuals, depth-to-space, clamp and the L1 loss are fused into
//! the convolutions' epilogues, and the loss gradient never exists as a full tensor.
//!
//! Autograd still owns the paper's trick: the collapsed weights come from
//! [`crate::Sesr`]'s collapse graph, these kernels return the gradients of the collapsed
//! weights, biases and PReLU slopes, and one backward pass of
//! `sum(W_c * dW_c) + sum(b_c * db_c) + sum(slope * dslope)` carries them through the collapse
//! into the expanded weights. The results equal the autograd step's within float rounding
//! (`tests/cpu_step.rs`).
//!
//! It applies to float32 CPU tensors, f = 16 (every preset but XL), no activation quantization
//! (weight QAT happens in the collapse, on autograd, and is fine), and CPUs with AVX-512F;
//! everything else takes the libtorch path.
// `unsafe` only to call the AVX-512 kernels once the CPU feature has been checked.
#![allow(unsafe_code)]

mod avx512;

use crate::{CollapsedConv, Result, SesrConfig};
use avx512::{Grad, Padded};
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
    /// Output channels of the output block (`scale^2`).
    out_channels: usize,
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
    fn new(config: &SesrConfig, convs: &[CollapsedConv], slopes: &[Tensor]) -> Self {
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
            out_channels: oc,
            input,
            input_bias: vector16(&convs[0].bias),
            blocks,
            blocks_backward,
            block_bias: convs[1..=m].iter().map(|c| vector16(&c.bias)).collect(),
            slopes: slopes.iter().map(vector16).collect(),
            output: output_layout(oc).arrange(&output_weight, (oc, 16, 5)),
            output_backward: Layout::Backward.arrange(&output_weight, (oc, 16, 5)),
            output_bias: values(&convs[m + 1].bias),
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
}

impl Gradients {
    fn zero(m: usize, oc: usize) -> Self {
        Gradients {
            loss: 0.0,
            input_dw: vec![0.0; 25 * 16],
            input_db: [0.0; 16],
            block_dw: vec![vec![0.0; 9 * 256]; m],
            block_db: vec![[0.0; 16]; m],
            dslope: vec![[0.0; 16]; m],
            output_dw: vec![0.0; 25 * 16 * oc],
            output_db: vec![0.0; oc],
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
    /// Gradient at `z[0]`.
    dz0: Vec<f32>,
    row: Vec<f32>,
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
            dz0: vec![0.0; plain],
            row: vec![0.0; width * FEATURES],
        }
    }

    /// Row `y` of a padded buffer's interior, `channels` floats per pixel.
    fn interior(
        buffer: &mut [f32],
        pad: usize,
        width: usize,
        channels: usize,
        y: usize,
    ) -> &mut [f32] {
        let start = ((y + pad) * (width + 2 * pad) + pad) * channels;
        &mut buffer[start..start + width * channels]
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
        let oc = weights.out_channels;
        let plain_row = |y: usize| y * w * FEATURES..(y + 1) * w * FEATURES;

        // Input block: 5x5, 1 -> 16 on `lr - 0.5`.
        for y in 0..h {
            let row = Self::interior(&mut self.input, 2, w, 1, y);
            for (d, s) in row.iter_mut().zip(&lr[y * w..(y + 1) * w]) {
                *d = s - 0.5;
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
            let next = Self::interior(&mut self.act[0], 1, w, FEATURES, y);
            for ((z, n), (c, b)) in z0
                .iter_mut()
                .zip(next.iter_mut())
                .zip(self.row.iter().zip(weights.input_bias.iter().cycle()))
            {
                *z = c + b;
                *n = *z;
            }
        }

        // The m 3x3 blocks with their PReLU; the last adds the long residual.
        for b in 0..m {
            let (done, rest) = self.act.split_at_mut(b + 1);
            let block_input = Padded {
                data: &done[b],
                row: w + 2,
                channels: FEATURES,
            };
            let (z_first, z_rest) = self.z.split_at_mut(1);
            for y in 0..h {
                avx512::conv_row_winograd(
                    block_input,
                    y,
                    w,
                    (&weights.blocks[b], &weights.blocks_winograd[b]),
                    &mut self.row,
                );
                let z = &mut z_rest[b][plain_row(y)];
                let (next, residual) = if b + 1 < m {
                    (Self::interior(&mut rest[0], 1, w, FEATURES, y), None)
                } else {
                    (
                        Self::interior(&mut self.residual, 2, w, FEATURES, y),
                        Some(&z_first[0][plain_row(y)]),
                    )
                };
                avx512::block_forward_epilogue(
                    &self.row,
                    &weights.block_bias[b],
                    &weights.slopes[b],
                    z,
                    residual,
                    next,
                );
            }
        }

        // Output block, + input, depth-to-space, clamp, L1 loss and its gradient.
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
                for c in 0..oc {
                    let out = self.row[x * stride + c] + weights.output_bias[c] + lr[y * w + x];
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
                    grad_row[x * oc + c] = if inside { sign * inv_numel } else { 0.0 };
                }
            }
            loss += row_loss as f64;
        }
        grads.loss += loss;

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
        for y in 0..h {
            if oc == FEATURES {
                avx512::conv_row::<5, 16>(out_grad, y, w, &weights.output_backward, &mut self.row);
            } else {
                avx512::conv_row::<5, 4>(out_grad, y, w, &weights.output_backward, &mut self.row);
            }
            self.residual_grad[plain_row(y)].copy_from_slice(&self.row);
            avx512::prelu_backward(
                &self.row,
                &self.z[m][plain_row(y)],
                &weights.slopes[m - 1],
                Self::interior(&mut self.dz[0], 1, w, FEATURES, y),
                &mut grads.dslope[m - 1],
            );
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
                    avx512::prelu_backward(
                        &self.row,
                        &self.z[b][plain_row(y)],
                        &weights.slopes[b - 1],
                        Self::interior(previous, 1, w, FEATURES, y),
                        &mut grads.dslope[b - 1],
                    );
                } else {
                    let rows = plain_row(y);
                    for ((d, a), r) in self.dz0[rows.clone()]
                        .iter_mut()
                        .zip(&self.row)
                        .zip(&self.residual_grad[rows])
                    {
                        *d = a + r;
                    }
                }
            }
        }

        // Input block: weight and bias gradients only.
        let dz0 = Grad {
            data: &self.dz0,
            origin: 0,
            row: w,
            channels: FEATURES,
        };
        avx512::weight_grad_c1::<5>(input, dz0, h, w, &mut grads.input_dw, &mut grads.input_db);
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
    slopes: &[Tensor],
    lr: &Tensor,
    hr: &Tensor,
) -> Result<f64> {
    let [n, _, h, w] = lr.size()[..] else {
        unreachable!("applies() checked the shape")
    };
    let (n, h, w) = (n as usize, h as usize, w as usize);
    let s = config.scale;
    let oc = s * s;
    let weights = StepWeights::new(config, convs, slopes);
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
            let mut grads = Gradients::zero(config.m, oc);
            // SAFETY: `applies` checked that the CPU has AVX-512F.
            unsafe { workspace.run(&weights, lr, hr, inv_numel, &mut grads) };
            lock(&per_image).push((image, grads));
        }
        workspaces.put(workspace);
    });
    let mut partial = per_image.into_inner().unwrap_or_else(|e| e.into_inner());
    partial.sort_by_key(|(image, _)| *image);
    let partial: Vec<Gradients> = partial.into_iter().map(|(_, g)| g).collect();
    let mut grads = Gradients::zero(config.m, oc);
    for p in &partial {
        grads.add(p);
    }
    backward_through_collapse(config, convs, slopes, &grads)?;
    Ok(grads.loss / (n * h * w * oc) as f64)
}

/// Hands the collapsed gradients to autograd: the gradient of `sum(param * grad)` with respect
/// to `param` is `grad`, so one backward pass of that sum reaches the expanded weights.
fn backward_through_collapse(
    config: &SesrConfig,
    convs: &[CollapsedConv],
    slopes: &[Tensor],
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
    let proxy = Tensor::stack(&terms, 0).sum(Kind::Float);
    proxy.f_backward()?;
    Ok(())
}
