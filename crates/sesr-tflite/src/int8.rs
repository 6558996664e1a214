//! The full-integer SESR model: an [`Int8Network`] (made by `sesr_net`'s quantization, or read
//! back with [`crate::read_int8`]) written as a `.tflite` with int8 input and output, int8
//! activations and weights, int32 biases.
//!
//! The graph is the float graph of [`crate::sesr`] with two differences:
//!
//! * the blocks' ReLU is fused into their convolutions (a PReLU, if the network has one, is a
//!   PRELU operator with per-tensor int8 slopes);
//! * there is no clip operator: the final ADD (`o + x`) is quantized on
//!   `final_sum ∩ [0, 1]`, so its saturation to the int8 range *is* `clip(o + x, 0, 1)`, and
//!   the depth-to-space operators, which only move values, keep those parameters.

use crate::error::Result;
use crate::graph::{emit, to_bytes, Constant, Conv, Layout, Numerics, Role};
use crate::schema::Quantization;
use crate::sesr::{dims, spread_conv, InputSize};
use sesr_net::{Int8Conv, Int8Network, QuantParams};

/// The integers of a network, as the emitter takes them.
struct Int8<'a> {
    network: &'a Int8Network,
    convs: Vec<Conv<i8, i32>>,
}

fn int8_conv(c: &Int8Conv) -> Conv<i8, i32> {
    Conv {
        out_channels: c.out_channels,
        in_channels: c.in_channels,
        kernel: c.kernel,
        weight: c.weight_oihw(),
        bias: c.bias.clone(),
        weight_scales: c.weight_scales.clone(),
        bias_scales: c.bias_scales(),
    }
}

fn per_tensor(p: QuantParams) -> Option<Quantization> {
    Some(Quantization::per_tensor(p.scale, p.zero_point as i64))
}

impl Numerics for Int8<'_> {
    type W = i8;
    type B = i32;

    fn int8(&self) -> bool {
        true
    }

    fn quantization(&self, role: Role) -> Option<Quantization> {
        let n = self.network;
        per_tensor(match role {
            Role::Input => n.input,
            Role::Shifted => n.shifted,
            Role::InputConv => n.convs[0].output,
            Role::BlockConv(i) => n.convs[i + 1].output,
            Role::Block(i) => n.layer_output(i + 1),
            Role::Residual => n.residual,
            Role::OutputConv => n.convs[n.m() + 1].output,
            Role::Output => n.output,
        })
    }

    fn conv(&self, index: usize) -> &Conv<i8, i32> {
        &self.convs[index]
    }

    /// Weight 127 with scale 1/127 (the narrow-range convention), so the input's integers
    /// come out unchanged: the requantization multiplier is 1/127 to float precision, and
    /// `round(127 d / 127)` is `d` for every `|d| <= 255`.
    fn spread(&self) -> Conv<i8, i32> {
        let mut conv = spread_conv(127i8, 0i32);
        let weight_scale = 1.0f32 / 127.0;
        conv.weight_scales = vec![weight_scale; 16];
        conv.bias_scales = vec![self.network.input.scale * weight_scale; 16];
        conv
    }

    fn minus_half(&self) -> Constant {
        Constant {
            data: to_bytes(&[self.network.shift_constant]),
            quantization: per_tensor(self.network.shift_constant_params),
        }
    }

    fn prelu(&self, i: usize) -> Option<Constant> {
        self.network.prelu.get(i).map(|p| Constant {
            data: to_bytes(&p.alpha),
            quantization: per_tensor(p.alpha_params),
        })
    }
}

/// Writes the full-integer model of `network` for an input of `size`, in the fastest
/// [`Layout`]: int8 input `[1, H, W, 1]` and int8 output `[1, sH, sW, 1]` with the network's
/// input and output parameters.
pub fn write_int8(network: &Int8Network, size: InputSize) -> Result<Vec<u8>> {
    write_int8_with(network, size, Layout::Fast)
}

/// Writes the full-integer model in `layout` (both layouts compute the same integers).
pub fn write_int8_with(network: &Int8Network, size: InputSize, layout: Layout) -> Result<Vec<u8>> {
    network.validate()?;
    let dims = dims(network.scale, network.features(), network.m(), size)?;
    let numerics = Int8 {
        network,
        convs: network.convs.iter().map(int8_conv).collect(),
    };
    emit(&numerics, dims, network.uses_prelu(), layout)
}
