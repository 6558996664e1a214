//! Issue #30, messages that do not help and outputs checked too late: every case runs the
//! binary on real files made here (exports, copies of the shipped models, photos, symbolic
//! link loops, a sparse 3 GB file) and checks what the user reads, and that nothing was
//! written or computed first.

mod common;

use common::asset;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// What a run of the binary left: exit code, stdout, stderr, and how long it took.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs the binary in `dir` with `args`: this build's, or the one `SESR_CLI_BIN` names (an
/// older build, to see these tests fail there).
fn run_in<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Ran {
    let binary =
        std::env::var_os("SESR_CLI_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_sesr-cli").into());
    let start = Instant::now();
    let out = Command::new(binary)
        .current_dir(dir)
        .args(args)
        .output()
        .expect("sesr-cli runs");
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
        took: start.elapsed(),
    }
}

/// Asserts that `args` (run in `dir`) fail with status 1, no panic, and a message holding every
/// one of `needles` and none of `never`; returns the message.
fn fails(dir: &Path, args: &[&str], needles: &[&str], never: &[&str]) -> String {
    let ran = run_in(dir, args);
    let stderr = ran.stderr;
    assert_eq!(ran.code, Some(1), "{args:?} should fail: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: `{stderr}` lacks `{needle}`"
        );
    }
    for word in never {
        assert!(!stderr.contains(word), "{args:?}: `{stderr}` says `{word}`");
    }
    stderr
}

/// Runs `args` in `dir` and asserts success; returns (stdout, stderr).
fn succeeds(dir: &Path, args: &[&str]) -> (String, String) {
    let ran = run_in(dir, args);
    assert_eq!(ran.code, Some(0), "{args:?}: {}", ran.stderr);
    (ran.stdout, ran.stderr)
}

