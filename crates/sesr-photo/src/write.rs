//! Writing upscaled rows into a file of the output's format, with the input's metadata.
//!
//! PNG is written row by row through the `png` crate (every colour chunk carried: `iCCP`,
//! `gAMA`, `cHRM`, `sRGB`, `cICP`, and `eXIf`); JPEG, WebP and TIFF collect the rows and are
//! encoded by the `image` crate at the end, with the ICC profile (and EXIF for JPEG and WebP).
//! [`metadata_notes`] says, before any work, what a format cannot keep.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::codecs::tiff::TiffEncoder;
use image::codecs::webp::WebPEncoder;
use image::{ExtendedColorType, ImageEncoder};
use sesr_data::photo::PhotoMetadata;

use crate::error::{PhotoError, Result};
use crate::format::{OutputFormat, WriteOptions};

/// The pixel layout of an output file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    pub channels: u8,
    /// 8 or 16.
    pub bits: u8,
}

impl Layout {
    /// Bytes of one row.
    pub fn row_bytes(&self) -> usize {
        self.width as usize * usize::from(self.channels) * usize::from(self.bits / 8)
    }

    /// Bytes of the whole image.
    pub fn bytes(&self) -> u64 {
        self.row_bytes() as u64 * u64::from(self.height)
    }

    fn color(&self) -> ExtendedColorType {
        match (self.channels, self.bits) {
            (1, 8) => ExtendedColorType::L8,
            (2, 8) => ExtendedColorType::La8,
            (3, 8) => ExtendedColorType::Rgb8,
            (4, 8) => ExtendedColorType::Rgba8,
            (1, _) => ExtendedColorType::L16,
            (2, _) => ExtendedColorType::La16,
            (3, _) => ExtendedColorType::Rgb16,
            _ => ExtendedColorType::Rgba16,
        }
    }
}

/// What `format` cannot keep of `metadata`, as sentences for the user (empty: all is kept).
pub fn metadata_notes(format: OutputFormat, metadata: &PhotoMetadata) -> Vec<String> {
    let mut notes = Vec::new();
    if format == OutputFormat::Png {
        return notes;
    }
    let png = &metadata.png;
    // With an ICC profile, PNG readers use it and ignore gAMA / cHRM; sRGB is what JPEG, WebP
    // and TIFF assume anyway. cICP overrides everything in PNG and has no place here.
    let mut lost: Vec<&str> = Vec::new();
    if metadata.icc_profile.is_none() {
        if png.gamma.is_some() {
            lost.push("gAMA");
        }
        if png.chromaticities.is_some() {
            lost.push("cHRM");
        }
    }
    if png.cicp.is_some() {
        lost.push("cICP");
    }
    if !lost.is_empty() {
        notes.push(format!(
            "its PNG colour chunk{} {} cannot be stored in {}: the pixels are written unchanged \
             and will be shown as sRGB; write .png to keep {}",
            if lost.len() == 1 { "" } else { "s" },
            lost.join(", "),
            format.name(),
            if lost.len() == 1 { "it" } else { "them" },
        ));
    }
    if format == OutputFormat::Tiff && metadata.exif.is_some() {
        notes.push(
            "its EXIF block (camera data) is not written to TIFF; write .png, .jpg or .webp \
             to keep it"
                .into(),
        );
    }
    notes
}

