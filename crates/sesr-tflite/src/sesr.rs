//! The SESR inference graph as a TFLite model, in float32 and int8.
//!
//! SESR ("Collapsible Linear Blocks for Super-Efficient Super Resolution", Bhardwaj et al.,
//! MLSys 2022) at inference time is a chain of small convolutions: a collapsed model holds one
//! 5x5 input conv, `m` 3x3 convs (their short residuals already folded into the kernels), and
//! a 5x5 output conv. The network, on one luminance plane `x` of shape `[1, H, W, 1]` with
//! values in `[0, 1]`:
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
    emit, ohwi, output_conv_channel, to_bytes, Constant, Conv, Dims, Element, Numerics, Role,
};
use crate::schema::Quantization;
use crate::write::MAX_TENSOR_ELEMENTS;

/// Default low-resolution input height of exported models (1080p in, 4K out at x2).
pub const DEFAULT_HEIGHT: usize = 1080;
/// Default low-resolution input width of exported models.
pub const DEFAULT_WIDTH: usize = 1920;

/// One convolution of a collapsed SESR: stride 1, SAME zero padding, bias.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvWeights {
    /// Output channels.
    pub out_channels: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Kernel side (odd).
    pub kernel: usize,
    /// OIHW (PyTorch layout), f32.
    pub weight: Vec<f32>,
    /// One per output channel.
    pub bias: Vec<f32>,
}

impl ConvWeights {
    /// The weights in TFLite's OHWI layout.
    pub fn ohwi(&self) -> Vec<f32> {
        ohwi(
            &self.weight,
            self.out_channels,
            self.in_channels,
            self.kernel,
        )
    }

    fn check(&self, name: &str, in_channels: usize, out_channels: Option<usize>) -> Result<()> {
        let bad = |what: String| Err(TfliteError::InvalidGraph(format!("{name}: {what}")));
        if self.in_channels != in_channels {
            return bad(format!(
                "takes {} input channels, the graph feeds it {in_channels}",
                self.in_channels
            ));
        }
        if let Some(out) = out_channels {
            if self.out_channels != out {
                return bad(format!(
                    "has {} output channels, needs {out}",
                    self.out_channels
                ));
            }
        }
        if self.out_channels == 0 || self.kernel.is_multiple_of(2) || self.kernel > 63 {
            return bad(format!(
                "needs at least one output channel and an odd kernel up to 63, got {} \
                 channels and kernel {}",
                self.out_channels, self.kernel
            ));
        }
        let expected =
            (self.out_channels as u128) * (self.in_channels as u128) * (self.kernel as u128).pow(2);
        if self.weight.len() as u128 != expected {
            return bad(format!(
                "weight has {} values, OIHW {}x{}x{}x{} needs {expected}",
                self.weight.len(),
                self.out_channels,
                self.in_channels,
                self.kernel,
                self.kernel
            ));
        }
        if self.bias.len() != self.out_channels {
            return bad(format!(
                "bias has {} values, needs {}",
                self.bias.len(),
                self.out_channels
            ));
        }
        if self.weight.iter().chain(&self.bias).any(|v| !v.is_finite()) {
            return bad("weights or biases are not all finite".into());
        }
        Ok(())
    }
}

/// A collapsed SESR network and the input size to export it for.
#[derive(Clone, Debug, PartialEq)]
pub struct SesrGraph {
    /// Upscaling factor, 2 or 4.
    pub scale: usize,
    /// Low-resolution input height.
    pub height: usize,
    /// Low-resolution input width.
    pub width: usize,
    /// The input 5x5 conv (1 -> f), the `m` 3x3 convs (f -> f, residuals already folded in),
    /// the output 5x5 conv (f -> scale^2).
    pub convs: Vec<ConvWeights>,
    /// `m` slope vectors (one slope per channel) for PReLU after each 3x3 conv; empty for
    /// ReLU, the activation the quantized network uses.
    pub prelu: Vec<Vec<f32>>,
}

impl SesrGraph {
    /// Number of 3x3 blocks.
    pub fn m(&self) -> usize {
        self.convs.len().saturating_sub(2)
    }

    /// Feature channels `f`.
    pub fn features(&self) -> usize {
        self.convs.first().map_or(0, |c| c.out_channels)
    }

    /// Whether the blocks use PReLU (otherwise ReLU).
    pub fn uses_prelu(&self) -> bool {
        !self.prelu.is_empty()
    }

    /// `[1, H, W, 1]`.
    pub fn input_shape(&self) -> [usize; 4] {
        [1, self.height, self.width, 1]
    }

    /// `[1, scale H, scale W, 1]`.
    pub fn output_shape(&self) -> [usize; 4] {
        [1, self.scale * self.height, self.scale * self.width, 1]
    }

