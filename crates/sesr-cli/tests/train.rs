//! `sesr-cli train` as a user runs it: a short run on the shipped photos, resume, bad input.

mod common;

use common::{asset, sesr_cli};
use std::path::Path;

fn short_run<'a>(out: &'a str, train: &'a str, valid: &'a str, epochs: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--data",
        train,
        "--valid",
        valid,
        "--out",
        out,
        "--preset",
        "m3",
        "--feature-size",
        "16",
        "--epochs",
        epochs,
        "--steps-per-epoch",
        "2",
        "--batch-size",
        "4",
    ]
}

#[test]
fn a_short_run_writes_the_reference_run_directory_and_resumes() {
    let out = tempfile::tempdir().unwrap();
    let out_str = out.path().display().to_string();
    let (train, valid) = (
        asset("train").display().to_string(),
        asset("valid").display().to_string(),
    );
    let (ok, stdout, stderr) = sesr_cli(&short_run(&out_str, &train, &valid, "1"));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("epoch   1: loss"), "{stdout}");
    let run: &Path = &out
        .path()
        .join("SESR_m3_f16_x2_fs16_collapsedTraining_FP32");
    for file in [
        "config.json",
        "metrics.jsonl",
        "last.safetensors",
        "last.json",
        "best.safetensors",
        "resume.safetensors",
    ] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    // Starting again without --resume would throw the run away: refused.
    let (ok, _, stderr) = sesr_cli(&short_run(&out_str, &train, &valid, "2"));
    assert!(!ok && stderr.contains("--resume"), "{stderr}");
    let mut args = short_run(&out_str, &train, &valid, "2");
    args.push("--resume");
    let (ok, stdout, stderr) = sesr_cli(&args);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("resuming")
            && stdout.contains("epoch   2: loss")
            && !stdout.contains("epoch   1:"),
        "{stdout}"
    );
    // Resuming with other settings names them.
    let mut args = short_run(&out_str, &train, &valid, "3");
    args.extend(["--resume", "--learning-rate", "0.1"]);
    let (ok, _, stderr) = sesr_cli(&args);
    assert!(!ok && stderr.contains("learning_rate"), "{stderr}");
}

