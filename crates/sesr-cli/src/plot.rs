//! `sesr-cli plot`: training loss and validation PSNR of one or more runs, as a PNG.

use anyhow::{bail, Context, Result};
use clap::Args;
use sesr_report::{plot_training, read_metrics, StageCurves};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Training runs to draw, one row each: a run folder (holding `metrics.jsonl`) or a
    /// metrics file, optionally labelled as `LABEL=PATH` (default label: the folder's name).
    #[arg(required = true, value_name = "[LABEL=]RUN")]
    runs: Vec<String>,
    /// The PNG to write.
    #[arg(long, value_name = "CURVES.png")]
    output: PathBuf,
}

/// `LABEL=PATH` or `PATH`, with the label defaulting to the run folder's name.
fn parse_run(spec: &str) -> (String, PathBuf) {
    let (label, path) = match spec.split_once('=') {
        Some((label, path)) if !label.is_empty() && !Path::new(spec).exists() => {
            (Some(label.to_string()), PathBuf::from(path))
        }
        _ => (None, PathBuf::from(spec)),
    };
    let metrics = if path.is_dir() {
        sesr_model::run::RunDir::new(&path).metrics()
    } else {
        path
    };
    let label = label.unwrap_or_else(|| {
        let folder = metrics.parent().and_then(Path::file_name);
        folder.map_or_else(|| spec.to_string(), |f| f.to_string_lossy().into_owned())
    });
    (label, metrics)
}

pub fn run(args: &PlotArgs) -> Result<()> {
    if !args
        .output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        bail!(
            "--output {}: plots are written as .png",
            args.output.display()
        );
    }
    let stages = args
        .runs
        .iter()
        .map(|spec| {
            let (name, metrics) = parse_run(spec);
            let records = read_metrics(&metrics).with_context(|| {
                format!("run `{spec}` (expected a folder written by `sesr-cli train`)")
            })?;
            Ok(StageCurves { name, records })
        })
        .collect::<Result<Vec<_>>>()?;
    plot_training(&stages, &args.output)?;
    println!("training curves written to {}", args.output.display());
    Ok(())
}
