//! Upscaling a photo in tiles, band by band, through any [`UpscaleY`] engine.
//!
//! The photo is cut into bands of rows and each band into tiles of columns; each tile is
//! taken with a halo of [`UpscaleY::receptive_radius`] LR pixels on every inner side (at
//! least [`BICUBIC_HALO`], what bicubic needs), so the tile's core comes out exactly as it
//! would from the whole image: zeros outside the image for the network and MATLAB's symmetric
//! edges for bicubic sit only at the image's own borders. In a tile the luminance (BT.601
//! studio-swing Y) goes through the network while Cb, Cr and alpha are resized by bicubic on a
//! second thread. With transparency, colour is resampled premultiplied by alpha and divided
//! back afterwards, so the colour hidden under fully transparent pixels never bleeds into
//! visible ones. Finished rows go straight to the [`Writer`].

use std::ops::Range;
use std::path::Path;

use image::{ColorType, DynamicImage};
use sesr_data::color::{rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb};
use sesr_data::photo::PhotoReader;
use sesr_data::plane::{quantize, PlaneF32};
use sesr_data::resize::imresize;
use sesr_data::UpscaleY;

use crate::error::{PhotoError, Result};
use crate::format::{OutputFormat, WriteOptions, OUTPUT_EXTENSIONS};
use crate::write::{metadata_notes, Layout, Writer};

/// LR rows of a band, halo included, when the image is taller.
pub const BAND_ROWS: usize = 512;
/// LR columns of a tile's core, when the image is wider.
pub const TILE_COLUMNS: usize = 1024;
/// The halo bicubic needs (its kernel reaches 2 LR pixels; one more for safety).
pub const BICUBIC_HALO: usize = 3;
/// The halo used for an engine that does not say its receptive radius: more than any SESR
/// preset needs (XL: 15).
pub const FALLBACK_HALO: usize = 32;
/// Bytes one LR pixel of a tile takes while it is worked on, per `scale * scale`: the Y, Cb,
/// Cr and alpha outputs as f32, bicubic's f64 passes.
const TILE_BYTES_PER_OUTPUT_PIXEL: u64 = 48;
/// Bytes one LR pixel of a tile takes at its own size (input planes, Y/Cb/Cr, f64 copy).
const TILE_BYTES_PER_INPUT_PIXEL: u64 = 48;

/// What [`upscale_photo`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpscaleReport {
    /// Width and height of the input as shown (EXIF orientation applied).
    pub input: (u32, u32),
    /// Width and height of the output.
    pub output: (u32, u32),
    /// Bits per sample of the output, 8 or 16.
    pub bits: u8,
    /// The output's format.
    pub format: OutputFormat,
    /// What could not be kept or was changed, as sentences for the user (empty when the
    /// output keeps everything of the input).
    pub notes: Vec<String>,
}

fn output_error(path: &Path, reason: String) -> PhotoError {
    PhotoError::Output {
        path: path.to_path_buf(),
        reason,
    }
}

/// How the output is laid out and what the input's pixels are.
#[derive(Clone, Copy, Debug)]
struct Plan {
    scale: usize,
    gray: bool,
    /// The output keeps the alpha channel.
    alpha_out: bool,
    /// Gray written as RGB (TIFF has no gray + alpha).
    expand_gray: bool,
    premultiply: bool,
    bits: u8,
    big_endian: bool,
    halo: usize,
}

impl Plan {
    fn out_channels(&self) -> usize {
        let colour = if self.gray && !self.expand_gray { 1 } else { 3 };
        colour + usize::from(self.alpha_out)
    }
}

