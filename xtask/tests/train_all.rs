//! `cargo xtask train-all` refuses bad input before it installs, builds or trains anything.

use std::process::Command;

fn train_all(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("train-all")
        .args(args)
        .output()
        .expect("xtask runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn missing_or_empty_data_fails_before_training() {
    let empty = tempfile::tempdir().unwrap();
    let empty = empty.path().to_str().unwrap();
    for (args, message) in [
        (
            vec!["--data", "/no/such/folder"],
            "--data /no/such/folder: cannot read the folder",
        ),
        (vec!["--data", empty], "the folder is empty"),
        (vec!["--valid", empty], "--valid"),
        (vec!["--epochs", "0"], "expected a positive integer"),
        (
            vec!["--nproc-per-node", "0"],
            "--nproc-per-node 0: expected a positive integer",
        ),
        (vec!["--bogus"], "unknown flag `--bogus`"),
        (vec!["--data"], "--data needs a value"),
    ] {
        let (ok, stderr) = train_all(&args);
        assert!(!ok, "{args:?} should fail");
        assert!(
            stderr.contains(message),
            "{args:?}: `{stderr}` lacks `{message}`"
        );
        assert!(!stderr.contains("xtask: stage"), "{args:?} started a stage");
    }
}
