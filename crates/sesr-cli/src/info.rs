//! `sesr-cli info`: parameters and MACs of an architecture.

use crate::model_args::{parse_size, ModelArgs};
use anyhow::Result;
use clap::Args;
use sesr_model::{run, Accounting};

#[derive(Args, Debug)]
pub struct InfoArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Low-resolution input size for the inference MACs, HEIGHTxWIDTH.
    #[arg(long, default_value = "360x640", value_parser = parse_size)]
    lr_size: (u64, u64),
    /// Training batch size for the training-step MACs.
    #[arg(long, default_value_t = 32)]
    batch_size: u64,
    /// Low-resolution training patch side for the training-step MACs.
    #[arg(long, default_value_t = 64)]
    patch: u64,
}

fn human(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000_000_000 => format!("{:.3} P", n as f64 / 1e15),
        n if n >= 1_000_000_000_000 => format!("{:.3} T", n as f64 / 1e12),
        n if n >= 1_000_000_000 => format!("{:.3} G", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.3} M", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.3} K", n as f64 / 1e3),
        n => n.to_string(),
    }
}

pub fn run(args: &InfoArgs) -> Result<()> {
    let config = args.model.config()?;
    let a = Accounting::new(&config);
    let (h, w) = args.lr_size;
    let s = config.scale as u64;
    let (b, p) = (args.batch_size, args.patch);
    // Counted in u64 with every product checked: a size whose count does not fit is refused,
    // never wrapped round to a small number.
    let too_large = |flag: &str, value: String| {
        anyhow::anyhow!(
            "{flag} {value}: SESR m={} f={} x{} on that input takes more MACs than a 64-bit \
             count holds ({:.1e}), so no figure would be true; give a real size (e.g. \
             --lr-size 360x640 or 2160x3840, --batch-size 32, --patch 64)",
            config.m,
            config.int_features,
            config.scale,
            u64::MAX as f64
        )
    };
    let lr_size = || too_large("--lr-size", format!("{h}x{w}"));
    let inference = a.checked_inference_macs(h, w).ok_or_else(lr_size)?;
    let (hs, ws) = (
        h.checked_mul(s).ok_or_else(lr_size)?,
        w.checked_mul(s).ok_or_else(lr_size)?,
    );
    let step = || too_large("--batch-size/--patch", format!("{b} x {p}x{p}"));
    let expanded = a
        .checked_training_forward_macs(b, p, p, false)
        .ok_or_else(step)?;
    let collapsed = a
        .checked_training_forward_macs(b, p, p, true)
        .ok_or_else(step)?;
    let rows = [
        (
            "parameters, collapsed conv weights (paper's count)".to_string(),
            a.collapsed_weights,
        ),
        (
            "  + collapsed biases and PReLU slopes".to_string(),
            a.collapsed_extras,
        ),
        (
            "parameters, expanded training model".to_string(),
            a.expanded_params,
        ),
        (format!("inference MACs, {h}x{w} -> {hs}x{ws}"), inference),
        (
            format!("training forward MACs, {b} x {p}x{p}, expanded"),
            expanded,
        ),
        (
            format!("training forward MACs, {b} x {p}x{p}, collapsed"),
            collapsed,
        ),
        (
            "  of which collapsing all blocks (Algorithm 1)".to_string(),
            a.collapse_macs,
        ),
    ];
    println!(
        "SESR m={} f={} p={} x{} ({})",
        config.m,
        config.int_features,
        config.feature_size,
        config.scale,
        run::stem("SESR", &config)
    );
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    for (label, value) in rows {
        println!("{label:<width$}  {:>11}  ({value})", human(value));
    }
    Ok(())
}
