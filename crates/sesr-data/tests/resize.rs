//! MATLAB-compatible bicubic imresize: properties that MATLAB's implementation has. The
//! bit-level check against MATLAB is the benchmark reproduction in `benchmark_protocol.rs`.

mod common;

use anyhow::Result;
use sesr_data::color::rgb_planes_to_y;
use sesr_data::io::{load_image, load_image_u8, Image};
use sesr_data::protocol::{bicubic_upscale, merge_sr_y};
use sesr_data::resize::{imresize, imresize_by, imresize_u8, imresize_u8_by, Factor};
use sesr_data::{Plane, PlaneF32};

/// The largest difference of two planes of one size.
fn max_abs_diff(a: &PlaneF32, b: &PlaneF32) -> f32 {
    assert_eq!(a.size(), b.size());
    sesr_testkit::max_abs_diff(&a.data, &b.data)
}

#[test]
fn constant_images_stay_constant() {
    let p = Plane::filled(64, 48, 0.625f32);
    for f in [
        Factor::Down(2),
        Factor::Down(4),
        Factor::Up(2),
        Factor::Up(4),
    ] {
        let r = imresize_by(&p, f);
        assert!(r.data.iter().all(|&v| (v - 0.625).abs() < 1e-6), "{f:?}");
    }
    let q = Plane::filled(50, 30, 201u8);
    assert!(imresize_u8(&q, 25, 15).data.iter().all(|&v| v == 201));
}

#[test]
fn x2_down_of_a_linear_ramp_samples_between_pixels() {
    // f(x) = 0.1 + 0.01 x (0-based column x). Output column j (0-based) of a x2 shrink sits at
    // input coordinate 2j + 0.5 (MATLAB: u = x/s + 0.5(1 - 1/s), 1-based), and the symmetric
    // antialiasing kernel reproduces linear functions exactly away from the mirrored edges.
    let ramp = Plane::from_fn(40, 12, |x, _| 0.1 + 0.01 * x as f32);
    let r = imresize(&ramp, 20, 6);
    assert_eq!(r.size(), (20, 6));
    for y in 0..6 {
        for j in 2..18 {
            let want = 0.1 + 0.01 * (2.0 * j as f32 + 0.5);
            assert!(
                (r.get(j, y) - want).abs() < 1e-5,
                "({j},{y}) {}",
                r.get(j, y)
            );
        }
    }
    // At the left edge the mirror (edge pixel repeated) pulls values towards the edge value.
    assert!(r.get(0, 0) > 0.1 && r.get(0, 0) < 0.1 + 0.01 * 0.5 + 1e-6);
    // Vertical ramp behaves the same (the two passes are symmetric).
    let vramp = Plane::from_fn(12, 40, |_, y| 0.1 + 0.01 * y as f32);
    let rv = imresize(&vramp, 6, 20);
    for j in 2..18 {
        assert!((rv.get(3, j) - (0.1 + 0.01 * (2.0 * j as f32 + 0.5))).abs() < 1e-5);
    }
}

#[test]
fn x4_down_and_x2_up_of_ramps() {
    // x4 shrink: output j at input 4j + 1.5.
    let ramp = Plane::from_fn(64, 8, |x, _| 0.2 + 0.005 * x as f32);
    let r = imresize_by(&ramp, Factor::Down(4));
    assert_eq!(r.size(), (16, 2));
    for j in 2..14 {
        assert!((r.get(j, 1) - (0.2 + 0.005 * (4.0 * j as f32 + 1.5))).abs() < 1e-5);
    }
    // x2 enlarge: output j at input j/2 - 0.25; cubic convolution reproduces lines.
    let up = imresize_by(&ramp, Factor::Up(2));
    assert_eq!(up.size(), (128, 16));
    for j in 4..124 {
        let want = 0.2 + 0.005 * (j as f32 / 2.0 - 0.25);
        assert!((up.get(j, 5) - want).abs() < 1e-5);
    }
}

#[test]
fn odd_sizes_round_up_like_matlab() {
    let p = Plane::filled(7, 5, 0.5f32);
    assert_eq!(imresize_by(&p, Factor::Down(2)).size(), (4, 3));
    assert_eq!(imresize_by(&p, Factor::Up(4)).size(), (28, 20));
}

