//! sesr-collapse: the collapse algebra of SESR's linear blocks.
//!
//! A linear block (Bhardwaj et al., "Collapsible Linear Blocks for Super-Efficient Super
//! Resolution", MLSys 2022) is a chain of convolutions with nothing non-linear between them:
//! an optional 1x1 conv `C_in -> q`, a `k x k` conv `-> p`, a 1x1 conv `p -> C_out`, each with a
//! bias, plus an optional identity residual when `C_in == C_out`. The chain is one linear map,
//! so it collapses into a single `k x k` conv `C_in -> C_out`.
//!
//! Two ways to compute the collapsed conv, both on tch tensors so gradients reach the expanded
//! weights (SESR collapses on every training step):
//! - [`collapse_impulse`]: the paper's Algorithm 1, pushing an identity impulse through the block;
//! - [`collapse_closed_form`]: contracting the weights directly, which is cheaper.
//!
//! Unlike the original implementation, biases are kept exactly: the collapsed bias is
//! `W2 (Wk b0 + bk) + b2` and the kernel comes from the weights alone. See
//! `docs/collapse.md` for where exactness ends (a biased leading 1x1 at zero-padded borders).

mod error;

pub use error::{CollapseError, Result};
use tch::{Kind, Tensor};

/// One convolution of a linear block: weight `[out, in, k, k]` and bias `[out]`.
#[derive(Debug, Clone, Copy)]
pub struct ConvRef<'a> {
    pub weight: &'a Tensor,
    pub bias: &'a Tensor,
}

/// The expanded form of a linear block, borrowing its parameters.
#[derive(Debug, Clone, Copy)]
pub struct LinearBlockRef<'a> {
    /// Optional leading 1x1 conv `C_in -> q`.
    pub pre: Option<ConvRef<'a>>,
    /// The `k x k` conv `q (or C_in) -> p`.
    pub conv: ConvRef<'a>,
    /// The 1x1 projection `p -> C_out`.
    pub project: ConvRef<'a>,
    /// Adds the identity (only valid when `C_in == C_out`).
    pub residual: bool,
}

/// A single convolution equivalent to a linear block.
#[derive(Debug)]
pub struct CollapsedConv {
    /// `[C_out, C_in, k, k]`
    pub weight: Tensor,
    /// `[C_out]`
    pub bias: Tensor,
}

/// Shape facts of a block, checked once so that both collapse methods can trust them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockShape {
    pub in_channels: i64,
    pub out_channels: i64,
    pub kernel: i64,
}

impl LinearBlockRef<'_> {
    /// Validates the chain of shapes and returns the collapsed conv's shape.
    pub fn shape(&self) -> Result<BlockShape> {
        let dims = |name: &'static str, c: ConvRef| -> Result<[i64; 4]> {
            let size = c.weight.size();
            let bias = c.bias.size();
            match (size.as_slice(), bias.as_slice()) {
                (&[o, i, kh, kw], &[b]) if b == o => Ok([o, i, kh, kw]),
                _ => Err(CollapseError::Shape(format!(
                    "{name}: weight {size:?} and bias {bias:?} are not [out, in, k, k] and [out]"
                ))),
            }
        };
        let conv = dims("kxk conv", self.conv)?;
        let project = dims("1x1 projection", self.project)?;
        let kernel = conv[2];
        if kernel != conv[3] || kernel % 2 == 0 {
            return Err(CollapseError::Shape(format!(
                "kxk conv: kernel {}x{} must be square and odd",
                conv[2], conv[3]
            )));
        }
        if project[2..] != [1, 1] || project[1] != conv[0] {
            return Err(CollapseError::Shape(format!(
                "1x1 projection {project:?} does not take the kxk conv's {} channels",
                conv[0]
            )));
        }
        let in_channels = match self.pre {
            Some(pre) => {
                let pre = dims("leading 1x1", pre)?;
                if pre[2..] != [1, 1] || pre[0] != conv[1] {
                    return Err(CollapseError::Shape(format!(
                        "leading 1x1 {pre:?} does not feed the kxk conv's {} input channels",
                        conv[1]
                    )));
                }
                pre[1]
            }
            None => conv[1],
        };
        let out_channels = project[0];
        if self.residual && in_channels != out_channels {
            return Err(CollapseError::Shape(format!(
                "a residual needs C_in == C_out, got {in_channels} -> {out_channels}"
            )));
        }
        Ok(BlockShape {
            in_channels,
            out_channels,
            kernel,
        })
    }
}

/// Adds the identity at the kernel centre: `x + conv(x)` as one conv.
fn add_residual(weight: Tensor, shape: BlockShape) -> Tensor {
    let c = shape.in_channels;
    let k = shape.kernel;
    let mut identity = vec![0f32; (c * c * k * k) as usize];
    for ch in 0..c {
        let centre = ((ch * c + ch) * k + k / 2) * k + k / 2;
        identity[centre as usize] = 1.0;
    }
    let identity = Tensor::from_slice(&identity)
        .view([c, c, k, k])
        .to_device(weight.device())
        .to_kind(weight.kind());
    weight + identity
}

