//! Data-parallel `sesr-cli train` with 2 ranks on this machine (Open MPI over loopback):
//! the same training as one process with the same global batch, bit-identical between two
//! runs, a dead or hanging rank stops the run with its name, and a killed run resumes.

mod common;

use common::{run_files, run_ok, short_train_args};
use sesr_core::checkpoint::read_tensors;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sesr-cli"))
}

/// A short run: m3, f = 16, global batch 8, 6 steps per epoch.
fn train_args(out: &Path, epochs: usize, extra: &[&str]) -> Vec<String> {
    let epochs = epochs.to_string();
    let base = [
        "--batch-size",
        "8",
        "--steps-per-epoch",
        "6",
        "--seed",
        "4",
        "--epochs",
        &epochs,
    ];
    short_train_args(out, &[&base[..], extra].concat())
}

fn run(args: &[String]) -> Output {
    cli().args(args).output().expect("sesr-cli runs")
}

fn run_dir(out: &Path) -> PathBuf {
    committed_run(out).expect("a run folder")
}

/// The run folder under `out` once its first epoch is committed.
fn committed_run(out: &Path) -> Option<PathBuf> {
    std::fs::read_dir(out)
        .ok()?
        .map(|e| e.unwrap().path())
        .find(|p| p.join("resume.safetensors").exists())
}

/// Learning rate of the runs (the reference's).
const LEARNING_RATE: f64 = 2e-4;

/// How far a 2-rank run may be from one process after the same steps, per tensor of
/// `resume.safetensors`: `(absolute, relative to the tensor's largest magnitude)`, either
/// suffices.
///
/// FP32 (collapsed, expanded): the ranks sum each half batch's gradient in another order than
/// one process's threads do, a relative change near float32's 1e-7 per step; Adam divides by
/// sqrt(v), so a near-zero gradient's update can move more. Measured after 12 steps: 1.3e-4
/// (collapsed, `optim.m.prelu.0`), 1.8e-5 (expanded) of the tensors' size; allowed 1e-3.
///
/// QAT: fake quantization rounds activations and weights to 8-bit levels, so a 1e-7 change can
/// move a value across a level and change the forward pass by a whole step, and the gradients
/// of the ranges count the values clipped at a boundary. One Adam update moves a weight by at
/// most about the learning rate: weights and ranges may differ by 2 updates (measured 0.9), the
/// Adam state of the weights by 5% (measured 3%), that of the activation ranges, whose
/// gradients are near-empty counts, by 50% (measured 20%).
fn tolerance(mode: &str, name: &str) -> (f64, f64) {
    match mode {
        "qat" if name.starts_with("model.") => (2.0 * LEARNING_RATE, 0.0),
        "qat" if name.contains(".quant.act.") => (0.0, 0.5),
        "qat" => (0.0, 5e-2),
        _ => (0.0, 1e-3),
    }
}

/// Checks every tensor of two runs' `resume.safetensors` against [`tolerance`]; returns the
/// largest relative difference seen.
fn assert_close(mode: &str, a: &Path, b: &Path) -> f64 {
    let (a, b) = (
        read_tensors(&a.join("resume.safetensors")).unwrap(),
        read_tensors(&b.join("resume.safetensors")).unwrap(),
    );
    assert_eq!(a.len(), b.len());
    let mut worst: f64 = 0.0;
    for (name, x) in &a {
        let size = x.abs().max().double_value(&[]);
        let diff = (x - &b[name]).abs().max().double_value(&[]);
        let (absolute, relative) = tolerance(mode, name);
        assert!(
            diff <= absolute || diff <= relative * size,
            "{mode}: {name} differs by {diff:e} (largest value {size:e})"
        );
        if size > 0.0 {
            worst = worst.max(diff / size);
        }
    }
    worst
}

#[test]
fn two_ranks_train_as_one_process_with_the_same_global_batch() {
    let root = tempfile::tempdir().unwrap();
    for (mode, extra) in [
        ("collapsed", &["--linear-block-type", "collapsed"][..]),
        ("expanded", &["--linear-block-type", "expanded"][..]),
        ("qat", &["--quant-w", "--quant-a"][..]),
    ] {
        let one = root.path().join(format!("{mode}-one"));
        let two = root.path().join(format!("{mode}-two"));
        run_ok(&train_args(&one, 2, &[extra, &["--threads", "2"]].concat()));
        let stdout = run_ok(&train_args(
            &two,
            2,
            &[extra, &["--nproc-per-node", "2"]].concat(),
        ));
        assert!(stdout.contains("data-parallel: 2 ranks"), "{stdout}");
        let worst = assert_close(mode, &run_dir(&one), &run_dir(&two));
        println!("{mode}: largest relative difference {worst:e}");
    }
}

/// Marks the processes of one test's run (tests run side by side).
const TAG: &str = "SESR_TEST_RUN";

