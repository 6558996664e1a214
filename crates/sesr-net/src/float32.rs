//! The collapsed float32 network: one 5x5 input conv, `m` 3x3 convs (their short residuals
//! folded into the kernels) each followed by PReLU or ReLU, one 5x5 output conv, and the
//! graph around them (see the crate documentation).

use crate::error::{NetError, Result};
use crate::layout::ohwi;

/// The largest magnitude a weight, bias or PReLU slope of a working SESR has, with a wide
/// margin: the network maps Y in [0, 1] to Y in [0, 1] through a handful of small convs, and
/// every trained model the project ships stays within +-2.5 (the paper's TensorFlow models
/// alike). A value beyond it (say 3e38, finite but absurd) makes the activations overflow
/// or saturate, so the output is garbage; it is refused when a network is checked.
pub const MAX_PARAMETER_MAGNITUDE: f32 = 1000.0;

/// `Err((index, value))` for the first value beyond [`MAX_PARAMETER_MAGNITUDE`] (or not
/// finite).
pub(crate) fn plausible(values: &[f32]) -> std::result::Result<(), (usize, f32)> {
    match values
        .iter()
        .position(|v| !v.is_finite() || v.abs() > MAX_PARAMETER_MAGNITUDE)
    {
        Some(i) => Err((i, values[i])),
        None => Ok(()),
    }
}

/// Why [`plausible`] refuses a value, for messages.
pub(crate) fn implausible_reason() -> String {
    format!(
        "a working SESR has no weight, bias or slope beyond +-{MAX_PARAMETER_MAGNITUDE} (the \
         shipped models stay within +-2.5), so this one would upscale to garbage: the file is \
         corrupt or was not written from a trained SESR; retrain or export it again"
    )
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
    /// The weights in OHWI (channels-last) layout.
    pub fn ohwi(&self) -> Vec<f32> {
        ohwi(
            &self.weight,
            self.out_channels,
            self.in_channels,
            self.kernel,
        )
    }

    fn check(&self, name: &str, in_channels: usize, out_channels: Option<usize>) -> Result<()> {
        let bad = |what: String| Err(NetError::InvalidNetwork(format!("{name}: {what}")));
        if self.in_channels != in_channels {
            return bad(format!(
                "takes {} input channels, the network feeds it {in_channels}",
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
        for (what, values) in [("weight", &self.weight), ("bias", &self.bias)] {
            if let Err((index, value)) = plausible(values) {
                return bad(format!(
                    "{what} {index} is {value:e}; {}",
                    implausible_reason()
                ));
            }
        }
        Ok(())
    }
}

/// A collapsed SESR network in float32. It has no input size: every image size runs it, and
/// a file format that needs one takes it as a writer argument.
#[derive(Clone, Debug, PartialEq)]
pub struct Float32Network {
    /// Upscaling factor, 2 or 4.
    pub scale: usize,
    /// The input 5x5 conv (1 -> f), the `m` 3x3 convs (f -> f, residuals already folded in),
    /// the output 5x5 conv (f -> scale^2).
    pub convs: Vec<ConvWeights>,
    /// `m` slope vectors (one slope per channel) for PReLU after each 3x3 conv; empty for
    /// ReLU, the activation the quantized network uses.
    pub prelu: Vec<Vec<f32>>,
}

impl Float32Network {
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

    /// Checks the scale, channel counts, weight lengths and slopes, and that every value is
    /// finite.
    pub fn validate(&self) -> Result<()> {
        if self.scale != 2 && self.scale != 4 {
            return Err(NetError::InvalidNetwork(format!(
                "scale must be 2 or 4, got {}",
                self.scale
            )));
        }
        if self.convs.len() < 2 {
            return Err(NetError::InvalidNetwork(format!(
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
                return Err(NetError::InvalidNetwork(format!(
                    "{} PReLU slope vectors for {m} blocks (give none for ReLU)",
                    self.prelu.len()
                )));
            }
            for (i, slopes) in self.prelu.iter().enumerate() {
                if slopes.len() != f || slopes.iter().any(|s| !s.is_finite()) {
                    return Err(NetError::InvalidNetwork(format!(
                        "PReLU {i} needs {f} finite slopes, got {}",
                        slopes.len()
                    )));
                }
                if let Err((index, value)) = plausible(slopes) {
                    return Err(NetError::InvalidNetwork(format!(
                        "PReLU {i}: slope {index} is {value:e}; {}",
                        implausible_reason()
                    )));
                }
            }
        }
        Ok(())
    }
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

    fn network() -> Float32Network {
        Float32Network {
            scale: 2,
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
        assert!(network().validate().is_ok());
        let err = |n: Float32Network| n.validate().unwrap_err().to_string();
        let mut n = network();
        n.scale = 3;
        assert!(err(n).contains("scale must be 2 or 4"));
        let mut n = network();
        n.convs[1].weight.pop();
        assert!(err(n).contains("block 0 conv: weight has 80 values"));
        let mut n = network();
        n.convs[2] = conv(16, 3, 5);
        assert!(err(n).contains("output conv: has 16 output channels, needs 4"));
        let mut n = network();
        n.convs[1] = conv(3, 2, 3);
        assert!(err(n).contains("block 0 conv: takes 2 input channels"));
        let mut n = network();
        n.convs[0].kernel = 4;
        assert!(err(n).contains("odd kernel"));
        let mut n = network();
        n.convs[0].bias[0] = f32::NAN;
        assert!(err(n).contains("not all finite"));
        let mut n = network();
        n.convs[1].weight[4] = 3e38;
        assert!(err(n).contains("block 0 conv: weight 4 is 3e38"));
        let mut n = network();
        n.convs[2].bias[1] = -1001.0;
        assert!(err(n).contains("output conv: bias 1 is -1.001e3"));
        let mut n = network();
        n.prelu[0][2] = 5e3;
        assert!(err(n).contains("PReLU 0: slope 2 is 5e3"));
        let mut n = network();
        n.convs[1].weight[4] = -MAX_PARAMETER_MAGNITUDE;
        assert!(n.validate().is_ok());
        let mut n = network();
        n.prelu.push(vec![0.1; 3]);
        assert!(err(n).contains("2 PReLU slope vectors for 1 blocks"));
        let mut n = network();
        n.convs.truncate(1);
        assert!(err(n).contains("needs an input and an output conv"));
    }
}