/// Collapses by contracting the weights: `W[o,i] = sum_p W2[o,p] Wk[p,q] W0[q,i]`.
///
/// Cost for a 3x3 block 16 -> 256 -> 16: about 0.6 M multiply-adds, ten times less than the
/// impulse method; this is the one training uses.
pub fn collapse_closed_form(block: &LinearBlockRef) -> Result<CollapsedConv> {
    let shape = block.shape()?;
    let project = block.project.weight.flatten(1, 3); // [C_out, p]
    let (out_ch, p) = (shape.out_channels, project.size()[1]);
    let k = shape.kernel;
    // [C_out, q, k, k] = W2 [C_out, p] x Wk [p, q*k*k]
    let mut weight = project
        .matmul(&block.conv.weight.view([p, -1]))
        .view([out_ch, -1, k, k]);
    // Bias through the kxk conv: sum over taps and input channels of Wk * b0, then + bk.
    let inner_bias = match block.pre {
        Some(pre) => {
            let tap_sums = block
                .conv
                .weight
                .sum_dim_intlist([2, 3].as_slice(), false, Kind::Float);
            block.conv.bias + tap_sums.matmul(pre.bias)
        }
        None => block.conv.bias.shallow_clone(),
    };
    if let Some(pre) = block.pre {
        // [C_out, q, k, k] with W0 [q, C_in] -> [C_out, C_in, k, k]
        weight = Tensor::einsum(
            "oqyx,qi->oiyx",
            &[weight, pre.weight.flatten(1, 3)],
            None::<i64>,
        );
    }
    let bias = project.matmul(&inner_bias) + block.project.bias;
    if block.residual {
        weight = add_residual(weight, shape);
    }
    Ok(CollapsedConv { weight, bias })
}

/// Collapses by the paper's Algorithm 1: feed an identity impulse through the block.
///
/// Input: `C_in` images of `C_in` channels, `(2k-1) x (2k-1)`, image `i` holding a 1 at the
/// centre of channel `i`. The block's convs run without bias and without padding, giving a
/// `k x k` response per (input, output) channel pair: the kernel flipped in both spatial axes,
/// with input and output channels swapped. Unlike the original, the bias is not smeared into the
/// kernel: it is the block's response (with biases) to an all-zero input.
pub fn collapse_impulse(block: &LinearBlockRef) -> Result<CollapsedConv> {
    let shape = block.shape()?;
    let (c, k) = (shape.in_channels, shape.kernel);
    let opts = (block.conv.weight.kind(), block.conv.weight.device());
    let side = 2 * k - 1;
    let impulse = Tensor::zeros([c, c, side, side], opts);
    impulse
        .narrow(2, k - 1, 1)
        .narrow(3, k - 1, 1)
        .squeeze_dim(3)
        .squeeze_dim(2)
        .copy_(&Tensor::eye(c, opts));

    let run = |x: &Tensor, with_bias: bool| -> Tensor {
        let bias = |conv: ConvRef| with_bias.then(|| conv.bias.shallow_clone());
        let mut h = x.shallow_clone();
        if let Some(pre) = block.pre {
            h = h.conv2d(pre.weight, bias(pre), [1, 1], [0, 0], [1, 1], 1);
        }
        h = h.conv2d(
            block.conv.weight,
            bias(block.conv),
            [1, 1],
            [0, 0],
            [1, 1],
            1,
        );
        h.conv2d(
            block.project.weight,
            bias(block.project),
            [1, 1],
            [0, 0],
            [1, 1],
            1,
        )
    };
    // [C_in, C_out, k, k] response, flipped, channels swapped -> [C_out, C_in, k, k]
    let mut weight = run(&impulse, false)
        .flip([2, 3])
        .transpose(0, 1)
        .contiguous();
    // A zero input of the kernel's own size gives a 1x1 output: the bias alone.
    let zero = Tensor::zeros([1, c, k, k], opts);
    let bias = run(&zero, true).view([shape.out_channels]);
    if block.residual {
        weight = add_residual(weight, shape);
    }
    Ok(CollapsedConv { weight, bias })
}

/// Runs the block in its expanded form on `x` (`[N, C_in, H, W]`), with zero "same" padding.
///
/// The input is padded once, before the first conv, so that a biased leading 1x1 sees the same
/// zeros the collapsed conv sees: this keeps expanded and collapsed equal at the borders too.
pub fn forward_expanded(block: &LinearBlockRef, x: &Tensor) -> Result<Tensor> {
    let shape = block.shape()?;
    let pad = shape.kernel / 2;
    let conv = |h: &Tensor, padding: i64| {
        h.conv2d(
            block.conv.weight,
            Some(block.conv.bias),
            [1, 1],
            [padding, padding],
            [1, 1],
            1,
        )
    };
    let mut h = match block.pre {
        Some(pre) => {
            let padded = x.constant_pad_nd([pad, pad, pad, pad]);
            conv(
                &padded.conv2d(pre.weight, Some(pre.bias), [1, 1], [0, 0], [1, 1], 1),
                0,
            )
        }
        None => conv(x, pad),
    };
    h = h.conv2d(
        block.project.weight,
        Some(block.project.bias),
        [1, 1],
        [0, 0],
        [1, 1],
        1,
    );
    Ok(if block.residual { h + x } else { h })
}
