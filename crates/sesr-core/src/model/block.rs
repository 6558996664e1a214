//! One expanded linear block (kxk conv to `feature_size` channels, 1x1 projection back) and
//! how a collapsed conv runs.

use crate::ops::channels_last;
use crate::Result;
use sesr_collapse::{collapse_closed_form, CollapsedConv, ConvRef, LinearBlockRef};
use tch::{nn, Tensor};

/// One expanded linear block: kxk conv `in -> feature_size`, 1x1 conv `-> out`, both biased.
#[derive(Debug)]
pub struct LinearBlock {
    pub conv_weight: Tensor,
    pub conv_bias: Tensor,
    pub project_weight: Tensor,
    pub project_bias: Tensor,
    pub residual: bool,
}

impl LinearBlock {
    /// Kernels start as Keras' glorot-uniform (the reference's default), biases at zero.
    pub(super) fn new(
        p: nn::Path,
        in_ch: i64,
        feature_size: i64,
        out_ch: i64,
        kernel: i64,
        residual: bool,
    ) -> Self {
        let glorot = |fan_in: i64, fan_out: i64| {
            let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
            nn::Init::Uniform {
                lo: -limit,
                up: limit,
            }
        };
        let area = kernel * kernel;
        let conv = &p / "conv";
        let project = &p / "project";
        LinearBlock {
            conv_weight: conv.var(
                "weight",
                &[feature_size, in_ch, kernel, kernel],
                glorot(in_ch * area, feature_size * area),
            ),
            conv_bias: conv.var("bias", &[feature_size], nn::Init::Const(0.0)),
            project_weight: project.var(
                "weight",
                &[out_ch, feature_size, 1, 1],
                glorot(feature_size, out_ch),
            ),
            project_bias: project.var("bias", &[out_ch], nn::Init::Const(0.0)),
            residual,
        }
    }

    pub fn as_ref(&self) -> LinearBlockRef<'_> {
        LinearBlockRef {
            pre: None,
            conv: ConvRef {
                weight: &self.conv_weight,
                bias: &self.conv_bias,
            },
            project: ConvRef {
                weight: &self.project_weight,
                bias: &self.project_bias,
            },
            residual: self.residual,
        }
    }

    pub fn collapse(&self) -> Result<CollapsedConv> {
        Ok(collapse_closed_form(&self.as_ref())?)
    }
}

/// Runs a collapsed conv with "same" zero padding, weights in channels-last layout.
pub(super) fn conv_same(x: &Tensor, conv: &CollapsedConv) -> Tensor {
    let pad = conv.weight.size()[2] / 2;
    x.conv2d(
        &channels_last(&conv.weight),
        Some(&conv.bias),
        [1, 1],
        [pad, pad],
        [1, 1],
        1,
    )
}
