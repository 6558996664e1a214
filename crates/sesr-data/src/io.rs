//! Reading and writing images.
//!
//! Decoding goes through [`crate::photo`] (PNG, JPEG, WebP, TIFF, BMP, GIF on the `image`
//! crate): the format is recognised from the file's content, so a text file named `.png` is
//! reported as not an image rather than misread; the EXIF orientation is applied, so pixels
//! stand as a viewer shows them; animations, truncated JPEGs and images too large for the
//! memory at hand are refused. Every error names the file.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use image::{DynamicImage, ExtendedColorType, ImageEncoder};

use crate::color::{rgb8_planes_to_y8, rgb8_to_y8, rgb_planes_to_y, rgb_to_y};
use crate::error::{DataError, Result};
use crate::photo::PhotoReader;
use crate::plane::{quantize, Plane, PlaneF32, PlaneU8};

/// A decoded image: one gray plane or three RGB planes.
#[derive(Clone, Debug, PartialEq)]
pub enum Image<T> {
    /// Grayscale (alpha, if any, dropped).
    Gray(Plane<T>),
    /// Red, green, blue (alpha, if any, dropped).
    Rgb([Plane<T>; 3]),
}

/// An image with values in [0, 1], as [`load_image`] returns it.
pub type LoadedImage = Image<f32>;
/// An 8-bit image, as [`load_image_u8`] returns it.
pub type LoadedImage8 = Image<u8>;

/// Image file extensions this crate reads (compared case-insensitively).
pub const IMAGE_EXTENSIONS: [&str; 9] = [
    "png", "jpg", "jpeg", "webp", "tif", "tiff", "bmp", "gif", "apng",
];

/// Whether `path` has one of the [`IMAGE_EXTENSIONS`].
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Lists the image files (by extension) of `dir`, sorted; hidden files (names starting with
/// `.`, e.g. macOS `._0001.png` or unfinished atomic writes) are ignored. `what` names the
/// folder in errors.
pub fn list_images(dir: &Path, what: &str) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Err(DataError::MissingFolder {
            path: dir.to_path_buf(),
            what: what.into(),
            hint: "check the path".into(),
        });
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && path.is_file() && has_image_extension(&path) {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(DataError::EmptyFolder {
            path: dir.to_path_buf(),
        });
    }
    files.sort();
    Ok(files)
}

impl<T: Copy> Image<T> {
    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.first().width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.first().height
    }

    /// 1 for gray, 3 for RGB.
    pub fn channels(&self) -> usize {
        match self {
            Image::Gray(_) => 1,
            Image::Rgb(_) => 3,
        }
    }

    /// The planes, one or three.
    pub fn planes(&self) -> &[Plane<T>] {
        match self {
            Image::Gray(p) => std::slice::from_ref(p),
            Image::Rgb(p) => p,
        }
    }

    fn first(&self) -> &Plane<T> {
        &self.planes()[0]
    }

    /// Applies `f` to each plane.
    pub fn map_planes<U>(&self, mut f: impl FnMut(&Plane<T>) -> Plane<U>) -> Image<U> {
        match self {
            Image::Gray(p) => Image::Gray(f(p)),
            Image::Rgb([r, g, b]) => Image::Rgb([f(r), f(g), f(b)]),
        }
    }

    /// Crops right and bottom so both sides are multiples of `scale` (MATLAB `modcrop`).
    pub fn modcrop(&self, scale: usize) -> Self {
        self.map_planes(|p| p.modcrop(scale))
    }
}

impl Image<f32> {
    /// The Y plane (see [`load_y`] for how gray images are treated).
    pub fn to_y(&self) -> PlaneF32 {
        match self {
            Image::Gray(p) => p.map(|v| rgb_to_y(v, v, v)),
            Image::Rgb(rgb) => rgb_planes_to_y(rgb),
        }
    }

    /// Quantizes every plane to 8 bits (`round(v * 255)`, clamped).
    pub fn to_u8(&self) -> Image<u8> {
        self.map_planes(PlaneF32::quantize_u8)
    }
}

