//! ffmpeg and ffprobe as the tests run them.

use anyhow::{ensure, Context, Result};
use std::path::Path;
use std::process::Command;

/// Runs ffmpeg quietly; its standard output.
pub fn ffmpeg(args: &[&str]) -> Result<Vec<u8>> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error"])
        .args(args)
        .output()
        .context("ffmpeg must be on PATH (cargo xtask setup installs it)")?;
    ensure!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out.stdout)
}

/// Runs ffprobe on `path`; its standard output.
pub fn ffprobe(args: &[&str], path: &Path) -> Result<String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .arg(path)
        .output()?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}
