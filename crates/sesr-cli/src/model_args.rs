//! Architecture flags shared by every subcommand that builds a model.

use anyhow::Result;
use clap::Args;
use sesr_model::{Preset, SesrConfig};

#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Named model of the paper: m3, m5, m7, m11 or xl; the flags below override its fields.
    #[arg(long, default_value = "m5")]
    pub preset: String,
    /// Upscaling factor: 2 or 4.
    #[arg(long, allow_negative_numbers = true, default_value_t = 2)]
    pub scale: usize,
    /// Number of 3x3 blocks (m in the paper).
    #[arg(long, allow_negative_numbers = true)]
    pub m: Option<usize>,
    /// Channels between blocks (f in the paper).
    #[arg(long, allow_negative_numbers = true)]
    pub int_features: Option<usize>,
    /// Channels inside each expanded linear block (p in the paper).
    #[arg(long, allow_negative_numbers = true)]
    pub feature_size: Option<usize>,
}

impl ModelArgs {
    pub fn config(&self) -> Result<SesrConfig> {
        let base = self.preset.parse::<Preset>()?.config(self.scale)?;
        Ok(SesrConfig::new(
            self.m.unwrap_or(base.m),
            self.int_features.unwrap_or(base.int_features),
            self.feature_size.unwrap_or(base.feature_size),
            self.scale,
        )?)
    }
}

/// Parses `HEIGHTxWIDTH`, e.g. `360x640`.
pub fn parse_size(text: &str) -> Result<(u64, u64), String> {
    let (h, w) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("`{text}` is not HEIGHTxWIDTH, e.g. 360x640"))?;
    let parse = |s: &str| s.trim().parse::<u64>().ok().filter(|v| *v > 0);
    match (parse(h), parse(w)) {
        (Some(h), Some(w)) => Ok((h, w)),
        _ => Err(format!(
            "`{text}`: height and width must be positive integers, e.g. 360x640"
        )),
    }
}