impl Image<u8> {
    /// The 8-bit Y plane, `round(Y * 255)`; a gray value g is treated as R = G = B = g.
    pub fn to_y8(&self) -> PlaneU8 {
        match self {
            Image::Gray(p) => p.map(|v| rgb8_to_y8(v, v, v)),
            Image::Rgb(rgb) => rgb8_planes_to_y8(rgb),
        }
    }

    /// Converts to float, `v / 255`.
    pub fn to_f32(&self) -> Image<f32> {
        self.map_planes(PlaneU8::to_f32)
    }
}

/// Decodes `path` upright ([`crate::photo`]), checking first that the image and the
/// `bytes_per_sample` per gray or colour sample (and alpha) the caller then makes of it fit in
/// memory.
fn decode(path: &Path, bytes_per_sample: u64) -> Result<DynamicImage> {
    let reader = PhotoReader::open(path)?;
    let (w, h) = reader.dimensions();
    let channels = u64::from(reader.color_type().channel_count());
    let planes = u64::from(w) * u64::from(h) * channels * bytes_per_sample;
    Ok(reader.decode(planes)?.image)
}

fn split<S: Copy, T>(
    w: usize,
    h: usize,
    raw: &[S],
    channels: usize,
    keep: usize,
    conv: impl Fn(S) -> T,
) -> Vec<Plane<T>> {
    (0..keep)
        .map(|c| Plane {
            width: w,
            height: h,
            data: raw
                .iter()
                .skip(c)
                .step_by(channels)
                .map(|&v| conv(v))
                .collect(),
        })
        .collect()
}

fn into_image<T>(mut planes: Vec<Plane<T>>) -> Image<T> {
    if planes.len() == 1 {
        Image::Gray(planes.remove(0))
    } else {
        let b = planes.pop();
        let g = planes.pop();
        let r = planes.pop();
        match (r, g, b) {
            (Some(r), Some(g), Some(b)) => Image::Rgb([r, g, b]),
            _ => unreachable!("split always yields one or three planes"),
        }
    }
}

/// Splits a decoded image into planes, converting each sample with the matching function.
fn planes_of<T>(
    path: &Path,
    img: &DynamicImage,
    from8: impl Fn(u8) -> T,
    from16: impl Fn(u16) -> T,
    from32f: impl Fn(f32) -> T,
) -> Result<Image<T>> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let planes = match img {
        DynamicImage::ImageLuma8(b) => split(w, h, b.as_raw(), 1, 1, from8),
        DynamicImage::ImageLumaA8(b) => split(w, h, b.as_raw(), 2, 1, from8),
        DynamicImage::ImageRgb8(b) => split(w, h, b.as_raw(), 3, 3, from8),
        DynamicImage::ImageRgba8(b) => split(w, h, b.as_raw(), 4, 3, from8),
        DynamicImage::ImageLuma16(b) => split(w, h, b.as_raw(), 1, 1, from16),
        DynamicImage::ImageLumaA16(b) => split(w, h, b.as_raw(), 2, 1, from16),
        DynamicImage::ImageRgb16(b) => split(w, h, b.as_raw(), 3, 3, from16),
        DynamicImage::ImageRgba16(b) => split(w, h, b.as_raw(), 4, 3, from16),
        DynamicImage::ImageRgb32F(b) => split(w, h, b.as_raw(), 3, 3, from32f),
        DynamicImage::ImageRgba32F(b) => split(w, h, b.as_raw(), 4, 3, from32f),
        other => {
            return Err(DataError::UnsupportedPixels {
                path: path.to_path_buf(),
                format: format!("{:?}", other.color()),
            })
        }
    };
    if w == 0 || h == 0 {
        return Err(DataError::Decode {
            path: path.to_path_buf(),
            reason: "the image has no pixels".into(),
        });
    }
    Ok(into_image(planes))
}

/// Loads a PNG, JPEG, WebP, TIFF, BMP or GIF file, upright, as planes with values in [0, 1].
///
/// RGB and gray images keep their channels; alpha is left out (see [`load_image_and_alpha`]);
/// 16-bit samples are divided by 65535 (not truncated to their high byte).
pub fn load_image(path: impl AsRef<Path>) -> Result<LoadedImage> {
    Ok(load_image_and_alpha(path)?.0)
}

