//! The report pictures, drawn from real records and real images, read back and checked.

use anyhow::Result;
use sesr_data::io::{load_image, Image, LoadedImage};
use sesr_data::plane::{Plane, PlaneF32};
use sesr_data::protocol::bicubic_upscale;
use sesr_model::ModelError;
use sesr_report::{
    detailed_window, plot_training, read_metrics, side_by_side, Panel, StageCurves, Window,
};
use std::path::{Path, PathBuf};

fn valid_image(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/images/valid")
        .join(name)
}

fn first_valid_image() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/images/valid");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    valid_image(&names[0])
}

fn read_png(path: &Path) -> image::RgbImage {
    image::open(path).unwrap().to_rgb8()
}

fn count(img: &image::RgbImage, pred: impl Fn(&image::Rgb<u8>) -> bool) -> usize {
    img.pixels().filter(|p| pred(p)).count()
}

/// A metrics.jsonl as `sesr-cli train` writes it (with its other fields).
fn write_metrics(dir: &Path, name: &str, epochs: usize) -> PathBuf {
    let path = dir.join(name);
    let lines: Vec<String> = (1..=epochs)
        .map(|e| {
            format!(
                r#"{{"epoch":{e},"step":{},"train_loss":{},"valid_psnr_reference":0,"valid_psnr_y8":{}}}"#,
                e * 32,
                0.03 / e as f64,
                31.0 + (e as f64).ln()
            )
        })
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

#[test]
fn metrics_are_read_and_bad_lines_are_named() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = write_metrics(dir.path(), "metrics.jsonl", 3);
    let records = read_metrics(&path)?;
    assert_eq!(records.len(), 3);
    assert_eq!(records[2].epoch, 3);
    assert_eq!(records[2].step, 96);
    assert!((records[1].train_loss - 0.015).abs() < 1e-12);

    let mut text = std::fs::read_to_string(&path)?;
    text.push_str("{\"epoch\": \"four\"}\n");
    std::fs::write(&path, text)?;
    let err = read_metrics(&path).unwrap_err().to_string();
    assert!(err.contains("metrics.jsonl, line 4"), "{err}");

    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "")?;
    let err = read_metrics(&empty).unwrap_err().to_string();
    assert!(err.contains("no epochs recorded yet"), "{err}");
    let err = read_metrics(&dir.path().join("missing.jsonl")).unwrap_err();
    assert!(matches!(err, ModelError::Io { .. }), "{err}");
    Ok(())
}

#[test]
fn training_curves_draw_one_row_per_stage() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let stages: Vec<StageCurves> = [("x2-fp32", 12), ("x2-qat", 1)]
        .iter()
        .map(|&(name, epochs)| StageCurves {
            name: name.into(),
            records: read_metrics(&write_metrics(dir.path(), name, epochs)).unwrap(),
        })
        .collect();
    let out = dir.path().join("curves.png");
    plot_training(&stages, &out)?;
    let img = read_png(&out);
    assert_eq!((img.width(), img.height()), (1200, 600));
    // Loss curves in blue, PSNR curves in red, captions and axes in dark gray/black.
    let blue = count(&img, |p| p[2] > 200 && p[0] < 60 && p[1] < 60);
    let red = count(&img, |p| p[0] > 200 && p[1] < 60 && p[2] < 60);
    let dark = count(&img, |p| p.0.iter().all(|&c| c < 80));
    assert!(blue > 500 && red > 500, "blue {blue}, red {red}");
    assert!(dark > 2000, "text and axes: {dark} dark pixels");
    // Both rows have curves: the bottom half holds the single-epoch stage's markers.
    let bottom_blue = img
        .enumerate_pixels()
        .filter(|(_, y, p)| *y >= 300 && p[2] > 200 && p[0] < 60 && p[1] < 60)
        .count();
    assert!(
        bottom_blue > 20,
        "second stage drew {bottom_blue} blue pixels"
    );

    let err = plot_training(&[], &out).unwrap_err().to_string();
    assert!(err.contains("at least one epoch"), "{err}");
    Ok(())
}

#[test]
fn detailed_window_finds_the_textured_region() {
    // Flat gray, with a checkerboard at (40..72, 24..56).
    let y = Plane::from_fn(128, 96, |x, yy| {
        if (40..72).contains(&x) && (24..56).contains(&yy) {
            ((x + yy) % 2) as f32
        } else {
            0.5
        }
    });
    let w = detailed_window(&y, 32);
    assert_eq!((w.width, w.height), (32, 32));
    assert!(w.x.abs_diff(40) <= 16 && w.y.abs_diff(24) <= 16, "{w:?}");
    // An image smaller than the window gives the whole image.
    let small = Plane::filled(10, 7, 0.25f32);
    assert_eq!(
        detailed_window(&small, 32),
        Window {
            x: 0,
            y: 0,
            width: 10,
            height: 7
        }
    );
}

fn zoom_check(img: &image::RgbImage, left: u32, top: u32, zoom: u32, src: &LoadedImage, w: Window) {
    for (dx, dy) in [(0, 0), (5, 3), (w.width - 1, w.height - 1)] {
        let expected = match src {
            Image::Rgb(p) => p
                .each_ref()
                .map(|pl| sesr_data::plane::quantize(pl.get(w.x + dx, w.y + dy))),
            Image::Gray(p) => [sesr_data::plane::quantize(p.get(w.x + dx, w.y + dy)); 3],
        };
        let px = img.get_pixel(
            left + dx as u32 * zoom + zoom - 1,
            top + dy as u32 * zoom + zoom - 1,
        );
        assert_eq!(px.0, expected, "pixel ({dx}, {dy})");
    }
}

#[test]
fn side_by_side_shows_the_same_window_of_each_image() -> Result<()> {
    let gt = load_image(first_valid_image())?.modcrop(2);
    let lr = gt
        .map_planes(|p: &PlaneF32| sesr_data::resize::imresize(p, p.size().0 / 2, p.size().1 / 2));
    let bicubic = bicubic_upscale(&lr, 2);
    let window = detailed_window(&gt.to_y(), 64);
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("crops.png");
    let panels = vec![
        Panel {
            title: "bicubic".into(),
            image: bicubic.clone(),
        },
        Panel {
            title: "ground truth".into(),
            image: gt.clone(),
        },
    ];
    side_by_side(&panels, window, 3, &out)?;
    let img = read_png(&out);
    // Two 192-pixel cells with 8-pixel gaps, under a 34-pixel title bar.
    assert_eq!((img.width(), img.height()), (2 * 192 + 3 * 8, 34 + 192 + 8));
    zoom_check(&img, 8, 34, 3, &bicubic, window);
    zoom_check(&img, 8 + 192 + 8, 34, 3, &gt, window);
    let title_ink = img
        .enumerate_pixels()
        .filter(|(_, y, p)| *y < 34 && p.0.iter().all(|&c| c < 100))
        .count();
    assert!(title_ink > 50, "titles drew {title_ink} dark pixels");

    // Bad input: images of different sizes, a window outside the image, no panels.
    let small = Panel {
        title: "low-res".into(),
        image: lr,
    };
    let err = side_by_side(&[panels[0].clone(), small], window, 3, &out).unwrap_err();
    assert!(
        err.to_string().contains("crops need images of one size"),
        "{err}"
    );
    let outside = Window {
        x: gt.width() - 10,
        ..window
    };
    let err = side_by_side(&panels, outside, 3, &out).unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
    assert!(side_by_side(&[], window, 3, &out).is_err());
    Ok(())
}
