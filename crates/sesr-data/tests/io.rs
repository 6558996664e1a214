//! Image I/O on the shipped CC0 photos: every layout decodes to the right values, bad files
//! give errors that name them, and saving is atomic.

mod common;

use anyhow::Result;
use image::{ImageBuffer, Luma, LumaA, Rgb, Rgba};
use sesr_data::color::{rgb_planes_to_ycbcr, ycbcr_planes_to_rgb};
use sesr_data::io::{
    load_image, load_image_u8, load_y, save_gray_png, save_png, save_rgb_png, Image,
};
use sesr_data::{Plane, PlaneF32};

fn rgb_crop(name: &str, w: u32, h: u32) -> Result<image::RgbImage> {
    let img = image::open(common::train_image(name))?.to_rgb8();
    Ok(image::imageops::crop_imm(&img, 100, 120, w, h).to_image())
}

#[test]
fn shipped_photos_decode_with_their_layout() -> Result<()> {
    let astro = load_image(common::train_image("astronaut.png"))?;
    assert!(matches!(astro, Image::Rgb(_)));
    assert_eq!((astro.width(), astro.height()), (512, 512));
    let camera = load_image(common::train_image("camera.png"))?;
    assert!(matches!(camera, Image::Gray(_)));
    let rocket = load_image(common::valid_image("rocket.jpg"))?;
    assert!(matches!(rocket, Image::Rgb(_)));
    assert_eq!((rocket.width(), rocket.height()), (640, 427));
    for img in [&astro, &camera, &rocket] {
        for p in img.planes() {
            assert!(p.data.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }
    // The float and 8-bit loaders agree exactly on 8-bit files.
    let astro8 = load_image_u8(common::train_image("astronaut.png"))?;
    assert_eq!(astro8.to_f32(), astro);
    // The pixel values are the PNG's: compare one pixel with the image crate.
    let direct = image::open(common::train_image("astronaut.png"))?.to_rgb8();
    let px = direct.get_pixel(37, 401);
    if let Image::Rgb([r, g, b]) = &astro8 {
        assert_eq!([r.get(37, 401), g.get(37, 401), b.get(37, 401)], px.0);
    }
    Ok(())
}

#[test]
fn y_of_white_black_and_gray_files() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let white = dir.path().join("white.png");
    let black = dir.path().join("black.bmp");
    ImageBuffer::from_pixel(4, 3, Rgb([255u8, 255, 255])).save(&white)?;
    ImageBuffer::from_pixel(4, 3, Rgb([0u8, 0, 0])).save(&black)?;
    let yw = load_y(&white)?;
    let yb = load_y(&black)?;
    assert_eq!(yw.size(), (4, 3));
    assert!(yw.data.iter().all(|&v| (v - 235.0 / 255.0).abs() < 1e-7));
    assert!(yb.data.iter().all(|&v| (v - 16.0 / 255.0).abs() < 1e-7));
    // Gray files: Y = 16/255 + 219/255 * gray (gray treated as R = G = B).
    let camera = load_image_u8(common::train_image("camera.png"))?;
    let y = load_y(common::train_image("camera.png"))?;
    let Image::Gray(g) = camera else {
        anyhow::bail!("camera.png should be gray")
    };
    for i in (0..g.data.len()).step_by(997) {
        let want = (16.0 + 219.0 * f64::from(g.data[i]) / 255.0) / 255.0;
        assert!((f64::from(y.data[i]) - want).abs() < 1e-6);
    }
    Ok(())
}

#[test]
fn sixteen_bit_png_is_scaled_not_truncated() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let src = rgb_crop("astronaut.png", 40, 30)?;
    // Spread 8-bit values over 16 bits with non-zero low bytes (v * 257 + x), so truncating to
    // the high byte would be visible.
    let img16: ImageBuffer<Rgb<u16>, Vec<u16>> = ImageBuffer::from_fn(40, 30, |x, y| {
        let p = src.get_pixel(x, y).0;
        Rgb(p.map(|v| (u16::from(v) * 257).saturating_sub((x * 7 + y) as u16 % 200)))
    });
    let path = dir.path().join("deep.png");
    img16.save(&path)?;
    let loaded = load_image(&path)?;
    let loaded8 = load_image_u8(&path)?;
    let (Image::Rgb(planes), Image::Rgb(planes8)) = (&loaded, &loaded8) else {
        anyhow::bail!("16-bit RGB should load as RGB")
    };
    for (x, y, p) in img16.enumerate_pixels() {
        for c in 0..3 {
            let v = p.0[c];
            let got = planes[c].get(x as usize, y as usize);
            assert!((f64::from(got) - f64::from(v) / 65535.0).abs() < 1e-7);
            let want8 = (f64::from(v) / 257.0).round() as u8;
            assert_eq!(planes8[c].get(x as usize, y as usize), want8);
        }
    }
    // 16-bit gray as well.
    let g16: ImageBuffer<Luma<u16>, Vec<u16>> =
        ImageBuffer::from_fn(9, 5, |x, y| Luma([(x * 7000 + y * 311) as u16]));
    let gpath = dir.path().join("deep_gray.png");
    g16.save(&gpath)?;
    let Image::Gray(g) = load_image(&gpath)? else {
        anyhow::bail!("16-bit gray should load as gray")
    };
    assert!((g.get(8, 4) - (8.0 * 7000.0 + 4.0 * 311.0) / 65535.0).abs() < 1e-7);
    Ok(())
}