enum Inner {
    Png(Box<png::StreamWriter<'static, BufWriter<File>>>),
    Buffered {
        file: BufWriter<File>,
        pixels: Vec<u8>,
    },
}

/// An output file being written, row by row.
pub struct Writer {
    inner: Inner,
    format: OutputFormat,
    layout: Layout,
    icc_profile: Option<Vec<u8>>,
    exif: Option<Vec<u8>>,
    options: WriteOptions,
    /// The output, for messages (the file written is its temporary sibling).
    path: PathBuf,
    rows: u64,
}

fn png_error(path: &Path, e: impl std::fmt::Display) -> PhotoError {
    PhotoError::Output {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

impl Writer {
    /// Starts writing `file` (the temporary sibling of `path`) as `format`, `layout`.
    pub fn create(
        file: File,
        path: &Path,
        format: OutputFormat,
        layout: Layout,
        metadata: &PhotoMetadata,
        options: WriteOptions,
    ) -> Result<Writer> {
        let file = BufWriter::with_capacity(1 << 20, file);
        let inner = match format {
            OutputFormat::Png => Inner::Png(Box::new(png_stream(file, path, layout, metadata)?)),
            _ => {
                let bytes = layout.bytes();
                let mut pixels = Vec::new();
                usize::try_from(bytes)
                    .ok()
                    .and_then(|n| pixels.try_reserve_exact(n).ok())
                    .ok_or_else(|| PhotoError::Output {
                        path: path.to_path_buf(),
                        reason: format!(
                            "the {}x{} result takes {} that cannot be allocated; write .png, \
                             which is written row by row",
                            layout.width,
                            layout.height,
                            sesr_data::memory::megabytes(bytes)
                        ),
                    })?;
                Inner::Buffered { file, pixels }
            }
        };
        Ok(Writer {
            inner,
            format,
            layout,
            icc_profile: metadata.icc_profile.clone(),
            exif: metadata.exif.clone(),
            options,
            path: path.to_path_buf(),
            rows: 0,
        })
    }

    /// Whether 16-bit samples go in big-endian order (PNG) or native order (the others).
    pub fn big_endian(&self) -> bool {
        self.format == OutputFormat::Png
    }

    /// Appends whole rows (`bytes` a multiple of [`Layout::row_bytes`]).
    pub fn write_rows(&mut self, bytes: &[u8]) -> Result<()> {
        debug_assert_eq!(bytes.len() % self.layout.row_bytes(), 0);
        self.rows += (bytes.len() / self.layout.row_bytes()) as u64;
        match &mut self.inner {
            Inner::Png(stream) => stream
                .write_all(bytes)
                .map_err(|e| png_error(&self.path, e)),
            Inner::Buffered { pixels, .. } => {
                pixels.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    /// Finishes the file: the PNG's last chunks, or the whole encoding of the others.
    pub fn finish(self) -> Result<()> {
        let path = &self.path;
        if self.rows != u64::from(self.layout.height) {
            return Err(png_error(
                path,
                format!("{} of {} rows were produced", self.rows, self.layout.height),
            ));
        }
        let encode_error = |e: image::ImageError| PhotoError::Output {
            path: path.clone(),
            reason: e.to_string(),
        };
        let Layout { width, height, .. } = self.layout;
        let color = self.layout.color();
        match self.inner {
            Inner::Png(stream) => stream.finish().map_err(|e| png_error(path, e)),
            Inner::Buffered { mut file, pixels } => {
                let (icc, exif) = (self.icc_profile, self.exif);
                match self.format {
                    OutputFormat::Jpeg => encode(
                        JpegEncoder::new_with_quality(&mut file, self.options.jpeg_quality),
                        (icc, exif),
                        (&pixels, width, height, color),
                    ),
                    OutputFormat::WebP => encode(
                        WebPEncoder::new_lossless(&mut file),
                        (icc, exif),
                        (&pixels, width, height, color),
                    ),
                    // TIFF has no EXIF slot here (a note says so when there is EXIF to lose).
                    OutputFormat::Tiff => encode(
                        TiffEncoder::new(&mut file),
                        (icc, None),
                        (&pixels, width, height, color),
                    ),
                    OutputFormat::Png => unreachable!("PNG is streamed"),
                }
                .map_err(encode_error)?;
                file.flush().map_err(|e| png_error(path, e))
            }
        }
    }
}

/// Encodes a whole image with the ICC profile and EXIF its format takes (an encoder that
/// refuses one writes the pixels without it).
fn encode(
    mut encoder: impl ImageEncoder,
    (icc, exif): (Option<Vec<u8>>, Option<Vec<u8>>),
    (pixels, width, height, color): (&[u8], u32, u32, ExtendedColorType),
) -> image::ImageResult<()> {
    if let Some(icc) = icc {
        let _ = encoder.set_icc_profile(icc);
    }
    if let Some(exif) = exif {
        let _ = encoder.set_exif_metadata(exif);
    }
    encoder.write_image(pixels, width, height, color)
}

fn png_stream(
    file: BufWriter<File>,
    path: &Path,
    layout: Layout,
    metadata: &PhotoMetadata,
) -> Result<png::StreamWriter<'static, BufWriter<File>>> {
    let mut info = png::Info::with_size(layout.width, layout.height);
    info.color_type = match layout.channels {
        1 => png::ColorType::Grayscale,
        2 => png::ColorType::GrayscaleAlpha,
        3 => png::ColorType::Rgb,
        _ => png::ColorType::Rgba,
    };
    info.bit_depth = if layout.bits == 16 {
        png::BitDepth::Sixteen
    } else {
        png::BitDepth::Eight
    };
    let chunks = &metadata.png;
    info.icc_profile = metadata.icc_profile.clone().map(Cow::Owned);
    info.exif_metadata = metadata.exif.clone().map(Cow::Owned);
    info.source_gamma = chunks.gamma.map(png::ScaledFloat::from_scaled);
    info.source_chromaticities = chunks.chromaticities.map(|c| {
        let f = png::ScaledFloat::from_scaled;
        png::SourceChromaticities {
            white: (f(c[0]), f(c[1])),
            red: (f(c[2]), f(c[3])),
            green: (f(c[4]), f(c[5])),
            blue: (f(c[6]), f(c[7])),
        }
    });
    info.srgb = chunks.srgb.and_then(|intent| match intent {
        0 => Some(png::SrgbRenderingIntent::Perceptual),
        1 => Some(png::SrgbRenderingIntent::RelativeColorimetric),
        2 => Some(png::SrgbRenderingIntent::Saturation),
        3 => Some(png::SrgbRenderingIntent::AbsoluteColorimetric),
        _ => None,
    });
    let mut encoder = png::Encoder::with_info(file, info).map_err(|e| png_error(path, e))?;
    encoder.set_compression(png::Compression::Balanced);
    encoder.set_filter(png::Filter::Adaptive);
    let mut writer = encoder.write_header().map_err(|e| png_error(path, e))?;
    if let Some(cicp) = chunks.cicp {
        writer
            .write_chunk(png::chunk::ChunkType(*b"cICP"), &cicp)
            .map_err(|e| png_error(path, e))?;
    }
    writer
        .into_stream_writer_with_size(1 << 20)
        .map_err(|e| png_error(path, e))
}
