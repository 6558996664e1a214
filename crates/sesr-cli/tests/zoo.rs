//! The shipped models by name on the command line: `upscale` with no `--checkpoint`, `eval` of
//! the float32 and QAT models on libtorch (the card's figures), `compare`, and bad names.

mod common;

use common::{asset, sesr_cli};
use serde_json::Value;
use tempfile::TempDir;

/// The card's CC0-validation PSNR of a shipped model's form.
fn card_psnr(name: &str, form: &str) -> f64 {
    let card: Value = serde_json::from_str(sesr_zoo::CARD_JSON).expect("card.json parses");
    card["models"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["name"] == name)
        .and_then(|m| m[form]["cc0-valid"]["psnr"].as_f64())
        .unwrap_or_else(|| panic!("card.json has no cc0-valid {form} PSNR of {name}"))
}

#[test]
fn eval_on_libtorch_scores_what_the_card_says() {
    let dir = TempDir::new().unwrap();
    for model in sesr_zoo::all() {
        for (suffix, form) in [("", "float32"), ("-qat", "qat")] {
            let name = format!("{}{suffix}", model.name());
            let json = dir.path().join(format!("{name}.json"));
            let (ok, stdout, stderr) = sesr_cli(&[
                "eval",
                "--checkpoint",
                &name,
                "--data",
                asset("valid").to_str().unwrap(),
                "--json",
                json.to_str().unwrap(),
            ]);
            assert!(ok, "eval {name}: {stderr}");
            assert!(
                stdout.contains(&format!("(checkpoint: {name})")),
                "{stdout}"
            );
            let report: Value =
                serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
            assert_eq!(report["engine"], "float32 on libtorch");
            let got = report["datasets"][0]["sesr"]["psnr"].as_f64().unwrap();
            let want = card_psnr(&model.name(), form);
            assert!(
                (got - want).abs() <= 0.01,
                "{name} on libtorch: {got:.4} dB, the card says {want:.4}"
            );
        }
    }
}

#[test]
fn upscale_needs_no_checkpoint_and_takes_names() {
    let Some(m5_x2) = sesr_zoo::all()
        .iter()
        .find(|m| m.preset == sesr_zoo::DEFAULT_PRESET && m.scale == 2)
    else {
        panic!("the default model (m5 x2) is not shipped");
    };
    let dir = TempDir::new().unwrap();
    let photo = asset("valid/coins.png");
    let (w, h) = image::image_dimensions(&photo).unwrap();
    let default = dir.path().join("default.png");
    let (ok, _, stderr) = sesr_cli(&[
        "upscale",
        "--input",
        photo.to_str().unwrap(),
        "--output",
        default.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(image::image_dimensions(&default).unwrap(), (2 * w, 2 * h));
    // The default is the shipped float32 M5 x2: the same bytes as naming it.
    let named = dir.path().join("named.png");
    let (ok, _, stderr) = sesr_cli(&[
        "upscale",
        "--checkpoint",
        &m5_x2.name(),
        "--input",
        photo.to_str().unwrap(),
        "--output",
        named.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(
        std::fs::read(&default).unwrap(),
        std::fs::read(&named).unwrap()
    );
    for model in sesr_zoo::all() {
        let out = dir.path().join(format!("{}-int8.png", model.name()));
        let (ok, _, stderr) = sesr_cli(&[
            "upscale",
            "--checkpoint",
            &format!("{}-int8", model.name()),
            "--input",
            photo.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        assert!(ok, "{stderr}");
        let s = model.scale as u32;
        assert_eq!(image::image_dimensions(&out).unwrap(), (s * w, s * h));
    }
    let crops = dir.path().join("crops.png");
    let (ok, _, stderr) = sesr_cli(&[
        "compare",
        "--image",
        photo.to_str().unwrap(),
        "--model",
        "float32=m5",
        "--model",
        "int8=m5-x2-int8",
        "--output",
        crops.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(crops.is_file());
}

#[test]
fn bad_names_are_clear_errors() {
    let photo = asset("valid/coins.png");
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("out.png");
    let upscale = |name: &str| {
        let (ok, _, stderr) = sesr_cli(&[
            "upscale",
            "--checkpoint",
            name,
            "--input",
            photo.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        assert!(!ok, "{name} was accepted");
        stderr
    };
    let stderr = upscale("m5-x3");
    assert!(
        stderr.contains("--checkpoint: `m5-x3` is not a shipped model's name")
            && stderr.contains("PRESET[-xSCALE][-qat|-int8]"),
        "{stderr}"
    );
    let stderr = upscale("m5-int8-qat");
    assert!(stderr.contains("PRESET[-xSCALE][-qat|-int8]"), "{stderr}");
    // Not a preset: a file name, which does not exist.
    let stderr = upscale("m6");
    assert!(stderr.contains("m6: no such file"), "{stderr}");
    // An int8 model cannot run on libtorch.
    let (ok, _, stderr) = sesr_cli(&[
        "upscale",
        "--engine",
        "torch",
        "--checkpoint",
        "m5-int8",
        "--input",
        photo.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(
        !ok && stderr.contains("an int8 model runs on sesr-runtime"),
        "{stderr}"
    );
    assert!(!out.exists());
}
