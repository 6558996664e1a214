//! The integer network recovered from an int8 file: its convolutions, PReLUs and the
//! parameters of every activation, independent of the image size.

use crate::graph::Layout;
use crate::quant::{quantize_multiplier, PreluParams, QuantParams, QMIN};

/// One int8 convolution, stride 1, SAME padding: `out = requantize(sum w (x - zp_in) + bias)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Conv {
    /// Output channels.
    pub out_channels: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Kernel height and width.
    pub kernel: usize,
    /// Weights in TFLite's OHWI order.
    pub weight: Vec<i8>,
    /// int32 biases, one per output channel.
    pub bias: Vec<i32>,
    /// Weight scale of each output channel (zero points are 0).
    pub weight_scales: Vec<f32>,
    /// Parameters of the input activation.
    pub input: QuantParams,
    /// Parameters of the output activation.
    pub output: QuantParams,
    /// Whether a ReLU is fused (outputs clamped at the output zero point).
    pub relu: bool,
}

impl Int8Conv {
    /// TFLite's `(significand, shift)` requantization multiplier of each output channel:
    /// `input_scale * weight_scale / output_scale`, computed in double as TFLite does.
    pub fn multipliers(&self) -> Vec<(i32, i32)> {
        self.weight_scales
            .iter()
            .map(|&s| {
                quantize_multiplier(self.input.scale as f64 * s as f64 / self.output.scale as f64)
            })
            .collect()
    }

    /// The weights in OIHW order (PyTorch's and ONNX's).
    pub fn weight_oihw(&self) -> Vec<i8> {
        crate::graph::oihw(
            &self.weight,
            self.out_channels,
            self.in_channels,
            self.kernel,
        )
    }

    /// The smallest output integer (the output zero point under a fused ReLU).
    pub fn activation_min(&self) -> i32 {
        if self.relu {
            self.output.zero_point.max(QMIN)
        } else {
            QMIN
        }
    }
}

/// One int8 PRELU after a block conv, as TFLite's reference kernel computes it
/// ([`PreluParams`]): per-channel slopes stored as one per-tensor int8 vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Prelu {
    /// The stored slopes, one per channel.
    pub alpha: Vec<i8>,
    /// Parameters of the slopes.
    pub alpha_params: QuantParams,
    /// Parameters of the input (the block conv's output).
    pub input: QuantParams,
    /// Parameters of the output (the block's).
    pub output: QuantParams,
}

impl Int8Prelu {
    /// TFLite's fixed-point parameters of this PRELU.
    pub fn params(&self) -> PreluParams {
        PreluParams::new(self.input, self.alpha_params, self.output)
    }

    /// The 256 outputs of channel `channel`, indexed by `x + 128`: the PRELU is elementwise
    /// on int8, so a table computes it exactly.
    pub fn table(&self, channel: usize) -> [i8; 256] {
        let params = self.params();
        let alpha = self.alpha[channel];
        std::array::from_fn(|u| params.apply((u as i32 + QMIN) as i8, alpha))
    }
}

/// The integer SESR network of an int8 file, independent of the image size:
///
/// `t = ADD(x, shift_constant)`, `f0 = convs[0](t)`, `h = B_m(...B_1(f0))` where block
/// `B_i` is `convs[i]` with a fused ReLU or `prelu[i - 1](convs[i](.))`, `r = ADD(h, f0)`,
/// `o = convs[m + 1](r)`, `y = depth_to_space(ADD(o, x))`.
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Network {
    /// Upscaling factor (2 or 4).
    pub scale: usize,
    /// Height of the file's input (the size it was exported for).
    pub height: usize,
    /// Width of the file's input.
    pub width: usize,
    /// The file's layout ([`Layout::Fast`] when any convolution was phase-packed).
    pub layout: Layout,
    /// Parameters of the int8 input.
    pub input: QuantParams,
    /// The constant added to the input (-0.5 in our files), as stored.
    pub shift_constant: i8,
    /// Its parameters.
    pub shift_constant_params: QuantParams,
    /// Parameters of `x - 0.5`.
    pub shifted: QuantParams,
    /// The input conv, the `m` block convs (ReLU), the output conv (`scale^2` channels).
    pub convs: Vec<Int8Conv>,
    /// The blocks' PReLUs (`m` of them), or none when the blocks fuse a ReLU.
    pub prelu: Vec<Int8Prelu>,
    /// Parameters of the long residual sum `h + f0`.
    pub residual: QuantParams,
    /// Parameters of the final sum, which are the output's.
    pub output: QuantParams,
}

impl Int8Network {
    /// Number of 3x3 blocks.
    pub fn m(&self) -> usize {
        self.convs.len() - 2
    }

    /// Feature channels.
    pub fn features(&self) -> usize {
        self.convs[0].out_channels
    }

    /// Parameters of block `i`'s output (`f0`'s for `i = 0`, the input conv's): what the next
    /// layer reads.
    pub fn layer_output(&self, i: usize) -> QuantParams {
        match i.checked_sub(1).and_then(|b| self.prelu.get(b)) {
            Some(p) => p.output,
            None => self.convs[i].output,
        }
    }
}
