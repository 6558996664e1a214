//! Shared helpers of the integration tests: where the shipped images and the benchmarks are.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `assets/images` of the workspace (shipped CC0 photos).
pub fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/images")
}

/// A shipped training photo by file name.
pub fn train_image(name: &str) -> PathBuf {
    assets().join("train").join(name)
}

/// A shipped validation photo by file name.
pub fn valid_image(name: &str) -> PathBuf {
    assets().join("valid").join(name)
}

/// The Set5/Set14 folder: `$SESR_BENCHMARKS`, else `shared/data/benchmarks` beside the clone.
/// Missing benchmarks fail under CI and skip (with a notice) elsewhere.
pub fn benchmarks_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SESR_BENCHMARKS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/benchmarks")
        });
    if dir.join("Set5").is_dir() && dir.join("Set14").is_dir() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "benchmarks not found at {} (set SESR_BENCHMARKS to the folder holding Set5 and Set14)",
            dir.display()
        );
    }
    eprintln!(
        "NOTICE: Set5/Set14 not found at {}; skipping this benchmark test \
         (set SESR_BENCHMARKS to run it)",
        dir.display()
    );
    None
}
