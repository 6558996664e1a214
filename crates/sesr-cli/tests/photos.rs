//! `sesr-cli upscale` on real photo files made here (issue #30): EXIF orientation, colour
//! metadata, 16-bit samples, truncated JPEGs, animations, transparency, WebP / TIFF / GIF,
//! and the messages for symbolic-link loops and `--tile -1`. Every file is written by the
//! test with the `image` and `png` crates from a crop of a shipped photo or a pattern.
//!
//! `SESR_KEEP_PHOTO_CASES=DIR` copies each input made here into DIR (for the before/after
//! table of the notes).

mod common;

use common::{asset, sesr_cli};
use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::metadata::Orientation;
use image::{
    DynamicImage, Frame, ImageBuffer, ImageDecoder, ImageEncoder, ImageReader, Rgb, RgbImage, Rgba,
    RgbaImage,
};
use std::ffi::OsStr;
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// Keeps a copy of a test's input when `SESR_KEEP_PHOTO_CASES` names a folder.
fn keep(path: &Path) {
    if let Some(dir) = std::env::var_os("SESR_KEEP_PHOTO_CASES") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(path, dir.join(path.file_name().unwrap())).unwrap();
    }
}

fn upscale(input: &Path, output: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("upscale"),
        "--input".as_ref(),
        input.as_os_str(),
        "--output".as_ref(),
        output.as_os_str(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    sesr_cli(&args)
}

/// An EXIF block (big-endian TIFF structure) holding only an Orientation tag.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut e = b"MM\0\x2a\0\0\0\x08".to_vec();
    e.extend_from_slice(&1u16.to_be_bytes()); // one entry
    e.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    e.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    e.extend_from_slice(&1u32.to_be_bytes()); // count
    e.extend_from_slice(&value.to_be_bytes());
    e.extend_from_slice(&[0, 0]);
    e.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    e
}

/// 120x80 stored: dark grey with a white 24x24 block in the stored top-left corner.
fn marked() -> RgbImage {
    RgbImage::from_fn(120, 80, |x, y| {
        if x < 24 && y < 24 {
            Rgb([255, 255, 255])
        } else {
            Rgb([40, 40, 40])
        }
    })
}

