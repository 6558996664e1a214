//! `cargo xtask train-zoo` refuses bad input before it installs, builds or trains anything.

use std::process::Command;

#[test]
fn bad_flags_fail_before_training() {
    let empty = tempfile::tempdir().unwrap();
    let empty = empty.path().to_str().unwrap();
    for (args, message) in [
        (
            vec!["--presets", "m5,m6"],
            "invalid value 'm5,m6' for '--presets <LIST>': no preset `m6` (m3, m5, m7, m11, xl)",
        ),
        (
            vec!["--benchmarks", empty],
            "no Set5/ folder inside; give the folder that holds Set5/ and Set14/",
        ),
        (
            vec!["--presets", "m3,m5"],
            "m7, m11, xl grow from a preset in the list, so their shipped files would no \
             longer follow from it; add m7,m11,xl to --presets",
        ),
        (vec!["--bogus"], "unexpected argument '--bogus'"),
        (vec!["--out"], "a value is required for '--out <DIR>'"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("train-zoo")
            .args(&args)
            .output()
            .expect("xtask runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(
            stderr.contains(message),
            "{args:?}: `{stderr}` lacks `{message}`"
        );
        assert!(!stderr.contains("xtask: m"), "{args:?} started a stage");
    }
}

#[test]
fn help_lists_every_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["train-zoo", "--help"])
        .output()
        .expect("xtask runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--presets <LIST>",
        "--out <DIR>",
        "--benchmarks <DIR>",
        "--install",
    ] {
        assert!(help.contains(flag), "`{help}` lacks `{flag}`");
    }
}
