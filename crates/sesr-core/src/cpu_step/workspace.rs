//! One worker's pass over one image: the forward pass layer by layer, the L1 loss and its
//! gradient, and the backward pass, in NHWC buffers kept from step to step ([`Workspaces`]).

use super::avx512::{self, FakeQuant, Grad, Padded};
use super::weights::{Gradients, StepWeights};
use super::{lock, LANES};
use std::ops::Range;
use std::sync::Mutex;

/// Where each activation quantizer sits in `StepWeights::quant` (`QuantPoint` order); block
/// `b`'s is `2 + b`.
struct Points {
    input: usize,
    input_block: usize,
    long_residual: usize,
    output_block: usize,
    output: usize,
}

impl Points {
    fn new(m: usize) -> Self {
        Points {
            input: 0,
            input_block: 1,
            long_residual: m + 2,
            output_block: m + 3,
            output: m + 4,
        }
    }

    fn block(b: usize) -> usize {
        2 + b
    }
}

/// The fake quantizer at point `i`, if activations are quantized.
fn quant(weights: &StepWeights, i: usize) -> Option<FakeQuant> {
    weights.quant.get(i).copied()
}

/// Gradient sums of each quantizer's nudged `[min, scale, max]`, `QuantPoint` order.
type RangeSums = Vec<[f64; 3]>;

/// Workspaces kept between steps (allocating and faulting in ~5 MB per thread each step
/// showed up in profiles); one per worker thread.
#[derive(Default)]
pub(crate) struct Workspaces(Mutex<Vec<Workspace>>);

impl Workspaces {
    /// A workspace for `height x width` images of a network with `(m, f, oc)`: blocks,
    /// features, output channels.
    pub(super) fn take(
        &self,
        height: usize,
        width: usize,
        shape: (usize, usize, usize),
    ) -> Workspace {
        let mut pool = lock(&self.0);
        pool.retain(|w| w.fits(height, width, shape));
        pool.pop()
            .unwrap_or_else(|| Workspace::new(height, width, shape))
    }

    pub(super) fn put(&self, workspace: Workspace) {
        lock(&self.0).push(workspace);
    }
}

impl std::fmt::Debug for Workspaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Workspaces")
    }
}

/// One worker's feature maps for one image, reused image after image. `pad1`/`pad2` buffers
/// carry a zero border of 1/2 pixels for the 3x3/5x5 layer that reads them.
pub(super) struct Workspace {
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
    fn fits(&self, height: usize, width: usize, (m, f, oc): (usize, usize, usize)) -> bool {
        (self.height, self.width, self.z.len()) == (height, width, m + 1)
            && self.out_grad.len() == (height + 4) * (width + 4) * oc
            && self.row.len() == width * f
    }