fn write_jpeg(path: &Path, img: &RgbImage, icc: Option<&[u8]>, exif: Option<Vec<u8>>) {
    let mut bytes = Vec::new();
    let mut enc = JpegEncoder::new_with_quality(&mut bytes, 95);
    if let Some(icc) = icc {
        enc.set_icc_profile(icc.to_vec()).unwrap();
    }
    if let Some(exif) = exif {
        enc.set_exif_metadata(exif).unwrap();
    }
    enc.write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn write_png(path: &Path, img: &DynamicImage, icc: Option<&[u8]>, exif: Option<Vec<u8>>) {
    let mut bytes = Vec::new();
    let mut enc = PngEncoder::new(&mut bytes);
    if let Some(icc) = icc {
        enc.set_icc_profile(icc.to_vec()).unwrap();
    }
    if let Some(exif) = exif {
        enc.set_exif_metadata(exif).unwrap();
    }
    enc.write_image(
        img.as_bytes(),
        img.width(),
        img.height(),
        img.color().into(),
    )
    .unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Mean brightness of the 8x8 block at (x, y) of an RGB image.
fn brightness(img: &RgbImage, x: u32, y: u32) -> f64 {
    let mut sum = 0.0;
    for dy in 0..8 {
        for dx in 0..8 {
            let p = img.get_pixel(x + dx, y + dy);
            sum += f64::from(p[0]) + f64::from(p[1]) + f64::from(p[2]);
        }
    }
    sum / 192.0
}

fn decoder_orientation(path: &Path) -> Orientation {
    let mut d = ImageReader::open(path)
        .unwrap()
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    d.orientation().unwrap()
}

#[test]
fn exif_rotated_jpeg_and_png_come_out_upright_without_an_orientation_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let img = marked();
    let jpg6 = tmp.path().join("rotated6.jpg");
    write_jpeg(&jpg6, &img, None, Some(exif_orientation(6)));
    let png3 = tmp.path().join("rotated3.png");
    write_png(&png3, &img.clone().into(), None, Some(exif_orientation(3)));
    let png8 = tmp.path().join("rotated8.png");
    write_png(&png8, &img.clone().into(), None, Some(exif_orientation(8)));
    // Where a viewer shows the stored top-left block, in the x2 output: orientation 6 turns
    // the picture 90 degrees clockwise (top-left to top-right), 3 half a turn (to
    // bottom-right), 8 a quarter turn counter-clockwise (to bottom-left).
    for (input, size, corner) in [
        (&jpg6, (160, 240), (160 - 24, 8)),
        (&png3, (240, 160), (240 - 24, 160 - 24)),
        (&png8, (160, 240), (8, 240 - 24)),
    ] {
        keep(input);
        let out = tmp.path().join(format!(
            "{}_x2.png",
            input.file_stem().unwrap().to_string_lossy()
        ));
        let (ok, _, stderr) = upscale(input, &out, &[]);
        assert!(ok, "{stderr}");
        let sr = image::open(&out).unwrap().to_rgb8();
        assert_eq!(sr.dimensions(), size, "{}", input.display());
        assert!(
            brightness(&sr, corner.0, corner.1) > 200.0,
            "{}: the marker is not where a viewer shows it",
            input.display()
        );
        // Every other corner stays dark.
        let (w, h) = size;
        for (x, y) in [(8, 8), (w - 16, 8), (8, h - 16), (w - 16, h - 16)] {
            if x.abs_diff(corner.0) > 24 || y.abs_diff(corner.1) > 24 {
                assert!(
                    brightness(&sr, x, y) < 80.0,
                    "{} at {x},{y}",
                    input.display()
                );
            }
        }
        assert_eq!(decoder_orientation(&out), Orientation::NoTransforms);
    }
    // JPEG output keeps the EXIF block with the orientation reset to upright.
    let jpg_out = tmp.path().join("rotated6_x2.jpg");
    let (ok, _, stderr) = upscale(&jpg6, &jpg_out, &[]);
    assert!(ok, "{stderr}");
    assert_eq!(image::image_dimensions(&jpg_out).unwrap(), (160, 240));
    assert_eq!(decoder_orientation(&jpg_out), Orientation::NoTransforms);

    // The shared loader (compare, eval, training) sees the photo upright too.
    let Ok(sesr_data::io::Image::Rgb([r, _, _])) = sesr_data::load_image_u8(&jpg6) else {
        panic!("an RGB image");
    };
    assert_eq!(r.size(), (80, 120));
    assert!(r.get(70, 5) > 200 && r.get(5, 5) < 80);
    let crops = tmp.path().join("crops.png");
    let (ok, _, stderr) = sesr_cli(&[
        OsStr::new("compare"),
        "--image".as_ref(),
        jpg6.as_os_str(),
        "--model".as_ref(),
        "m5=m5".as_ref(),
        "--output".as_ref(),
        crops.as_os_str(),
        "--crop".as_ref(),
        "32".as_ref(),
    ]);
    assert!(ok, "compare on a rotated photo: {stderr}");
}

/// Any bytes serve as a profile to carry; these say what they are.
const ICC: &[u8] = b"sesr test ICC profile: stands in for Display P3; carried byte for byte";

fn png_info(
    path: &Path,
) -> (
    png::BitDepth,
    png::ColorType,
    Option<Vec<u8>>,
    Option<u32>,
    bool,
) {
    let bytes = std::fs::read(path).unwrap();
    let decoder = png::Decoder::new(Cursor::new(bytes));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    (
        info.bit_depth,
        info.color_type,
        info.icc_profile.as_ref().map(|c| c.to_vec()),
        info.gama_chunk.map(|g| g.into_scaled()),
        info.chrm_chunk.is_some(),
    )
}

fn icc_of(path: &Path) -> Option<Vec<u8>> {
    let mut d = ImageReader::open(path)
        .unwrap()
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    d.icc_profile().unwrap()
}

fn chelsea_crop(w: u32, h: u32) -> DynamicImage {
    image::open(asset("valid/chelsea.png"))
        .unwrap()
        .crop_imm(100, 60, w, h)
}

#[test]
fn icc_profiles_and_png_colour_chunks_are_carried_or_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let crop = chelsea_crop(64, 48);
    let icc_png = tmp.path().join("p3.png");
    write_png(&icc_png, &crop, Some(ICC), None);
    let icc_jpg = tmp.path().join("p3.jpg");
    write_jpeg(&icc_jpg, &crop.to_rgb8(), Some(ICC), None);
    for input in [&icc_png, &icc_jpg] {
        keep(input);
        for ext in ["png", "jpg", "webp", "tiff"] {
            let out = tmp.path().join(format!(
                "{}_{}_x2.{ext}",
                input.file_stem().unwrap().to_string_lossy(),
                input.extension().unwrap().to_string_lossy()
            ));
            let (ok, _, stderr) = upscale(input, &out, &[]);
            assert!(ok, "{stderr}");
            assert_eq!(icc_of(&out).as_deref(), Some(ICC), "{}", out.display());
        }
    }
    // gAMA and cHRM (no profile): kept in PNG, and said to be lost in JPEG.
    let gamma_png = tmp.path().join("gamma.png");
    {
        let rgb = crop.to_rgb8();
        let file = std::fs::File::create(&gamma_png).unwrap();
        let mut enc = png::Encoder::new(file, rgb.width(), rgb.height());
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_source_gamma(png::ScaledFloat::from_scaled(55_000));
        enc.set_source_chromaticities(png::SourceChromaticities::new(
            (0.3127, 0.3290),
            (0.680, 0.320),
            (0.265, 0.690),
            (0.150, 0.060),
        ));
        let mut w = enc.write_header().unwrap();
        w.write_image_data(rgb.as_raw()).unwrap();
    }
    keep(&gamma_png);
    let out = tmp.path().join("gamma_x2.png");
    let (ok, _, stderr) = upscale(&gamma_png, &out, &[]);
    assert!(ok, "{stderr}");
    let (_, _, _, gamma, chrm) = png_info(&out);
    assert_eq!(gamma, Some(55_000));
    assert!(chrm, "cHRM kept");
    let out = tmp.path().join("gamma_x2.jpg");
    let (ok, _, stderr) = upscale(&gamma_png, &out, &[]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("gamma.png") && stderr.contains("gAMA, cHRM"),
        "the lost chunks are named: {stderr}"
    );
}