/// [`load_image`], plus the alpha plane in [0, 1] when the file has one.
pub fn load_image_and_alpha(path: impl AsRef<Path>) -> Result<(LoadedImage, Option<PlaneF32>)> {
    let path = path.as_ref();
    let img = decode(path, 4)?;
    let image = planes_of(
        path,
        &img,
        |v| f32::from(v) / 255.0,
        |v| f32::from(v) / 65535.0,
        |v| v.clamp(0.0, 1.0),
    )?;
    let (w, h) = (image.width(), image.height());
    let last = |raw: &[f32], channels: usize| last_channel(w, h, raw, channels, |v| v);
    let alpha = match &img {
        DynamicImage::ImageLumaA8(b) => {
            Some(last_channel(w, h, b.as_raw(), 2, |v| f32::from(v) / 255.0))
        }
        DynamicImage::ImageRgba8(b) => {
            Some(last_channel(w, h, b.as_raw(), 4, |v| f32::from(v) / 255.0))
        }
        DynamicImage::ImageLumaA16(b) => Some(last_channel(w, h, b.as_raw(), 2, |v| {
            f32::from(v) / 65535.0
        })),
        DynamicImage::ImageRgba16(b) => Some(last_channel(w, h, b.as_raw(), 4, |v| {
            f32::from(v) / 65535.0
        })),
        DynamicImage::ImageRgba32F(b) => Some(last(b.as_raw(), 4).map(|v| v.clamp(0.0, 1.0))),
        _ => None,
    };
    Ok((image, alpha))
}

/// The last of `channels` interleaved channels (alpha) as a plane.
fn last_channel<S: Copy>(
    w: usize,
    h: usize,
    raw: &[S],
    channels: usize,
    conv: impl Fn(S) -> f32,
) -> PlaneF32 {
    Plane {
        width: w,
        height: h,
        data: raw
            .iter()
            .skip(channels - 1)
            .step_by(channels)
            .map(|&v| conv(v))
            .collect(),
    }
}

/// Loads an image as 8-bit planes. 16-bit samples are rounded to the nearest 8-bit value
/// (`round(v * 255 / 65535)`), float samples are clamped to [0, 1] and quantized.
pub fn load_image_u8(path: impl AsRef<Path>) -> Result<LoadedImage8> {
    let path = path.as_ref();
    let img = decode(path, 1)?;
    planes_of(
        path,
        &img,
        |v| v,
        // (v + 128) / 257 == round(v / 257) == round(v * 255 / 65535) for 0..=65535.
        |v| ((u32::from(v) + 128) / 257) as u8,
        quantize,
    )
}

/// Loads an image and returns its luminance, `Y = (16 + 65.481 R + 128.553 G + 24.966 B) /
/// 255` on [0, 1] RGB, as the reference SESR code computes it.
///
/// A grayscale file is treated as R = G = B = gray, so its gray range 0..1 maps to
/// 16/255..235/255 (`Y = 16/255 + gray * 219/255`), exactly what the reference does to RGB
/// data. This keeps gray and colour images on the same studio-swing scale for training.
pub fn load_y(path: impl AsRef<Path>) -> Result<PlaneF32> {
    Ok(load_image(path)?.to_y())
}

fn check_planes(path: &Path, planes: &[&PlaneF32]) -> Result<(u32, u32)> {
    let (w, h) = planes[0].size();
    let bad = |reason: String| DataError::Encode {
        path: path.to_path_buf(),
        reason,
    };
    if planes.iter().any(|p| p.size() != (w, h)) {
        return Err(bad("colour planes differ in size".into()));
    }
    if planes.iter().any(|p| p.data.len() != w * h) {
        return Err(bad("plane data length is not width * height".into()));
    }
    if w == 0 || h == 0 {
        return Err(bad("the image is empty".into()));
    }
    let w32 = u32::try_from(w).map_err(|_| bad(format!("width {w} too large")))?;
    let h32 = u32::try_from(h).map_err(|_| bad(format!("height {h} too large")))?;
    Ok((w32, h32))
}

