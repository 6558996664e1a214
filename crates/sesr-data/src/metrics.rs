//! Image-quality metrics on Y planes.
//!
//! * [`psnr_y8`] and [`ssim_y8`] follow the super-resolution literature's MATLAB protocol:
//!   both images quantized to 8 bits, `border` pixels removed on each side, PSNR with peak 255,
//!   SSIM as in Wang et al.'s `ssim_index.m`.
//! * [`psnr_float`] is the reference SESR code's own metric (`tf.image.psnr` on float Y in
//!   [0, 1], `max_val = 1`): whole image, no crop, no rounding.

use crate::plane::{quantize, PlaneF32};

fn assert_same_size(sr: &PlaneF32, hr: &PlaneF32) {
    assert!(
        sr.size() == hr.size(),
        "metric on planes of different sizes: SR {:?} vs HR {:?}",
        sr.size(),
        hr.size()
    );
}

/// 8-bit samples of `p` with `border` pixels removed on each side, as f64, with the cropped
/// width and height.
fn quantized_crop(p: &PlaneF32, border: usize) -> (Vec<f64>, usize, usize) {
    let w = p.width.saturating_sub(2 * border);
    let h = p.height.saturating_sub(2 * border);
    let mut out = Vec::with_capacity(w * h);
    for y in border..border + h {
        let row = &p.data[y * p.width + border..y * p.width + border + w];
        out.extend(row.iter().map(|&v| f64::from(quantize(v))));
    }
    (out, w, h)
}

/// PSNR in dB for a mean squared error `mse` and peak value `peak`; infinite when `mse` is 0.
pub fn psnr_from_mse(mse: f64, peak: f64) -> f64 {
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (peak * peak / mse).log10()
    }
}

/// PSNR of the super-resolution literature: both planes quantized to 8 bits
/// (`round(v * 255)`), `border` pixels cropped on each side (usually the scale), peak 255.
/// Returns `f64::INFINITY` for identical images and NaN when the crop leaves nothing.
///
/// # Panics
/// When the planes differ in size.
pub fn psnr_y8(sr: &PlaneF32, hr: &PlaneF32, border: usize) -> f64 {
    assert_same_size(sr, hr);
    let (a, w, h) = quantized_crop(sr, border);
    let (b, _, _) = quantized_crop(hr, border);
    if w * h == 0 {
        return f64::NAN;
    }
    let sse: f64 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
    psnr_from_mse(sse / (w * h) as f64, 255.0)
}

/// The reference SESR code's PSNR: float planes (Y in [0, 1]), whole image, no rounding,
/// peak 1. Returns `f64::INFINITY` for identical images and NaN for empty planes.
///
/// # Panics
/// When the planes differ in size.
pub fn psnr_float(sr: &PlaneF32, hr: &PlaneF32) -> f64 {
    assert_same_size(sr, hr);
    if sr.data.is_empty() {
        return f64::NAN;
    }
    let sse: f64 = sr
        .data
        .iter()
        .zip(&hr.data)
        .map(|(&x, &y)| {
            let d = f64::from(x) - f64::from(y);
            d * d
        })
        .sum();
    psnr_from_mse(sse / sr.data.len() as f64, 1.0)
}

/// Side of the SSIM window.
pub const SSIM_WINDOW: usize = 11;
/// Standard deviation of the SSIM Gaussian window.
pub const SSIM_SIGMA: f64 = 1.5;

/// The normalised 1-D Gaussian whose outer product is MATLAB's
/// `fspecial('gaussian', 11, 1.5)`.
fn gaussian_1d() -> [f64; SSIM_WINDOW] {
    let mut g = [0f64; SSIM_WINDOW];
    let half = (SSIM_WINDOW / 2) as f64;
    for (i, v) in g.iter_mut().enumerate() {
        let x = i as f64 - half;
        *v = (-(x * x) / (2.0 * SSIM_SIGMA * SSIM_SIGMA)).exp();
    }
    let s: f64 = g.iter().sum();
    g.iter_mut().for_each(|v| *v /= s);
    g
}

/// `filter2(window, img, 'valid')` for the separable Gaussian window.
fn filter_valid(img: &[f64], w: usize, h: usize, g: &[f64; SSIM_WINDOW]) -> Vec<f64> {
    let ow = w + 1 - SSIM_WINDOW;
    let oh = h + 1 - SSIM_WINDOW;
    // Horizontal pass: h rows x ow columns.
    let mut tmp = vec![0f64; ow * h];
    for y in 0..h {
        let row = &img[y * w..(y + 1) * w];
        for x in 0..ow {
            tmp[y * ow + x] = g
                .iter()
                .zip(&row[x..x + SSIM_WINDOW])
                .map(|(a, b)| a * b)
                .sum();
        }
    }
    // Vertical pass.
    let mut out = vec![0f64; ow * oh];
    for y in 0..oh {
        let orow = &mut out[y * ow..(y + 1) * ow];
        for (k, gk) in g.iter().enumerate() {
            let irow = &tmp[(y + k) * ow..(y + k + 1) * ow];
            for (o, v) in orow.iter_mut().zip(irow) {
                *o += gk * v;
            }
        }
    }
    out
}