/// Upscales the photo `input` by `model` into `output`, whose extension names the format
/// ([`OutputFormat`]), written atomically. The output is as the input looks in a viewer:
/// upright, with its ICC profile, PNG colour chunks and EXIF block where the format keeps
/// them; 16-bit samples stay 16-bit when the format stores them and the engine computes in
/// float. The report's notes say what could not be kept.
pub fn upscale_photo(
    input: &Path,
    output: &Path,
    model: &dyn UpscaleY,
    options: WriteOptions,
) -> Result<UpscaleReport> {
    let format = OutputFormat::from_path(output).ok_or_else(|| {
        output_error(
            output,
            format!("the extension names no format photos are written in; use {OUTPUT_EXTENSIONS}"),
        )
    })?;
    let reader = PhotoReader::open(input)?;
    let scale = model.scale();
    let (w, h) = reader.dimensions();
    let (ow, oh) = (u64::from(w) * scale as u64, u64::from(h) * scale as u64);
    if ow.max(oh) > format.max_side() {
        return Err(output_error(
            output,
            format!(
                "{} x{scale} is {ow}x{oh}, but {} stores at most {} pixels a side; write .png \
                 or .tiff",
                input.display(),
                format.name(),
                format.max_side()
            ),
        ));
    }
    let (ow, oh) = (ow as u32, oh as u32);
    let color = reader.color_type();
    let gray = matches!(
        color,
        ColorType::L8 | ColorType::La8 | ColorType::L16 | ColorType::La16
    );
    let alpha_in = color.has_alpha();
    let mut notes = Vec::new();
    let deep = color.bytes_per_pixel() / color.channel_count() > 1;
    let bits = if !deep {
        8
    } else if !format.keeps_16_bits() {
        notes.push(format!(
            "it has 16-bit samples, but {} stores 8 bits: the output is 8-bit (write .png or \
             .tiff to keep 16 bits)",
            format.name()
        ));
        8
    } else if model.luma_bits() == Some(8) {
        notes.push(
            "it has 16-bit samples, but an int8 model computes in 8 bits: the output is 8-bit \
             (use a float32 model, e.g. m5, to keep 16 bits)"
                .into(),
        );
        8
    } else {
        16
    };
    let halo = model
        .receptive_radius()
        .unwrap_or(FALLBACK_HALO)
        .max(BICUBIC_HALO);
    let mut plan = Plan {
        scale,
        gray,
        alpha_out: alpha_in && format.keeps_alpha(),
        expand_gray: gray && alpha_in && format == OutputFormat::Tiff,
        premultiply: false,
        bits,
        big_endian: format == OutputFormat::Png,
        halo,
    };
    let layout = Layout {
        width: ow,
        height: oh,
        channels: plan.out_channels() as u8,
        bits,
    };
    // Memory: one tile at work, one band of output rows, and the whole output for the
    // formats encoded at the end (WebP's encoder copies it once more).
    let tile_rows = BAND_ROWS.min(h as usize) as u64;
    let tile_cols = (TILE_COLUMNS + 2 * halo).min(w as usize) as u64;
    let s2 = (scale * scale) as u64;
    let tile =
        tile_rows * tile_cols * (TILE_BYTES_PER_INPUT_PIXEL + s2 * TILE_BYTES_PER_OUTPUT_PIXEL);
    let band = layout.row_bytes() as u64 * tile_rows * scale as u64;
    let whole = match format {
        OutputFormat::Png => 0,
        OutputFormat::WebP => layout.bytes() * 2,
        _ => layout.bytes(),
    };
    let photo = reader.decode(tile + band + whole)?;
    notes.extend(metadata_notes(format, &photo.metadata));
    if alpha_in {
        let opaque = is_opaque(&photo.image);
        plan.premultiply = !opaque;
        if !format.keeps_alpha() && !opaque {
            return Err(output_error(
                output,
                format!(
                    "{} has transparent pixels, which {} cannot store; write .png, .webp or \
                     .tiff",
                    input.display(),
                    format.name()
                ),
            ));
        }
    }
    sesr_model::atomic::write_atomic(output, |tmp| -> Result<()> {
        let file = std::fs::File::create(tmp).map_err(|e| output_error(tmp, e.to_string()))?;
        let mut writer = Writer::create(file, output, format, layout, &photo.metadata, options)?;
        plan.big_endian = writer.big_endian();
        for r0 in (0..h as usize).step_by(band_core_rows(h as usize, halo)) {
            let r1 = (r0 + band_core_rows(h as usize, halo)).min(h as usize);
            let rows = upscale_band(input, &photo.image, model, &plan, r0..r1)?;
            writer.write_rows(&rows)?;
        }
        writer.finish()
    })?;
    Ok(UpscaleReport {
        input: (w, h),
        output: (ow, oh),
        bits,
        format,
        notes,
    })
}

/// LR rows of a band's core: a band with its halos is [`BAND_ROWS`] tall.
fn band_core_rows(h: usize, halo: usize) -> usize {
    BAND_ROWS.saturating_sub(2 * halo).max(halo).max(16).min(h)
}

/// Whether every alpha sample is fully opaque.
fn is_opaque(image: &DynamicImage) -> bool {
    match image {
        DynamicImage::ImageLumaA8(b) => b.as_raw().chunks_exact(2).all(|p| p[1] == u8::MAX),
        DynamicImage::ImageRgba8(b) => b.as_raw().chunks_exact(4).all(|p| p[3] == u8::MAX),
        DynamicImage::ImageLumaA16(b) => b.as_raw().chunks_exact(2).all(|p| p[1] == u16::MAX),
        DynamicImage::ImageRgba16(b) => b.as_raw().chunks_exact(4).all(|p| p[3] == u16::MAX),
        DynamicImage::ImageRgba32F(b) => b.as_raw().chunks_exact(4).all(|p| p[3] >= 1.0),
        _ => true,
    }
}

