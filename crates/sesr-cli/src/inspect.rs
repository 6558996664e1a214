//! `sesr-cli inspect MODEL.tflite`: what a TFLite file holds, ours or TensorFlow's.

use anyhow::{Context, Result};
use clap::Args;
use sesr_tflite::{inspect, Model};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The .tflite file.
    model: PathBuf,
}

pub fn run(args: &InspectArgs) -> Result<()> {
    let model = Model::read(&args.model)
        .with_context(|| format!("cannot inspect {}", args.model.display()))?;
    print!("{}", inspect(&model));
    Ok(())
}
