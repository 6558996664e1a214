//! Reading photos as an image viewer shows them.
//!
//! [`PhotoReader::open`] recognises the format from the content (PNG, JPEG, WebP, TIFF, BMP,
//! GIF) and refuses what a decoder would silently misread: an animation (APNG, animated GIF or
//! WebP: only still images are read, everywhere), a JPEG cut short (the decoder would fill the
//! missing rows with grey) and a file too large for the memory at hand (said with the size and
//! the memory it needs, before anything is allocated). [`PhotoReader::decode`] applies the
//! EXIF orientation, so the pixels stand as a viewer shows them, and returns the colour
//! metadata beside them ([`PhotoMetadata`]: the ICC profile, the PNG colour chunks, the EXIF
//! block with its orientation reset) for a writer to carry over. 16-bit samples stay 16-bit.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::codecs::gif::GifDecoder;
use image::codecs::webp::WebPDecoder;
use image::metadata::Orientation;
use image::{
    AnimationDecoder, ColorType, DynamicImage, ImageBuffer, ImageDecoder, ImageFormat, ImageReader,
};

use crate::error::{DataError, Result};
use crate::memory;

/// The formats [`PhotoReader`] reads, as their names appear in messages.
pub const READABLE_FORMATS: &str = "PNG, JPEG, WebP, TIFF, BMP or GIF";

/// The colour chunks of a PNG file that are not an ICC profile, as stored (PNG 3rd edition).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PngColourChunks {
    /// `gAMA`: the file gamma times 100000.
    pub gamma: Option<u32>,
    /// `cHRM`: white point and red, green, blue primaries (x, y), each times 100000.
    pub chromaticities: Option<[u32; 8]>,
    /// `sRGB`: the rendering intent (0 to 3).
    pub srgb: Option<u8>,
    /// `cICP`: colour primaries, transfer function, matrix coefficients, full-range flag.
    pub cicp: Option<[u8; 4]>,
}

impl PngColourChunks {
    /// Whether the file had none of these chunks.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The names of the chunks present, e.g. `["gAMA", "cHRM"]`.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.gamma.is_some() {
            names.push("gAMA");
        }
        if self.chromaticities.is_some() {
            names.push("cHRM");
        }
        if self.srgb.is_some() {
            names.push("sRGB");
        }
        if self.cicp.is_some() {
            names.push("cICP");
        }
        names
    }
}

/// What a photo says about its pixels besides their values, for a writer to carry over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhotoMetadata {
    /// The container the pixels came from.
    pub format: ImageFormat,
    /// The embedded ICC profile (PNG `iCCP`, JPEG APP2, WebP `ICCP`, TIFF tag 34675).
    pub icc_profile: Option<Vec<u8>>,
    /// The EXIF block (TIFF structure, without the JPEG `Exif\0\0` prefix), its orientation
    /// set to 1 (upright) because [`PhotoReader::decode`] has applied it to the pixels.
    pub exif: Option<Vec<u8>>,
    /// The orientation the file asked for, now applied (`NoTransforms` when it had none).
    pub orientation: Orientation,
    /// PNG colour chunks (empty for other formats).
    pub png: PngColourChunks,
}

/// A decoded photo: its pixels, upright, and its metadata.
#[derive(Clone, Debug)]
pub struct Photo {
    /// The pixels, as the file stores them (8 or 16 bits, gray or colour, alpha if any), with
    /// the orientation applied.
    pub image: DynamicImage,
    /// Everything else.
    pub metadata: PhotoMetadata,
}

/// A photo file whose header has been read and checked; [`PhotoReader::decode`] reads the
/// pixels.
#[derive(Debug)]
pub struct PhotoReader {
    path: PathBuf,
    bytes: Vec<u8>,
    format: ImageFormat,
    width: u32,
    height: u32,
    color: ColorType,
    orientation: Orientation,
    png: PngColourChunks,
}

