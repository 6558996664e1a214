//! `sesr-cli plot` and `compare` on a real (short) training run and its int8 export.

mod common;

use common::{asset, sesr_cli};
use std::path::{Path, PathBuf};

/// Trains SESR-M3 (p = 16) for `epochs` short epochs at `scale`, with `extra` flags; returns
/// the run folder.
fn short_run(out: &Path, scale: &str, epochs: &str, extra: &[&std::ffi::OsStr]) -> PathBuf {
    let (train, valid) = (asset("train"), asset("valid"));
    let args = [
        "train".as_ref(),
        "--data".as_ref(),
        train.as_os_str(),
        "--valid".as_ref(),
        valid.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--preset".as_ref(),
        "m3".as_ref(),
        "--feature-size".as_ref(),
        "16".as_ref(),
        "--scale".as_ref(),
        scale.as_ref(),
        "--epochs".as_ref(),
        epochs.as_ref(),
        "--steps-per-epoch".as_ref(),
        "2".as_ref(),
        "--batch-size".as_ref(),
        "4".as_ref(),
    ];
    let (ok, _, stderr) = sesr_cli(&[&args[..], extra].concat());
    assert!(ok, "{stderr}");
    let mut runs = std::fs::read_dir(out).unwrap().map(|e| e.unwrap().path());
    runs.next().expect("the run folder")
}

fn png_size(path: &Path) -> (u32, u32) {
    image::image_dimensions(path).unwrap()
}

#[test]
fn plot_draws_one_row_per_run_and_names_bad_runs() {
    let dir = tempfile::tempdir().unwrap();
    let run = short_run(&dir.path().join("x2"), "2", "2", &[]);
    let curves = dir.path().join("curves.png");
    let labelled = format!("x2 fp32={}", run.display());
    let metrics = run.join("metrics.jsonl");
    let (ok, stdout, stderr) = sesr_cli(&[
        "plot".as_ref(),
        "--output".as_ref(),
        curves.as_os_str(),
        labelled.as_ref(),
        metrics.as_os_str(),
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("training curves written"), "{stdout}");
    assert_eq!(png_size(&curves), (1200, 600));

    let missing = dir.path().join("no-such-run");
    let (ok, _, stderr) = sesr_cli(&[
        "plot".as_ref(),
        "--output".as_ref(),
        curves.as_os_str(),
        missing.as_os_str(),
    ]);
    assert!(!ok && stderr.contains("no-such-run"), "{stderr}");
    let (ok, _, stderr) = sesr_cli(&[
        "plot".as_ref(),
        "--output".as_ref(),
        dir.path().join("curves.jpg").as_os_str(),
        run.as_os_str(),
    ]);
    assert!(!ok && stderr.contains(".png"), "{stderr}");
}

#[test]
fn compare_shows_bicubic_models_and_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let run = short_run(&dir.path().join("x2"), "2", "1", &[]);
    let checkpoint = run.join("best.safetensors");
    // The int8 model comes from quantization-aware fine-tuning (ReLU, trained ranges).
    let qat = short_run(
        &dir.path().join("x2-qat"),
        "2",
        "1",
        &[
            "--quant-w".as_ref(),
            "--quant-a".as_ref(),
            "--init-from".as_ref(),
            checkpoint.as_os_str(),
        ],
    );
    let int8 = dir.path().join("x2_int8.tflite");
    let (ok, _, stderr) = sesr_cli(&[
        "export".as_ref(),
        "--checkpoint".as_ref(),
        qat.join("best.safetensors").as_os_str(),
        "--format".as_ref(),
        "int8".as_ref(),
        "--tflite-height".as_ref(),
        "64".as_ref(),
        "--tflite-width".as_ref(),
        "64".as_ref(),
        "--output".as_ref(),
        int8.as_os_str(),
    ]);
    assert!(ok, "{stderr}");
    // `eval` scores the .tflite itself (sesr-runtime's integers): within 0.3 dB of the QAT
    // model's fake quantization, which it implements.
    let eval_psnr = |model: &Path, name: &str| -> f64 {
        let json = dir.path().join(format!("{name}.json"));
        let (ok, _, stderr) = sesr_cli(&[
            "eval".as_ref(),
            "--checkpoint".as_ref(),
            model.as_os_str(),
            "--data".as_ref(),
            asset("valid").as_os_str(),
            "--json".as_ref(),
            json.as_os_str(),
        ]);
        assert!(ok, "{stderr}");
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        report["datasets"][0]["sesr"]["psnr"].as_f64().unwrap()
    };
    let (tflite_psnr, qat_psnr) = (
        eval_psnr(&int8, "tflite"),
        eval_psnr(&qat.join("best.safetensors"), "qat"),
    );
    assert!(
        (tflite_psnr - qat_psnr).abs() <= 0.3,
        "int8 .tflite {tflite_psnr:.3} dB vs QAT {qat_psnr:.3} dB"
    );

    let crops = dir.path().join("crops.png");
    let float_model = format!("float32={}", checkpoint.display());
    let int8_model = format!("int8={}", int8.display());
    let image = asset("valid/chelsea.png");
    let compare = |models: &[&str], crop: &str| {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "compare".as_ref(),
            "--image".as_ref(),
            image.as_os_str(),
            "--output".as_ref(),
            crops.as_os_str(),
            "--crop".as_ref(),
            crop.as_ref(),
        ];
        for m in models {
            args.push("--model".as_ref());
            args.push(m.as_ref());
        }
        sesr_cli(&args)
    };
    let (ok, stdout, stderr) = compare(&[&float_model, &int8_model], "64");
    assert!(ok, "{stderr}");
    assert!(stdout.contains("64x64"), "{stdout}");
    // bicubic | float32 | int8 | ground truth: four 192-pixel cells (64 at zoom 3), 8-pixel gaps.
    assert_eq!(png_size(&crops), (4 * 192 + 5 * 8, 34 + 192 + 8));

    let (ok, _, stderr) = compare(&["no-label.tflite"], "64");
    assert!(!ok && stderr.contains("LABEL=PATH"), "{stderr}");
    let (ok, _, stderr) = compare(&[&float_model], "0");
    assert!(!ok && stderr.contains("--crop 0"), "{stderr}");
    let x4 = short_run(&dir.path().join("x4"), "4", "1", &[]);
    let x4_model = format!("x4={}", x4.join("best.safetensors").display());
    let (ok, _, stderr) = compare(&[&float_model, &x4_model], "64");
    assert!(!ok && stderr.contains("one scale"), "{stderr}");
}