/// SSIM of the super-resolution literature (Wang et al., `ssim_index.m`): both planes
/// quantized to 8 bits, `border` pixels cropped on each side, 11x11 Gaussian window with
/// sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255, 'valid' filtering, mean of the SSIM map.
/// Returns 1 for identical images and NaN when the cropped image is smaller than the window.
///
/// # Panics
/// When the planes differ in size.
pub fn ssim_y8(sr: &PlaneF32, hr: &PlaneF32, border: usize) -> f64 {
    assert_same_size(sr, hr);
    let (a, w, h) = quantized_crop(sr, border);
    let (b, _, _) = quantized_crop(hr, border);
    ssim_map_mean(&a, &b, w, h)
}

fn ssim_map_mean(a: &[f64], b: &[f64], w: usize, h: usize) -> f64 {
    if w < SSIM_WINDOW || h < SSIM_WINDOW {
        return f64::NAN;
    }
    let g = gaussian_1d();
    let c1 = (0.01f64 * 255.0).powi(2);
    let c2 = (0.03f64 * 255.0).powi(2);
    let aa: Vec<f64> = a.iter().map(|v| v * v).collect();
    let bb: Vec<f64> = b.iter().map(|v| v * v).collect();
    let ab: Vec<f64> = a.iter().zip(b).map(|(x, y)| x * y).collect();
    let mu1 = filter_valid(a, w, h, &g);
    let mu2 = filter_valid(b, w, h, &g);
    let e11 = filter_valid(&aa, w, h, &g);
    let e22 = filter_valid(&bb, w, h, &g);
    let e12 = filter_valid(&ab, w, h, &g);
    let n = mu1.len();
    let mut sum = 0.0;
    for i in 0..n {
        let (m1, m2) = (mu1[i], mu2[i]);
        let m1s = m1 * m1;
        let m2s = m2 * m2;
        let m12 = m1 * m2;
        let s1 = e11[i] - m1s;
        let s2 = e22[i] - m2s;
        let s12 = e12[i] - m12;
        sum += ((2.0 * m12 + c1) * (2.0 * s12 + c2)) / ((m1s + m2s + c1) * (s1 + s2 + c2));
    }
    sum / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plane::Plane;

    #[test]
    fn gaussian_window_matches_fspecial() {
        // MATLAB: h = fspecial('gaussian', 11, 1.5); h(6,6) = 0.070762237763...,
        // h(1,1) = 1.0576e-06.
        let g = gaussian_1d();
        assert!((g[5] * g[5] - 0.070_762_237_763).abs() < 1e-9);
        assert!((g[0] * g[0] - 1.0576e-6).abs() < 1e-9);
        assert!((g.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn psnr_of_uniform_offset() {
        let hr = Plane::from_fn(40, 30, |x, y| ((x * 3 + y * 5) % 200) as f32 / 255.0);
        let sr = hr.map(|v| v + 4.0 / 255.0);
        // Every 8-bit value differs by 4: MSE 16, PSNR = 10 log10(255^2 / 16).
        let want = 10.0 * (255.0f64 * 255.0 / 16.0).log10();
        assert!((psnr_y8(&sr, &hr, 2) - want).abs() < 1e-9);
        assert!((psnr_float(&sr, &hr) - 10.0 * (255.0f64 * 255.0 / 16.0).log10()).abs() < 1e-4);
    }

    #[test]
    fn identical_is_infinite_and_one() {
        let hr = Plane::from_fn(32, 32, |x, y| ((x * 7 + y * 13) % 256) as f32 / 255.0);
        assert_eq!(psnr_y8(&hr, &hr, 4), f64::INFINITY);
        assert_eq!(psnr_float(&hr, &hr), f64::INFINITY);
        assert!((ssim_y8(&hr, &hr, 4) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn border_crop_ignores_edges() {
        let hr = Plane::filled(20, 20, 0.5f32);
        let mut sr = hr.clone();
        for x in 0..20 {
            sr.set(x, 0, 0.0);
            sr.set(x, 19, 1.0);
        }
        assert_eq!(psnr_y8(&sr, &hr, 1), f64::INFINITY);
        assert!(psnr_y8(&sr, &hr, 0).is_finite());
    }

    #[test]
    fn ssim_constant_offset_matches_formula() {
        // Two constant images a, b: sigmas are 0, SSIM = (2ab + C1) / (a^2 + b^2 + C1).
        let a = Plane::filled(16, 16, 100.0f32 / 255.0);
        let b = Plane::filled(16, 16, 110.0f32 / 255.0);
        let c1 = (0.01f64 * 255.0).powi(2);
        let want = (2.0 * 100.0 * 110.0 + c1) / (100.0f64.powi(2) + 110.0f64.powi(2) + c1);
        assert!((ssim_y8(&a, &b, 0) - want).abs() < 1e-9);
        assert!(ssim_y8(&a, &b, 3).is_nan());
    }
}
