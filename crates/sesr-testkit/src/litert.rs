//! Running a `.tflite` model in LiteRT (PyPI `ai-edge-litert` in the project's `.venv`) through
//! `python/litert_run.py`.

use crate::repo_root;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// Which kernels LiteRT runs (see `litert_run.py`).
#[derive(Clone, Copy, Debug)]
pub enum Resolver {
    /// Builtin kernels with the default XNNPACK delegate: what users get.
    Auto,
    /// Builtin optimized kernels, no delegate.
    Builtin,
    /// TFLite's reference kernels.
    Reference,
}

/// What `litert_run.py` reports.
#[derive(Debug)]
pub struct LiteRtRun {
    /// The output tensor's raw bytes (empty when no input was given).
    pub output: Vec<u8>,
    /// The script's JSON report.
    pub report: serde_json::Value,
    /// What LiteRT printed on stderr.
    pub stderr: String,
}

impl LiteRtRun {
    /// Operators in the interpreter's node list.
    pub fn nodes(&self) -> Vec<String> {
        self.report["nodes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Wall-clock time of each timed run.
    pub fn times_ms(&self) -> Vec<f64> {
        self.series("times_ms")
    }

    /// CPU time (all threads) of each timed run.
    pub fn cpu_ms(&self) -> Vec<f64> {
        self.series("cpu_ms")
    }

    fn series(&self, key: &str) -> Vec<f64> {
        self.report[key]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
            .unwrap_or_default()
    }
}

/// The project's Python, with LiteRT and ONNX Runtime installed by `cargo xtask setup`.
pub fn python() -> Result<PathBuf> {
    let python = repo_root().join(".venv/bin/python");
    if !python.exists() {
        bail!(
            "{} is missing: run `cargo xtask setup` to create the project's Python \
             environment with LiteRT (ai-edge-litert) and ONNX Runtime",
            python.display()
        );
    }
    Ok(python)
}

/// The script that runs a model in LiteRT.
pub fn script() -> PathBuf {
    repo_root().join("crates/sesr-testkit/python/litert_run.py")
}

/// Runs `model` in LiteRT (2 threads) on the raw little-endian `input` bytes (None: load and
/// allocate only), `time` extra timed runs after the first.
pub fn run_litert(
    model: &[u8],
    input: Option<&[u8]>,
    resolver: Resolver,
    time: usize,
) -> Result<LiteRtRun> {
    let dir = tempfile::tempdir()?;
    let model_path = dir.path().join("model.tflite");
    std::fs::write(&model_path, model)?;
    let mut cmd = Command::new(python()?);
    cmd.arg(script())
        .arg(&model_path)
        .args(["--threads", "2", "--time", &time.to_string()])
        .args([
            "--resolver",
            match resolver {
                Resolver::Auto => "auto",
                Resolver::Builtin => "builtin",
                Resolver::Reference => "ref",
            },
        ]);
    let output_path = dir.path().join("output.bin");
    if let Some(input) = input {
        let input_path = dir.path().join("input.bin");
        std::fs::write(&input_path, input)?;
        cmd.arg("--input")
            .arg(&input_path)
            .arg("--output")
            .arg(&output_path);
    }
    let out = cmd.output().context("cannot start the project's Python")?;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        bail!(
            "LiteRT failed ({}):\n{stderr}\n(if ai_edge_litert is missing, run `cargo xtask setup`)",
            out.status
        );
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("bad report: {}", String::from_utf8_lossy(&out.stdout)))?;
    let output = if input.is_some() {
        std::fs::read(&output_path)?
    } else {
        Vec::new()
    };
    Ok(LiteRtRun {
        output,
        report,
        stderr,
    })
}
