//! The libtorch helpers of the sesr-core integration tests (the rest is `sesr-testkit`'s).
#![allow(dead_code)]

use sesr_core::Sesr;
use sesr_testkit::photos::asset;
use tch::Tensor;

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
/// which would hide bias and slope bugs), deterministically for a seed: kernels are drawn
/// anew (glorot-uniform), everything else gets noise, all from a generator of this test's own.
/// libtorch's global generator is shared by the tests running in parallel, so seeding it
/// would not make a model reproducible.
pub fn perturb(model: &Sesr, seed: i64) {
    let mut state = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let bits = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
        bits as f64 / (1u64 << 24) as f64 * 2.0 - 1.0
    };
    tch::no_grad(|| {
        for (name, mut t) in model.named_tensors() {
            if name.ends_with("initialized") {
                continue;
            }
            let size = t.size();
            let values: Vec<f32> = if size.len() == 4 {
                let area = size[2] * size[3];
                let limit = (6.0 / ((size[0] + size[1]) * area) as f64).sqrt();
                (0..t.numel()).map(|_| (uniform() * limit) as f32).collect()
            } else {
                // Uniform noise with a standard deviation of 0.02.
                (0..t.numel())
                    .map(|_| (uniform() * 0.0346) as f32)
                    .collect()
            };
            let values = Tensor::from_slice(&values).view(size.as_slice());
            if size.len() == 4 {
                t.copy_(&values);
            } else {
                let _ = t.g_add_(&values);
            }
        }
    });
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}