    fn new(height: usize, width: usize, (m, f, oc): (usize, usize, usize)) -> Self {
        let plain = height * width * f;
        let pad1 = (height + 2) * (width + 2) * f;
        let pad2 = (height + 4) * (width + 4);
        Workspace {
            height,
            width,
            input: vec![0.0; pad2],
            z: vec![vec![0.0; plain]; m + 1],
            act: vec![vec![0.0; pad1]; m],
            residual: vec![0.0; pad2 * f],
            out_grad: vec![0.0; pad2 * oc],
            residual_grad: vec![0.0; plain],
            dz: [vec![0.0; pad1], vec![0.0; pad1]],
            long_residual: vec![0.0; plain],
            input_grad: vec![0.0; height * width],
            dz0: vec![0.0; pad2 * f],
            row: vec![0.0; width * f],
            row2: vec![0.0; width * f],
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

    /// Forward and backward pass of one image of a network with `F` features (16 or 32, as
    /// `weights`); adds its loss and gradients to `grads`.
    ///
    /// # Safety
    /// The CPU must support AVX-512F (so must every pass below).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn run<const F: usize>(
        &mut self,
        weights: &StepWeights,
        lr: &[f32],
        hr: &[f32],
        inv_numel: f32,
        grads: &mut Gradients,
    ) {
        let mut range_sums = vec![[0.0f64; 3]; weights.quant.len()];
        assert_eq!(weights.features, F);
        self.forward_input_block::<F>(weights, lr);
        self.forward_blocks::<F>(weights);
        grads.loss += self.output_and_loss::<F>(weights, lr, hr, inv_numel, &mut range_sums);
        self.backward_output_block::<F>(weights, grads, &mut range_sums);
        self.backward_blocks::<F>(weights, grads, &mut range_sums);
        self.backward_input_block::<F>(weights, lr, grads, &mut range_sums);
        for (total, sums) in grads.range.iter_mut().zip(&range_sums) {
            for (t, s) in total.iter_mut().zip(sums) {
                *t += s;
            }
        }
    }

    /// Row `y` of an unpadded `F`-channel buffer.
    fn plain_row<const F: usize>(&self, y: usize) -> Range<usize> {
        y * self.width * F..(y + 1) * self.width * F
    }

    /// Input block: 5x5, 1 -> F on `fq(lr) - 0.5`, into `z[0]` and (quantized) `act[0]`.
    #[target_feature(enable = "avx512f")]
    unsafe fn forward_input_block<const F: usize>(&mut self, weights: &StepWeights, lr: &[f32]) {
        let (h, w) = (self.height, self.width);
        let points = Points::new(weights.blocks.len());
        let input_quant = quant(weights, points.input);
        for y in 0..h {
            let row = Self::interior(&mut self.input, 2, w, 1, y);
            for (d, s) in row.iter_mut().zip(&lr[y * w..(y + 1) * w]) {
                *d = input_quant.map_or(*s, |q| q.apply(*s)) - 0.5;
            }
        }
        let input = Padded {
            data: &self.input,
            row: w + 4,
            channels: 1,
        };
        for y in 0..h {
            avx512::conv_row::<5, 1>(input, y, w, (&weights.input, F / LANES), &mut self.row);
            let z0 = &mut self.z[0][y * w * F..(y + 1) * w * F];
            for (z, (c, b)) in z0
                .iter_mut()
                .zip(self.row.iter().zip(weights.input_bias.iter().cycle()))
            {
                *z = c + b;
            }
            let next = Self::interior(&mut self.act[0], 1, w, F, y);
            avx512::quantize(z0, quant(weights, points.input_block), next);
        }
    }

    /// The m 3x3 blocks with their activation; the last adds the long residual into
    /// `residual`, the output block's input.
    #[target_feature(enable = "avx512f")]
    unsafe fn forward_blocks<const F: usize>(&mut self, weights: &StepWeights) {
        let (h, w) = (self.height, self.width);
        let m = weights.blocks.len();
        let points = Points::new(m);
        for b in 0..m {
            let (done, rest) = self.act.split_at_mut(b + 1);
            let block_input = Padded {
                data: &done[b],
                row: w + 2,
                channels: F,
            };
            for y in 0..h {
                let plain_row = y * w * F..(y + 1) * w * F;
                avx512::conv_row_winograd::<F>(
                    block_input,
                    y,
                    w,
                    (&weights.blocks[b], &weights.blocks_winograd[b]),
                    &mut self.row,
                );
                let z = &mut self.z[b + 1][plain_row.clone()];
                let params = (&weights.block_bias[b][..], &weights.slopes[b][..]);
                let block_quant = quant(weights, Points::block(b));
                if b + 1 < m {
                    let next = Self::interior(&mut rest[0], 1, w, F, y);
                    avx512::block_forward_epilogue(&self.row, params, block_quant, z, next);
                } else {
                    let (row, sum) = (&mut self.row2, &mut self.long_residual[plain_row]);
                    avx512::block_forward_epilogue(&self.row, params, block_quant, z, row);
                    // The long residual: the first block's (quantized) output, interior of act[0].
                    let first = &done[0][Self::interior_range(1, w, F, y)];
                    for ((s, a), f) in sum.iter_mut().zip(row.iter()).zip(first.iter()) {
                        *s = a + f;
                    }
                    let next = Self::interior(&mut self.residual, 2, w, F, y);
                    avx512::quantize(sum, quant(weights, points.long_residual), next);
                }
            }
        }
    }

    /// Output block, + input, depth-to-space, clamp, L1 loss and its gradient at the output
    /// block's output (through the output's fake quantizations under activation QAT) into
    /// `out_grad`; returns the image's summed absolute error.
    #[target_feature(enable = "avx512f")]
    unsafe fn output_and_loss<const F: usize>(
        &mut self,
        weights: &StepWeights,
        lr: &[f32],
        hr: &[f32],
        inv_numel: f32,
        range_sums: &mut RangeSums,
    ) -> f64 {
        let (h, w) = (self.height, self.width);
        let points = Points::new(weights.blocks.len());
        let residual = Padded {
            data: &self.residual,
            row: w + 4,
            channels: F,
        };
        let s = weights.scale;
        let oc = s * s;
        let hr_width = w * s;
        let hr_offsets: Vec<usize> = (0..oc)
            .map(|c| {
                let (dy, dx) = depth_to_space_offset(c, s);
                dy * hr_width + dx
            })
            .collect();
        let mut loss = 0.0f64;
        // Floats per pixel in `row`: the x4 block has 16 (one register), the x2 kernel packs
        // its 4 outputs.
        let stride = oc;
        let input_quant = quant(weights, points.input);
        let output_block_quant = quant(weights, points.output_block);
        let output_quant = quant(weights, points.output);
        let mut output_sums = [[0.0f64; 3]; 2];
        for y in 0..h {
            if oc == LANES {
                avx512::conv_row::<5, F>(residual, y, w, (&weights.output, 1), &mut self.row);
            } else {
                avx512::conv_row_cout4::<5, F>(residual, y, w, &weights.output, &mut self.row);
            }
            let grad_row = Self::interior(&mut self.out_grad, 2, w, oc, y);
            let mut row_loss = 0.0f32;
            for x in 0..w {
                let base = y * s * hr_width + x * s;
                let input = input_quant.map_or(lr[y * w + x], |q| q.apply(lr[y * w + x]));
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
        if !weights.quant.is_empty() {
            range_sums[points.output_block] = output_sums[0];
            range_sums[points.output] = output_sums[1];
        }
        loss
    }

    /// Output block backward: its weight and bias gradients, and the gradient at the long
    /// residual (through its quantizer) and at the last block's conv output (`dz[0]`).
    #[target_feature(enable = "avx512f")]
    unsafe fn backward_output_block<const F: usize>(
        &mut self,
        weights: &StepWeights,
        grads: &mut Gradients,
        range_sums: &mut RangeSums,
    ) {
        let (h, w) = (self.height, self.width);
        let m = weights.blocks.len();
        let points = Points::new(m);
        let oc = weights.scale * weights.scale;
        let residual = Padded {
            data: &self.residual,
            row: w + 4,
            channels: F,
        };
        let out_grad = Grad {
            data: &self.out_grad,
            origin: 2 * (w + 4) + 2,
            row: w + 4,
            channels: oc,
        };
        if oc == LANES {
            let db = &mut grads.output_db;
            avx512::weight_grad::<5>(residual, out_grad, h, w, &mut grads.output_dw, db);
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
            let plain_row = self.plain_row::<F>(y);
            let backward = (&weights.output_backward[..], F / LANES);
            if oc == LANES {
                avx512::conv_row::<5, LANES>(out_grad, y, w, backward, &mut self.row);
            } else {
                avx512::conv_row::<5, 4>(out_grad, y, w, backward, &mut self.row);
            }
            let residual_grad = &mut self.residual_grad[plain_row.clone()];
            avx512::quantize_backward(
                &self.row,
                &self.long_residual[plain_row.clone()],
                quant(weights, points.long_residual),
                residual_grad,
                &mut sums,
            );
            avx512::activation_backward(
                residual_grad,
                &self.z[m][plain_row],
                (
                    &weights.slopes[m - 1][..],
                    quant(weights, Points::block(m - 1)),
                ),
                Self::interior(&mut self.dz[0], 1, w, F, y),
                (&mut grads.dslope[m - 1][..], &mut last_block_sums),
            );
        }
        if !weights.quant.is_empty() {
            range_sums[points.long_residual] = sums;
            range_sums[Points::block(m - 1)] = last_block_sums;
        }
    }

    /// The 3x3 blocks backward, last to first: weight and bias gradients, and the gradient
    /// at each block's input (through the previous activation), ending at `z[0]` (`dz0`).
    #[target_feature(enable = "avx512f")]
    unsafe fn backward_blocks<const F: usize>(
        &mut self,
        weights: &StepWeights,
        grads: &mut Gradients,
        range_sums: &mut RangeSums,
    ) {
        let (h, w) = (self.height, self.width);
        let m = weights.blocks.len();
        let points = Points::new(m);
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
                channels: F,
            };
            let block_input = Padded {
                data: &self.act[b],
                row: w + 2,
                channels: F,
            };
            avx512::weight_grad::<3>(
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
                channels: F,
            };
            let mut sums = [0.0f64; 3];
            for y in 0..h {
                let plain_row = y * w * F..(y + 1) * w * F;
                avx512::conv_row_winograd::<F>(
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
                        &self.z[b][plain_row],
                        (
                            &weights.slopes[b - 1][..],
                            quant(weights, Points::block(b - 1)),
                        ),
                        Self::interior(previous, 1, w, F, y),
                        (&mut grads.dslope[b - 1][..], &mut sums),
                    );
                } else {
                    // The first block's output feeds block 0 and the long residual.
                    for (a, r) in self
                        .row
                        .iter_mut()
                        .zip(&self.residual_grad[plain_row.clone()])
                    {
                        *a += r;
                    }
                    avx512::quantize_backward(
                        &self.row,
                        &self.z[0][plain_row],
                        quant(weights, points.input_block),
                        Self::interior(&mut self.dz0, 2, w, F, y),
                        &mut sums,
                    );
                }
            }
            let point = if b > 0 {
                Points::block(b - 1)
            } else {
                points.input_block
            };
            if let Some(r) = range_sums.get_mut(point) {
                for (r, s) in r.iter_mut().zip(sums) {
                    *r += s;
                }
            }
        }
    }

