//! Atomic file writes: the content goes to a temporary name in the same folder, then is
//! renamed into place, so a reader (or a run resumed after a kill) sees the old file or the
//! new one, never half of one.

use crate::{ModelError, Result};
use std::path::{Path, PathBuf};

/// The temporary name `write_atomic` uses for `path` in this process.
fn temporary_path(path: &Path) -> Option<PathBuf> {
    let mut name = path.file_name()?.to_os_string();
    name.push(format!(".tmp{}", std::process::id()));
    Some(path.with_file_name(name))
}

/// Creates `path`'s folder if needed, lets `write` fill a temporary file beside it, then
/// renames that over `path`. The temporary file is removed if `write` fails.
pub fn write_atomic<E: From<ModelError>>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    let tmp = temporary_path(path).ok_or_else(|| ModelError::Io {
        action: "write",
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
    })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
            action: "create folder",
            path: dir.to_path_buf(),
            source,
        })?;
    }
    write(&tmp).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        ModelError::Io {
            action: "rename into place",
            path: path.to_path_buf(),
            source,
        }
        .into()
    })
}

/// [`write_atomic`] of a whole file's bytes.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |tmp| {
        std::fs::write(tmp, bytes).map_err(|source| ModelError::Io {
            action: "write",
            path: tmp.to_path_buf(),
            source,
        })
    })
}
