//! `sesr-cli npu MODEL.tflite`: Arm's Ethos-U compiler (Vela) on an int8 `.tflite`, per
//! accelerator configuration: time and frames per second, what bounds them, SRAM, DRAM traffic,
//! and every operator Vela leaves to the host CPU with its reason. With `--frame`, a file
//! exported at a tile's size is reported per frame too: the tiles a frame needs, each with the
//! network's receptive-field halo on every side.

use crate::model_args::parse_size;
use anyhow::{Context, Result};
use clap::Args;
use sesr_tflite::schema::BuiltinOp;
use sesr_tflite::Model;
use sesr_vela::{tiles_per_frame, Vela, REPORTED};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct NpuArgs {
    /// The int8 .tflite (e.g. from `sesr-cli export --format int8 --target ethos-u55`).
    model: PathBuf,
    /// An Ethos-U configuration (ethos-u55-32 ... ethos-u85-2048); repeat for several.
    /// Default: ethos-u55-256, ethos-u65-512 and ethos-u85-2048.
    #[arg(long = "config", value_name = "CONFIG")]
    configs: Vec<String>,
    /// The frame the model upscales, HEIGHTxWIDTH, when the file was exported at a tile's
    /// size: figures per frame too.
    #[arg(long, value_parser = parse_size)]
    frame: Option<(u64, u64)>,
}

/// The file's input size and its SESR receptive radius (2 + m + 2: one pixel per 3x3 block).
fn input_and_halo(model: &Model) -> Option<((u64, u64), u64)> {
    let graph = model.subgraphs.first()?;
    let input = graph
        .tensors
        .get(usize::try_from(*graph.inputs.first()?).ok()?)?;
    let [_, h, w, _] = input.shape[..] else {
        return None;
    };
    let blocks = graph
        .operators
        .iter()
        .filter(|op| model.op(op) == Some(BuiltinOp::CONV_2D))
        .filter(|op| {
            let weight = op
                .inputs
                .get(1)
                .and_then(|&t| graph.tensors.get(t as usize));
            weight.is_some_and(|t| t.shape.get(1) == Some(&3))
        })
        .count() as u64;
    Some(((h as u64, w as u64), blocks + 4))
}

pub fn run(args: &NpuArgs) -> Result<()> {
    let model = Model::read(&args.model)
        .with_context(|| format!("cannot read {}", args.model.display()))?;
    let vela = Vela::find()?;
    let configs: Vec<&str> = match args.configs.is_empty() {
        true => REPORTED.to_vec(),
        false => args.configs.iter().map(String::as_str).collect(),
    };
    let tiles = match (args.frame, input_and_halo(&model)) {
        (Some(frame), Some((tile, halo))) => {
            Some(tiles_per_frame(frame, tile, halo).with_context(|| {
                format!(
                    "--frame: {} takes {}x{} tiles, too small to carry the network's halo of \
                     {halo} pixels on each side; export it at a larger size",
                    args.model.display(),
                    tile.0,
                    tile.1
                )
            })?)
        }
        (Some(_), None) => anyhow::bail!(
            "--frame: {} has no [1, H, W, 1] input to tile a frame with",
            args.model.display()
        ),
        (None, _) => None,
    };
    println!(
        "{} on Vela {} (its default system configuration and memory mode per accelerator)",
        args.model.display(),
        vela.version()?
    );
    for config in configs {
        let e = vela
            .estimate(&args.model, config)
            .with_context(|| format!("--config {config}"))?;
        let ms = e.inference_ms();
        println!(
            "{config} ({}, {}): {ms:.2} ms, {:.2} inferences/s; NPU {:.0}% of {:.3} G cycles \
             ({}-bound); SRAM {:.0} KiB; DRAM {:.1} MB per inference; operators: {} NPU, {} CPU",
            e.system_config,
            e.memory_mode,
            1e3 / ms,
            100.0 * e.npu_cycles / e.total_cycles,
            e.total_cycles / 1e9,
            e.bound(),
            e.sram_kib,
            e.dram_bytes / 1e6,
            e.npu_operators,
            e.cpu_operators.len()
        );
        if let Some(n) = tiles {
            println!(
                "  per frame: {n} inferences, {:.1} ms, {:.2} frames/s, DRAM {:.1} MB",
                n as f64 * ms,
                1e3 / (n as f64 * ms),
                n as f64 * e.dram_bytes / 1e6
            );
        }
        for op in &e.cpu_operators {
            println!(
                "  on the CPU: {} (writes {}): {}",
                op.operator, op.output, op.reason
            );
        }
    }
    Ok(())
}
