//! The tensor names and shapes of SESR checkpoints, one definition for every reader and
//! writer. Names follow the module tree of the training model:
//!
//! - training checkpoints: `input_block.conv.weight`, `blocks.3.project.bias`, `prelu.0`,
//!   `output_block.conv.weight`, and after QAT `quant.act.<point>.{min,max,initialized}`
//!   and `quant.weight.<layer>.{max,initialized}`;
//! - collapsed checkpoints: `input_block.weight`, `blocks.0.bias`, ..., `prelu.0`, and after
//!   QAT `quant.act.<point>.{min,max}` and `quant.weight.<layer>.scale`.

use crate::{QuantConfig, SesrConfig};

/// A tensor a checkpoint holds: its name and shape (OIHW for convolution kernels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
}

impl TensorSpec {
    fn new(name: impl Into<String>, shape: &[usize]) -> Self {
        TensorSpec {
            name: name.into(),
            shape: shape.to_vec(),
        }
    }

    /// Number of values.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Name stem of layer `i` (0: input block, 1..=m: 3x3 blocks, m+1: output block).
pub fn layer_name(i: usize, m: usize) -> String {
    match i {
        0 => "input_block".to_string(),
        i if i == m + 1 => "output_block".to_string(),
        i => format!("blocks.{}", i - 1),
    }
}

/// The collapsed convolution of layer `i`: `(out_channels, in_channels, kernel)`.
pub fn layer_shape(config: &SesrConfig, i: usize) -> (usize, usize, usize) {
    let (m, f) = (config.m, config.int_features);
    match i {
        0 => (f, 1, 5),
        i if i == m + 1 => (config.output_channels(), f, 5),
        _ => (f, f, 3),
    }
}

/// Where activations are fake-quantized, as in the reference's `ActivationQuantizationBlock`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantPoint {
    /// The network input.
    Input,
    /// The input block's output (`features_0`).
    InputBlock,
    /// After the activation of 3x3 block `i`.
    Block(usize),
    /// The long-residual sum.
    LongResidual,
    /// The output block's output.
    OutputBlock,
    /// The sum with the input, before depth-to-space.
    Output,
}

impl QuantPoint {
    /// All `m + 5` points in graph order.
    pub fn all(m: usize) -> Vec<QuantPoint> {
        let mut points = vec![QuantPoint::Input, QuantPoint::InputBlock];
        points.extend((0..m).map(QuantPoint::Block));
        points.extend([
            QuantPoint::LongResidual,
            QuantPoint::OutputBlock,
            QuantPoint::Output,
        ]);
        points
    }

    /// Position in [`QuantPoint::all`].
    pub fn index(self, m: usize) -> usize {
        match self {
            QuantPoint::Input => 0,
            QuantPoint::InputBlock => 1,
            QuantPoint::Block(i) => 2 + i,
            QuantPoint::LongResidual => m + 2,
            QuantPoint::OutputBlock => m + 3,
            QuantPoint::Output => m + 4,
        }
    }

    /// Variable-name stem, e.g. `blocks.3`.
    pub fn name(self) -> String {
        match self {
            QuantPoint::Input => "input".into(),
            QuantPoint::InputBlock => "input_block".into(),
            QuantPoint::Block(i) => format!("blocks.{i}"),
            QuantPoint::LongResidual => "long_residual".into(),
            QuantPoint::OutputBlock => "output_block".into(),
            QuantPoint::Output => "output".into(),
        }
    }
}

/// The tensors of a training checkpoint (expanded linear blocks), sorted by name as the
/// training model lists them.
pub fn training_tensors(config: &SesrConfig, quant: QuantConfig) -> Vec<TensorSpec> {
    let (m, f, p) = (config.m, config.int_features, config.feature_size);
    let mut specs = vec![];
    for i in 0..m + 2 {
        let (out, input, k) = layer_shape(config, i);
        let layer = layer_name(i, m);
        specs.push(TensorSpec::new(
            format!("{layer}.conv.weight"),
            &[p, input, k, k],
        ));
        specs.push(TensorSpec::new(format!("{layer}.conv.bias"), &[p]));
        specs.push(TensorSpec::new(
            format!("{layer}.project.weight"),
            &[out, p, 1, 1],
        ));
        specs.push(TensorSpec::new(format!("{layer}.project.bias"), &[out]));
    }
    specs.extend((0..m).map(|i| TensorSpec::new(format!("prelu.{i}"), &[f])));
    // Each quantizer also keeps whether the first batch has set its range yet.
    if quant.activations {
        for point in QuantPoint::all(m) {
            for field in ["min", "max", "initialized"] {
                specs.push(TensorSpec::new(
                    format!("quant.act.{}.{field}", point.name()),
                    &[],
                ));
            }
        }
    }
    if quant.weights {
        for i in 0..m + 2 {
            let (out, layer) = (layer_shape(config, i).0, layer_name(i, m));
            specs.push(TensorSpec::new(format!("quant.weight.{layer}.max"), &[out]));
            specs.push(TensorSpec::new(
                format!("quant.weight.{layer}.initialized"),
                &[],
            ));
        }
    }
    specs.sort_by(|a, b| a.name.cmp(&b.name));
    specs
}

/// The tensors of a collapsed checkpoint, in the order the collapsed model holds them: each
/// layer's weight and bias, the PReLU slopes, then the QAT ranges and weight scales.
pub fn collapsed_tensors(config: &SesrConfig, quant: QuantConfig) -> Vec<TensorSpec> {
    let (m, f) = (config.m, config.int_features);
    let mut specs = vec![];
    for i in 0..m + 2 {
        let (out, input, k) = layer_shape(config, i);
        let layer = layer_name(i, m);
        specs.push(TensorSpec::new(
            format!("{layer}.weight"),
            &[out, input, k, k],
        ));
        specs.push(TensorSpec::new(format!("{layer}.bias"), &[out]));
    }
    specs.extend((0..m).map(|i| TensorSpec::new(format!("prelu.{i}"), &[f])));
    if quant.activations {
        for point in QuantPoint::all(m) {
            specs.push(TensorSpec::new(
                format!("quant.act.{}.min", point.name()),
                &[],
            ));
            specs.push(TensorSpec::new(
                format!("quant.act.{}.max", point.name()),
                &[],
            ));
        }
    }
    if quant.weights {
        for i in 0..m + 2 {
            let out = layer_shape(config, i).0;
            specs.push(TensorSpec::new(
                format!("quant.weight.{}.scale", layer_name(i, m)),
                &[out],
            ));
        }
    }
    specs
}