/// One tile's LR planes: the colour planes (gray, or R, G, B), premultiplied when asked, and
/// alpha.
struct TilePlanes {
    colour: Vec<PlaneF32>,
    alpha: Option<PlaneF32>,
}

fn tile_planes(
    image: &DynamicImage,
    rows: Range<usize>,
    cols: Range<usize>,
    premultiply: bool,
) -> TilePlanes {
    // One call per pixel layout; the arguments are the layout and the tile.
    #[allow(clippy::too_many_arguments)]
    fn split<T: Copy>(
        raw: &[T],
        width: usize,
        channels: usize,
        alpha: bool,
        rows: &Range<usize>,
        cols: &Range<usize>,
        premultiply: bool,
        conv: impl Fn(T) -> f32,
    ) -> TilePlanes {
        let colour_channels = if alpha { channels - 1 } else { channels };
        let (tw, th) = (cols.len(), rows.len());
        let mut colour: Vec<PlaneF32> = (0..colour_channels)
            .map(|_| PlaneF32::new(tw, th))
            .collect();
        let mut alpha_plane = alpha.then(|| PlaneF32::new(tw, th));
        for (ty, y) in rows.clone().enumerate() {
            let row = &raw[(y * width + cols.start) * channels..(y * width + cols.end) * channels];
            for (tx, px) in row.chunks_exact(channels).enumerate() {
                let i = ty * tw + tx;
                let a = if alpha {
                    conv(px[channels - 1]).clamp(0.0, 1.0)
                } else {
                    1.0
                };
                for (c, plane) in colour.iter_mut().enumerate() {
                    let v = conv(px[c]);
                    plane.data[i] = if premultiply { v * a } else { v };
                }
                if let Some(p) = alpha_plane.as_mut() {
                    p.data[i] = a;
                }
            }
        }
        TilePlanes {
            colour,
            alpha: alpha_plane,
        }
    }
    let w = image.width() as usize;
    let (r, c, p) = (&rows, &cols, premultiply);
    let u8f = |v: u8| f32::from(v) / 255.0;
    let u16f = |v: u16| f32::from(v) / 65535.0;
    let f32f = |v: f32| v.clamp(0.0, 1.0);
    match image {
        DynamicImage::ImageLuma8(b) => split(b.as_raw(), w, 1, false, r, c, p, u8f),
        DynamicImage::ImageLumaA8(b) => split(b.as_raw(), w, 2, true, r, c, p, u8f),
        DynamicImage::ImageRgb8(b) => split(b.as_raw(), w, 3, false, r, c, p, u8f),
        DynamicImage::ImageRgba8(b) => split(b.as_raw(), w, 4, true, r, c, p, u8f),
        DynamicImage::ImageLuma16(b) => split(b.as_raw(), w, 1, false, r, c, p, u16f),
        DynamicImage::ImageLumaA16(b) => split(b.as_raw(), w, 2, true, r, c, p, u16f),
        DynamicImage::ImageRgb16(b) => split(b.as_raw(), w, 3, false, r, c, p, u16f),
        DynamicImage::ImageRgba16(b) => split(b.as_raw(), w, 4, true, r, c, p, u16f),
        DynamicImage::ImageRgb32F(b) => split(b.as_raw(), w, 3, false, r, c, p, f32f),
        DynamicImage::ImageRgba32F(b) => split(b.as_raw(), w, 4, true, r, c, p, f32f),
        // The reader delivers only the layouts above.
        other => split(other.to_rgba16().as_raw(), w, 4, true, r, c, p, u16f),
    }
}

/// The rows `core` of `plane` (an upscaled tile), columns `cols`, as a new plane.
fn crop(plane: &PlaneF32, rows: Range<usize>, cols: Range<usize>) -> PlaneF32 {
    let mut out = PlaneF32::new(cols.len(), rows.len());
    for (oy, y) in rows.enumerate() {
        let src = &plane.data[y * plane.width + cols.start..y * plane.width + cols.end];
        out.data[oy * cols.len()..(oy + 1) * cols.len()].copy_from_slice(src);
    }
    out
}

