//! The collapsed step's operands in the kernels' layouts: the weights of one step
//! ([`StepWeights`]) and the gradients a worker sums over its images ([`Gradients`]).

use super::avx512::{self, FakeQuant};
use super::LANES;
use crate::{CollapsedConv, SesrConfig};
use tch::{Kind, Tensor};

/// Weights of one step in the kernels' layouts.
pub(super) struct StepWeights {
    pub(super) scale: usize,
    /// f: channels of the hidden feature maps, 16 or 32.
    pub(super) features: usize,
    pub(super) input: Vec<f32>,
    pub(super) input_bias: Vec<f32>,
    pub(super) blocks: Vec<Vec<f32>>,
    /// The blocks' weights for the input gradient: flipped, input and output swapped.
    pub(super) blocks_backward: Vec<Vec<f32>>,
    /// Both as Winograd F(4,3) points ([`avx512::winograd_weights`]).
    pub(super) blocks_winograd: Vec<Vec<f32>>,
    pub(super) blocks_backward_winograd: Vec<Vec<f32>>,
    pub(super) block_bias: Vec<Vec<f32>>,
    pub(super) slopes: Vec<Vec<f32>>,
    /// In [`output_layout`].
    pub(super) output: Vec<f32>,
    pub(super) output_backward: Vec<f32>,
    pub(super) output_bias: Vec<f32>,
    /// Under activation QAT: the input block's weights for the gradient at its input, as a
    /// f -> 4 correlation (`[5][5][4][f]`, only output 0 real) for [`avx512::conv_row_cout4`].
    pub(super) input_backward: Vec<f32>,
    /// Under activation QAT the nudged range of each quantizer, in `QuantPoint` order.
    pub(super) quant: Vec<FakeQuant>,
}

pub(super) fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.detach().to_kind(Kind::Float).flatten(0, -1))
        .expect("a float CPU tensor converts to Vec<f32>")
}

/// Where the kernels keep weight `(o, i, tap)` of a `[co][ci][k][k]` conv.
#[derive(Debug, Clone, Copy)]
pub(super) enum Layout {
    /// `[co / 16][k][k][ci][16]`: a vector of output channels per tap and input channel, in
    /// groups of 16 outputs (`conv_row`).
    Forward,
    /// The input gradient's correlation: taps flipped, input and output swapped,
    /// `[ci / 16][k][k][co][16]` (`conv_row` over the output gradient).
    Backward,
    /// `[k][k][co][ci]`: a vector of input channels per tap and output channel
    /// (`conv_row_cout4`, `weight_grad_cout4`).
    TapOutputInput,
}

impl Layout {
    fn index(self, (co, ci, k): (usize, usize, usize), o: usize, i: usize, tap: usize) -> usize {
        let taps = k * k;
        match self {
            Layout::Forward => ((o / LANES * taps + tap) * ci + i) * LANES + o % LANES,
            Layout::Backward => ((i / LANES * taps + taps - 1 - tap) * co + o) * LANES + i % LANES,
            Layout::TapOutputInput => (tap * co + o) * ci + i,
        }
    }

    /// libtorch's `[co][ci][k][k]` -> this layout; lanes beyond the channels stay zero.
    fn arrange(self, w: &[f32], shape: (usize, usize, usize)) -> Vec<f32> {
        let (co, ci, k) = shape;
        let len = match self {
            Layout::Forward => co.div_ceil(LANES) * ci * LANES,
            Layout::Backward => ci.div_ceil(LANES) * co * LANES,
            Layout::TapOutputInput => co * ci,
        };
        let mut out = vec![0.0; k * k * len];
        for (n, value) in w.iter().enumerate() {
            let (o, i, tap) = (n / (ci * k * k), n / (k * k) % ci, n % (k * k));
            out[self.index(shape, o, i, tap)] = *value;
        }
        out
    }

    /// This layout -> libtorch's `[co][ci][k][k]`.
    pub(super) fn to_torch(self, d: &[f32], shape: (usize, usize, usize)) -> Vec<f32> {
        let (co, ci, k) = shape;
        (0..co * ci * k * k)
            .map(|n| d[self.index(shape, n / (ci * k * k), n / (k * k) % ci, n % (k * k))])
            .collect()
    }
}