    /// Input block: weight and bias gradients; under activation QAT also the input's range,
    /// whose gradient comes from this block's input gradient and from `+ input`.
    #[target_feature(enable = "avx512f")]
    unsafe fn backward_input_block<const F: usize>(
        &mut self,
        weights: &StepWeights,
        lr: &[f32],
        grads: &mut Gradients,
        range_sums: &mut RangeSums,
    ) {
        let (h, w) = (self.height, self.width);
        let points = Points::new(weights.blocks.len());
        let input = Padded {
            data: &self.input,
            row: w + 4,
            channels: 1,
        };
        let dz0 = Grad {
            data: &self.dz0,
            origin: 2 * (w + 4) + 2,
            row: w + 4,
            channels: F,
        };
        avx512::weight_grad_c1::<5>(input, dz0, h, w, &mut grads.input_dw, &mut grads.input_db);
        if let Some(q) = quant(weights, points.input) {
            let dz0 = Padded {
                data: &self.dz0,
                row: w + 4,
                channels: F,
            };
            let mut sums = [0.0f64; 3];
            for y in 0..h {
                avx512::conv_row_cout4::<5, F>(dz0, y, w, &weights.input_backward, &mut self.row);
                for x in 0..w {
                    let g = self.row[x * 4] + self.input_grad[y * w + x];
                    q.backward(g, lr[y * w + x], &mut sums);
                }
            }
            range_sums[points.input] = sums;
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
