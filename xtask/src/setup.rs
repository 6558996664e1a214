//! Provides libtorch for tch without asking the user to export anything.
//!
//! `.cargo/config.toml` points `LIBTORCH` at `.venv/libtorch`; this task makes that path real:
//! a virtualenv with PyPI's `torch==2.13.0` (the version tch 0.26 is built against) and a
//! symlink from `.venv/libtorch` to the installed `torch` package, whose `lib/` and
//! `include/` are a complete libtorch. A `LIBTORCH` set by the user is respected and left alone.
//! The same virtualenv gets the runtimes and toolchains the tests run exported models in:
//! `ai-edge-litert` (LiteRT, for the TFLite files), `onnxruntime` and `onnx` (its checker, for
//! the ONNX files), `ethos-u-vela` (Arm's Ethos-U NPU compiler, for the NPU files).
//! On Debian it also installs the system packages data-parallel training needs (Open MPI and
//! libclang, which rsmpi generates its bindings with) and ffmpeg for the video tests.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The PyTorch release that tch 0.26 expects.
pub const TORCH_VERSION: &str = "2.13.0";

/// The TFLite runtime (LiteRT) that sesr-tflite's tests run exported models in.
pub const LITERT_VERSION: &str = "2.3.0";
/// The Python packages the tests run exported models in, pinned.
const RUNTIMES: [(&str, &str); 4] = [
    ("ai-edge-litert", LITERT_VERSION),
    ("onnxruntime", "1.32.0"),
    ("onnx", "1.23.2"),
    ("ethos-u-vela", "5.2.0"),
];

/// Repository root: xtask lives one level below it.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the repository")
        .to_path_buf()
}

pub fn venv_python() -> PathBuf {
    repo_root().join(".venv/bin/python")
}

/// Debian packages `sesr-dist` needs to build (`libopenmpi-dev`, and `libclang-dev` for rsmpi's
/// bindgen) and its tests need to run (`openmpi-bin`: `mpirun`); `ffmpeg` for sesr-video's round
/// trip through a real encoder and decoder; `time` (`/usr/bin/time -v`) for the peak memory of
/// `sesr-cli upscale` in sesr-cli's photo tests.
const DEBIAN_PACKAGES: [&str; 5] = [
    "openmpi-bin",
    "libopenmpi-dev",
    "libclang-dev",
    "ffmpeg",
    "time",
];

fn debian_package_installed(name: &str) -> Option<bool> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", name])
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).ends_with("install ok installed"))
}