/// A 16-bit pattern whose low bytes matter: no sample is a multiple of 257.
fn deep_value(x: u32, y: u32, c: u32) -> u16 {
    (20_000 + x * 211 + y * 97 + c * 1_009) as u16 | 1
}

fn has_16_bit_detail(values: &[u16]) -> bool {
    values.iter().filter(|&&v| v % 257 != 0).count() > values.len() / 2
}

#[test]
fn sixteen_bit_pngs_stay_16_bit_with_float_models_and_int8_says_it_writes_8() {
    let tmp = tempfile::tempdir().unwrap();
    let rgb16 = ImageBuffer::<Rgb<u16>, _>::from_fn(40, 30, |x, y| {
        Rgb([
            deep_value(x, y, 0),
            deep_value(x, y, 1),
            deep_value(x, y, 2),
        ])
    });
    let gray16 = ImageBuffer::<image::Luma<u16>, _>::from_fn(40, 30, |x, y| {
        image::Luma([deep_value(x, y, 0)])
    });
    let rgba16 = ImageBuffer::<Rgba<u16>, _>::from_fn(40, 30, |x, y| {
        Rgba([
            deep_value(x, y, 0),
            deep_value(x, y, 1),
            deep_value(x, y, 2),
            65_535 - (x * 300) as u16,
        ])
    });
    let inputs = [
        (
            "rgb16.png",
            DynamicImage::ImageRgb16(rgb16),
            png::ColorType::Rgb,
        ),
        (
            "gray16.png",
            DynamicImage::ImageLuma16(gray16),
            png::ColorType::Grayscale,
        ),
        (
            "rgba16.png",
            DynamicImage::ImageRgba16(rgba16),
            png::ColorType::Rgba,
        ),
    ];
    for (name, img, colour) in inputs {
        let input = tmp.path().join(name);
        img.save(&input).unwrap();
        keep(&input);
        let out = tmp.path().join(format!("x2_{name}"));
        let (ok, _, stderr) = upscale(&input, &out, &[]);
        assert!(ok, "{stderr}");
        let (depth, got_colour, ..) = png_info(&out);
        assert_eq!(
            (depth, got_colour),
            (png::BitDepth::Sixteen, colour),
            "{name}"
        );
        let back = image::open(&out).unwrap();
        assert_eq!((back.width(), back.height()), (80, 60));
        assert!(has_16_bit_detail(&back.to_rgb16().into_raw()), "{name}");
        // TIFF keeps 16 bits too.
        let tiff = tmp.path().join(format!("x2_{name}.tiff"));
        let (ok, _, stderr) = upscale(&input, &tiff, &[]);
        assert!(ok, "{stderr}");
        assert!(has_16_bit_detail(
            &image::open(&tiff).unwrap().to_rgb16().into_raw()
        ));
        // An int8 model computes in 8 bits: it writes 8 bits and says so.
        let out8 = tmp.path().join(format!("int8_{name}"));
        let (ok, _, stderr) = upscale(&input, &out8, &["--checkpoint", "m5-int8"]);
        assert!(ok, "{stderr}");
        assert_eq!(png_info(&out8).0, png::BitDepth::Eight, "{name}");
        assert!(
            stderr.contains(name) && stderr.contains("int8") && stderr.contains("8-bit"),
            "{stderr}"
        );
    }
}

