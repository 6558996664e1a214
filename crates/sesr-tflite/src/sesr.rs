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

use crate::error::{Result, TfliteError};
use crate::schema::{Activation, BuiltinOp, OperatorOptions, Padding, TensorType};
use crate::write::{dim, element_count, ModelBuilder, SubgraphBuilder, MAX_TENSOR_ELEMENTS};

/// Default low-resolution input height of exported models (1080p in, 4K out at x2).
pub const DEFAULT_HEIGHT: usize = 1080;
/// Default low-resolution input width of exported models.
pub const DEFAULT_WIDTH: usize = 1920;

/// Operator versions written. LiteRT 2.3 runs every one of them; the int8 versions are the
/// ones TensorFlow's converter assigns to int8 kernels with per-channel weights.
pub(crate) mod versions {
    pub const CONV_2D_F32: i32 = 1;
    pub const CONV_2D_I8: i32 = 3;
    pub const ADD_F32: i32 = 1;
    pub const ADD_I8: i32 = 2;
    pub const DEPTH_TO_SPACE_F32: i32 = 1;
    pub const DEPTH_TO_SPACE_I8: i32 = 2;
    pub const PRELU: i32 = 1;
    pub const RELU_N1_TO_1: i32 = 1;
}

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
        let (o, i, k) = (self.out_channels, self.in_channels, self.kernel);
        let mut out = Vec::with_capacity(self.weight.len());
        for oc in 0..o {
            for ky in 0..k {
                for kx in 0..k {
                    for ic in 0..i {
                        out.push(self.weight[((oc * i + ic) * k + ky) * k + kx]);
                    }
                }
            }
        }
        out
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
        if self.out_channels == 0 || self.kernel % 2 == 0 || self.kernel > 63 {
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

/// Shapes of the graph's activations, as TFLite dimensions.
#[derive(Clone, Debug)]
pub(crate) struct Shapes {
    pub input: [i32; 4],
    pub features: [i32; 4],
    pub output_conv: [i32; 4],
    /// After each depth-to-space: `[1, 2H, 2W, s^2/4]`, then `[1, 4H, 4W, 1]` for x4.
    pub depth_to_space: Vec<[i32; 4]>,
}

impl Shapes {
    pub fn new(graph: &SesrGraph) -> Result<Self> {
        graph.validate()?;
        let (h, w) = (graph.height, graph.width);
        let f = dim("features", graph.features())?;
        let hi = dim("input height", h)?;
        let wi = dim("input width", w)?;
        let s2 = (graph.scale * graph.scale) as i32;
        let mut depth_to_space = Vec::new();
        let (mut side, mut channels) = (1usize, s2);
        for _ in 0..graph.scale / 2 {
            side *= 2;
            channels /= 4;
            let shape = [
                1,
                dim("output height", side * h)?,
                dim("output width", side * w)?,
                channels,
            ];
            element_count("depth_to_space", &shape)?;
            depth_to_space.push(shape);
        }
        Ok(Self {
            input: [1, hi, wi, 1],
            features: [1, hi, wi, f],
            output_conv: [1, hi, wi, s2],
            depth_to_space,
        })
    }
}

/// Names of the activation tensors, shared by both writers and the reader's tests.
pub(crate) mod names {
    pub const INPUT: &str = "input";
    pub const SHIFTED: &str = "input_minus_half";
    pub const INPUT_CONV: &str = "input_conv";
    pub const RESIDUAL: &str = "residual_sum";
    pub const OUTPUT_CONV: &str = "output_conv";
    pub const FINAL_SUM: &str = "final_sum";
    pub const CLIPPED: &str = "clipped";
    pub const OUTPUT: &str = "output";

    pub fn block_conv(i: usize) -> String {
        format!("block_{i}_conv")
    }

    pub fn block(i: usize) -> String {
        format!("block_{i}")
    }

    pub fn depth_to_space(i: usize, last: bool) -> String {
        if last {
            OUTPUT.to_string()
        } else {
            format!("depth_to_space_{i}")
        }
    }
}

fn description(graph: &SesrGraph, numeric: &str) -> String {
    format!(
        "SESR-M{} f{} x{} {numeric}, {}, input {}x{} (sesr-tflite {})",
        graph.m(),
        graph.features(),
        graph.scale,
        if graph.uses_prelu() { "PReLU" } else { "ReLU" },
        graph.height,
        graph.width,
        env!("CARGO_PKG_VERSION")
    )
}

/// Writes the float32 model: float32 input `[1, H, W, 1]`, output `[1, sH, sW, 1]`.
pub fn write_float32(graph: &SesrGraph) -> Result<Vec<u8>> {
    let shapes = Shapes::new(graph)?;
    let m = graph.m();
    let f = graph.features();
    let mut model = ModelBuilder::new(&description(graph, "float32"));
    let mut sg = SubgraphBuilder::new("sesr");
    let f32t = TensorType::FLOAT32;

    let conv = |sg: &mut SubgraphBuilder,
                model: &mut ModelBuilder,
                name: &str,
                weights: &ConvWeights,
                input: i32,
                output: i32,
                activation: Activation|
     -> Result<()> {
        let k = weights.kernel as i32;
        let o = weights.out_channels as i32;
        let i = weights.in_channels as i32;
        let w = sg.constant_f32(
            model,
            &format!("{name}/weight"),
            &[o, k, k, i],
            &weights.ohwi(),
        )?;
        let b = sg.constant_f32(model, &format!("{name}/bias"), &[o], &weights.bias)?;
        sg.operator(
            model,
            BuiltinOp::CONV_2D,
            versions::CONV_2D_F32,
            OperatorOptions::conv2d(Padding::Same, activation),
            &[input, w, b],
            &[output],
        )
    };
    let add = |sg: &mut SubgraphBuilder, model: &mut ModelBuilder, a: i32, b: i32, out: i32| {
        sg.operator(
            model,
            BuiltinOp::ADD,
            versions::ADD_F32,
            OperatorOptions::Add {
                activation: Activation::NONE,
            },
            &[a, b],
            &[out],
        )
    };

    let input = sg.activation(names::INPUT, &shapes.input, f32t, None)?;
    let minus_half = sg.constant_f32(&mut model, "minus_half", &[1], &[-0.5])?;
    let shifted = sg.activation(names::SHIFTED, &shapes.input, f32t, None)?;
    add(&mut sg, &mut model, input, minus_half, shifted)?;

    let f0 = sg.activation(names::INPUT_CONV, &shapes.features, f32t, None)?;
    conv(
        &mut sg,
        &mut model,
        names::INPUT_CONV,
        &graph.convs[0],
        shifted,
        f0,
        Activation::NONE,
    )?;
    let mut h = f0;
    for i in 0..m {
        let weights = &graph.convs[i + 1];
        if graph.uses_prelu() {
            let pre = sg.activation(&names::block_conv(i), &shapes.features, f32t, None)?;
            conv(
                &mut sg,
                &mut model,
                &names::block(i),
                weights,
                h,
                pre,
                Activation::NONE,
            )?;
            let alpha = sg.constant_f32(
                &mut model,
                &format!("{}/prelu_alpha", names::block(i)),
                &[1, 1, f as i32],
                &graph.prelu[i],
            )?;
            let out = sg.activation(&names::block(i), &shapes.features, f32t, None)?;
            sg.operator(
                &mut model,
                BuiltinOp::PRELU,
                versions::PRELU,
                OperatorOptions::None,
                &[pre, alpha],
                &[out],
            )?;
            h = out;
        } else {
            let out = sg.activation(&names::block(i), &shapes.features, f32t, None)?;
            conv(
                &mut sg,
                &mut model,
                &names::block(i),
                weights,
                h,
                out,
                Activation::RELU,
            )?;
            h = out;
        }
    }
    let residual = sg.activation(names::RESIDUAL, &shapes.features, f32t, None)?;
    add(&mut sg, &mut model, h, f0, residual)?;
    let o = sg.activation(names::OUTPUT_CONV, &shapes.output_conv, f32t, None)?;
    conv(
        &mut sg,
        &mut model,
        names::OUTPUT_CONV,
        &graph.convs[m + 1],
        residual,
        o,
        Activation::NONE,
    )?;
    // clip(v, 0, 1) = relu_n1_to_1(relu(v)): a ReLU fused into the ADD, then RELU_N1_TO_1.
    // Both are clamps that XNNPACK delegates and merges into the ADD; LiteRT 2.3's XNNPACK
    // does not take RELU_0_TO_1, which would split the graph into two delegate partitions.
    let sum = sg.activation(names::FINAL_SUM, &shapes.output_conv, f32t, None)?;
    sg.operator(
        &mut model,
        BuiltinOp::ADD,
        versions::ADD_F32,
        OperatorOptions::Add {
            activation: Activation::RELU,
        },
        &[o, input],
        &[sum],
    )?;
    let clipped = sg.activation(names::CLIPPED, &shapes.output_conv, f32t, None)?;
    sg.operator(
        &mut model,
        BuiltinOp::RELU_N1_TO_1,
        versions::RELU_N1_TO_1,
        OperatorOptions::None,
        &[sum],
        &[clipped],
    )?;
    let mut y = clipped;
    let steps = shapes.depth_to_space.len();
    for (i, shape) in shapes.depth_to_space.iter().enumerate() {
        let out = sg.activation(&names::depth_to_space(i, i + 1 == steps), shape, f32t, None)?;
        sg.operator(
            &mut model,
            BuiltinOp::DEPTH_TO_SPACE,
            versions::DEPTH_TO_SPACE_F32,
            OperatorOptions::DepthToSpace { block_size: 2 },
            &[y],
            &[out],
        )?;
        y = out;
    }
    sg.set_io(&[input], &[y])?;
    model.finish(&sg)
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

    #[test]
    fn shapes_follow_the_scale() {
        let s = Shapes::new(&graph()).unwrap();
        assert_eq!(s.input, [1, 4, 6, 1]);
        assert_eq!(s.features, [1, 4, 6, 3]);
        assert_eq!(s.output_conv, [1, 4, 6, 4]);
        assert_eq!(s.depth_to_space, vec![[1, 8, 12, 1]]);
        let mut g = graph();
        g.scale = 4;
        g.convs[2] = conv(16, 3, 5);
        let s = Shapes::new(&g).unwrap();
        assert_eq!(s.depth_to_space, vec![[1, 8, 12, 4], [1, 16, 24, 1]]);
    }
}
