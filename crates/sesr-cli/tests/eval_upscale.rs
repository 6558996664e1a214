//! `sesr-cli upscale` and `sesr-cli eval` as a user runs them, on the shipped photos, with
//! checkpoints of small perturbed models written to temporary folders.

mod common;

use common::{asset, sesr_cli};
use serde_json::Value;
use sesr_core::infer::{plane_to_tensor, tensor_to_plane, upscale_y};
use sesr_core::{CollapsedSesr, Sesr, SesrConfig, TrainingMode};
use sesr_data::io::{load_image_and_alpha, Image, LoadedImage};
use sesr_data::plane::{quantize, PlaneF32};
use sesr_data::protocol::{bicubic_baseline, load_benchmark, merge_sr_y, score, EvalImage};
use sesr_data::resize::imresize;
use sesr_data::{load_image, Protocol};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};

/// Writes a checkpoint of a small SESR (m=2, f=8, p=16) whose every parameter is moved off its
/// initial value, as a training checkpoint or a collapsed one; returns its path.
fn write_checkpoint(dir: &Path, scale: usize, collapsed: bool, seed: i64) -> PathBuf {
    // libtorch's generator is global and the tests run in parallel threads: hold a lock from
    // seeding to the last draw, so each seed always gives the same model.
    static RNG: Mutex<()> = Mutex::new(());
    let _guard = RNG.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(seed);
    let config = SesrConfig::new(2, 8, 16, scale).unwrap();
    let model = Sesr::new(config, TrainingMode::Collapsed, Device::Cpu).unwrap();
    tch::no_grad(|| {
        for (_, mut t) in model.named_tensors() {
            let noise = Tensor::randn(t.size(), (Kind::Float, Device::Cpu)) * 0.02;
            let _ = t.g_add_(&noise);
        }
    });
    let path = dir.join(format!("model_x{scale}.safetensors"));
    if collapsed {
        model.collapse().unwrap().save(&path).unwrap();
    } else {
        model.save(&path).unwrap();
    }
    path
}

fn load(checkpoint: &Path) -> CollapsedSesr {
    CollapsedSesr::from_checkpoint(checkpoint, Device::Cpu).unwrap()
}

/// Checks an upscaled PNG against the library: same kind (RGB or gray), `scale` times the
/// size, its Y within 1/255 of `infer::upscale_y` on the input's Y wherever the colour merge
/// stays inside the RGB gamut (outside it, saving clamps), and every channel within one 8-bit
/// level of the merged image everywhere.
fn assert_upscaled(input: &Path, output: &Path, model: &CollapsedSesr) {
    let scale = model.config().scale;
    let lr = load_image(input).unwrap();
    let sr = load_image(output).unwrap();
    assert_eq!(lr.channels(), sr.channels(), "{}", output.display());
    assert_eq!(
        (sr.width(), sr.height()),
        (lr.width() * scale, lr.height() * scale)
    );
    let want_y = upscale_y(model, &lr.to_y(), 128).unwrap();
    let merged: LoadedImage = merge_sr_y(&lr, &want_y, scale).unwrap();
    let got_y = sr.to_y();
    let n = want_y.data.len();
    let (mut in_gamut, mut worst) = (0usize, 0f32);
    for i in 0..n {
        let inside = merged
            .planes()
            .iter()
            .all(|p| (-0.5 / 255.0..=255.5 / 255.0).contains(&p.data[i]));
        if inside {
            in_gamut += 1;
            worst = worst.max((got_y.data[i] - want_y.data[i]).abs());
        }
        for (m, s) in merged.planes().iter().zip(sr.planes()) {
            let (a, b) = (quantize(m.data[i]), quantize(s.data[i]));
            assert!(a.abs_diff(b) <= 1, "{}: pixel {i}", output.display());
        }
    }
    assert!(
        worst <= 1.0 / 255.0,
        "{}: Y differs by {} / 255",
        output.display(),
        worst * 255.0
    );
    // Dark and saturated areas leave the gamut once the small random model shifts Y (with
    // these seeds 4% of chelsea's pixels, 9% of coins', 11% of rocket's); the Y check must
    // still cover most of the image.
    assert!(
        in_gamut as f64 >= 0.8 * n as f64,
        "{}: only {in_gamut} of {n} pixels in gamut ({:.3})",
        output.display(),
        in_gamut as f64 / n as f64
    );
}

