//! `sesr-cli train` runs killed (SIGKILL) at several moments and resumed with `--resume` write
//! the same bytes as a run never stopped; two runs with one `--seed` write the same bytes.
//! `timings.jsonl` (speed, memory) is the one file that may differ.

mod common;

use common::{run_files, run_ok, short_train_args};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The one run folder `train` made under `out`.
fn run_dir(out: &Path) -> Option<PathBuf> {
    std::fs::read_dir(out)
        .ok()?
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
}

fn metrics_lines(run: &Path) -> usize {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn train_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let base = ["--batch-size", "4", "--threads", "2"];
    short_train_args(out, &[&base[..], extra].concat())
}

fn spawn(args: &[String], fail_points: &str) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sesr-cli"));
    command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command.env("FAILPOINTS", fail_points);
    command.spawn().expect("sesr-cli starts")
}

/// SIGKILLs `child` as soon as `moment` holds; panics if it ends first.
fn kill_when(mut child: Child, what: &str, mut moment: impl FnMut(u32) -> bool) {
    let started = Instant::now();
    let pid = child.id();
    while !moment(pid) {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            panic!("the run ended ({status}) before {what}: {stderr}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "never reached {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Steps per epoch of the killed runs.
const STEPS: &str = "40";
/// Each step of a killed run first sleeps this long (fail point `train-step`), so an epoch
/// lasts at least 40 x 25 ms = 1 s and a kill 0.5 s into it lands inside it.
const STEP_SLEEP: &str = "train-step=sleep(25)";
const INTO_EPOCH: Duration = Duration::from_millis(500);

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the fail points: run it with `cargo xtask test`"
)]
fn a_run_killed_anywhere_and_resumed_writes_the_bytes_of_an_uninterrupted_run() {
    let root = tempfile::tempdir().unwrap();
    // The starting checkpoint, as the x4 and QAT stages of `train-all` have one.
    let init_out = root.path().join("init");
    run_ok(&train_args(
        &init_out,
        &["--epochs", "1", "--steps-per-epoch", "3"],
    ));
    let init = run_dir(&init_out).unwrap().join("best.safetensors");
    // QAT with --init-from: the case that lost its start when killed in the first epoch.
    let schedule = [
        "--epochs",
        "3",
        "--steps-per-epoch",
        STEPS,
        "--seed",
        "11",
        "--quant-w",
        "--quant-a",
        "--init-from",
        init.to_str().unwrap(),
    ];
    let reference_out = root.path().join("reference");
    run_ok(&train_args(&reference_out, &schedule));
    let reference_run = run_dir(&reference_out).unwrap();
    let reference = run_files(&reference_run);
    assert_eq!(metrics_lines(&reference_run), 3);
    let rename_wait = format!("{STEP_SLEEP};atomic-rename=sleep(300)");
    let cases = [
        ("the first epoch", STEP_SLEEP),
        ("the middle of epoch 2", STEP_SLEEP),
        // Every rename waits, so that the kill lands between writing a file and renaming it.
        (
            "the rename of resume.safetensors after epoch 2",
            rename_wait.as_str(),
        ),
    ];
    for (i, (moment, fail_points)) in cases.into_iter().enumerate() {
        let out = root.path().join(format!("killed{i}"));
        let child = spawn(&train_args(&out, &schedule), fail_points);
        let run = || run_dir(&out);
        // True once `ready` has held for INTO_EPOCH (the files it looks at only ever appear).
        let mut ready_since: Option<Instant> = None;
        let mut after = |ready: bool| {
            ready && ready_since.get_or_insert_with(Instant::now).elapsed() >= INTO_EPOCH
        };
        match i {
            0 => kill_when(child, moment, |_| {
                after(run().is_some_and(|r| r.join("config.json").exists()))
            }),
            1 => kill_when(child, moment, |_| {
                after(run().is_some_and(|r| r.join("resume.safetensors").exists()))
            }),
            _ => kill_when(child, moment, |pid| {
                run().is_some_and(|r| {
                    metrics_lines(&r) == 2
                        && r.join(format!("resume.safetensors.tmp{pid}")).exists()
                })
            }),
        }
        let killed_run = run().unwrap();
        let committed = metrics_lines(&killed_run);
        match i {
            0 => assert!(
                !killed_run.join("resume.safetensors").exists(),
                "killed after the first epoch was committed"
            ),
            1 => assert_eq!(committed, 1, "killed outside epoch 2"),
            _ => assert_eq!(committed, 2, "killed outside the commit of epoch 2"),
        }
        let mut resume = train_args(&out, &schedule);
        resume.push("--resume".into());
        run_ok(&resume);
        let resumed = run_files(&killed_run);
        assert_eq!(
            resumed.keys().collect::<Vec<_>>(),
            reference.keys().collect::<Vec<_>>(),
            "killed in {moment}: other files (a stale temporary?)"
        );
        for (name, bytes) in &reference {
            assert!(
                &resumed[name] == bytes,
                "killed in {moment}: {name} differs from the uninterrupted run's"
            );
        }
        let timing_lines = std::fs::read_to_string(killed_run.join("timings.jsonl")).unwrap();
        assert_eq!(timing_lines.lines().count(), 3, "killed in {moment}");
    }
}

#[test]
fn one_seed_gives_the_same_bytes_and_another_seed_other_weights() {
    let root = tempfile::tempdir().unwrap();
    let schedule = |seed: &'static str| ["--epochs", "2", "--steps-per-epoch", "4", "--seed", seed];
    let mut runs = vec![];
    for (name, seed) in [("a", "5"), ("b", "5"), ("c", "6")] {
        let out = root.path().join(name);
        run_ok(&train_args(&out, &schedule(seed)));
        runs.push(run_files(&run_dir(&out).unwrap()));
    }
    assert_eq!(runs[0], runs[1], "two runs with --seed 5 differ");
    for file in ["last.safetensors", "metrics.jsonl"] {
        assert_ne!(
            runs[0][file], runs[2][file],
            "--seed 6 changed nothing in {file}"
        );
    }
}