/// The output block's layout: the x4 block runs like the others, the x2 block (4 outputs) on
/// the kernels vectorised over input channels.
pub(super) fn output_layout(out_channels: usize) -> Layout {
    if out_channels == LANES {
        Layout::Forward
    } else {
        Layout::TapOutputInput
    }
}

impl StepWeights {
    pub(super) fn new(
        config: &SesrConfig,
        convs: &[CollapsedConv],
        slopes: &[Tensor],
        relu: bool,
        quant: Vec<FakeQuant>,
    ) -> Self {
        let (m, f) = (config.m, config.int_features);
        let oc = config.scale * config.scale;
        let input = Layout::Forward.arrange(&values(&convs[0].weight), (f, 1, 5));
        let blocks = convs[1..=m]
            .iter()
            .map(|c| Layout::Forward.arrange(&values(&c.weight), (f, f, 3)))
            .collect();
        let blocks_backward = convs[1..=m]
            .iter()
            .map(|c| Layout::Backward.arrange(&values(&c.weight), (f, f, 3)))
            .collect();
        let output_weight = values(&convs[m + 1].weight);
        let winograd = |weights: &Vec<Vec<f32>>| -> Vec<Vec<f32>> {
            weights
                .iter()
                .map(|w| avx512::winograd_weights(w, f))
                .collect()
        };
        StepWeights {
            blocks_winograd: winograd(&blocks),
            blocks_backward_winograd: winograd(&blocks_backward),
            scale: config.scale,
            features: f,
            input,
            input_bias: values(&convs[0].bias),
            blocks,
            blocks_backward,
            block_bias: convs[1..=m].iter().map(|c| values(&c.bias)).collect(),
            // ReLU is PReLU with a zero slope, forward and backward.
            slopes: match relu {
                true => vec![vec![0.0; f]; m],
                false => slopes.iter().map(values).collect(),
            },
            output: output_layout(oc).arrange(&output_weight, (oc, f, 5)),
            output_backward: Layout::Backward.arrange(&output_weight, (oc, f, 5)),
            output_bias: values(&convs[m + 1].bias),
            input_backward: match quant.is_empty() {
                true => vec![],
                false => {
                    let w0 = values(&convs[0].weight);
                    let mut out = vec![0.0; 25 * 4 * f];
                    for tap in 0..25 {
                        for i in 0..f {
                            out[tap * 4 * f + i] = w0[i * 25 + 24 - tap];
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
pub(super) struct Gradients {
    pub(super) loss: f64,
    pub(super) input_dw: Vec<f32>,
    pub(super) input_db: Vec<f32>,
    pub(super) block_dw: Vec<Vec<f32>>,
    pub(super) block_db: Vec<Vec<f32>>,
    pub(super) dslope: Vec<Vec<f32>>,
    /// In [`output_layout`].
    pub(super) output_dw: Vec<f32>,
    pub(super) output_db: Vec<f32>,
    /// Per activation quantizer (`QuantPoint` order): gradient sums for its nudged range's
    /// `[min, scale, max]`; empty without activation QAT.
    pub(super) range: Vec<[f64; 3]>,
}

impl Gradients {
    /// Zero gradients of a network with `m` blocks, `f` features and `oc` output channels.
    pub(super) fn zero((m, f, oc): (usize, usize, usize), quant_points: usize) -> Self {
        Gradients {
            loss: 0.0,
            input_dw: vec![0.0; 25 * f],
            input_db: vec![0.0; f],
            block_dw: vec![vec![0.0; 9 * f * f]; m],
            block_db: vec![vec![0.0; f]; m],
            dslope: vec![vec![0.0; f]; m],
            output_dw: vec![0.0; 25 * f * oc],
            output_db: vec![0.0; oc],
            range: vec![[0.0; 3]; quant_points],
        }
    }

    pub(super) fn add(&mut self, other: &Gradients) {
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