#[test]
fn upscale_single_rgb_and_gray_images() {
    let tmp = tempfile::tempdir().unwrap();
    let checkpoint = write_checkpoint(tmp.path(), 2, false, 1);
    let model = load(&checkpoint);

    // RGB in, RGB out, to a file path in a folder that does not exist yet.
    let chelsea = asset("valid/chelsea.png");
    let out = tmp.path().join("out/chelsea_x2.png");
    let (ok, stdout, stderr) = sesr_cli(&[
        OsStr::new("upscale"),
        "--checkpoint".as_ref(),
        checkpoint.as_os_str(),
        "--input".as_ref(),
        chelsea.as_os_str(),
        "--output".as_ref(),
        out.as_os_str(),
        "--tile".as_ref(),
        "100".as_ref(),
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("chelsea.png: 451x300 -> 902x600, ") && stdout.contains(" ms"),
        "{stdout}"
    );
    assert!(matches!(load_image(&out).unwrap(), Image::Rgb(_)));
    assert_upscaled(&chelsea, &out, &model);

    // Gray in, gray out; an existing folder as --output receives <stem>.png.
    let coins = asset("valid/coins.png");
    let (ok, stdout, stderr) = sesr_cli(&[
        OsStr::new("upscale"),
        "--checkpoint".as_ref(),
        checkpoint.as_os_str(),
        "--input".as_ref(),
        coins.as_os_str(),
        "--output".as_ref(),
        tmp.path().as_os_str(),
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("coins.png: 384x303 -> 768x606"),
        "{stdout}"
    );
    let out = tmp.path().join("coins.png");
    assert!(matches!(load_image(&out).unwrap(), Image::Gray(_)));
    assert_upscaled(&coins, &out, &model);
}

#[test]
fn upscale_a_folder_at_x4_with_a_collapsed_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let checkpoint = write_checkpoint(tmp.path(), 4, true, 2);
    let model = load(&checkpoint);
    let input = asset("valid");
    let output = tmp.path().join("results/x4");
    let (ok, stdout, stderr) = sesr_cli(&[
        OsStr::new("upscale"),
        "--checkpoint".as_ref(),
        checkpoint.as_os_str(),
        "--input".as_ref(),
        input.as_os_str(),
        "--output".as_ref(),
        output.as_os_str(),
        "--tile".as_ref(),
        "64".as_ref(),
    ]);
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[0].starts_with("chelsea.png: 451x300 -> 1804x1200, "));
    assert!(lines[1].starts_with("coins.png: 384x303 -> 1536x1212, "));
    assert!(lines[2].starts_with("rocket.jpg: 640x427 -> 2560x1708, "));
    assert!(lines[3].starts_with("3 images written to "));
    let mut written: Vec<String> = std::fs::read_dir(&output)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["chelsea.png", "coins.png", "rocket.png"]);
    for (name, gray) in [("chelsea", false), ("coins", true), ("rocket", false)] {
        let out = output.join(format!("{name}.png"));
        assert_eq!(
            matches!(load_image(&out).unwrap(), Image::Gray(_)),
            gray,
            "{name}"
        );
    }
    // The JPEG input (RGB) is checked against the library; the PNGs were in the test above.
    assert_upscaled(
        &asset("valid/rocket.jpg"),
        &output.join("rocket.png"),
        &model,
    );
}

