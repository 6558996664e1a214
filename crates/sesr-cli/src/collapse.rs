//! `sesr-cli collapse`: a training checkpoint as a collapsed inference checkpoint (one conv per
//! block and the PReLU slopes), the form sesr-runtime and library users load.

use crate::models::{model_ref, torch, DeviceArg};
use anyhow::{bail, Context, Result};
use clap::Args;
use sesr_model::atomic::same_file;
use sesr_model::checkpoint::sidecar_path;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CollapseArgs {
    /// A training checkpoint (.safetensors with its JSON sidecar).
    #[arg(long, value_name = "MODEL.safetensors")]
    checkpoint: PathBuf,
    /// The collapsed checkpoint to write (.safetensors; its .json sidecar goes beside it).
    #[arg(long, value_name = "OUT.safetensors")]
    output: PathBuf,
}

pub fn run(args: &CollapseArgs) -> Result<()> {
    if !args
        .output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"))
    {
        bail!(
            "--output {}: a checkpoint is written as .safetensors (its .json sidecar beside it)",
            args.output.display()
        );
    }
    let (input_sidecar, output_sidecar) =
        (sidecar_path(&args.checkpoint), sidecar_path(&args.output));
    if same_file(&args.output, &args.checkpoint) || same_file(&output_sidecar, &input_sidecar) {
        bail!(
            "--output {} would overwrite --checkpoint {} (or its .json sidecar); write the \
             collapsed checkpoint under another name",
            args.output.display(),
            args.checkpoint.display()
        );
    }
    crate::paths::check_input("--checkpoint", &args.checkpoint)?;
    crate::paths::check_output_file(
        "--output",
        &args.output,
        "collapsed.safetensors",
        &[("--checkpoint", &args.checkpoint)],
    )?;
    let model = torch(
        "--checkpoint",
        &model_ref("--checkpoint", &args.checkpoint)?,
        DeviceArg::Cpu,
    )?;
    model
        .save(&args.output)
        .with_context(|| format!("cannot write --output {}", args.output.display()))?;
    let c = model.config();
    println!(
        "{}: collapsed SESR m={} f={} x{} ({} weights)",
        args.output.display(),
        c.m,
        c.int_features,
        c.scale,
        model
            .convs()
            .iter()
            .map(|conv| conv.weight.numel())
            .sum::<usize>()
    );
    Ok(())
}
