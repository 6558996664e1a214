//! Paths given in flags, checked before any work: a symbolic link that cannot be followed is
//! named as such (not as a missing file), and an output that cannot be written (a folder, a
//! broken link, a file where its folder should be, one of the command's own inputs) is refused
//! while nothing has been computed yet.

use anyhow::{bail, Result};
use sesr_model::atomic::same_file;
use sesr_model::reference::broken_link;
use std::path::Path;

/// Refuses `path` when it is a symbolic link that cannot be followed (a loop of links, or a
/// link to nothing); anything else is left to the reader, whose message says what is wrong.
pub fn check_input(flag: &str, path: &Path) -> Result<()> {
    if let Err(source) = std::fs::metadata(path) {
        if std::fs::symlink_metadata(path).is_ok() {
            bail!("{flag} {}: {}", path.display(), broken_link(path, &source));
        }
    }
    Ok(())
}

/// Refuses an output file that cannot be written, or that is one of `inputs` (`(flag, path)`):
/// a folder (`example` is a file name to suggest in it), a broken symbolic link, or a path
/// under a file. A missing folder is fine: the writer creates it.
pub fn check_output_file(
    flag: &str,
    path: &Path,
    example: &str,
    inputs: &[(&str, &Path)],
) -> Result<()> {
    check_input(flag, path)?;
    if path.is_dir() {
        bail!(
            "{flag} {} is a folder; give the file to write (e.g. {})",
            path.display(),
            path.join(example).display()
        );
    }
    if let Some((input_flag, input)) = inputs.iter().find(|(_, input)| same_file(path, input)) {
        bail!(
            "{flag} {} would overwrite {input_flag} {}; write the output under another name",
            path.display(),
            input.display()
        );
    }
    check_parent(flag, path)
}

/// Refuses an output folder that is a file or a broken symbolic link (a missing one is
/// created).
#[cfg(feature = "train")]
pub fn check_output_folder(flag: &str, path: &Path) -> Result<()> {
    check_input(flag, path)?;
    if path.exists() && !path.is_dir() {
        bail!(
            "{flag} {} is a file, not a folder; give the folder to write into",
            path.display()
        );
    }
    check_parent(flag, path)
}

/// The nearest existing folder above `path` must be a folder, or the writer fails at the end.
fn check_parent(flag: &str, path: &Path) -> Result<()> {
    let existing = path
        .ancestors()
        .skip(1)
        .filter(|dir| !dir.as_os_str().is_empty())
        .find(|dir| std::fs::symlink_metadata(dir).is_ok());
    if let Some(dir) = existing {
        if let Err(source) = std::fs::metadata(dir) {
            bail!(
                "{flag} {}: {} {}",
                path.display(),
                dir.display(),
                broken_link(dir, &source)
            );
        }
        if !dir.is_dir() {
            bail!(
                "{flag} {}: {} is a file, not a folder; choose another place to write",
                path.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_that_cannot_be_written_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("model.safetensors");
        std::fs::write(&file, b"x").unwrap();
        let err = |r: Result<()>| r.unwrap_err().to_string();
        let e = err(check_output_file("--json", dir.path(), "eval.json", &[]));
        assert!(e.contains("is a folder") && e.contains("eval.json"), "{e}");
        let e = err(check_output_file(
            "--json",
            &file,
            "eval.json",
            &[("--checkpoint", &file)],
        ));
        assert!(e.contains("would overwrite --checkpoint"), "{e}");
        let e = err(check_output_file(
            "--json",
            &file.join("x/eval.json"),
            "eval.json",
            &[],
        ));
        assert!(
            e.contains("model.safetensors is a file, not a folder"),
            "{e}"
        );
        check_output_file(
            "--json",
            &dir.path().join("new/eval.json"),
            "eval.json",
            &[],
        )
        .unwrap();
    }

    #[cfg(feature = "train")]
    #[test]
    fn output_folders_must_be_folders() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("notes.txt");
        std::fs::write(&file, b"x").unwrap();
        let e = check_output_folder("--out", &file).unwrap_err().to_string();
        assert!(
            e.contains("--out") && e.contains("is a file, not a folder"),
            "{e}"
        );
        check_output_folder("--out", &dir.path().join("runs")).unwrap();
        check_output_folder("--out", dir.path()).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn broken_links_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        let e = check_input("--data", &a).unwrap_err().to_string();
        assert!(e.contains("--data") && e.contains("symbolic link"), "{e}");
        let e = check_output_file("--json", &a, "eval.json", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("symbolic link"), "{e}");
        let e = check_output_file("--json", &a.join("eval.json"), "eval.json", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("symbolic link"), "{e}");
        check_input("--data", dir.path()).unwrap();
        check_input("--data", &dir.path().join("missing")).unwrap();
    }
}