#[test]
fn upscale_reads_16_bit_rgba_gray_alpha_and_bmp_and_keeps_alpha() {
    let tmp = tempfile::tempdir().unwrap();
    let checkpoint = write_checkpoint(tmp.path(), 2, true, 6);
    let model = load(&checkpoint);
    let photo = image::open(asset("valid/chelsea.png")).unwrap();
    let crop = photo.crop_imm(120, 40, 75, 61);
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    // 16-bit RGBA with a varying alpha, gray with alpha, and 8-bit BMP.
    let mut rgba16 = crop.to_rgba16();
    for (i, p) in rgba16.pixels_mut().enumerate() {
        p[3] = (i * 997 % 65536) as u16;
    }
    rgba16.save(input.join("deep.png")).unwrap();
    let mut gray_alpha = crop.to_luma_alpha8();
    for (x, _, p) in gray_alpha.enumerate_pixels_mut() {
        p[1] = (x * 255 / 74) as u8;
    }
    gray_alpha.save(input.join("faded.png")).unwrap();
    crop.to_rgb8().save(input.join("plain.bmp")).unwrap();
    let output = tmp.path().join("out");
    let (ok, stdout, stderr) = sesr_cli(&[
        OsStr::new("upscale"),
        "--checkpoint".as_ref(),
        checkpoint.as_os_str(),
        "--input".as_ref(),
        input.as_os_str(),
        "--output".as_ref(),
        output.as_os_str(),
        "--tile".as_ref(),
        "32".as_ref(),
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("deep.png: 75x61 -> 150x122, "), "{stdout}");
    assert!(stdout.contains("plain.bmp: 75x61 -> 150x122, "), "{stdout}");
    for (name, file, gray) in [
        ("deep.png", "deep.png", false),
        ("faded.png", "faded.png", true),
        ("plain.bmp", "plain.png", false),
    ] {
        let out = output.join(file);
        assert_eq!(
            matches!(load_image(&out).unwrap(), Image::Gray(_)),
            gray,
            "{name}"
        );
        // With a varying alpha, colour is resampled premultiplied by alpha (issue #30, held
        // by tests/photos.rs), so only the opaque file matches the plain colour merge.
        if name == "plain.bmp" {
            assert_upscaled(&input.join(name), &out, &model);
        }
    }
    // Alpha is kept, upscaled by bicubic as colour is; a file without alpha gets none.
    for name in ["deep.png", "faded.png"] {
        let (_, alpha) = load_image_and_alpha(input.join(name)).unwrap();
        let alpha = alpha.unwrap();
        let want = imresize(&alpha, alpha.width * 2, alpha.height * 2);
        let (_, got) = load_image_and_alpha(output.join(name)).unwrap();
        let got = got.unwrap_or_else(|| panic!("{name}: the alpha channel was dropped"));
        assert_eq!((got.width, got.height), (150, 122), "{name}");
        for (i, (w, g)) in want.data.iter().zip(&got.data).enumerate() {
            assert!(
                quantize(*w).abs_diff(quantize(*g)) <= 1,
                "{name}: alpha at {i}"
            );
        }
    }
    assert!(load_image_and_alpha(output.join("plain.png"))
        .unwrap()
        .1
        .is_none());
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.collect();
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn eval_reports_bicubic_and_sesr_as_the_library_computes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let checkpoint = write_checkpoint(tmp.path(), 2, false, 3);
    let model = load(&checkpoint);
    // A second dataset in the layout `Name/HR`: a gray and an RGB crop of shipped photos.
    let set2 = tmp.path().join("Set2/HR");
    std::fs::create_dir_all(&set2).unwrap();
    let crop = |img: LoadedImage, x, y, w, h| img.map_planes(|p| p.crop(x, y, w, h));
    let camera = crop(
        load_image(asset("train/camera.png")).unwrap(),
        200,
        150,
        61,
        50,
    );
    let coffee = crop(
        load_image(asset("train/coffee.png")).unwrap(),
        300,
        100,
        48,
        64,
    );
    sesr_data::io::save_png(set2.join("camera.png"), &camera).unwrap();
    sesr_data::io::save_png(set2.join("coffee.png"), &coffee).unwrap();

    let valid = asset("valid");
    let json = tmp.path().join("eval/results.json");
    let (ok, stdout, stderr) = sesr_cli(&[
        OsStr::new("eval"),
        "--checkpoint".as_ref(),
        checkpoint.as_os_str(),
        "--data".as_ref(),
        valid.as_os_str(),
        "--data".as_ref(),
        set2.as_os_str(),
        "--json".as_ref(),
        json.as_os_str(),
        "--per-image".as_ref(),
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("SESR m=2 f=8 p=16 x2  (checkpoint: "),
        "{stdout}"
    );
    assert!(stdout.contains("bicubic PSNR / SSIM"), "{stdout}");
    // The JSON went in atomically: no temporary file is left beside it.
    let files: Vec<_> = std::fs::read_dir(json.parent().unwrap()).unwrap().collect();
    assert_eq!(files.len(), 1);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["protocol"], "y_float");
    assert_eq!(report["config"]["m"], 2);
    assert_eq!(report["config"]["scale"], 2);
    assert_eq!(report["checkpoint"], checkpoint.to_str().unwrap());
    let datasets = report["datasets"].as_array().unwrap();
    assert_eq!(datasets.len(), 2);

    for (dataset, dir, name) in [
        (&datasets[0], &valid, "valid"),
        (&datasets[1], &set2, "Set2/HR"),
    ] {
        assert_eq!(dataset["name"], name);
        // Direct computation with the libraries: the protocol's bicubic baseline, and the
        // model run on whole images (the default --tile 512 covers these LR images in one
        // tile, so this is the very computation the CLI does).
        let images = load_benchmark(dir).unwrap();
        assert_eq!(dataset["images"], images.len());
        let mut bicubic = vec![];
        let mut sesr = vec![];
        for (image, row) in images.iter().zip(dataset["per_image"].as_array().unwrap()) {
            assert_eq!(row["name"], image.name.as_str());
            let b = bicubic_baseline(&image.hr, 2, Protocol::YFloat).unwrap();
            let b = score(&b.bicubic_y, &b.hr_y, 2);
            let e = EvalImage::new(&image.name, &image.hr, 2, Protocol::YFloat).unwrap();
            let input = plane_to_tensor(&e.lr_y, Device::Cpu).unwrap();
            let sr: PlaneF32 = tensor_to_plane(&model.forward(&input).unwrap()).unwrap();
            let s = e.score(&sr);
            for (got, want) in [
                (&row["bicubic"]["psnr"], b.psnr),
                (&row["bicubic"]["ssim"], b.ssim),
                (&row["sesr"]["psnr"], s.psnr),
                (&row["sesr"]["ssim"], s.ssim),
            ] {
                let got = got.as_f64().unwrap();
                assert!(
                    (got - want).abs() <= 1e-6,
                    "{}: {got} vs {want}",
                    image.name
                );
            }
            assert!(
                stdout.contains(&format!("  {}", image.name)),
                "no per-image row for {}: {stdout}",
                image.name
            );
            bicubic.push(b);
            sesr.push(s);
        }
        let want = [
            mean(bicubic.iter().map(|s| s.psnr)),
            mean(bicubic.iter().map(|s| s.ssim)),
            mean(sesr.iter().map(|s| s.psnr)),
            mean(sesr.iter().map(|s| s.ssim)),
        ];
        let got = [
            &dataset["bicubic"]["psnr"],
            &dataset["bicubic"]["ssim"],
            &dataset["sesr"]["psnr"],
            &dataset["sesr"]["ssim"],
        ]
        .map(|v| v.as_f64().unwrap());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-6, "{name}: {got:?} vs {want:?}");
        }
        // The table row shows the same means: name, images, PSNR dB / SSIM twice.
        let line = stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}: {stdout}"));
        let cells: Vec<&str> = line.split_whitespace().collect();
        let images_count = images.len().to_string();
        let expected = [
            name.to_string(),
            images_count,
            format!("{:.2}", want[0]),
            "dB".into(),
            "/".into(),
            format!("{:.4}", want[1]),
            format!("{:.2}", want[2]),
            "dB".into(),
            "/".into(),
            format!("{:.4}", want[3]),
        ];
        assert_eq!(cells, expected, "{line}");
    }
}