#[test]
fn alpha_is_dropped() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let src = rgb_crop("coffee.png", 33, 21)?;
    let rgba: ImageBuffer<Rgba<u8>, Vec<u8>> = ImageBuffer::from_fn(33, 21, |x, y| {
        let [r, g, b] = src.get_pixel(x, y).0;
        Rgba([r, g, b, (x * 5 + y) as u8])
    });
    let path = dir.path().join("rgba.png");
    rgba.save(&path)?;
    let Image::Rgb([r, g, b]) = load_image_u8(&path)? else {
        anyhow::bail!("RGBA should load as RGB")
    };
    for (x, y, p) in src.enumerate_pixels() {
        let (x, y) = (x as usize, y as usize);
        assert_eq!([r.get(x, y), g.get(x, y), b.get(x, y)], p.0);
    }
    let la: ImageBuffer<LumaA<u8>, Vec<u8>> =
        ImageBuffer::from_fn(8, 8, |x, y| LumaA([(x * 30) as u8, (y * 30) as u8]));
    let lpath = dir.path().join("gray_alpha.png");
    la.save(&lpath)?;
    let Image::Gray(gray) = load_image_u8(&lpath)? else {
        anyhow::bail!("gray+alpha should load as gray")
    };
    assert_eq!(gray.get(7, 3), 210);
    Ok(())
}

#[test]
fn bmp_and_jpeg_load() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let src = rgb_crop("astronaut.png", 24, 16)?;
    let bmp = dir.path().join("crop.BMP");
    src.save_with_format(&bmp, image::ImageFormat::Bmp)?;
    let Image::Rgb([r, _, _]) = load_image_u8(&bmp)? else {
        anyhow::bail!("BMP should load as RGB")
    };
    assert_eq!(r.get(5, 7), src.get_pixel(5, 7).0[0]);
    let jpeg = load_image(common::train_image("hubble_deep_field.jpg"))?;
    assert_eq!((jpeg.width(), jpeg.height()), (1000, 872));
    Ok(())
}

#[test]
fn ycbcr_round_trip_on_a_photo_is_within_one_level() -> Result<()> {
    let Image::Rgb(rgb) = load_image(common::valid_image("chelsea.png"))? else {
        anyhow::bail!("chelsea.png should be RGB")
    };
    let ycc = rgb_planes_to_ycbcr(&rgb);
    let back = ycbcr_planes_to_rgb(&ycc);
    for c in 0..3 {
        let worst = rgb[c]
            .data
            .iter()
            .zip(&back[c].data)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1.0 / 255.0, "channel {c}: {worst}");
    }
    // Storing YCbCr in 8 bits (what a YCbCr file would hold) loses at most two RGB levels.
    let ycc8: Vec<PlaneF32> = ycc.iter().map(|p| p.quantize_u8().to_f32()).collect();
    let back8 = ycbcr_planes_to_rgb(&[ycc8[0].clone(), ycc8[1].clone(), ycc8[2].clone()]);
    for c in 0..3 {
        let worst = rgb[c]
            .quantize_u8()
            .data
            .iter()
            .zip(&back8[c].quantize_u8().data)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0);
        assert!(worst <= 2, "channel {c}: {worst} levels");
    }
    Ok(())
}

#[test]
fn save_round_trips_and_is_atomic() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let rgb = match load_image(common::valid_image("chelsea.png"))? {
        Image::Rgb(p) => p,
        Image::Gray(_) => anyhow::bail!("chelsea.png should be RGB"),
    };
    let path = dir.path().join("out.png");
    std::fs::write(&path, b"old content")?;
    save_rgb_png(&path, &rgb)?;
    assert_eq!(load_image(&path)?, Image::Rgb(rgb.clone()));
    let gray = Plane::from_fn(31, 17, |x, y| (x as f32 / 30.0) * (y as f32 / 16.0));
    let gpath = dir.path().join("gray.png");
    save_gray_png(&gpath, &gray)?;
    assert_eq!(load_image_u8(&gpath)?, Image::Gray(gray.quantize_u8()));
    // Out-of-range values are clamped.
    let wild = Plane::from_vec(2, 1, vec![-0.5f32, 1.5]).expect("2 samples");
    save_png(dir.path().join("wild.png"), &Image::Gray(wild))?;
    let Image::Gray(w) = load_image_u8(dir.path().join("wild.png"))? else {
        anyhow::bail!("gray expected")
    };
    assert_eq!(w.data, vec![0, 255]);
    // Only the three outputs are left: no temporary files.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    assert_eq!(names, ["gray.png", "out.png", "wild.png"]);
    // A missing folder is created (the project's one atomic writer does so for every file);
    // a folder that cannot be one (a file is in the way) is an error naming it, not a panic.
    save_gray_png(dir.path().join("new/x.png"), &gray)?;
    assert!(dir.path().join("new/x.png").is_file());
    let err = save_gray_png(dir.path().join("out.png/x.png"), &gray).unwrap_err();
    assert!(err.to_string().contains("out.png"), "{err}");
    Ok(())
}

#[test]
fn bad_files_are_errors_naming_the_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    std::fs::write(d.join("notes.png"), "this is a text file, not a PNG\n")?;
    let good = std::fs::read(common::valid_image("coins.png"))?;
    std::fs::write(d.join("truncated.png"), &good[..good.len() / 2])?;
    let mut corrupt = good.clone();
    for b in corrupt.iter_mut().skip(100).take(4000) {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    std::fs::write(d.join("corrupt.png"), &corrupt)?;
    std::fs::write(d.join("empty.jpg"), b"")?;
    for name in [
        "notes.png",
        "truncated.png",
        "corrupt.png",
        "empty.jpg",
        "missing.png",
    ] {
        let err = load_image(d.join(name)).expect_err(name);
        let msg = err.to_string();
        assert!(msg.contains(name), "{name}: {msg}");
        assert!(load_image_u8(d.join(name)).is_err());
        assert!(load_y(d.join(name)).is_err());
    }
    Ok(())
}
