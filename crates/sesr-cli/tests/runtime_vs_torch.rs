//! sesr-runtime (the native engine) against the tch collapsed model on the shipped photos:
//! the same collapsed checkpoint, loaded by both, upscaled by both.

mod common;

use common::{asset, sesr_cli};
use sesr_core::infer::upscale_y;
use sesr_core::{CollapsedSesr, Sesr, SesrConfig, TrainingMode};
use sesr_data::load_image;
use sesr_data::plane::{quantize, PlaneF32};
use sesr_runtime::{Kernel, Upscaler};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};

/// Writes the collapsed checkpoint of a SESR whose every parameter (PReLU slopes included)
/// is moved off its initial value; returns its path.
fn write_collapsed(dir: &Path, config: SesrConfig, seed: i64) -> PathBuf {
    // libtorch's generator is global and tests run in parallel threads: hold a lock from
    // seeding to the last draw. Both engines then read the same file.
    static RNG: Mutex<()> = Mutex::new(());
    let _guard = RNG.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(seed);
    let model = Sesr::new(config, TrainingMode::Collapsed, Device::Cpu).unwrap();
    tch::no_grad(|| {
        for (name, mut t) in model.named_tensors() {
            // Slopes start at 0: give them both signs so PReLU is not ReLU.
            let spread = if name.starts_with("prelu") { 0.3 } else { 0.02 };
            let noise = Tensor::randn(t.size(), (Kind::Float, Device::Cpu)) * spread;
            let _ = t.g_add_(&noise);
        }
    });
    let path = dir.join(format!(
        "{}.safetensors",
        sesr_model::run::stem("SESR", &config)
    ));
    model.collapse().unwrap().save(&path).unwrap();
    path
}

/// The largest difference of two planes of one size.
fn max_abs_diff(a: &PlaneF32, b: &PlaneF32) -> f32 {
    assert_eq!(a.size(), b.size());
    sesr_testkit::max_abs_diff(&a.data, &b.data)
}

#[test]
fn native_equals_torch_within_1e_4_at_x2_and_x4_any_size_and_tile() {
    let tmp = tempfile::tempdir().unwrap();
    let chelsea = sesr_data::load_y(asset("valid/chelsea.png")).unwrap();
    let rocket = sesr_data::load_y(asset("valid/rocket.jpg")).unwrap();
    // SESR-M5 x2 and x4, an XL-like f = 32, and m = 11 (the deepest preset's reach).
    let configs = [
        SesrConfig::new(5, 16, 32, 2).unwrap(),
        SesrConfig::new(5, 16, 32, 4).unwrap(),
        SesrConfig::new(2, 32, 16, 2).unwrap(),
        SesrConfig::new(11, 16, 16, 4).unwrap(),
    ];
    for (seed, config) in configs.into_iter().enumerate() {
        let checkpoint = write_collapsed(tmp.path(), config, 10 + seed as i64);
        let torch = CollapsedSesr::from_checkpoint(&checkpoint, Device::Cpu).unwrap();
        let native = Upscaler::load(&checkpoint).unwrap();
        assert_eq!(native.scale(), config.scale);
        // The whole photo (odd width); odd crops smaller than a tile, at the photo's
        // corners and inside it; a 1x1 image.
        let planes = [
            chelsea.clone(),
            chelsea.crop(0, 0, 37, 23),
            rocket.crop(640 - 29, 427 - 31, 29, 31),
            rocket.crop(300, 200, 61, 47),
            chelsea.crop(225, 150, 1, 1),
        ];
        for (i, lr) in planes.iter().enumerate() {
            // tch on the whole plane in one piece: the reference for borders.
            let want = upscale_y(&torch, lr, usize::MAX).unwrap();
            // Tiles with boundaries inside the image, and the defaults.
            for tile in [(None, None), (Some(16), Some(9)), (Some(100), Some(64))] {
                let mut up = Upscaler::load(&checkpoint).unwrap();
                if let (Some(w), h) = tile {
                    up = up.with_tile(w, h).unwrap();
                }
                let got = up.upscale_y(lr).unwrap();
                let err = max_abs_diff(&got, &want);
                assert!(
                    err <= 1e-4,
                    "{} plane {i} ({}x{}) tile {tile:?}: max abs error {err}",
                    sesr_model::run::stem("SESR", &config),
                    lr.width,
                    lr.height
                );
            }
            // The portable kernels too (the reference every SIMD kernel is tested against).
            if lr.width * lr.height < 5000 {
                let scalar = native.upscale_y(lr).unwrap();
                let got = Upscaler::load(&checkpoint)
                    .unwrap()
                    .with_kernel(Kernel::Scalar)
                    .unwrap()
                    .upscale_y(lr)
                    .unwrap();
                assert!(max_abs_diff(&got, &want) <= 1e-4, "scalar, plane {i}");
                assert!(
                    max_abs_diff(&got, &scalar) <= 1e-5,
                    "scalar vs SIMD, plane {i}"
                );
            }
        }
    }
}