/// The output rows of LR rows `core`: every tile of the band through the network and
/// bicubic, as the writer's bytes.
fn upscale_band(
    input: &Path,
    image: &DynamicImage,
    model: &dyn UpscaleY,
    plan: &Plan,
    core: Range<usize>,
) -> Result<Vec<u8>> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let s = plan.scale;
    let channels = plan.out_channels();
    let sample = usize::from(plan.bits / 8);
    let row_bytes = w * s * channels * sample;
    let mut bytes = vec![0u8; row_bytes * core.len() * s];
    let rows = core.start.saturating_sub(plan.halo)..(core.end + plan.halo).min(h);
    for c0 in (0..w).step_by(TILE_COLUMNS) {
        let c1 = (c0 + TILE_COLUMNS).min(w);
        let cols = c0.saturating_sub(plan.halo)..(c1 + plan.halo).min(w);
        let tile = tile_planes(image, rows.clone(), cols.clone(), plan.premultiply);
        let (tw, th) = (cols.len(), rows.len());
        // The core's place in the upscaled tile.
        let out_rows = (core.start - rows.start) * s..(core.end - rows.start) * s;
        let out_cols = (c0 - cols.start) * s..(c1 - cols.start) * s;
        let (y, chroma) = if plan.gray {
            (tile.colour[0].map(|g| rgb_to_y(g, g, g)), Vec::new())
        } else {
            let mut planes = [
                PlaneF32::new(tw, th),
                PlaneF32::new(tw, th),
                PlaneF32::new(tw, th),
            ];
            let [r, g, b] = [&tile.colour[0], &tile.colour[1], &tile.colour[2]];
            for i in 0..tw * th {
                let ycc = rgb_to_ycbcr(r.data[i], g.data[i], b.data[i]);
                for (p, v) in planes.iter_mut().zip(ycc) {
                    p.data[i] = v;
                }
            }
            let [y, cb, cr] = planes;
            (y, vec![cb, cr])
        };
        drop(tile.colour);
        let mut others = chroma;
        others.extend(tile.alpha);
        let (sr_y, others) = std::thread::scope(|scope| {
            let resized = scope.spawn(|| {
                others
                    .iter()
                    .map(|p| {
                        crop(
                            &imresize(p, tw * s, th * s),
                            out_rows.clone(),
                            out_cols.clone(),
                        )
                    })
                    .collect::<Vec<_>>()
            });
            let sr_y = model.upscale_y(&y);
            (sr_y, resized.join())
        });
        let sr_y = sr_y.map_err(|source| PhotoError::Engine {
            path: input.to_path_buf(),
            source,
        })?;
        if sr_y.size() != (tw * s, th * s) {
            return Err(PhotoError::Engine {
                path: input.to_path_buf(),
                source: format!(
                    "the engine returned {}x{} for a {tw}x{th} tile at x{s}",
                    sr_y.width, sr_y.height
                )
                .into(),
            });
        }
        let others = others.map_err(|_| PhotoError::Engine {
            path: input.to_path_buf(),
            source: "the bicubic thread failed".into(),
        })?;
        let sr_y = crop(&sr_y, out_rows.clone(), out_cols.clone());
        let cw = out_cols.len();
        let (cb, cr, alpha) = if plan.gray {
            (None, None, others.first())
        } else {
            (others.first(), others.get(1), others.get(2))
        };
        let mut px = [0f32; 4];
        for oy in 0..out_rows.len() {
            let row = &mut bytes[oy * row_bytes..(oy + 1) * row_bytes];
            for ox in 0..cw {
                let i = oy * cw + ox;
                let yv = sr_y.data[i];
                let mut colour = match (cb, cr) {
                    (Some(cb), Some(cr)) => ycbcr_to_rgb(yv, cb.data[i], cr.data[i]),
                    _ => {
                        let g = (yv * 255.0 - 16.0) / 219.0;
                        [g, g, g]
                    }
                };
                let a = alpha.map_or(1.0, |p| p.data[i].clamp(0.0, 1.0));
                if plan.premultiply {
                    for c in &mut colour {
                        *c = if a > 0.0 {
                            (*c / a).clamp(0.0, 1.0)
                        } else {
                            0.0
                        };
                    }
                }
                let n = if plan.gray && !plan.expand_gray { 1 } else { 3 };
                px[..n].copy_from_slice(&colour[..n]);
                if plan.alpha_out {
                    px[n] = a;
                }
                let at = (c0 * s + ox) * channels * sample;
                let dst = &mut row[at..at + channels * sample];
                for (c, &v) in px[..channels].iter().enumerate() {
                    if sample == 1 {
                        dst[c] = quantize(v);
                    } else {
                        let q = (f64::from(v) * 65535.0 + 0.5) as u16;
                        let b = if plan.big_endian {
                            q.to_be_bytes()
                        } else {
                            q.to_ne_bytes()
                        };
                        dst[2 * c..2 * c + 2].copy_from_slice(&b);
                    }
                }
            }
        }
    }
    Ok(bytes)
}