/// Asserts a failed run with a clean message that contains every one of `needles`.
fn assert_fails_naming<S: AsRef<OsStr>>(args: &[S], needles: &[&str]) {
    let (ok, _, stderr) = sesr_cli(args);
    let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
    assert!(!ok, "{shown:?} should fail");
    assert!(!stderr.contains("panicked"), "{shown:?}: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{shown:?}: `{stderr}` lacks `{needle}`"
        );
    }
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

#[test]
fn upscale_rejects_bad_input_with_clear_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let ckpt = s(&write_checkpoint(t, 2, true, 4));
    let coins = s(&asset("valid/coins.png"));
    let out = s(&t.join("out.png"));
    let run = |ckpt: &str, input: &str, output: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec!["upscale", "--checkpoint", ckpt, "--input", input];
        args.extend(["--output", output]);
        args.extend(extra);
        args.into_iter().map(String::from).collect()
    };

    // Checkpoint missing, or its sidecar missing.
    let missing = s(&t.join("nothing.safetensors"));
    assert_fails_naming(
        &run(&missing, &coins, &out, &[]),
        &["--checkpoint", "nothing.safetensors"],
    );
    let lonely = t.join("lonely/model.safetensors");
    std::fs::create_dir_all(lonely.parent().unwrap()).unwrap();
    std::fs::copy(&ckpt, &lonely).unwrap();
    assert_fails_naming(
        &run(&s(&lonely), &coins, &out, &[]),
        &["sidecar", "lonely/model.json"],
    );
    // Input missing, not an image, or corrupt.
    let nowhere = s(&t.join("no_such.png"));
    assert_fails_naming(
        &run(&ckpt, &nowhere, &out, &[]),
        &["--input", "no_such.png"],
    );
    let corrupt = t.join("corrupt.png");
    std::fs::write(&corrupt, "this is not a PNG").unwrap();
    assert_fails_naming(&run(&ckpt, &s(&corrupt), &out, &[]), &["corrupt.png"]);
    let text = t.join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    assert_fails_naming(&run(&ckpt, &s(&text), &out, &[]), &["--input", "notes.txt"]);
    // A folder with a good image and then a corrupt one: the first is written, the run stops
    // at the second and names it.
    let folder = t.join("mixed");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(&coins, folder.join("a_good.png")).unwrap();
    std::fs::write(folder.join("b_bad.png"), [0u8; 64]).unwrap();
    let folder_out = t.join("mixed_out");
    let (ok, stdout, stderr) = sesr_cli(&run(&ckpt, &s(&folder), &s(&folder_out), &[]));
    assert!(!ok && !stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("b_bad.png"), "{stderr}");
    assert!(stdout.starts_with("a_good.png: "), "{stdout}");
    assert!(folder_out.join("a_good.png").is_file());
    assert!(!folder_out.join("b_bad.png").exists());
    // An empty folder.
    let empty = t.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert_fails_naming(
        &run(&ckpt, &s(&empty), &s(&t.join("o")), &[]),
        &["empty", "contains no images"],
    );
    // A folder input with an existing file as --output.
    std::fs::write(t.join("taken"), "x").unwrap();
    assert_fails_naming(
        &run(&ckpt, &s(&folder), &s(&t.join("taken")), &[]),
        &["--output", "taken", "is an existing file"],
    );
    // A single input written to a name of no output format, or over itself.
    assert_fails_naming(
        &run(&ckpt, &coins, &s(&t.join("x.bmp")), &[]),
        &["--output", "x.bmp", ".webp"],
    );
    let a_good = s(&folder.join("a_good.png"));
    assert_fails_naming(
        &run(&ckpt, &a_good, &a_good, &[]),
        &["overwrite", "a_good.png"],
    );
    // Bad flags.
    assert_fails_naming(&run(&ckpt, &coins, &out, &["--tile", "0"]), &["--tile"]);
    assert_fails_naming(
        &run(&ckpt, &coins, &out, &["--device", "tpu"]),
        &["invalid value 'tpu' for '--device"],
    );
    if !tch::Cuda::is_available() {
        assert_fails_naming(
            &run(&ckpt, &coins, &out, &["--device", "cuda"]),
            &["--device cuda", "no CUDA"],
        );
    }
    assert!(!t.join("out.png").exists());
}