#[test]
fn upscale_gives_the_same_pictures_with_both_engines() {
    let tmp = tempfile::tempdir().unwrap();
    for (scale, seed) in [(2, 20), (4, 21)] {
        let config = SesrConfig::new(3, 16, 16, scale).unwrap();
        let checkpoint = write_collapsed(tmp.path(), config, seed);
        for photo in ["valid/chelsea.png", "valid/coins.png"] {
            let input = asset(photo);
            let mut outputs = vec![];
            for (engine, extra) in [("native", ["--threads", "2"]), ("torch", ["--tile", "128"])] {
                let out = tmp.path().join(format!("{engine}_x{scale}.png"));
                let (ok, stdout, stderr) = sesr_cli(&[
                    OsStr::new("upscale"),
                    "--engine".as_ref(),
                    engine.as_ref(),
                    "--checkpoint".as_ref(),
                    checkpoint.as_os_str(),
                    "--input".as_ref(),
                    input.as_os_str(),
                    "--output".as_ref(),
                    out.as_os_str(),
                    extra[0].as_ref(),
                    extra[1].as_ref(),
                ]);
                assert!(ok, "{engine}: {stderr}");
                assert!(stdout.contains(" ms"), "{stdout}");
                outputs.push(load_image(&out).unwrap());
            }
            let (native, torch) = (&outputs[0], &outputs[1]);
            assert_eq!(native.channels(), torch.channels(), "{photo}");
            let lr = load_image(&input).unwrap();
            assert_eq!(
                (native.width(), native.height()),
                (lr.width() * scale, lr.height() * scale)
            );
            // 8-bit PNGs of outputs within 1e-4: at most one level apart, and rarely.
            let mut differing = 0;
            let mut total = 0;
            for (a, b) in native.planes().iter().zip(torch.planes()) {
                for (&x, &y) in a.data.iter().zip(&b.data) {
                    let (x, y) = (quantize(x), quantize(y));
                    assert!(x.abs_diff(y) <= 1, "{photo} x{scale}");
                    differing += usize::from(x != y);
                    total += 1;
                }
            }
            assert!(
                differing * 1000 <= total,
                "{photo} x{scale}: {differing} of {total} samples differ"
            );
        }
    }
}

#[test]
fn native_engine_flags_and_models_it_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let checkpoint = write_collapsed(tmp.path(), SesrConfig::new(1, 16, 16, 2).unwrap(), 30);
    let coins = asset("valid/coins.png");
    let out = tmp.path().join("out.png");
    let run = |extra: &[&str]| {
        let mut args: Vec<&OsStr> = vec![
            "upscale".as_ref(),
            "--checkpoint".as_ref(),
            checkpoint.as_os_str(),
            "--input".as_ref(),
            coins.as_os_str(),
            "--output".as_ref(),
            out.as_os_str(),
        ];
        args.extend(extra.iter().map(OsStr::new));
        sesr_cli(&args)
    };
    let (ok, _, stderr) = run(&["--threads", "0"]);
    assert!(!ok && stderr.contains("--threads 0"), "{stderr}");
    let (ok, _, stderr) = run(&["--engine", "torch", "--threads", "2"]);
    assert!(!ok && stderr.contains("--threads"), "{stderr}");
    let (ok, _, stderr) = run(&["--engine", "tpu"]);
    assert!(!ok && stderr.contains("tpu"), "{stderr}");
    // A .tflite with the torch engine is refused by name.
    let tflite = tmp.path().join("model.tflite");
    std::fs::copy(
        sesr_testkit::repo_root().join("crates/sesr-zoo/models/m3_x2_int8.tflite"),
        &tflite,
    )
    .unwrap();
    let (ok, _, stderr) = sesr_cli(&[
        OsStr::new("upscale"),
        "--engine".as_ref(),
        "torch".as_ref(),
        "--checkpoint".as_ref(),
        tflite.as_os_str(),
        "--input".as_ref(),
        coins.as_os_str(),
        "--output".as_ref(),
        out.as_os_str(),
    ]);
    assert!(!ok && stderr.contains("--engine native"), "{stderr}");
    assert!(!ok && !stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn collapse_writes_the_checkpoint_sesr_runtime_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let config = SesrConfig::new(2, 16, 16, 2).unwrap();
    // A training checkpoint, with every parameter off its initial value.
    let training = {
        let model = Sesr::new(config, TrainingMode::Collapsed, Device::Cpu).unwrap();
        tch::no_grad(|| {
            for (_, mut t) in model.named_tensors() {
                let _ = t.g_add_(&(Tensor::randn(t.size(), (Kind::Float, Device::Cpu)) * 0.05));
            }
        });
        let path = tmp.path().join("training.safetensors");
        model.save(&path).unwrap();
        path
    };
    let err = Upscaler::load(&training).unwrap_err().to_string();
    assert!(err.contains("sesr-cli collapse"), "{err}");

    let collapsed = tmp.path().join("collapsed.safetensors");
    let (ok, stdout, stderr) = sesr_cli(&[
        OsStr::new("collapse"),
        "--checkpoint".as_ref(),
        training.as_os_str(),
        "--output".as_ref(),
        collapsed.as_os_str(),
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("collapsed SESR m=2 f=16 x2"), "{stdout}");
    // The runtime runs it, and it is the training model's collapse.
    let y = load_image(asset("valid/coins.png"))
        .unwrap()
        .to_y()
        .crop(0, 0, 50, 37);
    let native = Upscaler::load(&collapsed).unwrap().upscale_y(&y).unwrap();
    let reference = CollapsedSesr::from_checkpoint(&training, Device::Cpu).unwrap();
    let torch = upscale_y(&reference, &y, 64).unwrap();
    assert!(max_abs_diff(&native, &torch) <= 1e-4);

    let (ok, _, stderr) = sesr_cli(&[
        OsStr::new("collapse"),
        "--checkpoint".as_ref(),
        training.as_os_str(),
        "--output".as_ref(),
        tmp.path().join("collapsed.bin").as_os_str(),
    ]);
    assert!(!ok && stderr.contains(".safetensors"), "{stderr}");
}
