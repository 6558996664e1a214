//! Checkpoints that used to upscale to garbage with exit 0 (issue #30): a finite but absurd
//! weight (3e38), and plausible weights whose output is all clipped; and the libtorch engine's
//! tiny tiles (`--tile 1`), which took minutes. Every checkpoint is a real file written here:
//! the shipped SESR-M3 x2 with one value changed.
//!
//! `SESR_CLI_BIN=/path/to/sesr-cli` runs these tests against another build (how the issue's
//! "before" column was checked).

mod common;

use common::asset;
use sesr_model::{Preset, ShippedForm};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

fn bin() -> OsString {
    std::env::var_os("SESR_CLI_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_sesr-cli").into())
}

fn sesr_cli(args: &[&OsStr]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("sesr-cli runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The shipped SESR-M3 x2 written to `dir/name.safetensors` (with its `.json`), with each
/// `(tensor, index, value)` of `changes` set.
fn checkpoint(dir: &Path, name: &str, changes: &[(&str, usize, f32)]) -> PathBuf {
    checkpoint_of(Preset::M3, dir, name, changes)
}

/// [`checkpoint`] of another shipped preset (x2).
fn checkpoint_of(
    preset: Preset,
    dir: &Path,
    name: &str,
    changes: &[(&str, usize, f32)],
) -> PathBuf {
    let shipped = sesr_zoo::find(preset, 2)
        .unwrap()
        .checkpoint(ShippedForm::Float32)
        .unwrap();
    let mut bytes = shipped.safetensors.to_vec();
    // safetensors: an 8-byte header length, the JSON header, then the data.
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    for &(tensor, index, value) in changes {
        let begin = header[tensor]["data_offsets"][0].as_u64().unwrap() as usize;
        let at = 8 + header_len + begin + 4 * index;
        bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }
    let path = dir.join(format!("{name}.safetensors"));
    std::fs::write(&path, bytes).unwrap();
    std::fs::write(path.with_extension("json"), shipped.sidecar).unwrap();
    path
}

/// A 120x80 crop of a real photo.
fn photo(dir: &Path) -> PathBuf {
    let path = dir.join("photo.png");
    image::open(asset("valid/chelsea.png"))
        .unwrap()
        .crop_imm(150, 60, 120, 80)
        .save(&path)
        .unwrap();
    path
}

/// A 3-frame 64x48 y4m clip of a real photo, made by ffmpeg.
fn clip(dir: &Path) -> PathBuf {
    let path = dir.join("clip.y4m");
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-loop",
            "1",
            "-i",
        ])
        .arg(asset("valid/chelsea.png"))
        .args([
            "-vf",
            "crop=64:48:x='n*2':y=10,format=yuv420p",
            "-frames:v",
            "3",
        ])
        .args(["-f", "yuv4mpegpipe"])
        .arg(&path)
        .status()
        .expect("ffmpeg runs (cargo xtask setup installs it)");
    assert!(status.success());
    path
}