#[test]
fn a_truncated_jpeg_is_refused_naming_the_file_and_a_complete_one_with_trailing_data_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full.jpg");
    write_jpeg(
        &full,
        &chelsea_crop(200, 150).to_rgb8(),
        None,
        Some(exif_orientation(1)),
    );
    let bytes = std::fs::read(&full).unwrap();
    let half = tmp.path().join("half.jpg");
    std::fs::write(&half, &bytes[..bytes.len() * 6 / 10]).unwrap();
    keep(&half);
    let (ok, _, stderr) = upscale(&half, &tmp.path().join("half_x2.png"), &[]);
    assert!(!ok);
    assert!(
        stderr.contains("half.jpg") && stderr.contains("truncated"),
        "{stderr}"
    );
    assert!(!tmp.path().join("half_x2.png").exists());
    // The shared loader refuses it too (eval, compare, training).
    let err = sesr_data::load_image(&half).unwrap_err().to_string();
    assert!(err.contains("truncated"), "{err}");
    // Bytes after the end-of-image marker (a phone's appended video) do not matter.
    let mut trailing = bytes.clone();
    trailing.extend_from_slice(b"\0\0\0\x18ftypmp42 appended data");
    let with_tail = tmp.path().join("tail.jpg");
    std::fs::write(&with_tail, trailing).unwrap();
    let (ok, _, stderr) = upscale(&with_tail, &tmp.path().join("tail_x2.png"), &[]);
    assert!(ok, "{stderr}");
}

#[test]
fn animations_are_refused_everywhere_and_a_still_gif_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let frame = |shade: u8| RgbaImage::from_pixel(32, 24, Rgba([shade, 80, 160, 255]));
    // APNG: two frames.
    let apng = tmp.path().join("anim.png");
    {
        let file = std::fs::File::create(&apng).unwrap();
        let mut enc = png::Encoder::new(file, 32, 24);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_animated(2, 0).unwrap();
        let mut w = enc.write_header().unwrap();
        w.write_image_data(frame(10).as_raw()).unwrap();
        w.write_image_data(frame(200).as_raw()).unwrap();
        w.finish().unwrap();
    }
    let gif = tmp.path().join("anim.gif");
    {
        let mut bytes = Vec::new();
        let mut enc = GifEncoder::new(&mut bytes);
        enc.encode_frames([Frame::new(frame(10)), Frame::new(frame(200))])
            .unwrap();
        drop(enc);
        std::fs::write(&gif, bytes).unwrap();
    }
    for input in [&apng, &gif] {
        keep(input);
        let out = tmp.path().join("out.png");
        let (ok, _, stderr) = upscale(input, &out, &[]);
        assert!(!ok, "{} was upscaled", input.display());
        let name = input.file_name().unwrap().to_string_lossy();
        assert!(
            stderr.contains(&*name) && stderr.contains("animated") && stderr.contains("frames"),
            "{stderr}"
        );
        assert!(!out.exists());
        let err = sesr_data::load_image(input).unwrap_err().to_string();
        assert!(err.contains("animated"), "{err}");
    }
    let still = tmp.path().join("still.gif");
    DynamicImage::ImageRgba8(frame(90)).save(&still).unwrap();
    let (ok, _, stderr) = upscale(&still, &tmp.path().join("still_x2.png"), &[]);
    assert!(ok, "{stderr}");
    assert_eq!(
        image::image_dimensions(tmp.path().join("still_x2.png")).unwrap(),
        (64, 48)
    );
}

