//! Helpers shared by the sesr-core integration tests.
#![allow(dead_code)]

use sesr_core::Sesr;
use std::path::PathBuf;
use tch::{Device, Kind, Tensor};

pub fn asset(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/images")
        .join(relative)
}

/// A real photo's luminance as `[1, 1, H, W]` in [0, 1], cropped to `size x size` at (x, y).
pub fn photo_y(relative: &str, x: u32, y: u32, size: u32) -> Tensor {
    let img = image::open(asset(relative))
        .expect("shipped test image")
        .to_rgb32f();
    let crop = image::imageops::crop_imm(&img, x, y, size, size).to_image();
    let y_plane: Vec<f32> = crop
        .pixels()
        .map(|p| (16.0 + 65.481 * p[0] + 128.553 * p[1] + 24.966 * p[2]) / 255.0)
        .collect();
    Tensor::from_slice(&y_plane).view([1, 1, size as i64, size as i64])
}

/// Moves every parameter away from its initial value (biases and PReLU slopes start at zero,
/// which would hide bias and slope bugs).
pub fn perturb(model: &Sesr, seed: i64) {
    tch::manual_seed(seed);
    tch::no_grad(|| {
        for (name, mut t) in model.named_tensors() {
            if name.ends_with("initialized") {
                continue;
            }
            let noise = Tensor::randn(t.size(), (Kind::Float, Device::Cpu)) * 0.02;
            let _ = t.g_add_(&noise);
        }
    });
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}
