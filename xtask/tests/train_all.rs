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
        (
            vec!["--epochs", "0"],
            "invalid value '0' for '--epochs <N>': expected a positive integer",
        ),
        (
            vec!["--nproc-per-node", "0"],
            "invalid value '0' for '--nproc-per-node <N>': expected a positive integer",
        ),
        (vec!["--bogus"], "unexpected argument '--bogus'"),
        (vec!["--data"], "a value is required for '--data <DIR>'"),
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

#[test]
fn help_lists_every_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["train-all", "--help"])
        .output()
        .expect("xtask runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--data <DIR>",
        "--valid <DIR>",
        "--out <DIR>",
        "--full",
        "--preset <NAME>",
        "--epochs <N>",
        "--device <DEVICE>",
        "--nproc-per-node <N>",
    ] {
        assert!(help.contains(flag), "`{help}` lacks `{flag}`");
    }
}