#[test]
fn bad_training_input_fails_before_training_with_a_clear_message() {
    let out = tempfile::tempdir().unwrap();
    let out_str = out.path().display().to_string();
    let empty = tempfile::tempdir().unwrap();
    let empty_str = empty.path().display().to_string();
    let (train, valid) = (
        asset("train").display().to_string(),
        asset("valid").display().to_string(),
    );
    let missing = out.path().join("no-such-folder").display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (short_run(&out_str, &missing, &valid, "1"), "no-such-folder"),
        (short_run(&out_str, &empty_str, &valid, "1"), &empty_str),
        (
            vec!["train", "--data", &train, "--out", &out_str],
            "--valid DIR is required",
        ),
        (
            [
                short_run(&out_str, &train, &valid, "1"),
                vec![
                    "--gen-tflite",
                    "--tflite-height",
                    "200000",
                    "--tflite-width",
                    "200000",
                ],
            ]
            .concat(),
            "--gen-tflite with --tflite-height 200000 --tflite-width 200000",
        ),
        (
            [
                short_run(&out_str, &train, &valid, "1"),
                vec!["--device", "cuda"],
            ]
            .concat(),
            "--device cuda",
        ),
        (
            [
                short_run(&out_str, &train, &valid, "1"),
                vec!["--device", "tpu"],
            ]
            .concat(),
            "[possible values: cpu, cuda]",
        ),
        (
            [
                short_run(&out_str, &train, &valid, "1"),
                vec!["--linear-block-type", "folded"],
            ]
            .concat(),
            "`collapsed` or `expanded`",
        ),
        (
            [
                short_run(&out_str, &train, &valid, "1"),
                vec!["--scale", "3"],
            ]
            .concat(),
            "scale must be 2 or 4",
        ),
        (
            [
                short_run(&out_str, &train, &valid, "1"),
                vec!["--learning-rate=-1"],
            ]
            .concat(),
            "--learning-rate must be a positive",
        ),
        (
            [short_run(&out_str, &train, &valid, "1"), vec!["--resume"]].concat(),
            "--resume: there is no run SESR_m3_f16_x2_fs16_collapsedTraining_FP32",
        ),
    ];
    for (args, message) in cases {
        let (ok, _, stderr) = sesr_cli(&args);
        assert!(!ok, "{args:?} should fail");
        assert!(
            stderr.contains(message),
            "{args:?}: `{stderr}` lacks `{message}`"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // Nothing was trained: no run directory appeared.
    assert!(std::fs::read_dir(out.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .all(|e| !e.path().join("resume.safetensors").exists()));
}

#[test]
fn gen_tflite_exports_the_best_checkpoint_at_the_end() {
    let out = tempfile::tempdir().unwrap();
    let out_str = out.path().display().to_string();
    let (train, valid) = (
        asset("train").display().to_string(),
        asset("valid").display().to_string(),
    );
    let args = [
        short_run(&out_str, &train, &valid, "1"),
        vec![
            "--gen-tflite",
            "--tflite-height",
            "24",
            "--tflite-width",
            "40",
        ],
    ]
    .concat();
    let (ok, stdout, stderr) = sesr_cli(&args);
    assert!(ok, "{stderr}");
    let run = out
        .path()
        .join("SESR_m3_f16_x2_fs16_collapsedTraining_FP32");
    let file = run.join("best_float32_24x40.tflite");
    assert!(stdout.contains("best_float32_24x40.tflite"), "{stdout}");
    let model = sesr_tflite::Model::read(&file).unwrap();
    let inspected = sesr_tflite::inspect(&model);
    assert!(inspected.contains("[1, 24, 40, 1]"), "{inspected}");
    assert!(inspected.contains("[1, 48, 80, 1]"), "{inspected}");
    // An FP32 run has no int8 ranges: no int8 file.
    assert!(!run.join("best_int8_24x40.tflite").exists());
}

/// The validation PSNR of a model on the shipped validation photos, from `eval --json`.
fn valid_psnr(model: &str, json: &Path) -> f64 {
    let valid = asset("valid").display().to_string();
    let json_str = json.display().to_string();
    let args = [
        "eval",
        "--checkpoint",
        model,
        "--data",
        &valid,
        "--engine",
        "native",
    ];
    let (ok, _, stderr) = sesr_cli(&[&args[..], &["--json", &json_str]].concat());
    assert!(ok, "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    report["datasets"][0]["sesr"]["psnr"].as_f64().unwrap()
}

#[test]
fn a_shipped_model_starts_a_run_where_it_stands() {
    let out = tempfile::tempdir().unwrap();
    let out_str = out.path().display().to_string();
    let (train, valid) = (
        asset("train").display().to_string(),
        asset("valid").display().to_string(),
    );
    // Fine-tuning the shipped M3 x2 (its p = 256 factored into p = 16) at a rate too small to
    // move it: the run's model scores what the shipped one does.
    let mut args = short_run(&out_str, &train, &valid, "1");
    args.extend(["--learning-rate", "1e-9", "--init-from", "m3-x2"]);
    let (ok, stdout, stderr) = sesr_cli(&args);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("initialised from m3-x2"), "{stdout}");
    let written = out.path().join("m3_x2.safetensors");
    assert!(written.is_file() && written.with_extension("json").is_file());
    let last = out
        .path()
        .join("SESR_m3_f16_x2_fs16_collapsedTraining_FP32/last.safetensors");
    let shipped = valid_psnr("m3-x2", &out.path().join("shipped.json"));
    let tuned = valid_psnr(last.to_str().unwrap(), &out.path().join("tuned.json"));
    assert!(
        (shipped - tuned).abs() < 0.005,
        "shipped {shipped} dB, the run started from it {tuned} dB"
    );
    // An x4 run starts from the x2 model too (all but its output block).
    let mut args = short_run(&out_str, &train, &valid, "1");
    args.extend(["--scale", "4", "--init-from", "m3-x2"]);
    let (ok, _, stderr) = sesr_cli(&args);
    assert!(ok, "{stderr}");
}