/// A shipped model's file (`m3_x2.safetensors`), copied into `dir` under `name` with its
/// sidecar (if it has one) beside it.
fn shipped_file(dir: &Path, file: &str, name: &str) -> PathBuf {
    let models = sesr_testkit::repo_root().join("crates/sesr-zoo/models");
    let to = dir.join(name);
    std::fs::copy(models.join(file), &to).unwrap();
    let sidecar = models.join(file).with_extension("json");
    if sidecar.is_file() {
        std::fs::copy(sidecar, to.with_extension("json")).unwrap();
    }
    to
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A loop of two symbolic links in `dir`; returns one of them.
#[cfg(unix)]
fn link_loop(dir: &Path) -> PathBuf {
    let (a, b) = (dir.join("loop_a"), dir.join("loop_b"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    a
}

/// An `.onnx`, a PNG or a run's `resume.safetensors` given where a model goes is named for
/// what it is, with what is accepted; never as a checkpoint whose sidecar is missing.
#[test]
fn a_file_that_is_no_checkpoint_is_named_for_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path();
    let onnx = t.join("model.onnx");
    succeeds(
        t,
        &[
            "export",
            "--checkpoint",
            "m3",
            "--format",
            "onnx",
            "--output",
            s(&onnx),
        ],
    );
    let png = t.join("photo.png");
    std::fs::copy(asset("valid/coins.png"), &png).unwrap();
    // A run's resume state is a safetensors file without a sidecar.
    std::fs::create_dir(t.join("run")).unwrap();
    let resume = shipped_file(t, "m3_x2.safetensors", "run/resume.safetensors");
    std::fs::remove_file(resume.with_extension("json")).unwrap();
    let coins = s(&png);
    let out_png = t.join("out.png");
    let out = s(&out_png);
    for (file, says) in [
        (&onnx, "ONNX"),
        (&png, "is a PNG image, not a model"),
        (&resume, "is a training run's resume state"),
    ] {
        let file = s(file);
        let label = format!("a={file}");
        for args in [
            vec![
                "upscale",
                "--checkpoint",
                file,
                "--input",
                coins,
                "--output",
                out,
            ],
            vec!["eval", "--checkpoint", file, "--data", s(&asset("valid"))],
            vec!["export", "--checkpoint", file, "--format", "float32"],
            vec![
                "compare", "--image", coins, "--model", &label, "--output", out,
            ],
        ] {
            fails(t, &args, &[says, file], &["is missing"]);
        }
    }
    let stderr = fails(
        t,
        &["export", "--checkpoint", s(&resume), "--format", "onnx"],
        &[],
        &[],
    );
    assert!(
        stderr.contains("give best.safetensors or last.safetensors beside it"),
        "{stderr}"
    );
    fails(
        t,
        &["export", "--checkpoint", s(&png), "--format", "onnx"],
        &[
            "a checkpoint (MODEL.safetensors with its MODEL.json sidecar)",
            "shipped model",
        ],
        &[],
    );
    assert!(!t.join("out.png").exists());
}

/// Misspelled shipped names, the zoo's own file names among them, get the right spelling and
/// the list of shipped names.
#[test]
fn shipped_names_misspelled_get_the_right_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path();
    let coins = asset("valid/coins.png");
    let upscale = |name: &str| {
        vec![
            "upscale".to_string(),
            "--checkpoint".into(),
            name.into(),
            "--input".into(),
            s(&coins).into(),
            "--output".into(),
            "out.png".into(),
        ]
    };
    let list = "PRESET one of m3, m5, m7, m11, xl and SCALE 2 (the default) or 4";
    for (name, suggestion) in [
        ("m5_x4", Some("did you mean `m5-x4`?")),
        ("m5_x4.safetensors", Some("did you mean `m5-x4`?")),
        ("m3_x2_int8.tflite", Some("did you mean `m3-x2-int8`?")),
        ("m99", None),
    ] {
        let args = upscale(name);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let stderr = fails(t, &args, &[list, "not a shipped model's name"], &[]);
        if let Some(suggestion) = suggestion {
            assert!(stderr.contains(suggestion), "{stderr}");
        }
    }
    for command in [
        vec![
            "eval",
            "--checkpoint",
            "m5_x4",
            "--data",
            s(&asset("valid")),
        ],
        vec!["export", "--checkpoint", "m5_x4", "--format", "onnx"],
    ] {
        fails(t, &command, &["did you mean `m5-x4`?", list], &[]);
    }
    assert!(!t.join("out.png").exists());
}

/// `export` takes shipped names, as every `--checkpoint` does; a local file named like a
/// shipped model is not used silently: a warning says so and how to name the file.
#[test]
fn export_takes_shipped_names_and_a_shadowed_file_gets_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path();
    let (stdout, stderr) = succeeds(
        t,
        &[
            "export",
            "--checkpoint",
            "m3-qat",
            "--format",
            "int8",
            "--tflite-height",
            "16",
            "--tflite-width",
            "16",
        ],
    );
    assert!(stdout.contains("m3_x2_qat_int8_16x16.tflite"), "{stdout}");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(t.join("m3_x2_qat_int8_16x16.tflite").is_file());
    succeeds(t, &["export", "--checkpoint", "m3-x4", "--format", "onnx"]);
    assert!(t.join("m3_x4_onnx.onnx").is_file());
    // A file called `m3` here loses to the shipped model, with a warning.
    std::fs::write(t.join("m3"), b"my own notes").unwrap();
    let (_, stderr) = succeeds(
        t,
        &[
            "export",
            "--checkpoint",
            "m3",
            "--format",
            "onnx",
            "--output",
            "shadowed.onnx",
        ],
    );
    assert!(
        stderr.contains("warning: --checkpoint m3: the shipped model m3-x2 is used, not the file")
            && stderr.contains("write ./m3 for the file"),
        "{stderr}"
    );
    // ... and `./m3` is the file.
    fails(
        t,
        &["export", "--checkpoint", "./m3", "--format", "onnx"],
        &["./m3: is not a model file this project reads"],
        &[],
    );
}

