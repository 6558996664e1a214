//! The SESR graph around its layers (residuals, depth-to-space, clip), shared by the training
//! and the collapsed model, and the checks of its input.

use crate::ops::{channels_last, depth_to_space};
use crate::{CoreError, Result, SesrConfig};
use sesr_model::QuantPoint;
use tch::{nn, Tensor};

/// `p / "a" / "b"` for the name `a.b` (tch path segments cannot hold dots).
pub(super) fn dotted<'a>(p: nn::Path<'a>, name: &str) -> nn::Path<'a> {
    name.split('.').fold(p, |p, segment| &p / segment)
}

/// The SESR graph around its layers, shared by every model: `layer(i, x)` runs layer `i`
/// (0: input block, 1..=m: 3x3 blocks with their residual, m+1: output block),
/// `activation(i, x)` the non-linearity after 3x3 block `i`, `quant(point, x)` the activation
/// fake quantization (identity when off).
pub(super) fn sesr_graph(
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
pub(super) fn activation_fn(relu: bool, prelu: &[Tensor]) -> impl Fn(usize, Tensor) -> Tensor + '_ {
    move |i, x| {
        if relu {
            x.relu()
        } else {
            crate::prelu::prelu(&x, &prelu[i])
        }
    }
}

pub(super) fn check_input(input: &Tensor) -> Result<()> {
    match input.size()[..] {
        [_, 1, h, w] if h > 0 && w > 0 => Ok(()),
        _ => Err(CoreError::InvalidConfig(format!(
            "SESR takes a batch of Y planes [N, 1, H, W] with H, W > 0, got {:?}",
            input.size()
        ))),
    }
}
