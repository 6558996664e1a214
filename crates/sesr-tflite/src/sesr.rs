//! The SESR network (a [`sesr_net::Float32Network`]) as a float32 TFLite model, and the input
//! size every SESR `.tflite` is written for.
//!
//! The graph, on one luminance plane `x` of shape `[1, H, W, 1]` with values in `[0, 1]`:
//!
//! ```text
//! t  = x - 0.5                       ADD (constant -0.5)
//! f0 = conv5x5(t)                    CONV_2D, SAME zero padding, bias
//! h  = f0; m times: h = act(conv3x3(h))   CONV_2D + PRELU, or CONV_2D with fused RELU
//! r  = h + f0                        ADD
//! o  = conv5x5(r) + x                CONV_2D (f -> scale^2), ADD (x broadcast over channels)
//! y  = clip(o, 0, 1)                 ADD with fused RELU, then RELU_N1_TO_1 (float);
//!                                    int8: the saturation of the ADD's output
//! y  = depth_to_space(y, 2)          DEPTH_TO_SPACE, twice for x4 (as the reference does)
//! ```
//!
//! The clip runs before the depth-to-space: both are exact and the clip is elementwise, so
//! the order does not change a single value, and the runtime can fuse the clip into the ADD.
//! Convolution weights arrive in PyTorch's OIHW layout and are written in TFLite's OHWI.
//!
//! By default ([`Layout::Fast`]) an input of even height and width gets the input conv, and
//! at x2 the output conv, computed on the 2x2 space-to-depth of their inputs, which XNNPACK
//! runs much faster and which gives the same values (bit for bit in int8); see
//! [`crate::graph`]'s documentation. [`Layout::Plain`] writes the graph above as it is.

use crate::error::{Result, TfliteError};
pub use crate::graph::Layout;
use crate::graph::{
    emit, output_conv_channel, to_bytes, Constant, Conv, Dims, Element, Numerics, Role,
};
use crate::schema::Quantization;
use crate::write::MAX_TENSOR_ELEMENTS;
use sesr_net::{ConvWeights, Float32Network};

/// The low-resolution input size a `.tflite` file is written for (TFLite tensors have fixed
/// shapes; the network itself runs at any size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputSize {
    /// Rows of the low-resolution input.
    pub height: usize,
    /// Columns of the low-resolution input.
    pub width: usize,
}

impl InputSize {
    /// 1080p in, 4K out at x2: the default of exported models.
    pub const FULL_HD: InputSize = InputSize {
        height: 1080,
        width: 1920,
    };

    /// `height` x `width`.
    pub const fn new(height: usize, width: usize) -> Self {
        Self { height, width }
    }

    /// Refuses an empty size and one whose largest tensor (`channels` per pixel) TFLite's
    /// `int32` sizes cannot hold.
    pub fn check(self, channels: usize) -> Result<()> {
        let (h, w) = (self.height, self.width);
        if h == 0 || w == 0 {
            return Err(TfliteError::InvalidGraph(format!(
                "input size must be at least 1x1, got {h}x{w}"
            )));
        }
        let largest = (h as u128) * (w as u128) * (channels as u128);
        if largest > MAX_TENSOR_ELEMENTS {
            return Err(TfliteError::TooLarge {
                tensor: format!("features of a {h}x{w} input ({channels} channels)"),
                elements: largest,
                limit: MAX_TENSOR_ELEMENTS,
            });
        }
        Ok(())
    }
}

impl std::fmt::Display for InputSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.height, self.width)
    }
}

/// The sizes of the graph of a network with `features` channels, `m` blocks and `scale`, at
/// `size`; checks what TFLite can hold (the largest tensors are `[1, H, W, max(f, scale^2)]`).
pub(crate) fn dims(scale: usize, features: usize, m: usize, size: InputSize) -> Result<Dims> {
    size.check(features.max(scale * scale))?;
    Ok(Dims {
        scale,
        height: size.height,
        width: size.width,
        features,
        m,
    })
}

fn float_conv(c: &ConvWeights) -> Conv<f32, f32> {
    Conv {
        out_channels: c.out_channels,
        in_channels: c.in_channels,
        kernel: c.kernel,
        weight: c.weight.clone(),
        bias: c.bias.clone(),
        weight_scales: Vec::new(),
        bias_scales: Vec::new(),
    }
}

/// The float32 numbers of a network.
struct Float<'a> {
    network: &'a Float32Network,
    convs: Vec<Conv<f32, f32>>,
}

impl Numerics for Float<'_> {
    type W = f32;
    type B = f32;

    fn int8(&self) -> bool {
        false
    }

    fn quantization(&self, _: Role) -> Option<Quantization> {
        None
    }

    fn conv(&self, index: usize) -> &Conv<f32, f32> {
        &self.convs[index]
    }

    fn spread(&self) -> Conv<f32, f32> {
        spread_conv(1.0, 0.0)
    }

    fn minus_half(&self) -> Constant {
        Constant {
            data: to_bytes(&[-0.5f32]),
            quantization: None,
        }
    }

    fn prelu(&self, i: usize) -> Option<Constant> {
        self.network.prelu.get(i).map(|slopes| Constant {
            data: to_bytes(slopes),
            quantization: None,
        })
    }
}

/// The 1x1 conv giving each of the 16 packed output channels of block position `(a, b)` the
/// input pixel at that position: weight `one` from input channel `a * 2 + b`, `zero` elsewhere.
pub(crate) fn spread_conv<W: Element, B: Element>(one: W, zero_bias: B) -> Conv<W, B> {
    let mut weight = vec![W::default(); 16 * 4];
    for a in 0..2 {
        for b in 0..2 {
            for s in 0..4 {
                weight[output_conv_channel(a, b, s) * 4 + a * 2 + b] = one;
            }
        }
    }
    Conv {
        out_channels: 16,
        in_channels: 4,
        kernel: 1,
        weight,
        bias: vec![zero_bias; 16],
        weight_scales: Vec::new(),
        bias_scales: Vec::new(),
    }
}

/// Writes the float32 model of `network` for an input of `size`, in the fastest [`Layout`]:
/// float32 input `[1, H, W, 1]` (Y in `[0, 1]`), output `[1, sH, sW, 1]`.
pub fn write_float32(network: &Float32Network, size: InputSize) -> Result<Vec<u8>> {
    write_float32_with(network, size, Layout::Fast)
}

/// Writes the float32 model in `layout`.
pub fn write_float32_with(
    network: &Float32Network,
    size: InputSize,
    layout: Layout,
) -> Result<Vec<u8>> {
    network.validate()?;
    let dims = dims(network.scale, network.features(), network.m(), size)?;
    let numerics = Float {
        network,
        convs: network.convs.iter().map(float_conv).collect(),
    };
    emit(&numerics, dims, network.uses_prelu(), layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_tflite_cannot_hold_are_refused() {
        assert!(InputSize::new(1080, 1920).check(16).is_ok());
        let err = InputSize::new(0, 5).check(16).unwrap_err().to_string();
        assert!(err.contains("at least 1x1"), "{err}");
        assert!(matches!(
            InputSize::new(1 << 20, 1 << 20).check(16),
            Err(TfliteError::TooLarge { .. })
        ));
    }
}
