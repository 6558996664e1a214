//! The errors of sesr-ffmpeg: each names the file or the process and says what to do.

use std::path::PathBuf;

pub type Result<T, E = FfmpegError> = std::result::Result<T, E>;

/// An error from the frame transform a [`Job`](crate::Job) runs (the upscaler).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum FfmpegError {
    /// ffmpeg or ffprobe is not on `PATH`.
    #[error(
        "`{tool}` was not found on PATH; install ffmpeg (Debian/Ubuntu: `sudo apt-get install \
         ffmpeg`, or `cargo xtask setup` in this repository; macOS: `brew install ffmpeg`) or \
         put the folder holding `{tool}` on PATH"
    )]
    NotFound { tool: &'static str },
    #[error("cannot start {what} ({program}): {source}")]
    Spawn {
        what: String,
        program: PathBuf,
        source: std::io::Error,
    },
    /// A process ended with an error; `stderr` holds the end of what it printed.
    #[error("{what} failed ({status}){}", stderr_tail(.stderr))]
    Failed {
        what: String,
        status: String,
        stderr: String,
    },
    /// The input is not something this crate can upscale.
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    /// Streams of the input that the output's container cannot hold.
    #[error("{0}")]
    Container(String),
    /// Options that do not fit together or do not fit the input.
    #[error("{0}")]
    Settings(String),
    /// The work folder of an earlier run does not fit this one.
    #[error("{0}")]
    Resume(String),
    /// A NUT stream that this crate cannot read.
    #[error("NUT stream: {0}")]
    Nut(String),
    #[error("NUT stream: {0}")]
    NutIo(std::io::Error),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The frame transform (the upscaler) failed.
    #[error("{0}")]
    Transform(BoxError),
    #[error(transparent)]
    Model(#[from] sesr_model::ModelError),
}

fn stderr_tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = &lines[lines.len().saturating_sub(6)..];
    format!(": {}", tail.join(" / "))
}