#[test]
fn colour_hidden_under_transparent_pixels_does_not_bleed() {
    let tmp = tempfile::tempdir().unwrap();
    // Opaque red on the left, fully transparent green on the right.
    let edge = RgbaImage::from_fn(64, 32, |x, _| {
        if x < 32 {
            Rgba([255, 0, 0, 255])
        } else {
            Rgba([0, 255, 0, 0])
        }
    });
    let input = tmp.path().join("alpha_edge.png");
    edge.save(&input).unwrap();
    keep(&input);
    let out = tmp.path().join("alpha_edge_x2.png");
    let (ok, _, stderr) = upscale(&input, &out, &[]);
    assert!(ok, "{stderr}");
    let sr = image::open(&out).unwrap().to_rgba8();
    assert_eq!(sr.dimensions(), (128, 64));
    let mut edge_pixels = 0;
    for p in sr.pixels() {
        if p[3] >= 8 {
            // Red stays red: no green tint (the network may lighten or darken the edge, as it
            // sharpens any edge, but never towards the hidden green). Before premultiplied
            // resampling this edge held (180, 28, 0) at alpha 203 and (70, 221, 18) at 52.
            assert!(
                p[1] <= p[2] + 3 && p[0] >= 128,
                "green bleeds into visible pixels: {p:?}"
            );
            if p[3] < 255 {
                edge_pixels += 1;
            }
        }
    }
    assert!(
        edge_pixels > 0,
        "the edge is soft: some pixels are partly transparent"
    );
}

#[test]
fn webp_tiff_and_gif_are_read_and_outputs_are_written_by_extension() {
    let tmp = tempfile::tempdir().unwrap();
    let crop = chelsea_crop(48, 40);
    let webp = tmp.path().join("in.webp");
    {
        let rgb = crop.to_rgb8();
        let mut bytes = Vec::new();
        WebPEncoder::new_lossless(&mut bytes)
            .write_image(rgb.as_raw(), 48, 40, image::ExtendedColorType::Rgb8)
            .unwrap();
        std::fs::write(&webp, bytes).unwrap();
    }
    let tiff = tmp.path().join("in.tiff");
    crop.to_rgb8().save(&tiff).unwrap();
    let gif = tmp.path().join("in.gif");
    crop.to_rgba8().save(&gif).unwrap();
    for input in [&webp, &tiff, &gif] {
        keep(input);
        let out = tmp.path().join(format!(
            "{}_x2.png",
            input.extension().unwrap().to_string_lossy()
        ));
        let (ok, _, stderr) = upscale(input, &out, &[]);
        assert!(ok, "{}: {stderr}", input.display());
        assert_eq!(image::image_dimensions(&out).unwrap(), (96, 80));
    }
    // Outputs by extension; JPEG quality changes the file.
    let source = tmp.path().join("in.png");
    crop.save(&source).unwrap();
    for (ext, format) in [
        ("jpg", image::ImageFormat::Jpeg),
        ("jpeg", image::ImageFormat::Jpeg),
        ("webp", image::ImageFormat::WebP),
        ("tif", image::ImageFormat::Tiff),
        ("tiff", image::ImageFormat::Tiff),
        ("png", image::ImageFormat::Png),
    ] {
        let out = tmp.path().join(format!("out.{ext}"));
        let (ok, _, stderr) = upscale(&source, &out, &[]);
        assert!(ok, "{ext}: {stderr}");
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(image::guess_format(&bytes).unwrap(), format, "{ext}");
        assert_eq!(
            image::load_from_memory(&bytes).unwrap().width(),
            96,
            "{ext}"
        );
    }
    let low = tmp.path().join("low.jpg");
    let high = tmp.path().join("high.jpg");
    assert!(upscale(&source, &low, &["--quality", "20"]).0);
    assert!(upscale(&source, &high, &["--quality", "98"]).0);
    assert!(std::fs::metadata(&low).unwrap().len() < std::fs::metadata(&high).unwrap().len());
    // --quality with a lossless output, an unknown extension, transparency into JPEG.
    let (ok, _, stderr) = upscale(&source, &tmp.path().join("q.png"), &["--quality", "80"]);
    assert!(!ok && stderr.contains("--quality"), "{stderr}");
    let (ok, _, stderr) = upscale(&source, &tmp.path().join("q.jpg"), &["--quality", "0"]);
    assert!(!ok && stderr.contains("quality"), "{stderr}");
    let (ok, _, stderr) = upscale(&source, &tmp.path().join("out.bmp"), &[]);
    assert!(!ok && stderr.contains(".webp"), "{stderr}");
    let clear = tmp.path().join("clear.png");
    RgbaImage::from_fn(16, 16, |x, _| Rgba([9, 9, 9, (x * 16) as u8]))
        .save(&clear)
        .unwrap();
    let (ok, _, stderr) = upscale(&clear, &tmp.path().join("clear.jpg"), &[]);
    assert!(
        !ok && stderr.contains("clear.png") && stderr.contains("transparent"),
        "{stderr}"
    );
}

