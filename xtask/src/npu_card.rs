//! The model card's NPU figures: Arm's Vela on every shipped int8 model at 1080p, the CPU
//! layout (what `sesr-cli export` writes by default) next to the file of each Ethos-U target,
//! and the U85 file exported for vertical strips of the frame, run once per strip. `cargo xtask
//! npu-card` refreshes them in the shipped card; `train-zoo` measures them with the rest.

use crate::setup;
use crate::train_all::write_file;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use sesr_export::{model_bytes, ExportFormat, ExportSource, Target};
use sesr_model::reference::{ShippedForm, ShippedName};
use sesr_model::ModelRef;
use sesr_tflite::InputSize;
use sesr_vela::{tiles_per_frame, Estimate, Vela, REPORTED};
use std::path::Path;

/// The frame every figure is for (the exported models' default input).
const FRAME: InputSize = InputSize::FULL_HD;

/// How many full-height vertical strips of the frame are tried on the U85, which Vela reports
/// DRAM-bound on whole 1080p frames. Vela estimates narrow inputs much faster per pixel there;
/// full-height strips beat square tiles and wide stripes of the same area (1080x976 halves of
/// M5 x2: 54.5 ms a frame; 400x1920 stripes: 128.6 ms; 200x200 tiles: 65.6 ms).
const U85_STRIPS: [usize; 5] = [2, 3, 4, 6, 8];

/// The export target made for an accelerator configuration.
fn target_for(config: &str) -> Target {
    match config {
        c if c.starts_with("ethos-u55") => Target::EthosU55,
        c if c.starts_with("ethos-u65") => Target::EthosU65,
        _ => Target::EthosU85,
    }
}

fn figures(e: &Estimate) -> Value {
    json!({
        "ms": e.inference_ms(),
        "npu_cycles_share": e.npu_cycles / e.total_cycles,
        "bound": e.bound(),
        "dram_mb": e.dram_bytes / 1e6,
        "sram_kib": e.sram_kib,
        "cpu_operators": e.cpu_operators.iter().map(|op| &op.operator).collect::<Vec<_>>(),
    })
}

/// Vela's figures for every int8 model in `models` (`<preset>_x<scale>_int8.tflite`), as the
/// card's `npu` entry.
pub fn estimates(models: &Path) -> Result<Value> {
    let vela = Vela::find()?;
    let work = tempfile::tempdir()?;
    let mut rows = vec![];
    let mut configs = serde_json::Map::new();
    for name in ShippedName::all() {
        let file = models.join(name.file_name());
        if name.form != ShippedForm::Int8 || !file.is_file() {
            continue;
        }
        let label = format!("{}-x{}", name.preset.name(), name.scale);
        println!("xtask: Vela on {label}");
        let source = ExportSource::load(&ModelRef::file(&file)?)?;
        let halo = name.preset.config(name.scale)?.receptive_radius();
        let estimate = |target: Target, size: InputSize, config: &str| -> Result<Estimate> {
            let bytes = model_bytes(&file, &source, (ExportFormat::Int8, target), size, None)?;
            let path = work.path().join(format!(
                "{label}_{}_{}x{}.tflite",
                target.name(),
                size.height,
                size.width
            ));
            write_file(&path, &bytes)?;
            vela.estimate(&path, config)
                .with_context(|| format!("Vela on {label} for {config}"))
        };
        let mut per_config = vec![];
        for config in REPORTED {
            let cpu_layout = estimate(Target::Cpu, FRAME, config)?;
            let npu = estimate(target_for(config), FRAME, config)?;
            configs.insert(
                config.into(),
                json!({"system_config": npu.system_config, "memory_mode": npu.memory_mode}),
            );
            per_config.push(json!({
                "config": config,
                "target": target_for(config).name(),
                "cpu_layout": figures(&cpu_layout),
                "npu": figures(&npu),
            }));
        }
        let mut strips = vec![];
        for count in U85_STRIPS {
            // Each inner edge of a strip carries the halo: n strips span the width plus
            // 2 (n - 1) halos.
            let width = (FRAME.width + 2 * (count - 1) * halo).div_ceil(count);
            let strip = InputSize {
                height: FRAME.height,
                width,
            };
            let covering = tiles_per_frame(
                (FRAME.height as u64, FRAME.width as u64),
                (strip.height as u64, width as u64),
                halo as u64,
            );
            anyhow::ensure!(
                covering == Some(count as u64),
                "{label}: {count} strips of width {width} do not cover the frame"
            );
            let e = estimate(Target::EthosU85, strip, "ethos-u85-2048")?;
            strips.push(json!({
                "strips": count,
                "width": width,
                "frame_ms": count as f64 * e.inference_ms(),
                "frame_dram_mb": count as f64 * e.dram_bytes / 1e6,
                "cpu_operators": e.cpu_operators.len(),
            }));
        }
        rows.push(json!({
            "name": label,
            "halo": halo,
            "configs": per_config,
            "u85_strips": strips,
        }));
    }
    Ok(json!({
        "vela": vela.version()?,
        "frame": [FRAME.height, FRAME.width],
        "configs": configs,
        "models": rows,
    }))
}

/// `cargo xtask npu-card`: the shipped card's NPU figures measured again, and docs/models.md
/// written from it.
pub fn run() -> Result<()> {
    setup::run()?;
    let models = setup::repo_root().join("crates/sesr-zoo/models");
    let card_path = models.join("card.json");
    let mut card: Value = serde_json::from_slice(
        &std::fs::read(&card_path)
            .with_context(|| format!("cannot read {}", card_path.display()))?,
    )?;
    card["npu"] = estimates(&models)?;
    write_file(&card_path, &serde_json::to_vec_pretty(&card)?)?;
    let docs = setup::repo_root().join("docs/models.md");
    write_file(&docs, crate::model_card::render(&card)?.as_bytes())?;
    println!(
        "xtask: wrote the NPU figures into {} and {}",
        card_path.display(),
        docs.display()
    );
    Ok(())
}