#[test]
fn eval_rejects_bad_input_with_clear_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let ckpt = s(&write_checkpoint(t, 4, false, 5));
    let valid = s(&asset("valid"));
    let run = |ckpt: &str, data: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec!["eval", "--checkpoint", ckpt, "--data", data];
        args.extend(extra);
        args.into_iter().map(String::from).collect()
    };
    let missing = s(&t.join("gone.safetensors"));
    assert_fails_naming(
        &run(&missing, &valid, &[]),
        &["--checkpoint", "gone.safetensors"],
    );
    // A missing folder is found before any evaluation, even after a good one.
    let nowhere = s(&t.join("Set404"));
    assert_fails_naming(
        &run(&ckpt, &valid, &["--data", &nowhere]),
        &["--data", "Set404", "does not exist"],
    );
    let empty = t.join("Empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert_fails_naming(
        &run(&ckpt, &s(&empty), &[]),
        &["Empty", "contains no images"],
    );
    let corrupt = t.join("Corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    std::fs::write(corrupt.join("broken.png"), "not an image").unwrap();
    assert_fails_naming(&run(&ckpt, &s(&corrupt), &[]), &["broken.png"]);
    // Smaller than the scale (sesr-data's check), and too small for the shaved SSIM window.
    let tiny = t.join("Tiny");
    std::fs::create_dir_all(&tiny).unwrap();
    sesr_data::save_gray_png(tiny.join("dot.png"), &PlaneF32::filled(3, 3, 0.5)).unwrap();
    assert_fails_naming(
        &run(&ckpt, &s(&tiny), &[]),
        &["dot.png", "a 3x3 image has no x4 low-resolution version"],
    );
    let small = t.join("Small");
    std::fs::create_dir_all(&small).unwrap();
    sesr_data::save_gray_png(small.join("chip.png"), &PlaneF32::filled(19, 40, 0.5)).unwrap();
    assert_fails_naming(
        &run(&ckpt, &s(&small), &[]),
        &["chip.png", "too small to score at x4", "at least 20x20"],
    );
    assert_fails_naming(&run(&ckpt, &valid, &["--tile", "0"]), &["--tile"]);
    let (ok, _, stderr) = sesr_cli(&["eval", "--checkpoint", ckpt.as_str()]);
    assert!(!ok && stderr.contains("--data"), "{stderr}");
}