/// Installs the missing [`DEBIAN_PACKAGES`] with apt-get (through sudo unless root). Elsewhere
/// (no dpkg) it only says what to install.
fn install_system_packages() -> Result<()> {
    let mut missing = vec![];
    for package in DEBIAN_PACKAGES {
        match debian_package_installed(package) {
            Some(true) => {}
            Some(false) => missing.push(package),
            None => {
                println!(
                    "xtask: not a Debian system: install Open MPI (mpirun, mpicc), libclang and \
                     ffmpeg yourself; sesr-cli's data-parallel training links them, and the \
                     video tests run ffmpeg"
                );
                return Ok(());
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    println!("xtask: installing {} with apt-get", missing.join(" "));
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let apt = |args: &[&str]| {
        let mut cmd = if is_root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    let install = [
        &["install", "-y", "-q", "--no-install-recommends"],
        &missing[..],
    ]
    .concat();
    if run_checked(&mut apt(&install)).is_err() {
        // A fresh machine may have no package lists yet.
        run_checked(&mut apt(&["update", "-q"]))?;
        run_checked(&mut apt(&install)).with_context(|| {
            format!(
                "apt-get install {} failed; install them, then run `cargo xtask setup` again",
                missing.join(" ")
            )
        })?;
    }
    Ok(())
}

/// Makes libtorch available and returns its directory.
pub fn run() -> Result<PathBuf> {
    install_system_packages()?;
    let root = repo_root();
    let venv = root.join(".venv");
    let link = venv.join("libtorch");
    // cargo passes the LIBTORCH of .cargo/config.toml to xtask too; only another value is the user's.
    let user_libtorch = std::env::var_os("LIBTORCH")
        .map(PathBuf::from)
        .filter(|dir| *dir != link);
    if let Some(dir) = user_libtorch {
        if !dir.join("lib").is_dir() || !dir.join("include").is_dir() {
            bail!(
                "LIBTORCH={} has no lib/ and include/ folders; point it at a libtorch {TORCH_VERSION} \
                 or unset it to let `cargo xtask setup` install one into .venv",
                dir.display()
            );
        }
        println!(
            "xtask: using LIBTORCH={} from the environment",
            dir.display()
        );
        install_runtimes(&create_venv(&venv)?)?;
        return Ok(dir);
    }
    let python = create_venv(&venv)?;
    if installed_version(&python, "torch").as_deref() != Some(TORCH_VERSION) {
        println!(
            "xtask: installing torch=={TORCH_VERSION} from PyPI (about 4.6 GB, a few minutes)"
        );
        pip_install(&python, &[&format!("torch=={TORCH_VERSION}")])?;
    }
    install_runtimes(&python)?;
    let torch_dir = package_dir(&python, "torch")?;
    if std::fs::read_link(&link).ok().as_deref() != Some(torch_dir.as_path()) {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&torch_dir, &link)
            .with_context(|| format!("cannot create the symlink {}", link.display()))?;
    }
    Ok(link)
}

/// The environment a program outside this workspace that depends on sesr-core needs (the
/// README's "As a library"): where libtorch is, and its folder in the binary's rpath.
pub fn print_library_env(libtorch: &Path) {
    let dir = libtorch;
    println!("xtask: libtorch is ready. For your own crate that depends on sesr-core:");
    println!("export LIBTORCH={}", dir.display());
    println!(
        "export RUSTFLAGS=\"-C link-arg=-Wl,-rpath,{}\"",
        dir.join("lib").display()
    );
}

/// Creates the virtualenv if it is missing and returns its Python.
fn create_venv(venv: &Path) -> Result<PathBuf> {
    let python = venv_python();
    if !python.exists() {
        println!("xtask: creating {}", venv.display());
        run_checked(Command::new("python3").args(["-m", "venv"]).arg(venv)).context(
            "python3 -m venv failed: install python3 with its venv module (Debian: python3-venv)",
        )?;
    }
    Ok(python)
}

/// Installs the [`RUNTIMES`] into the virtualenv unless those exact versions are there.
fn install_runtimes(python: &Path) -> Result<()> {
    let missing: Vec<String> = RUNTIMES
        .iter()
        .filter(|(package, version)| installed_version(python, package).as_deref() != Some(version))
        .map(|(package, version)| format!("{package}=={version}"))
        .collect();
    if !missing.is_empty() {
        println!("xtask: installing {} from PyPI", missing.join(" "));
        let missing: Vec<&str> = missing.iter().map(String::as_str).collect();
        pip_install(python, &missing)?;
    }
    Ok(())
}

fn pip_install(python: &Path, packages: &[&str]) -> Result<()> {
    run_checked(
        Command::new(python)
            .args(["-m", "pip", "install", "--disable-pip-version-check", "-q"])
            .args(packages),
    )
    .with_context(|| format!("pip install {} failed", packages.join(" ")))
}

fn installed_version(python: &Path, package: &str) -> Option<String> {
    let out = Command::new(python)
        .args([
            "-c",
            &format!("import importlib.metadata as m; print(m.version('{package}'))"),
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Where an installed package lives, found without importing it (importing torch takes seconds).
fn package_dir(python: &Path, package: &str) -> Result<PathBuf> {
    let out = Command::new(python)
        .args([
            "-c",
            &format!("import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('{package}').origin))"),
        ])
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "cannot locate the Python package {package}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

pub fn run_checked(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} exited with {status}");
    }
    Ok(())
}

/// The cargo that invoked xtask, so toolchain overrides carry through.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}