/// An export whose `--output` names the other format is refused before any work, with the
/// name to give or the `--format` that writes such a file; `--calibration` with a float32
/// format is refused, not ignored.
#[test]
fn export_refuses_an_output_named_for_another_format() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path();
    fails(
        t,
        &[
            "export",
            "--checkpoint",
            "m3-qat",
            "--format",
            "int8",
            "--output",
            "x.onnx",
        ],
        &[
            "--output",
            "x.onnx",
            "name it x.tflite",
            "--format onnx-int8",
        ],
        &[],
    );
    fails(
        t,
        &[
            "export",
            "--checkpoint",
            "m3",
            "--format",
            "onnx",
            "--output",
            "x.tflite",
        ],
        &["--output", "name it x.onnx", "--format float32"],
        &[],
    );
    fails(
        t,
        &[
            "export",
            "--checkpoint",
            "m3",
            "--format",
            "float32",
            "--calibration",
            s(&asset("valid")),
            "--output",
            "x.tflite",
        ],
        &["--calibration sets int8 ranges", "drop --calibration"],
        &[],
    );
    for file in ["x.onnx", "x.tflite"] {
        assert!(!t.join(file).exists(), "{file} was written");
    }
}

/// `inspect` knows a file by its content, whatever its name, and refuses anything else from
/// its first bytes, a 3 GB file included, without reading the rest.
#[test]
fn inspect_reads_the_format_from_the_content() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path();
    let tflite = shipped_file(t, "m3_x2_int8.tflite", "int8_named.onnx");
    let (stdout, stderr) = succeeds(t, &["inspect", s(&tflite)]);
    assert!(stdout.starts_with("TFLite model"), "{stdout}");
    assert!(
        stderr.contains("is a TFLite model, though named .onnx"),
        "{stderr}"
    );
    succeeds(
        t,
        &[
            "export",
            "--checkpoint",
            "m3",
            "--format",
            "onnx",
            "--output",
            "m.onnx",
        ],
    );
    std::fs::rename(t.join("m.onnx"), t.join("onnx_named.tflite")).unwrap();
    let (stdout, stderr) = succeeds(t, &["inspect", "onnx_named.tflite"]);
    assert!(stdout.starts_with("ONNX IR"), "{stdout}");
    assert!(
        stderr.contains("is an ONNX model; name it .onnx"),
        "{stderr}"
    );
    // What people pass by mistake.
    std::fs::copy(asset("valid/coins.png"), t.join("coins.tflite")).unwrap();
    fails(
        t,
        &["inspect", "coins.tflite"],
        &["coins.tflite is a PNG image, not a model"],
        &["TFL3"],
    );
    let checkpoint = shipped_file(t, "m3_x2.safetensors", "m3.safetensors");
    fails(
        t,
        &["inspect", s(&checkpoint)],
        &[
            "is a checkpoint (safetensors)",
            "sesr-cli export --checkpoint",
        ],
        &[],
    );
    std::fs::write(t.join("notes.txt"), b"hell\x1b[2J, world").unwrap();
    fails(
        t,
        &["inspect", "notes.txt"],
        &[
            "neither a TFLite model (its bytes 4..8 are `\\u{1b}[2J`",
            "nor an ONNX model",
        ],
        &["\x1b"],
    );
    // 3 GB (sparse: nothing reaches the disk), refused from its head and length.
    for name in ["huge.bin", "huge.onnx"] {
        let file = std::fs::File::create(t.join(name)).unwrap();
        file.set_len(3 << 30).unwrap();
        let ran = run_in(t, &["inspect", name]);
        assert_eq!(ran.code, Some(1), "{}", ran.stderr);
        assert!(
            ran.stderr.contains("is 3.0 GiB") && ran.stderr.contains("2 GiB"),
            "{}",
            ran.stderr
        );
        assert!(ran.took < Duration::from_secs(2), "took {:?}", ran.took);
        std::fs::remove_file(t.join(name)).unwrap();
    }
}