/// A post-training int8 export of an FP32 (PReLU) checkpoint, whose blocks end in int8 PRELU
/// operators, is scored by `eval` (sesr-runtime runs it) close to the checkpoint itself.
#[test]
fn eval_scores_a_prelu_int8_export() {
    let tmp = tempfile::tempdir().unwrap();
    let checkpoint = write_checkpoint(tmp.path(), 2, false, 5);
    let int8 = tmp.path().join("prelu_int8.tflite");
    let valid = asset("valid");
    let (ok, _, stderr) = sesr_cli(&[
        OsStr::new("export"),
        "--checkpoint".as_ref(),
        checkpoint.as_os_str(),
        "--format".as_ref(),
        "int8".as_ref(),
        "--calibration".as_ref(),
        valid.as_os_str(),
        "--tflite-height".as_ref(),
        "64".as_ref(),
        "--tflite-width".as_ref(),
        "64".as_ref(),
        "--output".as_ref(),
        int8.as_os_str(),
    ]);
    assert!(ok, "{stderr}");
    let model = sesr_tflite::Model::read(&int8).unwrap();
    assert!(
        model.subgraphs[0]
            .operators
            .iter()
            .any(|op| model.op(op) == Some(sesr_tflite::schema::BuiltinOp::PRELU)),
        "the export has no PRELU"
    );
    let psnr = |model: &Path, name: &str| -> f64 {
        let json = tmp.path().join(format!("{name}.json"));
        let (ok, stdout, stderr) = sesr_cli(&[
            OsStr::new("eval"),
            "--checkpoint".as_ref(),
            model.as_os_str(),
            "--data".as_ref(),
            valid.as_os_str(),
            "--json".as_ref(),
            json.as_os_str(),
        ]);
        assert!(ok, "{stderr}");
        println!("{stdout}");
        let report: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
        report["datasets"][0]["sesr"]["psnr"].as_f64().unwrap()
    };
    let (int8_psnr, fp32_psnr) = (psnr(&int8, "int8"), psnr(&checkpoint, "fp32"));
    println!("PReLU int8 {int8_psnr:.3} dB, FP32 {fp32_psnr:.3} dB");
    assert!(
        (int8_psnr - fp32_psnr).abs() <= 0.5,
        "int8 {int8_psnr:.3} dB vs FP32 {fp32_psnr:.3} dB"
    );
}