/// Writes `bytes` as a PNG atomically: encodes into a temporary file in the same folder, then
/// renames it over `path`, so a crash never leaves a half-written image behind. A FIFO or a
/// device (`/dev/null`) is written in place: renaming over it would replace it.
fn write_png_atomic(
    path: &Path,
    bytes: &[u8],
    w: u32,
    h: u32,
    color: ExtendedColorType,
) -> Result<()> {
    let encode = |file: &mut std::fs::File| {
        let mut writer = BufWriter::new(file);
        image::codecs::png::PngEncoder::new(&mut writer)
            .write_image(bytes, w, h, color)
            .map_err(|e| DataError::Encode {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        writer.flush().map_err(|e| DataError::io(path, e))
    };
    // The project's one atomic writer: temporary file beside `path`, synced, renamed over it
    // (FIFOs and devices are written in place).
    sesr_model::atomic::write_atomic(path, |tmp| {
        let mut file = std::fs::File::create(tmp).map_err(|e| DataError::io(tmp, e))?;
        encode(&mut file)
    })
}

/// Saves three planes in [0, 1] as an 8-bit RGB PNG (values quantized with
/// `round(v * 255)`, clamped), atomically.
pub fn save_rgb_png(path: impl AsRef<Path>, rgb: &[PlaneF32; 3]) -> Result<()> {
    let path = path.as_ref();
    let (w, h) = check_planes(path, &[&rgb[0], &rgb[1], &rgb[2]])?;
    let mut bytes = Vec::with_capacity(rgb[0].data.len() * 3);
    for i in 0..rgb[0].data.len() {
        bytes.extend(rgb.iter().map(|p| quantize(p.data[i])));
    }
    write_png_atomic(path, &bytes, w, h, ExtendedColorType::Rgb8)
}

/// Saves one plane in [0, 1] as an 8-bit grayscale PNG (quantized, clamped), atomically.
pub fn save_gray_png(path: impl AsRef<Path>, gray: &PlaneF32) -> Result<()> {
    let path = path.as_ref();
    let (w, h) = check_planes(path, &[gray])?;
    let bytes: Vec<u8> = gray.data.iter().map(|&v| quantize(v)).collect();
    write_png_atomic(path, &bytes, w, h, ExtendedColorType::L8)
}

/// Saves interleaved 8-bit RGB pixels (`width * height * 3` bytes) as PNG, atomically.
pub fn save_rgb8_png(path: impl AsRef<Path>, rgb: &[u8], width: u32, height: u32) -> Result<()> {
    let path = path.as_ref();
    if rgb.len() as u64 != u64::from(width) * u64::from(height) * 3 || rgb.is_empty() {
        return Err(DataError::Encode {
            path: path.to_path_buf(),
            reason: format!(
                "{} bytes do not make a non-empty {width}x{height} RGB image",
                rgb.len()
            ),
        });
    }
    write_png_atomic(path, rgb, width, height, ExtendedColorType::Rgb8)
}

/// Saves a gray or RGB image as PNG, atomically.
pub fn save_png(path: impl AsRef<Path>, img: &LoadedImage) -> Result<()> {
    match img {
        Image::Gray(p) => save_gray_png(path, p),
        Image::Rgb(rgb) => save_rgb_png(path, rgb),
    }
}

/// Saves a gray or RGB image with an alpha plane of its size as an 8-bit gray-alpha or RGBA
/// PNG (quantized, clamped), atomically; without alpha, as [`save_png`].
pub fn save_png_with_alpha(
    path: impl AsRef<Path>,
    img: &LoadedImage,
    alpha: Option<&PlaneF32>,
) -> Result<()> {
    let path = path.as_ref();
    let Some(alpha) = alpha else {
        return save_png(path, img);
    };
    let mut planes: Vec<&PlaneF32> = img.planes().iter().collect();
    planes.push(alpha);
    let (w, h) = check_planes(path, &planes)?;
    let mut bytes = Vec::with_capacity(alpha.data.len() * planes.len());
    for i in 0..alpha.data.len() {
        bytes.extend(planes.iter().map(|p| quantize(p.data[i])));
    }
    let color = match img {
        Image::Gray(_) => ExtendedColorType::La8,
        Image::Rgb(_) => ExtendedColorType::Rgba8,
    };
    write_png_atomic(path, &bytes, w, h, color)
}
