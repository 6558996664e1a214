//! Shared helpers of the integration tests: where the shipped images and the benchmarks are.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `assets/images` of the workspace (shipped CC0 photos).
pub fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/images")
}

/// A shipped training photo by file name.
pub fn train_image(name: &str) -> PathBuf {
    assets().join("train").join(name)
}

/// A shipped validation photo by file name.
pub fn valid_image(name: &str) -> PathBuf {
    assets().join("valid").join(name)
}

/// The Set5/Set14 folder: `$SESR_BENCHMARKS`, else `shared/data/benchmarks` beside the clone.
/// Missing benchmarks fail under CI and skip (with a notice) elsewhere.
pub fn benchmarks_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SESR_BENCHMARKS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/benchmarks")
        });
    if dir.join("Set5").is_dir() && dir.join("Set14").is_dir() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "benchmarks not found at {} (set SESR_BENCHMARKS to the folder holding Set5 and Set14)",
            dir.display()
        );
    }
    eprintln!(
        "NOTICE: Set5/Set14 not found at {}; skipping this benchmark test \
         (set SESR_BENCHMARKS to run it)",
        dir.display()
    );
    None
}

/// Saves the `w` x `h` window at (x, y) of a shipped photo to `dst` (format from the
/// extension), keeping the photo's colour layout (RGB or gray).
pub fn write_crop(src: &Path, dst: &Path, x: u32, y: u32, w: u32, h: u32) -> anyhow::Result<()> {
    let img = image::open(src)?;
    let crop = img.crop_imm(x, y, w, h);
    match img.color() {
        image::ColorType::L8 | image::ColorType::L16 => crop.to_luma8().save(dst)?,
        _ => crop.to_rgb8().save(dst)?,
    }
    Ok(())
}

/// A folder of small HR crops of shipped photos: two RGB PNGs, one gray PNG and one JPEG,
/// with sizes that are not multiples of 4 (so cropping to a multiple of the scale matters).
pub fn hr_fixture(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_crop(
        &train_image("astronaut.png"),
        &dir.join("astronaut.png"),
        150,
        40,
        210,
        163,
    )?;
    write_crop(
        &train_image("camera.png"),
        &dir.join("camera.png"),
        120,
        60,
        171,
        150,
    )?;
    write_crop(
        &train_image("coffee.png"),
        &dir.join("coffee.png"),
        200,
        100,
        202,
        141,
    )?;
    write_crop(
        &valid_image("rocket.jpg"),
        &dir.join("rocket.jpg"),
        250,
        100,
        144,
        233,
    )?;
    Ok(())
}
