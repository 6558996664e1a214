//! Running an `.onnx` model in ONNX Runtime (PyPI `onnxruntime` in the project's `.venv`)
//! through `python/ort_run.py`.

use crate::litert::python;
use crate::repo_root;
use anyhow::{bail, Result};
use sesr_data::plane::PlaneF32;
use std::path::Path;
use std::process::Command;

/// The script that runs a model in ONNX Runtime.
pub fn script() -> std::path::PathBuf {
    repo_root().join("crates/sesr-testkit/python/ort_run.py")
}

/// Runs the ONNX file `model` in ONNX Runtime (2 threads) on `plane`; `check` first runs
/// `onnx.checker`'s full check. The output values and the script's JSON report.
pub fn run_ort(
    model: &Path,
    plane: &PlaneF32,
    check: bool,
) -> Result<(Vec<f32>, serde_json::Value)> {
    let dir = tempfile::tempdir()?;
    let (input, output) = (dir.path().join("in.bin"), dir.path().join("out.bin"));
    std::fs::write(&input, crate::f32_bytes(&plane.data))?;
    let mut command = Command::new(python()?);
    command
        .arg(script())
        .arg(model)
        .arg("--input")
        .arg(&input)
        .args(["--height", &plane.height.to_string()])
        .args(["--width", &plane.width.to_string()])
        .arg("--output")
        .arg(&output);
    if check {
        command.arg("--check");
    }
    let out = command.output()?;
    if !out.status.success() {
        bail!(
            "ONNX Runtime failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report = serde_json::from_slice(&out.stdout)?;
    Ok((crate::f32_from_bytes(&std::fs::read(&output)?), report))
}

/// [`run_ort`] on model bytes.
pub fn run_ort_bytes(
    model: &[u8],
    plane: &PlaneF32,
    check: bool,
) -> Result<(Vec<f32>, serde_json::Value)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("model.onnx");
    std::fs::write(&path, model)?;
    run_ort(&path, plane, check)
}
