//! Helpers shared by the `sesr-cli` integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A shipped photo or folder under `assets/images`.
pub fn asset(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/images")
        .join(relative)
}

/// Runs the binary; returns (success, stdout, stderr).
pub fn sesr_cli<S: AsRef<OsStr>>(args: &[S]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sesr-cli"))
        .args(args)
        .output()
        .expect("sesr-cli runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// `train` on the shipped photos into `out`: SESR-M3 with f = 16, 8 patches per image, then
/// `extra`.
pub fn short_train_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "train",
        "--data",
        asset("train").to_str().unwrap(),
        "--valid",
        asset("valid").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--preset",
        "m3",
        "--feature-size",
        "16",
        "--patches-per-image",
        "8",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Runs the binary to the end and returns its stdout; panics with its stderr if it fails.
pub fn run_ok(args: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sesr-cli"))
        .args(args)
        .output()
        .expect("sesr-cli runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file of a run folder but `timings.jsonl` (speed, memory), by name.
pub fn run_files(run: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(run)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(name, _)| name != "timings.jsonl")
        .map(|(name, path)| (name, std::fs::read(path).unwrap()))
        .collect()
}