/// Outputs are checked before the work: a folder as `export --output`, `eval --json` or
/// `compare --output`, or an output that is one of the inputs.
#[test]
fn outputs_are_checked_before_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path();
    std::fs::create_dir(t.join("folder")).unwrap();
    fails(
        t,
        &[
            "export",
            "--checkpoint",
            "m3",
            "--format",
            "onnx",
            "--output",
            "folder",
        ],
        &["--output folder is a folder", "folder/m3_x2_onnx.onnx"],
        &[],
    );
    let valid = asset("valid");
    let ran = run_in(
        t,
        &[
            "eval",
            "--checkpoint",
            "m3",
            "--data",
            s(&valid),
            "--json",
            "folder",
        ],
    );
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("--json folder is a folder; give the file to write (e.g. folder/eval.json)"),
        "{}",
        ran.stderr
    );
    assert!(ran.stdout.is_empty(), "evaluated first: {}", ran.stdout);
    // The JSON over the checkpoint or its sidecar, or under a file.
    let checkpoint = shipped_file(t, "m3_x2.safetensors", "m3.safetensors");
    for json in ["m3.safetensors", "m3.json"] {
        fails(
            t,
            &[
                "eval",
                "--checkpoint",
                s(&checkpoint),
                "--data",
                s(&valid),
                "--json",
                json,
            ],
            &["--json", "would overwrite --checkpoint"],
            &[],
        );
    }
    fails(
        t,
        &[
            "eval",
            "--checkpoint",
            "m3",
            "--data",
            s(&valid),
            "--json",
            "m3.safetensors/e.json",
        ],
        &["--json", "m3.safetensors is a file, not a folder"],
        &[],
    );
    let before = std::fs::read(&checkpoint).unwrap();
    assert_eq!(std::fs::read(&checkpoint).unwrap(), before);
    // compare over its own --image, or over a --model file, or to a folder.
    let image = t.join("photo.png");
    std::fs::copy(asset("valid/coins.png"), &image).unwrap();
    let photo = std::fs::read(&image).unwrap();
    let label = format!("m3={}", s(&checkpoint));
    fails(
        t,
        &[
            "compare",
            "--image",
            "photo.png",
            "--model",
            "a=m3",
            "--output",
            "./photo.png",
        ],
        &["--output ./photo.png would overwrite --image photo.png"],
        &[],
    );
    fails(
        t,
        &[
            "compare",
            "--image",
            "photo.png",
            "--model",
            &label,
            "--output",
            "folder",
        ],
        &["--output folder: the crops are written as .png"],
        &[],
    );
    std::fs::create_dir(t.join("crops.png")).unwrap();
    fails(
        t,
        &[
            "compare",
            "--image",
            "photo.png",
            "--model",
            &label,
            "--output",
            "crops.png",
        ],
        &["--output crops.png is a folder"],
        &[],
    );
    assert_eq!(std::fs::read(&image).unwrap(), photo, "the --image changed");
}

/// `compare` on an image too small says its real size, what is needed, and names `--model`.
#[test]
fn compare_on_a_tiny_image_says_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path();
    for (side, model, least) in [(1, "m3", "4x4"), (3, "m3", "4x4"), (7, "m3-x4", "8x8")] {
        let image = t.join(format!("tiny{side}.png"));
        image::RgbImage::from_pixel(side, side, image::Rgb([90, 120, 200]))
            .save(&image)
            .unwrap();
        let label = format!("a={model}");
        fails(
            t,
            &[
                "compare",
                "--image",
                s(&image),
                "--model",
                &label,
                "--output",
                "c.png",
            ],
            &[
                &format!("is {side}x{side} pixels"),
                &format!("needs an image of at least {least}"),
                "--model",
            ],
            &["0x0", "--checkpoint"],
        );
    }
    assert!(!t.join("c.png").exists());
}

/// A symbolic link in a loop is named as such, with its flag, not as a missing file.
#[cfg(unix)]
#[test]
fn a_symbolic_link_loop_is_named_with_its_flag() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path();
    let looped = link_loop(t);
    let l = s(&looped);
    let (valid, coins) = (asset("valid"), asset("valid/coins.png"));
    let (valid, coins) = (s(&valid), s(&coins));
    let label = format!("a={l}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "upscale",
                "--checkpoint",
                l,
                "--input",
                coins,
                "--output",
                "o.png",
            ],
            "--checkpoint",
        ),
        (
            vec!["eval", "--checkpoint", l, "--data", valid],
            "--checkpoint",
        ),
        (vec!["eval", "--checkpoint", "m3", "--data", l], "--data"),
        (
            vec!["eval", "--checkpoint", "m3", "--data", valid, "--json", l],
            "--json",
        ),
        (
            vec!["export", "--checkpoint", l, "--format", "onnx"],
            "--checkpoint",
        ),
        (
            vec![
                "export",
                "--checkpoint",
                "m3",
                "--format",
                "int8",
                "--calibration",
                l,
            ],
            "--calibration",
        ),
        (vec!["inspect", l], "inspect"),
        (
            vec![
                "compare", "--image", l, "--model", "a=m3", "--output", "c.png",
            ],
            "--image",
        ),
        (
            vec![
                "compare", "--image", coins, "--model", &label, "--output", "c.png",
            ],
            "--model",
        ),
    ];
    for (args, flag) in cases {
        fails(
            t,
            &args,
            &[flag, "loop_a", "is a symbolic link that cannot be followed"],
            &["does not exist"],
        );
    }
    // An output that is a loop is refused too (before: the link was replaced by the file).
    let tflite = t.join("loop.onnx");
    std::os::unix::fs::symlink(&tflite, &tflite).unwrap();
    fails(
        t,
        &[
            "export",
            "--checkpoint",
            "m3",
            "--format",
            "onnx",
            "--output",
            "loop.onnx",
        ],
        &["--output loop.onnx: is a symbolic link that cannot be followed"],
        &[],
    );
    assert!(std::fs::symlink_metadata(&tflite)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::symlink_metadata(&looped)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(!t.join("o.png").exists() && !t.join("c.png").exists());
}