#[test]
fn down_then_up_of_a_photo_is_close_and_preserves_brightness() -> Result<()> {
    let Image::Gray(cam) = load_image(common::train_image("camera.png"))? else {
        anyhow::bail!("camera.png should be gray")
    };
    let small = imresize_by(&cam, Factor::Down(2));
    assert_eq!(small.size(), (256, 256));
    let mean =
        |p: &PlaneF32| p.data.iter().map(|&v| f64::from(v)).sum::<f64>() / p.data.len() as f64;
    assert!((mean(&small) - mean(&cam)).abs() < 2e-3);
    let back = imresize_by(&small, Factor::Up(2));
    let psnr = sesr_data::psnr_float(&back, &cam);
    assert!(psnr > 25.0 && psnr < 45.0, "{psnr}");
    Ok(())
}

#[test]
fn uint8_resize_is_the_float_one_rounded_per_pass() -> Result<()> {
    let Image::Rgb([r, _, _]) = load_image_u8(common::valid_image("chelsea.png"))? else {
        anyhow::bail!("chelsea.png should be RGB")
    };
    let r = r.modcrop(2);
    let via_u8 = imresize_u8_by(&r, Factor::Down(2));
    let via_f = imresize_by(&r.map(f32::from), Factor::Down(2));
    let mut differ = 0;
    for (a, b) in via_u8.data.iter().zip(&via_f.data) {
        let d = (f32::from(*a) - b).abs();
        // One intermediate rounding (<= 0.5 scaled by the kernel's absolute sum) plus the
        // final one: never more than about one level.
        assert!(d < 1.3, "{a} vs {b}");
        if f32::from(*a) != b.round().clamp(0.0, 255.0) {
            differ += 1;
        }
    }
    // The intermediate rounding does change some pixels (which is why MATLAB compatibility
    // needs it), but only a small fraction.
    assert!(differ > 0 && differ < via_u8.data.len() / 5, "{differ}");
    Ok(())
}

#[test]
fn flips_commute_with_integer_shrinking() {
    // MATLAB's index mapping is mirror-symmetric for integer factors, so shrinking a flipped
    // image equals flipping the shrunk one (what keeps LR/HR patch transforms consistent).
    let p = Plane::from_fn(32, 24, |x, y| ((x * 37 + y * 11) % 23) as f32 / 23.0);
    let flipped = Plane::from_fn(32, 24, |x, y| p.get(31 - x, y));
    let a = imresize_by(&flipped, Factor::Down(2));
    let b0 = imresize_by(&p, Factor::Down(2));
    let b = Plane::from_fn(16, 12, |x, y| b0.get(15 - x, y));
    assert!(max_abs_diff(&a, &b) < 1e-6);
}

#[test]
fn merging_bicubic_y_with_bicubic_chroma_is_rgb_bicubic() -> Result<()> {
    // Y, Cb, Cr are linear in RGB and bicubic is linear, so upscaling Y and CbCr separately
    // and converting back equals upscaling RGB directly: what the upscaling tool relies on
    // when the network replaces only Y.
    let img = load_image(common::valid_image("chelsea.png"))?;
    let lr = img.map_planes(|p| p.crop(100, 50, 60, 40));
    let Image::Rgb(lr_rgb) = &lr else {
        anyhow::bail!("chelsea.png should be RGB")
    };
    let sr_y = imresize_by(&rgb_planes_to_y(lr_rgb), Factor::Up(2));
    let merged = merge_sr_y(&lr, &sr_y, 2)?;
    let direct = bicubic_upscale(&lr, 2);
    for (a, b) in merged.planes().iter().zip(direct.planes()) {
        assert_eq!(a.size(), (120, 80));
        assert!(max_abs_diff(a, b) < 1e-5);
    }
    // Gray images stay gray: Y is mapped back with (Y * 255 - 16) / 219.
    let Image::Gray(cam) = load_image(common::train_image("camera.png"))? else {
        anyhow::bail!("camera.png should be gray")
    };
    let lr = Image::Gray(cam.crop(0, 0, 32, 32));
    let sr_y = imresize_by(&lr.to_y(), Factor::Up(4));
    let Image::Gray(g) = merge_sr_y(&lr, &sr_y, 4)? else {
        anyhow::bail!("gray in, gray out")
    };
    let Image::Gray(want) = bicubic_upscale(&lr, 4) else {
        anyhow::bail!("gray in, gray out")
    };
    assert!(max_abs_diff(&g, &want) < 1e-5);
    // A wrong SR size is an error, not a panic.
    assert!(merge_sr_y(&lr, &sr_y, 2).is_err());
    Ok(())
}