fn decode_error(path: &Path, reason: impl Into<String>) -> DataError {
    DataError::Decode {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

impl PhotoReader {
    /// Reads the file's header: refuses what is not a still image of a readable format and a
    /// JPEG cut short.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        let format = image::guess_format(&bytes).ok().filter(|f| {
            matches!(
                f,
                ImageFormat::Png
                    | ImageFormat::Jpeg
                    | ImageFormat::WebP
                    | ImageFormat::Tiff
                    | ImageFormat::Bmp
                    | ImageFormat::Gif
            )
        });
        let Some(format) = format else {
            return Err(decode_error(
                path,
                format!("the content is not {READABLE_FORMATS}"),
            ));
        };
        let mut png = PngColourChunks::default();
        match format {
            ImageFormat::Png => png = png_chunks(path, &bytes)?,
            ImageFormat::Jpeg => check_jpeg_complete(path, &bytes)?,
            ImageFormat::Gif => check_gif_still(path, &bytes)?,
            ImageFormat::Tiff => check_tiff_single_page(path, &bytes)?,
            ImageFormat::WebP => {
                let decoder = WebPDecoder::new(Cursor::new(&bytes[..]))
                    .map_err(|e| decode_error(path, e.to_string()))?;
                if decoder.has_animation() {
                    return Err(DataError::Animated {
                        path: path.to_path_buf(),
                        format: "an animated WebP",
                        frames: "several frames".into(),
                    });
                }
            }
            _ => {}
        }
        let (width, height, color, orientation) = {
            let mut decoder = new_decoder(path, &bytes, format)?;
            let (w, h) = decoder.dimensions();
            let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
            (w, h, decoder.color_type(), orientation)
        };
        if width == 0 || height == 0 {
            return Err(decode_error(path, "the image has no pixels"));
        }
        Ok(PhotoReader {
            path: path.to_path_buf(),
            bytes,
            format,
            width,
            height,
            color,
            orientation,
            png,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The container format.
    pub fn format(&self) -> ImageFormat {
        self.format
    }

    /// Width and height as a viewer shows the image (after the orientation).
    pub fn dimensions(&self) -> (u32, u32) {
        if swaps_sides(self.orientation) {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }

    /// The pixel layout the decoder delivers.
    pub fn color_type(&self) -> ColorType {
        self.color
    }

    /// The bytes the decoded pixels take.
    pub fn decoded_bytes(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height) * u64::from(self.color.bytes_per_pixel())
    }

    /// The memory decoding takes at its peak: the pixels, twice if the orientation needs a
    /// rotated copy, and the file's bytes.
    pub fn decode_memory(&self) -> u64 {
        let copies = if swaps_sides(self.orientation) { 2 } else { 1 };
        self.decoded_bytes() * copies + self.bytes.len() as u64
    }

    /// Decodes the pixels and applies the orientation. `then_needs` is the memory the caller
    /// will use on top of the decoded image; when the two do not fit in the memory this process
    /// may still take ([`memory::available`]), nothing is decoded and the error says how much
    /// is needed.
    pub fn decode(self, then_needs: u64) -> Result<Photo> {
        let needed = self.decode_memory() + then_needs;
        memory::check(&self.path, self.dimensions(), needed)?;
        let path = self.path.clone();
        let mut decoder = new_decoder(&path, &self.bytes, self.format)?;
        let icc_profile = decoder.icc_profile().ok().flatten();
        let mut exif = decoder.exif_metadata().ok().flatten();
        if let Some(exif) = exif.as_mut() {
            let _ = Orientation::remove_from_exif_chunk(exif);
        }
        let mut image = read_pixels(&path, decoder, self.width, self.height, self.color)?;
        drop(self.bytes);
        image.apply_orientation(self.orientation);
        Ok(Photo {
            image,
            metadata: PhotoMetadata {
                format: self.format,
                icc_profile,
                exif,
                orientation: self.orientation,
                png: self.png,
            },
        })
    }
}

/// Reads and decodes a photo ([`PhotoReader`]): the shared loader of every command.
pub fn read_photo(path: impl AsRef<Path>, then_needs: u64) -> Result<Photo> {
    PhotoReader::open(path)?.decode(then_needs)
}

fn swaps_sides(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

fn new_decoder<'a>(
    path: &Path,
    bytes: &'a [u8],
    format: ImageFormat,
) -> Result<impl ImageDecoder + 'a> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    // Our own memory check replaces the crate's fixed 512 MB cap (which refuses a valid
    // 16000x12000 photo).
    reader.no_limits();
    reader
        .into_decoder()
        .map_err(|e| decode_error(path, e.to_string()))
}

/// A zeroed buffer of `len` samples, or an error instead of an abort when it cannot be had.
fn buffer<T: Clone + Default>(path: &Path, dims: (u32, u32), len: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    if v.try_reserve_exact(len).is_err() {
        let bytes = (len * std::mem::size_of::<T>()) as u64;
        return Err(memory::too_large(path, dims, bytes, memory::available()));
    }
    v.resize(len, T::default());
    Ok(v)
}

fn read_pixels(
    path: &Path,
    decoder: impl ImageDecoder,
    w: u32,
    h: u32,
    color: ColorType,
) -> Result<DynamicImage> {
    let total = usize::try_from(decoder.total_bytes())
        .map_err(|_| decode_error(path, "the image is larger than this machine can address"))?;
    let failed = |e: image::ImageError| decode_error(path, e.to_string());
    let inconsistent = || decode_error(path, "the decoder's size and layout disagree");
    macro_rules! read {
        ($t:ty, $variant:ident) => {{
            let mut buf: Vec<$t> = buffer(path, (w, h), total / std::mem::size_of::<$t>())?;
            decoder
                .read_image(bytemuck::cast_slice_mut(&mut buf))
                .map_err(failed)?;
            DynamicImage::$variant(ImageBuffer::from_raw(w, h, buf).ok_or_else(inconsistent)?)
        }};
    }
    Ok(match color {
        ColorType::L8 => read!(u8, ImageLuma8),
        ColorType::La8 => read!(u8, ImageLumaA8),
        ColorType::Rgb8 => read!(u8, ImageRgb8),
        ColorType::Rgba8 => read!(u8, ImageRgba8),
        ColorType::L16 => read!(u16, ImageLuma16),
        ColorType::La16 => read!(u16, ImageLumaA16),
        ColorType::Rgb16 => read!(u16, ImageRgb16),
        ColorType::Rgba16 => read!(u16, ImageRgba16),
        ColorType::Rgb32F => read!(f32, ImageRgb32F),
        ColorType::Rgba32F => read!(f32, ImageRgba32F),
        other => {
            return Err(DataError::UnsupportedPixels {
                path: path.to_path_buf(),
                format: format!("{other:?}"),
            })
        }
    })
}

/// The colour chunks of a PNG, and a refusal if it is animated (APNG with several frames).
fn png_chunks(path: &Path, bytes: &[u8]) -> Result<PngColourChunks> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_ignore_text_chunk(true);
    let reader = decoder
        .read_info()
        .map_err(|e| decode_error(path, e.to_string()))?;
    let info = reader.info();
    if let Some(actl) = info.animation_control {
        if actl.num_frames > 1 {
            return Err(DataError::Animated {
                path: path.to_path_buf(),
                format: "an animated PNG (APNG)",
                frames: format!("{} frames", actl.num_frames),
            });
        }
    }
    let chrm = info.chrm_chunk.map(|c| {
        [
            c.white.0, c.white.1, c.red.0, c.red.1, c.green.0, c.green.1, c.blue.0, c.blue.1,
        ]
        .map(|v| v.into_scaled())
    });
    Ok(PngColourChunks {
        gamma: info.gama_chunk.map(|g| g.into_scaled()),
        chromaticities: chrm,
        srgb: info.srgb.map(|s| s as u8),
        cicp: info.coding_independent_code_points.map(|c| {
            [
                c.color_primaries,
                c.transfer_function,
                c.matrix_coefficients,
                u8::from(c.is_video_full_range_image),
            ]
        }),
    })
}

/// Refuses a TIFF with more than one page (image decoders read the first page alone).
fn check_tiff_single_page(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut decoder = tiff::decoder::Decoder::new(Cursor::new(bytes))
        .map_err(|e| decode_error(path, e.to_string()))?;
    if decoder.more_images() {
        let mut pages = 1;
        while decoder.more_images() && decoder.next_image().is_ok() {
            pages += 1;
        }
        return Err(DataError::MultiPage {
            path: path.to_path_buf(),
            pages,
        });
    }
    Ok(())
}

/// Refuses a GIF with more than one frame.
fn check_gif_still(path: &Path, bytes: &[u8]) -> Result<()> {
    let decoder =
        GifDecoder::new(Cursor::new(bytes)).map_err(|e| decode_error(path, e.to_string()))?;
    let frames = decoder.into_frames().take(2).count();
    if frames > 1 {
        return Err(DataError::Animated {
            path: path.to_path_buf(),
            format: "an animated GIF",
            frames: "several frames".into(),
        });
    }
    Ok(())
}

/// Refuses a JPEG that ends before its end-of-image marker: walks the marker segments (an
/// EXIF thumbnail's own markers sit inside its APP1 segment and are skipped with it) and the
/// entropy-coded data after each start of scan, and reports where the data stops. Bytes after
/// the end-of-image marker (a phone's appended video, padding) are allowed.
fn check_jpeg_complete(path: &Path, bytes: &[u8]) -> Result<()> {
    let truncated = |reason: String| DataError::Truncated {
        path: path.to_path_buf(),
        reason,
    };
    let n = bytes.len();
    let mut i = 2; // after SOI (guess_format checked FF D8 FF)
    loop {
        // Fill bytes (FF FF ...) may precede a marker.
        while i < n && bytes[i] == 0xFF && i + 1 < n && bytes[i + 1] == 0xFF {
            i += 1;
        }
        if i + 1 >= n {
            return Err(truncated(format!(
                "the file ends after {n} bytes without the JPEG end-of-image marker"
            )));
        }
        if bytes[i] != 0xFF {
            return Err(truncated(format!(
                "byte {i} should start a JPEG marker but is {:#04x}",
                bytes[i]
            )));
        }
        let marker = bytes[i + 1];
        i += 2;
        match marker {
            0xD9 => return Ok(()),
            0x01 | 0xD0..=0xD7 => continue, // no length
            _ => {}
        }
        if i + 1 >= n {
            return Err(truncated(format!(
                "the file ends after {n} bytes, inside a marker segment"
            )));
        }
        let len = usize::from(u16::from_be_bytes([bytes[i], bytes[i + 1]]));
        if len < 2 || i + len > n {
            return Err(truncated(format!(
                "the file ends after {n} bytes, inside a {len}-byte marker segment"
            )));
        }
        i += len;
        if marker == 0xDA {
            // Entropy-coded data: runs until a marker other than a stuffed zero or a restart.
            loop {
                match bytes[i..].iter().position(|&b| b == 0xFF) {
                    None => {
                        return Err(truncated(format!(
                            "the image data stops after {n} bytes, before the JPEG \
                             end-of-image marker (the rest of the picture is missing)"
                        )))
                    }
                    Some(p) => {
                        i += p;
                        match bytes.get(i + 1) {
                            None => {
                                return Err(truncated(format!(
                                    "the image data stops after {n} bytes, before the JPEG \
                                     end-of-image marker (the rest of the picture is missing)"
                                )))
                            }
                            Some(0x00 | 0xD0..=0xD7 | 0xFF) => i += 1,
                            Some(_) => break,
                        }
                    }
                }
            }
        }
    }
}