    /// Checks channel counts, weight lengths, scale, slopes and tensor sizes.
    pub fn validate(&self) -> Result<()> {
        if self.scale != 2 && self.scale != 4 {
            return Err(TfliteError::InvalidGraph(format!(
                "scale must be 2 or 4, got {}",
                self.scale
            )));
        }
        if self.height == 0 || self.width == 0 {
            return Err(TfliteError::InvalidGraph(format!(
                "input size must be at least 1x1, got {}x{}",
                self.height, self.width
            )));
        }
        if self.convs.len() < 2 {
            return Err(TfliteError::InvalidGraph(format!(
                "needs an input and an output conv, got {} convs",
                self.convs.len()
            )));
        }
        let f = self.features();
        let m = self.m();
        self.convs[0].check("input conv", 1, None)?;
        for (i, conv) in self.convs[1..=m].iter().enumerate() {
            conv.check(&format!("block {i} conv"), f, Some(f))?;
        }
        self.convs[m + 1].check("output conv", f, Some(self.scale * self.scale))?;
        if self.uses_prelu() {
            if self.prelu.len() != m {
                return Err(TfliteError::InvalidGraph(format!(
                    "{} PReLU slope vectors for {m} blocks (give none for ReLU)",
                    self.prelu.len()
                )));
            }
            for (i, slopes) in self.prelu.iter().enumerate() {
                if slopes.len() != f || slopes.iter().any(|s| !s.is_finite()) {
                    return Err(TfliteError::InvalidGraph(format!(
                        "PReLU {i} needs {f} finite slopes, got {}",
                        slopes.len()
                    )));
                }
            }
        }
        // The largest tensors: [1, H, W, max(f, scale^2)] and the output [1, sH, sW, 1].
        let pixels = (self.height as u128) * (self.width as u128);
        let largest = pixels * (f.max(self.scale * self.scale) as u128);
        if largest > MAX_TENSOR_ELEMENTS {
            return Err(TfliteError::TooLarge {
                tensor: format!(
                    "features of a {}x{} input ({} channels)",
                    self.height,
                    self.width,
                    f.max(self.scale * self.scale)
                ),
                elements: largest,
                limit: MAX_TENSOR_ELEMENTS,
            });
        }
        Ok(())
    }
}

impl SesrGraph {
    pub(crate) fn dims(&self) -> Dims {
        Dims {
            scale: self.scale,
            height: self.height,
            width: self.width,
            features: self.features(),
            m: self.m(),
        }
    }
}

impl ConvWeights {
    pub(crate) fn to_conv(&self) -> Conv<f32, f32> {
        Conv {
            out_channels: self.out_channels,
            in_channels: self.in_channels,
            kernel: self.kernel,
            weight: self.weight.clone(),
            bias: self.bias.clone(),
            weight_scales: Vec::new(),
            bias_scales: Vec::new(),
        }
    }
}

/// The float32 numbers of a graph.
struct Float<'a> {
    graph: &'a SesrGraph,
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
        self.graph.prelu.get(i).map(|slopes| Constant {
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

/// Writes the float32 model in the fastest [`Layout`]: float32 input `[1, H, W, 1]` (Y in
/// `[0, 1]`), output `[1, sH, sW, 1]`.
pub fn write_float32(graph: &SesrGraph) -> Result<Vec<u8>> {
    write_float32_with(graph, Layout::Fast)
}

/// Writes the float32 model in `layout`.
pub fn write_float32_with(graph: &SesrGraph, layout: Layout) -> Result<Vec<u8>> {
    graph.validate()?;
    let numerics = Float {
        graph,
        convs: graph.convs.iter().map(ConvWeights::to_conv).collect(),
    };
    emit(&numerics, graph.dims(), graph.uses_prelu(), layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(o: usize, i: usize, k: usize) -> ConvWeights {
        ConvWeights {
            out_channels: o,
            in_channels: i,
            kernel: k,
            weight: (0..o * i * k * k).map(|v| v as f32).collect(),
            bias: vec![0.0; o],
        }
    }

    fn graph() -> SesrGraph {
        SesrGraph {
            scale: 2,
            height: 4,
            width: 6,
            convs: vec![conv(3, 1, 5), conv(3, 3, 3), conv(4, 3, 5)],
            prelu: vec![vec![0.1; 3]],
        }
    }

    #[test]
    fn oihw_becomes_ohwi() {
        let c = conv(2, 3, 3);
        let ohwi = c.ohwi();
        // [o][y][x][i] = [o][i][y][x]
        for o in 0..2 {
            for y in 0..3 {
                for x in 0..3 {
                    for i in 0..3 {
                        assert_eq!(
                            ohwi[((o * 3 + y) * 3 + x) * 3 + i],
                            c.weight[((o * 3 + i) * 3 + y) * 3 + x]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn validate_names_what_is_wrong() {
        assert!(graph().validate().is_ok());
        let err = |g: SesrGraph| g.validate().unwrap_err().to_string();
        let mut g = graph();
        g.scale = 3;
        assert!(err(g).contains("scale must be 2 or 4"));
        let mut g = graph();
        g.width = 0;
        assert!(err(g).contains("at least 1x1"));
        let mut g = graph();
        g.convs[1].weight.pop();
        assert!(err(g).contains("block 0 conv: weight has 80 values"));
        let mut g = graph();
        g.convs[2] = conv(16, 3, 5);
        assert!(err(g).contains("output conv: has 16 output channels, needs 4"));
        let mut g = graph();
        g.convs[1] = conv(3, 2, 3);
        assert!(err(g).contains("block 0 conv: takes 2 input channels"));
        let mut g = graph();
        g.convs[0].kernel = 4;
        assert!(err(g).contains("odd kernel"));
        let mut g = graph();
        g.convs[0].bias[0] = f32::NAN;
        assert!(err(g).contains("not all finite"));
        let mut g = graph();
        g.prelu.push(vec![0.1; 3]);
        assert!(err(g).contains("2 PReLU slope vectors for 1 blocks"));
        let mut g = graph();
        g.convs.truncate(1);
        assert!(err(g).contains("needs an input and an output conv"));
        let mut g = graph();
        (g.height, g.width) = (1 << 20, 1 << 20);
        assert!(matches!(g.validate(), Err(TfliteError::TooLarge { .. })));
    }
}