fn upscale(model: &Path, input: &Path, output: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<&OsStr> = vec![
        "upscale".as_ref(),
        "--checkpoint".as_ref(),
        model.as_os_str(),
        "--input".as_ref(),
        input.as_os_str(),
        "--output".as_ref(),
        output.as_os_str(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    sesr_cli(&args)
}

fn video(model: &Path, input: &Path, output: &Path) -> Output {
    sesr_cli(&[
        "video".as_ref(),
        "--checkpoint".as_ref(),
        model.as_os_str(),
        "--input".as_ref(),
        input.as_os_str(),
        "--output".as_ref(),
        output.as_os_str(),
    ])
}

/// The engines this build has: native always, torch with the `train` feature.
fn engines() -> Vec<&'static str> {
    let mut engines = vec!["native"];
    if cfg!(feature = "train") {
        engines.push("torch");
    }
    engines
}

#[test]
fn an_absurd_weight_is_refused_naming_the_checkpoint() {
    let dir = TempDir::new().unwrap();
    let (photo, clip) = (photo(dir.path()), clip(dir.path()));
    let good = checkpoint(dir.path(), "good", &[]);
    let absurd = checkpoint(dir.path(), "absurd", &[("blocks.1.weight", 3, 3e38)]);
    let out = dir.path().join("out.png");
    for engine in engines() {
        // The unchanged checkpoint upscales: what is refused below is the weight.
        let run = upscale(&good, &photo, &out, &["--engine", engine]);
        assert!(run.status.success(), "{engine}: {}", stderr(&run));
        std::fs::remove_file(&out).unwrap();

        let run = upscale(&absurd, &photo, &out, &["--engine", engine]);
        let message = stderr(&run);
        assert!(!run.status.success(), "{engine}: {message}");
        assert!(
            message.contains("3e38") && message.contains("working SESR"),
            "{engine}: {message}"
        );
        assert!(!out.exists(), "{engine}: an output was written");
        if engine == "native" {
            assert!(
                message.contains("absurd.safetensors") && message.contains("blocks.1.weight"),
                "{message}"
            );
        }
    }
    let y4m = dir.path().join("out.y4m");
    let run = video(&absurd, &clip, &y4m);
    let message = stderr(&run);
    assert!(!run.status.success(), "{message}");
    assert!(
        message.contains("absurd.safetensors") && message.contains("3e38"),
        "{message}"
    );
    assert!(!y4m.exists());
}

#[test]
fn an_output_all_clipped_is_refused_naming_the_checkpoint() {
    let dir = TempDir::new().unwrap();
    let (photo, clip) = (photo(dir.path()), clip(dir.path()));
    // A bias of 50 on every output channel: within what a weight may be, but the output
    // (the input plus at least 50) is white everywhere.
    let bias = "output_block.bias";
    let path = checkpoint(
        dir.path(),
        "white",
        &[
            (bias, 0, 50.0),
            (bias, 1, 50.0),
            (bias, 2, 50.0),
            (bias, 3, 50.0),
        ],
    );

    let out = dir.path().join("out.png");
    for engine in engines() {
        let run = upscale(&path, &photo, &out, &["--engine", engine]);
        let message = stderr(&run);
        assert!(!run.status.success(), "{engine}: {message}");
        assert!(
            message.contains("clipped to black or white"),
            "{engine}: {message}"
        );
        assert!(!out.exists(), "{engine}: an output was written");
        if engine == "native" {
            assert!(message.contains("white.safetensors"), "{message}");
        }
    }
    let y4m = dir.path().join("out.y4m");
    let run = video(&path, &clip, &y4m);
    let message = stderr(&run);
    assert!(!run.status.success(), "{message}");
    assert!(
        message.contains("white.safetensors") && message.contains("clipped to black or white"),
        "{message}"
    );
    assert!(!y4m.exists());
}

/// `--tile 1 --engine torch` (SESR-M5) on a 240x160 photo with two OpenMP threads: 13 s
/// (machine idle) to a minute and more (under load) before on the 2-core development machine:
/// 38400 libtorch calls, each a 19x19 input for one pixel. Now tiles are at least 64 LR
/// pixels: about twice the untiled run (1.2 s against 0.5 s), and the same result. Judged
/// against the untiled run made just before, so that a loaded machine slows both.
#[cfg(feature = "train")]
#[test]
fn tiny_libtorch_tiles_cost_about_what_the_whole_image_costs() {
    use std::time::{Duration, Instant};
    let dir = TempDir::new().unwrap();
    let photo = dir.path().join("photo.png");
    image::open(asset("valid/chelsea.png"))
        .unwrap()
        .crop_imm(100, 60, 240, 160)
        .save(&photo)
        .unwrap();
    let model = checkpoint_of(Preset::M5, dir.path(), "m5", &[]);
    let run = |tile: &str, output: &Path| {
        let mut child = Command::new(bin())
            .args([
                "upscale",
                "--engine",
                "torch",
                "--tile",
                tile,
                "--checkpoint",
            ])
            .arg(&model)
            .arg("--input")
            .arg(&photo)
            .arg("--output")
            .arg(output)
            .env("OMP_NUM_THREADS", "2")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(60) {
                child.kill().unwrap();
                panic!("--tile {tile} --engine torch still running after 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let took = start.elapsed();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        took
    };
    let (tiny, whole) = (dir.path().join("tile1.png"), dir.path().join("whole.png"));
    let untiled = run("512", &whole);
    let tiled = run("1", &tiny);
    assert!(
        tiled < untiled * 5 + Duration::from_secs(2),
        "--tile 1 took {tiled:?}, the whole image {untiled:?}"
    );
    let (a, b) = (
        image::open(&tiny).unwrap().to_rgb8(),
        image::open(&whole).unwrap().to_rgb8(),
    );
    assert_eq!(a.dimensions(), (480, 320));
    let worst = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap();
    assert!(worst <= 1, "tile 1 differs from the whole image by {worst}");
}
