//! `sesr-cli export --target ethos-u*` and `sesr-cli npu` as a user runs them: a shipped
//! model exported for the U85 at a strip's size under its default name, Vela's figures per
//! frame, and the errors of bad flags and of a missing Vela.

use std::path::Path;
use std::process::Command;
use tempfile::TempDir;

/// Runs sesr-cli in `dir` with `env`; returns (success, stdout, stderr).
fn sesr_cli_in(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sesr-cli"))
        .current_dir(dir)
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("sesr-cli runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn a_strip_export_for_the_u85_runs_whole_on_the_npu_per_frame() {
    let dir = TempDir::new().unwrap();
    let export = [
        "export",
        "--checkpoint",
        "m5-int8",
        "--format",
        "int8",
        "--target",
        "ethos-u85",
        "--tflite-height",
        "1080",
        "--tflite-width",
        "256",
    ];
    let (ok, stdout, stderr) = sesr_cli_in(dir.path(), &[], &export);
    assert!(ok, "{stderr}");
    let file = "m5_x2_int8_ethos-u85_1080x256.tflite";
    assert!(dir.path().join(file).is_file(), "{stdout}");
    // Vela from the repository's .venv (`cargo xtask setup`), found from the program's folder.
    let (ok, stdout, stderr) = sesr_cli_in(
        dir.path(),
        &[],
        &[
            "npu",
            file,
            "--config",
            "ethos-u85-2048",
            "--frame",
            "1080x1920",
        ],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("on Vela 5."), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("ethos-u85-2048"))
        .unwrap_or_else(|| panic!("no ethos-u85-2048 line:\n{stdout}"));
    assert!(line.ends_with(" NPU, 0 CPU"), "{line}");
    assert!(line.contains("Ethos_U85_SYS_DRAM_Mid"), "{line}");
    // Strips of 256 with M5's halo of 9: 2 edge strips of 247 and 6 inner ones of 238 columns.
    assert!(
        stdout.contains("per frame: 8 inferences"),
        "8 strips of 256 cover 1920 columns:\n{stdout}"
    );
    assert!(!stdout.contains("on the CPU:"), "{stdout}");

    // The CPU layout of the same model: Vela names every operator it leaves to the CPU.
    let cpu = [
        "export",
        "--checkpoint",
        "m5-int8",
        "--format",
        "int8",
        "--tflite-height",
        "64",
        "--tflite-width",
        "64",
    ];
    let (ok, _, stderr) = sesr_cli_in(dir.path(), &[], &cpu);
    assert!(ok, "{stderr}");
    let (ok, stdout, stderr) = sesr_cli_in(
        dir.path(),
        &[],
        &[
            "npu",
            "m5_x2_int8_64x64.tflite",
            "--config",
            "ethos-u55-256",
        ],
    );
    assert!(ok, "{stderr}");
    let reasons = stdout
        .lines()
        .filter(|l| l.contains("on the CPU:") && l.contains("Unsupported opType"))
        .count();
    assert_eq!(reasons, 4, "{stdout}");
    assert!(stdout.contains(" NPU, 4 CPU"), "{stdout}");
}

#[test]
fn bad_npu_flags_and_a_missing_vela_are_clear_errors() {
    let dir = TempDir::new().unwrap();
    for format in ["float32", "onnx", "onnx-int8"] {
        let (ok, _, stderr) = sesr_cli_in(
            dir.path(),
            &[],
            &[
                "export",
                "--checkpoint",
                "m5-int8",
                "--format",
                format,
                "--target",
                "ethos-u55",
            ],
        );
        assert!(!ok);
        assert!(
            stderr.contains("--target ethos-u55") && stderr.contains("--format int8"),
            "{format}: {stderr}"
        );
    }
    let (ok, _, stderr) = sesr_cli_in(
        dir.path(),
        &[],
        &[
            "export",
            "--checkpoint",
            "m5-int8",
            "--format",
            "int8",
            "--target",
            "ethos-u99",
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("ethos-u85"), "{stderr}");

    let small = [
        "export",
        "--checkpoint",
        "m5-int8",
        "--format",
        "int8",
        "--target",
        "ethos-u65",
        "--tflite-height",
        "16",
        "--tflite-width",
        "16",
    ];
    let (ok, _, stderr) = sesr_cli_in(dir.path(), &[], &small);
    assert!(ok, "{stderr}");
    let file = "m5_x2_int8_ethos-u65_16x16.tflite";
    // A 16x16 tile cannot carry M5's halo of 9 pixels on both sides.
    let (ok, _, stderr) = sesr_cli_in(dir.path(), &[], &["npu", file, "--frame", "1080x1920"]);
    assert!(!ok);
    assert!(
        stderr.contains("--frame") && stderr.contains("halo of 9"),
        "{stderr}"
    );
    let (ok, _, stderr) = sesr_cli_in(dir.path(), &[], &["npu", file, "--config", "ethos-u75"]);
    assert!(!ok);
    assert!(
        stderr.contains("--config ethos-u75") && stderr.contains("ethos-u65-512"),
        "{stderr}"
    );
    let (ok, _, stderr) = sesr_cli_in(dir.path(), &[], &["npu", "missing.tflite"]);
    assert!(!ok);
    assert!(stderr.contains("missing.tflite"), "{stderr}");
    let (ok, _, stderr) = sesr_cli_in(dir.path(), &[("VELA", "/nonexistent/vela")], &["npu", file]);
    assert!(!ok);
    assert!(
        stderr.contains("/nonexistent/vela")
            && stderr.contains("pip install ethos-u-vela")
            && stderr.contains("cargo xtask setup"),
        "{stderr}"
    );
}