/// The training flags: `--resume` naming no run, `--init-from` naming no training
/// checkpoint, negative numbers, and `--skip-bad` that skipped everything.
#[cfg(feature = "train")]
mod train {
    use super::*;
    use common::short_train_args;

    /// The short run's arguments, with `extra` flags (replacing the value of a flag the short
    /// run already gives).
    fn args(out: &Path, extra: &[&str]) -> Vec<String> {
        let mut args = short_train_args(out, &["--epochs", "1", "--steps-per-epoch", "1"]);
        let mut extra = extra.iter();
        while let Some(flag) = extra.next() {
            let takes_value = !["--resume", "--quant-w", "--quant-a", "--skip-bad"].contains(flag);
            let value = takes_value.then(|| extra.next().unwrap().to_string());
            match (args.iter().position(|a| a == flag), value) {
                (Some(at), Some(value)) => args[at + 1] = value,
                (_, value) => args.extend([flag.to_string()].into_iter().chain(value)),
            }
        }
        args
    }

    fn train_fails(dir: &Path, args: &[String], needles: &[&str], never: &[&str]) -> String {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ran = run_in(dir, &args);
        // 1, or 2 for what clap refuses.
        assert!(
            matches!(ran.code, Some(1 | 2)),
            "{args:?} should fail: {}",
            ran.stderr
        );
        // Every one of these is found before the images are loaded.
        assert!(!ran.stdout.contains("data:"), "{args:?}: {}", ran.stdout);
        for needle in needles {
            assert!(
                ran.stderr.contains(needle),
                "{args:?}: `{}` lacks `{needle}`",
                ran.stderr
            );
        }
        for word in never {
            assert!(
                !ran.stderr.contains(word),
                "{args:?}: `{}` says `{word}`",
                ran.stderr
            );
        }
        ran.stderr
    }

