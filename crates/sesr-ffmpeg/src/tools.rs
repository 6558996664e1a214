//! Finding ffmpeg and ffprobe, and running them with their error output kept for messages.

use crate::{FfmpegError, Result};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

/// At most this much of a process's stderr is kept for an error message.
const STDERR_KEEP: usize = 64 * 1024;

/// The ffmpeg and ffprobe programs found on `PATH`.
#[derive(Clone, Debug)]
pub struct Tools {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    /// Print every command line to stderr before running it.
    pub show_commands: bool,
}

fn on_path(name: &'static str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .ok_or(FfmpegError::NotFound { tool: name })
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file() || path.with_extension("exe").is_file()
}

impl Tools {
    /// ffmpeg and ffprobe from `PATH`; an error that says how to install them if missing.
    pub fn find() -> Result<Tools> {
        Ok(Tools {
            ffmpeg: on_path("ffmpeg")?,
            ffprobe: on_path("ffprobe")?,
            show_commands: false,
        })
    }

    /// `ffmpeg -nostdin -hide_banner -loglevel error`, plus `args`.
    pub fn ffmpeg<S: AsRef<std::ffi::OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        let mut command = Command::new(&self.ffmpeg);
        command.args(["-nostdin", "-hide_banner", "-loglevel", "error"]);
        command.args(args);
        command
    }

    /// `ffprobe -v error`, plus `args`.
    pub fn ffprobe<S: AsRef<std::ffi::OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        let mut command = Command::new(&self.ffprobe);
        command.args(["-v", "error"]);
        command.args(args);
        command
    }

    fn announce(&self, command: &Command) {
        if self.show_commands {
            eprintln!("+ {}", command_line(command));
        }
    }

    /// Runs `command` to its end and returns its standard output; `what` names it in errors.
    pub fn output(&self, mut command: Command, what: &str) -> Result<Vec<u8>> {
        self.announce(&command);
        command.stdin(Stdio::null());
        let out = command.output().map_err(|source| FfmpegError::Spawn {
            what: what.into(),
            program: command.get_program().into(),
            source,
        })?;
        if !out.status.success() {
            return Err(FfmpegError::Failed {
                what: what.into(),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(out.stdout)
    }

    /// Starts `command` with the given pipes; its stderr is collected on a thread.
    pub fn spawn(
        &self,
        mut command: Command,
        what: &str,
        stdin: bool,
        stdout: bool,
    ) -> Result<Process> {
        self.announce(&command);
        command
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(if stdout {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|source| FfmpegError::Spawn {
            what: what.into(),
            program: command.get_program().into(),
            source,
        })?;
        let mut err = child.stderr.take().expect("stderr is piped");
        let stderr = std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > STDERR_KEEP {
                    kept.drain(..kept.len() - STDERR_KEEP);
                }
            }
            String::from_utf8_lossy(&kept).into_owned()
        });
        Ok(Process {
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            child,
            stderr: Some(stderr),
            what: what.into(),
        })
    }
}

/// A command as a shell would take it (arguments with spaces or quotes quoted).
pub fn command_line(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|arg| {
            let arg = arg.to_string_lossy();
            let plain = !arg.is_empty()
                && arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=+,@%".contains(c));
            if plain {
                arg.into_owned()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A running ffmpeg.
pub struct Process {
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<ChildStdout>,
    child: Child,
    stderr: Option<JoinHandle<String>>,
    what: String,
}

impl Process {
    /// Closes its standard input, waits for it and fails if it failed.
    pub fn finish(mut self) -> Result<()> {
        drop(self.stdin.take());
        drop(self.stdout.take());
        let status = self.child.wait().map_err(|source| FfmpegError::Spawn {
            what: self.what.clone(),
            program: PathBuf::from("ffmpeg"),
            source,
        })?;
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if !status.success() {
            return Err(FfmpegError::Failed {
                what: self.what.clone(),
                status: status.to_string(),
                stderr,
            });
        }
        Ok(())
    }

    /// What it printed so far and its status, after killing it (for a process whose output
    /// stopped making sense).
    pub fn kill(mut self) -> FfmpegError {
        let _ = self.child.kill();
        let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
        FfmpegError::Failed {
            what: self.what.clone(),
            status,
            stderr: self
                .stderr
                .take()
                .and_then(|h| h.join().ok())
                .unwrap_or_default(),
        }
    }

    /// Waits for it and returns its stderr and whether it succeeded, whatever happened.
    pub fn wait_quietly(mut self) -> (bool, String) {
        drop(self.stdin.take());
        drop(self.stdout.take());
        let ok = self.child.wait().is_ok_and(|s| s.success());
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        (ok, stderr)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A process dropped without `finish` belongs to a failed run: stop it.
        if self.stderr.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
