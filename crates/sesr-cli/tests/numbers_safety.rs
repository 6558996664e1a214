//! Numbers that used to come out silently wrong (issue #30): `plot`'s epoch axis, `info` on
//! sizes whose MAC count overflows, `eval` on a folder holding an image reproduced exactly.
//! Every input is a real file written here; the binary runs as a user runs it.
//!
//! `SESR_CLI_BIN=/path/to/sesr-cli` runs these tests against another build (how the issue's
//! "before" column was checked).

mod common;

use common::asset;
use sesr_model::metrics::EpochMetrics;
use std::path::Path;
use std::process::Command;
use tempfile::TempDir;

/// Runs the binary under test; returns (success, stdout, stderr).
fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (bool, String, String) {
    let bin =
        std::env::var_os("SESR_CLI_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_sesr-cli").into());
    let out = Command::new(bin)
        .args(args)
        .output()
        .expect("sesr-cli runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Writes `epochs` records of a made-up run to `dir/metrics.jsonl`.
fn write_metrics(dir: &Path, epochs: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let lines: Vec<String> = (1..=epochs)
        .map(|epoch| {
            let record = EpochMetrics {
                epoch,
                step: 10 * epoch as u64,
                train_loss: 0.05 / epoch as f64,
                valid_psnr_reference: 30.0 + epoch as f64 / 10.0,
                valid_psnr_y8: 30.0 + epoch as f64 / 10.0,
            };
            serde_json::to_string(&record).unwrap()
        })
        .collect();
    std::fs::write(dir.join("metrics.jsonl"), lines.join("\n") + "\n").unwrap();
}

/// The tick marks under the x axis of the left panel of a curves PNG: the axis is the
/// longest dark row in the panel's lower half, and each tick is a run of dark pixels two
/// rows below it.
fn x_ticks(png: &Path) -> usize {
    let image = image::open(png).unwrap().to_luma8();
    let (width, height) = image.dimensions();
    let panel = width / 2;
    let dark = |x: u32, y: u32| image.get_pixel(x, y).0[0] < 100;
    let run_length = |y: u32| (0..panel).filter(|&x| dark(x, y)).count();
    let axis = (height / 2..height).max_by_key(|&y| run_length(y)).unwrap();
    assert!(run_length(axis) > panel as usize / 2, "no x axis found");
    let below = axis + 2;
    (1..panel)
        .filter(|&x| dark(x, below) && !dark(x - 1, below))
        .count()
}

#[test]
fn plot_labels_each_epoch_once() {
    let dir = TempDir::new().unwrap();
    for (epochs, want) in [(3, 3), (1, 3), (7, 7), (40, 10)] {
        let run_dir = dir.path().join(format!("run{epochs}"));
        write_metrics(&run_dir, epochs);
        let png = dir.path().join(format!("curves{epochs}.png"));
        let (ok, _, stderr) = run(&[
            "plot".as_ref(),
            "--output".as_ref(),
            png.as_os_str(),
            run_dir.as_os_str(),
        ]);
        assert!(ok, "{stderr}");
        let ticks = x_ticks(&png);
        // One tick per epoch (a single epoch gets its neighbours for room), at most ten;
        // the old axis put five ticks in every epoch, printed "1 1 1 1 1 2 2 ...".
        assert!(
            ticks <= want && ticks >= want.min(5),
            "{epochs} epochs: {ticks} ticks"
        );
    }
}

#[test]
fn info_refuses_sizes_whose_macs_overflow_and_counts_large_ones_exactly() {
    let (ok, _, stderr) = run(&["info", "--lr-size", "4294967296x4294967296"]);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("--lr-size 4294967296x4294967296") && stderr.contains("give a real size"),
        "{stderr}"
    );
    // 2^31 x 2^31 pixels fit in u64, times 13520 MACs per pixel they do not.
    let (ok, _, stderr) = run(&["info", "--lr-size", "2147483648x2147483648"]);
    assert!(!ok && stderr.contains("--lr-size"), "{stderr}");
    let (ok, _, stderr) = run(&["info", "--batch-size", "18446744073709551615"]);
    assert!(!ok && stderr.contains("--batch-size"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // A large size that fits is counted exactly: 13520 MACs per LR pixel for SESR-M5.
    let (ok, stdout, stderr) = run(&["info", "--lr-size", "1048576x1048576"]);
    assert!(ok, "{stderr}");
    let want = 13_520u64 * (1 << 40);
    assert!(
        stdout.contains(&format!("({want})")) && stdout.contains("2097152x2097152"),
        "{stdout}"
    );
}

#[test]
fn eval_mean_psnr_is_finite_with_an_image_reproduced_exactly() {
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("set");
    std::fs::create_dir(&data).unwrap();
    // A flat gray image (bicubic reproduces it exactly: infinite PSNR) beside two photos.
    image::GrayImage::from_pixel(48, 48, image::Luma([128]))
        .save(data.join("flat.png"))
        .unwrap();
    for name in ["chelsea", "coins"] {
        let photo = image::open(asset(&format!("valid/{name}.png"))).unwrap();
        photo
            .crop_imm(100, 100, 64, 48)
            .save(data.join(format!("{name}.png")))
            .unwrap();
    }
    let json = dir.path().join("eval.json");
    let (ok, stdout, stderr) = run(&[
        "eval".as_ref(),
        "--checkpoint".as_ref(),
        "m3-int8".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--per-image".as_ref(),
        "--json".as_ref(),
        json.as_os_str(),
    ]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let dataset = &report["datasets"][0];
    let per_image = dataset["per_image"].as_array().unwrap();
    assert_eq!(per_image.len(), 3);
    for engine in ["bicubic", "sesr"] {
        let mean = dataset[engine]["psnr"].as_f64();
        let finite: Vec<f64> = per_image
            .iter()
            .filter_map(|r| r[engine]["psnr"].as_f64())
            .filter(|p| p.is_finite())
            .collect();
        // The photos' mean, not infinity (`null`): the flat image is left out, and named.
        let want = per_image
            .iter()
            .filter(|r| r["name"] != "flat")
            .map(|r| r[engine]["psnr"].as_f64().unwrap())
            .sum::<f64>()
            / 2.0;
        assert!(finite.len() >= 2);
        let mean = mean.unwrap_or_else(|| panic!("{engine} mean PSNR is {}", dataset[engine]));
        assert!((mean - want).abs() < 1e-9, "{engine}: {mean} vs {want}");
        assert!((20.0..60.0).contains(&mean), "{engine}: {mean}");
        // SSIM still averages all three (the flat one scores 1 for bicubic).
        let ssim: f64 = per_image
            .iter()
            .map(|r| r[engine]["ssim"].as_f64().unwrap())
            .sum::<f64>()
            / 3.0;
        assert!((dataset[engine]["ssim"].as_f64().unwrap() - ssim).abs() < 1e-9);
    }
    assert_eq!(dataset["psnr_excluded"], serde_json::json!(["flat"]));
    assert!(
        stdout.contains("set*") && stdout.contains("PSNR means over 2 of 3 images"),
        "{stdout}"
    );
    assert!(stdout.contains("exact"), "{stdout}");
    assert!(!stdout.contains("inf "), "{stdout}");
}