/// The ranks of the run whose launcher had `SESR_TEST_RUN=tag`: (pid, rank).
fn rank_pids(tag: &str) -> Vec<(u32, String)> {
    let marker = format!("{TAG}={tag}");
    let mut ranks = vec![];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let exe = std::fs::read_link(entry.path().join("exe")).unwrap_or_default();
        let tagged = environ.split(|&b| b == 0).any(|v| v == marker.as_bytes());
        if !exe.ends_with("sesr-cli") || !tagged {
            continue;
        }
        for var in environ.split(|&b| b == 0) {
            if let Some(rank) = var.strip_prefix(b"OMPI_COMM_WORLD_RANK=") {
                ranks.push((pid, String::from_utf8_lossy(rank).into_owned()));
            }
        }
    }
    ranks
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the fail points: run it with `cargo xtask test`"
)]
fn two_ranks_runs_are_bit_identical_and_a_killed_one_resumes_to_the_same_bytes() {
    let root = tempfile::tempdir().unwrap();
    let two = ["--nproc-per-node", "2"];
    let mut runs = vec![];
    for name in ["a", "b"] {
        let out = root.path().join(name);
        run_ok(&train_args(&out, 3, &two));
        runs.push(run_files(&run_dir(&out)));
    }
    assert!(runs[0] == runs[1], "two identical 2-rank runs differ");

    // Killed as a whole (the launcher, mpirun and both ranks) after its first epoch.
    let out = root.path().join("killed");
    let mut launcher = cli()
        .args(train_args(&out, 3, &two))
        // Every step sleeps 0.1 s, so the kill 0.2 s after epoch 1's commit lands in epoch 2.
        .env("FAILPOINTS", "train-step=sleep(100)")
        .env(TAG, "resume")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while committed_run(&out).is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no epoch finished"
        );
        if launcher.try_wait().unwrap().is_some() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(launcher.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            panic!("the run ended early: {stderr}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(200));
    // mpirun starts the ranks in their own process groups: kill them, then the launchers.
    let mut pids: Vec<String> = rank_pids("resume")
        .iter()
        .map(|(pid, _)| pid.to_string())
        .collect();
    assert_eq!(pids.len(), 2, "{pids:?}");
    pids.push(format!("-{}", launcher.id()));
    let killed = Command::new("kill")
        .args(["-KILL", "--"])
        .args(&pids)
        .status()
        .unwrap();
    assert!(killed.success());
    launcher.wait().unwrap();
    let killed_run = run_dir(&out);
    let done = std::fs::read_to_string(killed_run.join("metrics.jsonl")).unwrap();
    assert_eq!(done.lines().count(), 1, "killed outside epoch 2");

    // Another number of ranks is refused, naming the right one.
    let single = run(&train_args(&out, 3, &["--resume"]));
    let stderr = String::from_utf8_lossy(&single.stderr);
    assert!(
        !single.status.success() && stderr.contains("--nproc-per-node 2"),
        "{stderr}"
    );
    run_ok(&train_args(&out, 3, &[&two[..], &["--resume"]].concat()));
    let resumed = run_files(&killed_run);
    assert_eq!(
        resumed.keys().collect::<Vec<_>>(),
        runs[0].keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &runs[0] {
        assert!(
            &resumed[name] == bytes,
            "resumed {name} differs from the uninterrupted run's"
        );
    }
}

#[test]
fn a_dead_rank_stops_the_run_naming_it() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("run");
    let mut launcher = cli()
        .args(train_args(&out, 1000, &["--nproc-per-node", "2"]))
        .env(TAG, "dead")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while committed_run(&out).is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no epoch finished"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let committed = std::fs::read(run_dir(&out).join("resume.safetensors")).unwrap();
    let (pid, _) = rank_pids("dead")
        .into_iter()
        .find(|(_, rank)| rank == "1")
        .expect("rank 1 runs");
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    let killed = Instant::now();
    let status = launcher.wait().unwrap();
    let stopped_after = killed.elapsed();
    let mut stderr = String::new();
    std::io::Read::read_to_string(launcher.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    println!("the run stopped {stopped_after:?} after rank 1 was killed");
    assert!(!status.success());
    assert!(
        stderr.contains("rank 1") && stderr.contains("signal 9"),
        "{stderr}"
    );
    assert!(stopped_after < Duration::from_secs(60), "{stopped_after:?}");
    assert!(rank_pids("dead").is_empty(), "ranks left running");
    // The last committed state is a whole, loadable file (perhaps of a later epoch).
    let resume = run_dir(&out).join("resume.safetensors");
    assert!(read_tensors(&resume).is_ok());
    assert!(!committed.is_empty());
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs the fail points: run it with `cargo xtask test`"
)]
fn a_hanging_rank_is_given_up_after_the_timeout() {
    // Rank 1 sleeps in its first step (fail point); rank 0 waits 3 s for its gradients.
    let root = tempfile::tempdir().unwrap();
    let args = train_args(&root.path().join("run"), 1, &["--dist-timeout", "3"]);
    let program = env!("CARGO_BIN_EXE_sesr-cli");
    let started = Instant::now();
    let out = Command::new("mpirun")
        .args(["--oversubscribe", "--bind-to", "none"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env(TAG, "hang")
        .args(["-np", "1", "-x", "FAILPOINTS=", program])
        .args(&args)
        .args([
            ":",
            "-np",
            "1",
            "-x",
            "FAILPOINTS=train-step=sleep(600000)",
            program,
        ])
        .args(&args)
        .output()
        .expect("mpirun runs");
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("stopped after {elapsed:?}");
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "error: rank 0: no answer from the other ranks for 3 s while summing gradients"
        ),
        "{stderr}"
    );
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    assert!(rank_pids("hang").is_empty(), "ranks left running");
}

#[test]
fn launches_the_run_cannot_use_are_refused_with_what_to_do() {
    let root = tempfile::tempdir().unwrap();
    let args = train_args(&root.path().join("run"), 1, &[]);
    let torchrun = cli().args(&args).env("WORLD_SIZE", "2").output().unwrap();
    let stderr = String::from_utf8_lossy(&torchrun.stderr);
    assert!(!torchrun.status.success());
    assert!(
        stderr.contains("WORLD_SIZE=2") && stderr.contains("--nproc-per-node 2"),
        "{stderr}"
    );
    for (flag, value) in [("--nproc-per-node", "0"), ("--dist-timeout", "0")] {
        let out = run(&train_args(&root.path().join("run"), 1, &[flag, value]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(flag), "{stderr}");
    }
    assert!(
        !root.path().join("run").exists(),
        "a refused run wrote files"
    );
}
