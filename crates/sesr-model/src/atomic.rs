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

/// Whether `path` exists and is neither a regular file nor a folder: a FIFO or a device such
/// as `/dev/null`, which must be written in place, never renamed over.
pub fn is_special_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// Creates `path`'s folder if needed, lets `write` fill a temporary file beside it, then
/// renames that over `path`. The temporary file is removed if `write` fails. A FIFO or a
/// device ([`is_special_file`]) is written directly.
pub fn write_atomic<E: From<ModelError>>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    if is_special_file(path) {
        return write(path);
    }
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
    // On disk before it replaces the old file, so that a power cut cannot leave an empty one.
    std::fs::File::open(&tmp)
        .and_then(|file| file.sync_all())
        .map_err(|source| ModelError::Io {
            action: "sync",
            path: tmp.clone(),
            source,
        })?;
    #[cfg(feature = "failpoints")]
    fail::fail_point!("atomic-rename");
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

/// Removes the temporary files that [`write_atomic`] leaves in `dir` when a process is killed
/// between writing and renaming (`<name>.tmp<pid>`); returns what it removed. A run calls it
/// on its own folder before it writes there, so a killed run's leftovers do not pile up.
pub fn remove_stale_temporaries(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(source) => {
            return Err(ModelError::Io {
                action: "list",
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut removed = vec![];
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = name.rsplit_once(".tmp").is_some_and(|(stem, pid)| {
            !stem.is_empty() && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())
        });
        if stale && entry.path().is_file() {
            std::fs::remove_file(entry.path()).map_err(|source| ModelError::Io {
                action: "remove the leftover temporary file",
                path: entry.path(),
                source,
            })?;
            removed.push(entry.path());
        }
    }
    removed.sort();
    Ok(removed)
}

/// Whether `a` and `b` name the same file (existing or not: the folders are compared after
/// resolving links, then the names), so that a command can refuse to write over its input.
pub fn same_file(a: &Path, b: &Path) -> bool {
    let resolve = |p: &Path| -> Option<PathBuf> {
        if let Ok(full) = p.canonicalize() {
            return Some(full);
        }
        let parent = match p.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.canonicalize().ok()?,
            _ => std::env::current_dir().ok()?,
        };
        Some(parent.join(p.file_name()?))
    };
    match (resolve(a), resolve(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_temporaries_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "last.safetensors.tmp4242",
            "metrics.jsonl.tmp7",
            "best.safetensors",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        for name in ["notes.tmp", "a.tmpx1", ".tmp12"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let removed = remove_stale_temporaries(dir.path()).unwrap();
        let names: Vec<String> = removed
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["last.safetensors.tmp4242", "metrics.jsonl.tmp7"]);
        assert!(dir.path().join("best.safetensors").is_file());
        assert!(dir.path().join("notes.tmp").is_file());
        assert!(remove_stale_temporaries(&dir.path().join("missing"))
            .unwrap()
            .is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_written_in_place_not_replaced() {
        use std::io::Read;
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success(), "mkfifo");
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut text = String::new();
                std::fs::File::open(fifo)
                    .unwrap()
                    .read_to_string(&mut text)
                    .unwrap();
                text
            })
        };
        assert!(is_special_file(&fifo));
        write_file_atomic(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn same_file_sees_through_relative_and_missing_paths() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("model.safetensors");
        std::fs::write(&file, b"x").unwrap();
        let dotted = dir.path().join(".").join("model.safetensors");
        assert!(same_file(&file, &dotted));
        assert!(same_file(
            &dir.path().join("new.json"),
            &dir.path().join("./new.json")
        ));
        assert!(!same_file(&file, &dir.path().join("other.safetensors")));
    }
}
