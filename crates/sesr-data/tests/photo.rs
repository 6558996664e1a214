//! The shared photo reader on files made here: EXIF orientation, metadata, truncated JPEGs,
//! animations and large images (issue #30).

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ImageEncoder, Rgb, RgbImage};
use sesr_data::io::{load_image_u8, Image};
use sesr_data::memory;
use sesr_data::photo::{read_photo, PhotoReader};
use sesr_data::DataError;
use std::path::Path;

/// An EXIF block (little-endian TIFF structure) holding only an Orientation tag.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut e = b"II\x2a\0\x08\0\0\0".to_vec();
    e.extend_from_slice(&1u16.to_le_bytes());
    e.extend_from_slice(&0x0112u16.to_le_bytes());
    e.extend_from_slice(&3u16.to_le_bytes());
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&value.to_le_bytes());
    e.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    e
}

/// 120x80, white 20x20 block at the stored top-left, the rest black.
fn marked() -> RgbImage {
    RgbImage::from_fn(120, 80, |x, y| {
        if x < 20 && y < 20 {
            Rgb([255, 255, 255])
        } else {
            Rgb([0, 0, 0])
        }
    })
}

fn jpeg_bytes(img: &RgbImage, exif: Option<Vec<u8>>, icc: Option<&[u8]>) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut enc = JpegEncoder::new_with_quality(&mut bytes, 95);
    if let Some(exif) = exif {
        enc.set_exif_metadata(exif).unwrap();
    }
    if let Some(icc) = icc {
        enc.set_icc_profile(icc.to_vec()).unwrap();
    }
    enc.write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    bytes
}

#[test]
fn orientation_6_is_applied_and_reset_in_the_exif_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("phone.jpg");
    std::fs::write(
        &path,
        jpeg_bytes(&marked(), Some(exif_orientation(6)), Some(b"icc")),
    )
    .unwrap();
    let reader = PhotoReader::open(&path).unwrap();
    assert_eq!(reader.dimensions(), (80, 120));
    let photo = reader.decode(0).unwrap();
    assert_eq!((photo.image.width(), photo.image.height()), (80, 120));
    // Rotated 90 degrees clockwise: the block is now top-right.
    let rgb = photo.image.to_rgb8();
    assert!(rgb.get_pixel(70, 5)[0] > 200 && rgb.get_pixel(5, 5)[0] < 50);
    let exif = photo.metadata.exif.unwrap();
    assert_eq!(
        image::metadata::Orientation::from_exif_chunk(&exif),
        Some(image::metadata::Orientation::NoTransforms)
    );
    assert_eq!(photo.metadata.icc_profile.as_deref(), Some(&b"icc"[..]));
    // The planes every command reads are upright too.
    let Image::Rgb([r, _, _]) = load_image_u8(&path).unwrap() else {
        panic!("RGB");
    };
    assert_eq!(r.size(), (80, 120));
    assert!(r.get(70, 5) > 200 && r.get(5, 5) < 50);
}

#[test]
fn a_jpeg_cut_anywhere_in_its_data_is_refused_as_truncated() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = jpeg_bytes(&marked(), Some(exif_orientation(1)), None);
    for cut in [bytes.len() / 2, bytes.len() * 9 / 10, bytes.len() - 2, 40] {
        let path = tmp.path().join(format!("cut{cut}.jpg"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = PhotoReader::open(&path).unwrap_err();
        assert!(
            matches!(err, DataError::Truncated { .. }),
            "{cut} bytes: {err}"
        );
        assert!(err.to_string().contains(&*path.to_string_lossy()));
    }
    let whole = tmp.path().join("whole.jpg");
    std::fs::write(&whole, &bytes).unwrap();
    assert!(PhotoReader::open(&whole).is_ok());
}

#[test]
fn an_image_too_large_for_the_memory_left_is_refused_with_its_size_and_need() {
    let err = memory::check(Path::new("huge.png"), (16000, 12000), u64::MAX / 2).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("huge.png is 16000x12000") && text.contains("needs about"),
        "{text}"
    );
    assert!(text.contains("available"), "{text}");
}

/// A valid 16000x12000 PNG (576 MB of pixels, the size `sesr-cli upscale` writes for an
/// 8000x6000 photo) is read: the `image` crate's fixed 512 MB cap no longer refuses it.
#[test]
fn a_16000x12000_png_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big.png");
    let row: Vec<u8> = (0..48_000).map(|i| (i % 251) as u8).collect();
    sesr_testkit::photos::write_large_png(&path, 16000, 12000, &row).unwrap();
    let photo = read_photo(&path, 0).unwrap();
    assert_eq!((photo.image.width(), photo.image.height()), (16000, 12000));
    assert_eq!(photo.image.as_bytes()[48_000 + 250], 250);
}

#[test]
fn png_metadata_is_returned() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("tagged.png");
    let img = marked();
    let mut bytes = Vec::new();
    let mut enc = PngEncoder::new(&mut bytes);
    enc.set_icc_profile(b"profile".to_vec()).unwrap();
    enc.set_exif_metadata(exif_orientation(3)).unwrap();
    enc.write_image(img.as_raw(), 120, 80, image::ExtendedColorType::Rgb8)
        .unwrap();
    std::fs::write(&path, bytes).unwrap();
    let photo = read_photo(&path, 0).unwrap();
    assert_eq!(photo.metadata.icc_profile.as_deref(), Some(&b"profile"[..]));
    assert_eq!(
        photo.metadata.orientation,
        image::metadata::Orientation::Rotate180
    );
    // Half a turn: the block is bottom-right.
    let rgb = photo.image.to_rgb8();
    assert!(rgb.get_pixel(115, 75)[0] > 200 && rgb.get_pixel(5, 5)[0] < 50);
}

#[test]
fn a_multi_page_tiff_is_refused_and_a_single_page_one_is_read() {
    use tiff::encoder::{colortype, TiffEncoder};
    let dir = tempfile::tempdir().unwrap();
    let pixels: Vec<u8> = (0..16 * 12 * 3).map(|v| (v % 251) as u8).collect();
    let write = |pages: usize| -> std::path::PathBuf {
        let path = dir.path().join(format!("{pages}_pages.tif"));
        let mut bytes = std::io::Cursor::new(Vec::new());
        let mut encoder = TiffEncoder::new(&mut bytes).unwrap();
        for _ in 0..pages {
            encoder
                .write_image::<colortype::RGB8>(16, 12, &pixels)
                .unwrap();
        }
        std::fs::write(&path, bytes.into_inner()).unwrap();
        path
    };
    let single = write(1);
    let image = load_image_u8(&single).unwrap();
    assert_eq!((image.width(), image.height()), (16, 12));
    let three = write(3);
    match load_image_u8(&three) {
        Err(DataError::MultiPage { pages, .. }) => assert_eq!(pages, 3),
        other => panic!("a 3-page TIFF: {other:?}"),
    }
    let message = load_image_u8(&three).unwrap_err().to_string();
    assert!(
        message.contains("3_pages.tif") && message.contains("3 pages"),
        "{message}"
    );
}