#[test]
fn a_symlink_loop_and_a_negative_tile_get_messages_of_their_own() {
    let tmp = tempfile::tempdir().unwrap();
    let looped = tmp.path().join("loop.png");
    std::os::unix::fs::symlink(&looped, &looped).unwrap();
    let (ok, _, stderr) = upscale(&looped, &tmp.path().join("o.png"), &[]);
    assert!(!ok);
    assert!(
        stderr.contains("loop.png") && stderr.contains("symbolic link that loops"),
        "{stderr}"
    );
    let source = asset("valid/chelsea.png");
    let (ok, _, stderr) = upscale(&source, &tmp.path().join("o.png"), &["--tile", "-1"]);
    assert!(!ok);
    assert!(
        stderr.contains("--tile") && stderr.contains("-1 is not a tile side"),
        "{stderr}"
    );
}

/// Under a 3 GB address-space limit a large photo is either upscaled or refused with its size
/// and the memory it needs; the process never aborts (exit 134).
#[test]
fn under_an_address_space_limit_a_large_photo_is_refused_with_the_memory_it_needs() {
    let tmp = tempfile::tempdir().unwrap();
    // 9000x9000 RGB, one colour: a small file whose decoded pixels (243 MB) and x2 result
    // (972 MB) are large.
    let big = tmp.path().join("big.png");
    sesr_testkit::photos::write_large_png(&big, 9000, 9000, &[120u8; 27_000]).unwrap();
    let out = tmp.path().join("big_x2.jpg");
    // 1 GB of address space: the binary and its libraries take part of it, the decoded
    // input, a band and the JPEG's whole output (972 MB) do not fit.
    let script = format!(
        "ulimit -v 1000000; exec '{}' upscale --input '{}' --output '{}'",
        env!("CARGO_BIN_EXE_sesr-cli"),
        big.display(),
        out.display()
    );
    let run = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("big.png is 9000x9000") && stderr.contains("needs about"),
        "{stderr}"
    );
    assert!(!out.exists());
}

/// Peak memory of a large upscale: a 4000x3000 JPEG x2 (an 8000x6000 RGB result, 144 MB) peaks
/// at most twice the result's size, measured by `/usr/bin/time -v` (Debian's `time`, installed
/// by `cargo xtask setup`). Whole-image processing took about 11 times the result (the
/// 8000x6000 x2 case: 6.3 GB for a 576 MB result); banded it takes 1.7 times here, most of it
/// the process itself, and 0.66 times at 8000x6000 (docs/photos.md).
#[test]
fn a_large_photo_upscales_in_at_most_twice_the_memory_of_its_result() {
    let tmp = tempfile::tempdir().unwrap();
    let photo = image::open(asset("valid/chelsea.png")).unwrap().to_rgb8();
    let big = image::imageops::resize(&photo, 4000, 3000, image::imageops::FilterType::Triangle);
    let input = tmp.path().join("big4000.jpg");
    write_jpeg(&input, &big, None, None);
    drop(big);
    let output = tmp.path().join("big4000_x2.png");
    let run = std::process::Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_sesr-cli"))
        .args(["upscale", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .output()
        .expect("/usr/bin/time runs (Debian's `time`: cargo xtask setup installs it)");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let peak_kb: u64 = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in: {stderr}"));
    let result_bytes: u64 = 8000 * 6000 * 3;
    assert_eq!(image::image_dimensions(&output).unwrap(), (8000, 6000));
    assert!(
        peak_kb * 1024 <= 2 * result_bytes,
        "peak {peak_kb} kB for a {result_bytes}-byte result"
    );
}
