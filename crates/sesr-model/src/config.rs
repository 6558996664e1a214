//! The architecture of a SESR network, the paper's presets, and how a model trains.

use crate::{ModelError, Result};
use serde::{Deserialize, Serialize};

/// The architecture of one SESR network.
///
/// Names follow the reference code's flags: `m` 3x3 blocks, `int_features` channels between
/// blocks (`f` in the paper), `feature_size` channels inside each expanded linear block
/// (`p`), and the upscaling factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SesrConfig {
    pub m: usize,
    pub int_features: usize,
    pub feature_size: usize,
    pub scale: usize,
}

/// The named models of the paper (Table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    M3,
    M5,
    M7,
    M11,
    Xl,
}

impl Preset {
    pub const ALL: [Preset; 5] = [Preset::M3, Preset::M5, Preset::M7, Preset::M11, Preset::Xl];

    pub fn name(self) -> &'static str {
        match self {
            Preset::M3 => "m3",
            Preset::M5 => "m5",
            Preset::M7 => "m7",
            Preset::M11 => "m11",
            Preset::Xl => "xl",
        }
    }

    /// The preset's architecture at `scale`, with the reference's default `feature_size`:
    /// 256 for M3/M5/M7, 64 for M11 and XL.
    pub fn config(self, scale: usize) -> Result<SesrConfig> {
        let (m, int_features, feature_size) = match self {
            Preset::M3 => (3, 16, 256),
            Preset::M5 => (5, 16, 256),
            Preset::M7 => (7, 16, 256),
            Preset::M11 => (11, 16, 64),
            Preset::Xl => (11, 32, 64),
        };
        SesrConfig::new(m, int_features, feature_size, scale)
    }
}

impl std::str::FromStr for Preset {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                ModelError::InvalidConfig(format!(
                    "unknown preset `{s}`; choose one of m3, m5, m7, m11, xl"
                ))
            })
    }
}

impl SesrConfig {
    /// How far (in LR pixels) an output pixel can see: the 5x5 input conv (2), the `m` 3x3
    /// convs (1 each) and the 5x5 output conv (2). Residual additions and depth-to-space do
    /// not widen it (each LR pixel's `scale x scale` outputs come from its own channels), so a
    /// tile of the input with this halo on every side gives its core's output exactly.
    pub fn receptive_radius(&self) -> usize {
        2 + self.m + 2
    }

    /// A validated configuration.
    pub fn new(m: usize, int_features: usize, feature_size: usize, scale: usize) -> Result<Self> {
        let config = SesrConfig {
            m,
            int_features,
            feature_size,
            scale,
        };
        config.validate()?;
        Ok(config)
    }

    pub fn m3(scale: usize) -> Result<Self> {
        Preset::M3.config(scale)
    }

    pub fn m5(scale: usize) -> Result<Self> {
        Preset::M5.config(scale)
    }

    pub fn m7(scale: usize) -> Result<Self> {
        Preset::M7.config(scale)
    }

    pub fn m11(scale: usize) -> Result<Self> {
        Preset::M11.config(scale)
    }

    pub fn xl(scale: usize) -> Result<Self> {
        Preset::Xl.config(scale)
    }

    /// Rejects what the network cannot be built from, with the reason.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(ModelError::InvalidConfig(msg));
        if self.m == 0 {
            return bad("m (number of 3x3 blocks) must be at least 1, got 0".into());
        }
        if self.int_features == 0 {
            return bad("int_features (f) must be at least 1, got 0".into());
        }
        if self.feature_size == 0 {
            return bad("feature_size (p) must be at least 1, got 0".into());
        }
        if self.scale != 2 && self.scale != 4 {
            return bad(format!("scale must be 2 or 4, got {}", self.scale));
        }
        // Guards against sizes that would overflow tensor shapes or exhaust memory at build time.
        if self.m > 1024 || self.int_features > 4096 || self.feature_size > 65536 {
            return bad(format!(
                "m={}, int_features={}, feature_size={} is beyond any sensible SESR (m <= 1024, f <= 4096, p <= 65536)",
                self.m, self.int_features, self.feature_size
            ));
        }
        Ok(())
    }

    /// Output channels of the output block: one per pixel of a `scale` x `scale` cell.
    pub fn output_channels(&self) -> usize {
        self.scale * self.scale
    }
}

/// How the training model runs its forward pass. Both give the same outputs and gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrainingMode {
    /// Every linear block runs as its kxk conv to `feature_size` channels and 1x1 projection.
    Expanded,
    /// Every step collapses each block into one small conv and runs that (the paper's method);
    /// gradients still reach the expanded weights.
    Collapsed,
}

impl std::str::FromStr for TrainingMode {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "expanded" => Ok(TrainingMode::Expanded),
            "collapsed" => Ok(TrainingMode::Collapsed),
            _ => Err(ModelError::InvalidConfig(format!(
                "unknown linear block type `{s}`; choose `collapsed` or `expanded`"
            ))),
        }
    }
}

impl TrainingMode {
    pub fn name(self) -> &'static str {
        match self {
            TrainingMode::Expanded => "expanded",
            TrainingMode::Collapsed => "collapsed",
        }
    }
}

/// Which parts of the network are fake-quantized during training.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantConfig {
    /// 8-bit per-channel weights (`--quant-w`).
    pub weights: bool,
    /// 8-bit per-tensor activations (`--quant-a`).
    pub activations: bool,
}

impl QuantConfig {
    pub fn any(&self) -> bool {
        self.weights || self.activations
    }

    /// With both on, SESR uses ReLU instead of PReLU, as the reference does: PReLU costs extra
    /// operations on integer hardware (and is slow in LiteRT's int8 kernels).
    pub fn uses_relu(&self) -> bool {
        self.weights && self.activations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receptive_radius_counts_every_conv() {
        assert_eq!(SesrConfig::m5(2).unwrap().receptive_radius(), 9);
        assert_eq!(Preset::Xl.config(4).unwrap().receptive_radius(), 15);
    }
}
