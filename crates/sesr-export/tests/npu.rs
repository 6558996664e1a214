//! The int8 files for Arm's Ethos-U NPUs (`Target::EthosU55`, `U65`, `U85`): Arm's own compiler
//! (Vela, PyPI `ethos-u-vela` in the project's `.venv`) places every operator of every shipped
//! model on the NPU, at x2 and x4, on the three reported configurations; and in LiteRT the NPU
//! files compute the CPU file's integers exactly, on a real photo.

use anyhow::Result;
use sesr_export::{model_bytes, ExportFormat, ExportSource, Target};
use sesr_model::{ModelRef, ShippedForm, ShippedName};
use sesr_testkit::litert::{run_litert, Resolver};
use sesr_testkit::photos::valid_y;
use sesr_testkit::{i8_bytes, repo_root};
use sesr_tflite::InputSize;
use sesr_vela::Vela;

fn vela() -> Result<Vela> {
    Ok(Vela::at(repo_root().join(".venv/bin/vela"))?)
}

fn int8_file(name: ShippedName, target: Target, size: InputSize) -> Result<Vec<u8>> {
    let model = ModelRef::shipped(name.with_form(ShippedForm::Int8));
    let source = ExportSource::load(&model)?;
    let format = (ExportFormat::Int8, target);
    Ok(model_bytes(
        &model.display_name(),
        &source,
        format,
        size,
        None,
    )?)
}

/// The accelerator configuration each NPU target is reported on.
fn config(target: Target) -> &'static str {
    match target {
        Target::EthosU55 => "ethos-u55-256",
        Target::EthosU65 => "ethos-u65-512",
        _ => "ethos-u85-2048",
    }
}

#[test]
fn vela_places_every_operator_of_every_shipped_model_on_the_npu() -> Result<()> {
    let vela = vela()?;
    let dir = tempfile::tempdir()?;
    // Small inputs compile in a fraction of a second; the operators are the same at 1080p.
    let size = InputSize::new(32, 48);
    for zoo in sesr_zoo::all() {
        let name = ShippedName::new(zoo.preset, zoo.scale, ShippedForm::Int8);
        for target in [Target::EthosU55, Target::EthosU65, Target::EthosU85] {
            let path = dir.path().join(format!("{name}_{}.tflite", target.name()));
            std::fs::write(&path, int8_file(name, target, size)?)?;
            let estimate = vela.estimate(&path, config(target))?;
            assert!(
                estimate.cpu_operators.is_empty(),
                "{name} for {}: Vela leaves {:?} to the CPU",
                target.name(),
                estimate.cpu_operators
            );
            assert!(estimate.npu_operators > 0, "{name}: no NPU operator");
        }
    }
    // The CPU layout, for contrast: its (space-)to-depth operators stay on the CPU.
    let name = ShippedName::new(sesr_model::Preset::M5, 2, ShippedForm::Int8);
    let path = dir.path().join("m5_cpu.tflite");
    std::fs::write(&path, int8_file(name, Target::Cpu, size)?)?;
    let estimate = vela.estimate(&path, "ethos-u55-256")?;
    let ops: Vec<&str> = estimate
        .cpu_operators
        .iter()
        .map(|o| o.operator.as_str())
        .collect();
    assert_eq!(
        ops,
        [
            "DEPTH_TO_SPACE",
            "SPACE_TO_DEPTH",
            "SPACE_TO_DEPTH",
            "DEPTH_TO_SPACE"
        ]
    );
    assert!(estimate
        .cpu_operators
        .iter()
        .all(|o| o.reason == "Unsupported opType"));
    Ok(())
}

#[test]
fn npu_files_compute_the_cpu_files_integers_in_litert() -> Result<()> {
    // A real photo's luminance at an even and an odd size (the CPU file is packed at the even).
    let photo = valid_y("chelsea.png")?;
    for (h, w) in [(96, 128), (67, 93)] {
        let crop = photo.crop(140, 90, w, h);
        let input = i8_bytes(
            &crop
                .data
                .iter()
                .map(|&v| ((v * 255.0).round() - 128.0) as i8)
                .collect::<Vec<_>>(),
        );
        for scale in [2, 4] {
            let name = ShippedName::new(sesr_model::Preset::M5, scale, ShippedForm::Int8);
            let size = InputSize::new(h, w);
            let cpu = int8_file(name, Target::Cpu, size)?;
            for resolver in [Resolver::Reference, Resolver::Auto] {
                let want = run_litert(&cpu, Some(&input), resolver, 0)?.output;
                for target in [Target::EthosU55, Target::EthosU65, Target::EthosU85] {
                    let npu = int8_file(name, target, size)?;
                    let got = run_litert(&npu, Some(&input), resolver, 0)?.output;
                    let differ = got.iter().zip(&want).filter(|(a, b)| a != b).count();
                    assert_eq!(
                        (got.len(), differ),
                        (want.len(), 0),
                        "{name} {h}x{w} for {} under {resolver:?}",
                        target.name()
                    );
                }
            }
        }
    }
    Ok(())
}

#[test]
fn npu_files_are_refused_as_sources_with_the_reason() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let name = ShippedName::new(sesr_model::Preset::M5, 4, ShippedForm::Int8);
    for target in [Target::EthosU55, Target::EthosU85] {
        let path = dir.path().join(format!("{}.tflite", target.name()));
        std::fs::write(&path, int8_file(name, target, InputSize::new(32, 48))?)?;
        let err = ExportSource::load(&ModelRef::file(&path)?).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("Ethos-U export") && text.contains("sesr-cli export --format int8"),
            "{text}"
        );
    }
    Ok(())
}
