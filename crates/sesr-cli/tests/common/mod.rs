//! Helpers shared by the `sesr-cli` integration tests.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::PathBuf;
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