/// Issue #11: no command writes over one of its own inputs or outside the folder named.
#[test]
fn commands_refuse_to_overwrite_their_inputs_or_escape_their_folder() {
    let dir = tempfile::tempdir().unwrap();
    let training = write_checkpoint(dir.path(), 2, false, 21);
    let before = std::fs::read(&training).unwrap();
    let ckpt = s(&training);
    // collapse onto itself.
    assert_fails_naming(
        &["collapse", "--checkpoint", &ckpt, "--output", &ckpt],
        &["--output", "would overwrite --checkpoint"],
    );
    // collapse into a folder named like a checkpoint: refused before loading anything.
    let folder_out = dir.path().join("out_folder.safetensors");
    std::fs::create_dir(&folder_out).unwrap();
    assert_fails_naming(
        &[
            "collapse",
            "--checkpoint",
            &ckpt,
            "--output",
            &s(&folder_out),
        ],
        &["--output", "is a folder"],
    );
    // export onto the checkpoint.
    assert_fails_naming(
        &[
            "export",
            "--checkpoint",
            &ckpt,
            "--format",
            "float32",
            "--tflite-height",
            "8",
            "--tflite-width",
            "8",
            "--output",
            &ckpt,
        ],
        &["would overwrite the checkpoint"],
    );
    assert_eq!(
        std::fs::read(&training).unwrap(),
        before,
        "the input changed"
    );
    // Issue #11's unclear messages: a folder as --checkpoint, a .tflite where a checkpoint is
    // needed.
    let folder = s(dir.path());
    let coins = s(&asset("valid/coins.png"));
    let (out, png) = (
        format!("{folder}/out.safetensors"),
        format!("{folder}/out.png"),
    );
    assert_fails_naming(
        &["collapse", "--checkpoint", &folder, "--output", &out],
        &["--checkpoint", "is a folder", "best.safetensors"],
    );
    assert_fails_naming(
        &[
            "upscale",
            "--checkpoint",
            &folder,
            "--input",
            &coins,
            "--output",
            &png,
        ],
        &["--checkpoint", "is a folder", "best.safetensors"],
    );
    let tflite = dir.path().join("model.tflite");
    std::fs::copy(
        sesr_testkit::repo_root().join("crates/sesr-zoo/models/m3_x2_int8.tflite"),
        &tflite,
    )
    .unwrap();
    assert_fails_naming(
        &["collapse", "--checkpoint", &s(&tflite), "--output", &out],
        &[
            "is a .tflite model",
            "the .safetensors checkpoint it was exported from",
        ],
    );
    assert_fails_naming(
        &["export", "--checkpoint", &s(&tflite), "--format", "float32"],
        &["is an int8 model, which holds no float32 weights"],
    );
    // A run name that is a path.
    let out = dir.path().join("runs");
    assert_fails_naming(
        &[
            "train",
            "--data",
            &s(&asset("train")),
            "--valid",
            &s(&asset("valid")),
            "--out",
            &s(&out),
            "--model-name",
            "../../escape",
            "--epochs",
            "1",
        ],
        &["--model-name ../../escape", "plain name"],
    );
    assert!(!dir
        .path()
        .join("escape_m5_f16_x2_fs256_collapsedTraining_FP32")
        .exists());
}