    #[test]
    fn resume_says_which_flags_name_the_run_and_which_runs_exist() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path();
        let out = t.join("runs");
        let naming = "comes from --model-name, the architecture flags (--preset, --m, \
                      --int-features, --feature-size, --scale), --linear-block-type and \
                      --quant-w/--quant-a";
        train_fails(
            t,
            &args(&out, &["--resume"]),
            &[
                "--resume: there is no run SESR_m3_f16_x2_fs16_collapsedTraining_FP32 in",
                naming,
                "holds no run to resume",
            ],
            &["config.json", "os error"],
        );
        let ran = run_in(t, &args(&out, &[]));
        assert_eq!(ran.code, Some(0), "{}", ran.stderr);
        let existing = "runs: SESR_m3_f16_x2_fs16_collapsedTraining_FP32 (--m 3 --int-features \
                        16 --feature-size 16 --scale 2)";
        train_fails(
            t,
            &args(&out, &["--resume", "--preset", "m5"]),
            &[
                "no run SESR_m5_f16_x2_fs16_collapsedTraining_FP32",
                naming,
                existing,
            ],
            &["config.json"],
        );
        train_fails(
            t,
            &args(&out, &["--resume", "--quant-w"]),
            &[
                "no run SESR_m3_f16_x2_fs16_collapsedTraining_QAT",
                naming,
                existing,
            ],
            &["config.json"],
        );
    }

    #[test]
    fn init_from_speaks_of_init_from() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path();
        let out = t.join("runs");
        let needed = "--init-from takes a float32 model";
        train_fails(
            t,
            &args(&out, &["--init-from", "nothing.safetensors"]),
            &["--init-from nothing.safetensors: no such file", needed],
            &["sidecar"],
        );
        // Shipped names: the float32 form starts a run; the others say which does.
        train_fails(
            t,
            &args(&out, &["--init-from", "m3-x2-int8"]),
            &[
                "--init-from m3-x2-int8",
                "int8 .tflite",
                "float32 form m3-x2",
            ],
            &["sidecar"],
        );
        train_fails(
            t,
            &args(&out, &["--init-from", "m3-x2-qat"]),
            &[
                "--init-from m3-x2-qat",
                "quantization-aware",
                "float32 form m3-x2",
            ],
            &["sidecar"],
        );
        train_fails(
            t,
            &args(&out, &["--init-from", "m3-x3"]),
            &["--init-from m3-x3"],
            &["sidecar"],
        );
        let qat = shipped_file(t, "m3_x2_qat.safetensors", "qat.safetensors");
        train_fails(
            t,
            &args(&out, &["--init-from", s(&qat)]),
            &["--init-from", "collapsed quantization-aware model", needed],
            &[],
        );
        let tflite = shipped_file(t, "m3_x2_int8.tflite", "model.tflite");
        train_fails(
            t,
            &args(&out, &["--init-from", s(&tflite)]),
            &["--init-from", "is an exported model (TFLite)"],
            &[],
        );
        let png = t.join("photo.png");
        std::fs::copy(asset("valid/coins.png"), &png).unwrap();
        train_fails(
            t,
            &args(&out, &["--init-from", s(&png)]),
            &["--init-from", "is a PNG image", "a float32 model"],
            &["shipped"],
        );
        let lonely = shipped_file(t, "m3_x2.safetensors", "lonely.safetensors");
        std::fs::remove_file(lonely.with_extension("json")).unwrap();
        train_fails(
            t,
            &args(&out, &["--init-from", s(&lonely)]),
            &["--init-from", "lonely.safetensors: its JSON sidecar"],
            &[],
        );
        #[cfg(unix)]
        {
            let looped = link_loop(t);
            for flag in ["--init-from", "--data", "--valid", "--data-lr", "--out"] {
                train_fails(
                    t,
                    &args(&out, &[flag, s(&looped)]),
                    &[flag, "is a symbolic link that cannot be followed"],
                    &["does not exist"],
                );
            }
        }
        assert!(!out.exists(), "a run folder was made");
    }

    #[test]
    fn negative_numbers_and_skipped_files_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path();
        let out = t.join("runs");
        train_fails(
            t,
            &args(&out, &["--learning-rate", "-1"]),
            &["--learning-rate must be a positive number, got -1"],
            &["unexpected argument"],
        );
        for flag in ["--epochs", "--batch-size", "--seed", "--scale"] {
            train_fails(
                t,
                &args(&out, &[flag, "-2"]),
                &[&format!("invalid value '-2' for '{flag}")],
                &["unexpected argument"],
            );
        }
        // Every file bad: the first one's problem is shown, not "see the warnings".
        let bad = t.join("bad");
        std::fs::create_dir(&bad).unwrap();
        std::fs::write(bad.join("a.png"), b"not a PNG").unwrap();
        std::fs::write(bad.join("b.png"), b"not one either").unwrap();
        let skip = args(&out, &["--skip-bad", "--data", s(&bad)]);
        let args: Vec<&str> = skip.iter().map(String::as_str).collect();
        fails(
            t,
            &args,
            &[
                "--skip-bad skipped all 2 files; the first: ",
                "a.png is not a readable image",
                // and every file's warning, from the one load
                "warning: skipped: ",
                "b.png is not a readable image",
            ],
            &["see the warnings"],
        );
        assert!(!out
            .join("SESR_m3_f16_x2_fs16_collapsedTraining_FP32/resume.safetensors")
            .exists());
    }
}
