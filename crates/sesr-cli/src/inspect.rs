//! `sesr-cli inspect MODEL`: what a TFLite or ONNX file holds, ours or anyone's.

use anyhow::{Context, Result};
use clap::Args;
use sesr_tflite::{inspect, Model};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The .tflite or .onnx file.
    model: PathBuf,
}

pub fn run(args: &InspectArgs) -> Result<()> {
    let path = &args.model;
    let is_onnx = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    if is_onnx {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let summary = sesr_onnx::summarize(&bytes)
            .with_context(|| format!("cannot inspect {}", path.display()))?;
        println!("{summary}");
        return Ok(());
    }
    let model = Model::read(path).with_context(|| format!("cannot inspect {}", path.display()))?;
    print!("{}", inspect(&model));
    Ok(())
}
