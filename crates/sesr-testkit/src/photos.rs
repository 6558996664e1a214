//! The CC0 photos shipped in `assets/images` as luminance planes, and large made-up PNGs.

use crate::repo_root;
use anyhow::{bail, Context, Result};
use sesr_data::plane::PlaneF32;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `assets/images/<name>` (e.g. `valid/chelsea.png`).
pub fn asset(name: &str) -> PathBuf {
    repo_root().join("assets/images").join(name)
}

/// The luminance (in [0, 1], as `sesr_data::load_y` reads it) of `assets/images/valid/<name>`.
pub fn valid_y(name: &str) -> Result<PlaneF32> {
    let path = asset(&format!("valid/{name}"));
    sesr_data::load_y(&path).with_context(|| format!("cannot load {}", path.display()))
}

/// A `height` x `width` plane of real luminance: validation photo `name` mirrored as often as
/// needed.
pub fn mirrored_photo(name: &str, height: usize, width: usize) -> Result<PlaneF32> {
    let y = valid_y(name)?;
    let fold = |i: usize, n: usize| {
        let period = 2 * n;
        let i = i % period;
        if i < n {
            i
        } else {
            period - 1 - i
        }
    };
    Ok(PlaneF32::from_fn(width, height, |x, r| {
        y.get(fold(x, y.width), fold(r, y.height))
    }))
}

/// Luminance of `assets/images/valid/chelsea.png` in [0, 1] (BT.601 studio swing, as the
/// reference: Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255 with RGB in [0, 1]), a
/// `height` x `width` crop at (`top`, `left`), computed here in f32 from the RGB pixels.
pub fn chelsea_y(top: usize, left: usize, height: usize, width: usize) -> Result<Vec<f32>> {
    let path = asset("valid/chelsea.png");
    let img = image::open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .to_rgb8();
    if top + height > img.height() as usize || left + width > img.width() as usize {
        bail!("crop outside the {}x{} image", img.width(), img.height());
    }
    let mut y = Vec::with_capacity(height * width);
    for row in top..top + height {
        for col in left..left + width {
            let [r, g, b] = img.get_pixel(col as u32, row as u32).0;
            let (r, g, b) = (r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0);
            y.push((16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0);
        }
    }
    Ok(y)
}

/// Writes a `width` x `height` 8-bit RGB PNG whose every row is `row`, streamed and quickly
/// compressed: a small file with large decoded pixels, for the memory tests.
pub fn write_large_png(path: &Path, width: u32, height: u32, row: &[u8]) -> Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = png::Encoder::new(file, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header()?.into_stream_writer()?;
    for _ in 0..height {
        writer.write_all(row)?;
    }
    writer.finish()?;
    Ok(())
}
