//! The evaluation protocol of the super-resolution literature, and colour handling for
//! upscaling whole images.
//!
//! Two variants of the protocol are in use ([`Protocol`]); both crop HR to a multiple of the
//! scale (`modcrop`, keeping the top-left corner), shave `scale` pixels at each border and
//! compute PSNR (peak 255) and SSIM (`ssim_index.m`) on 8-bit luminance:
//!
//! * [`Protocol::YFloat`] (SRCNN, VDSR and the tables that quote them, including the SESR
//!   paper's bicubic rows): `Y = rgb2ycbcr(uint8 HR)(:,:,1)` (a gray image is used as is),
//!   `lr = imresize(single(Y)/255, 1/scale, 'bicubic')` in floating point, never rounded; the
//!   result is `uint8(sr * 255)`. **This is the protocol that reproduces the published bicubic
//!   figures** (x2 Set5 33.66 dB / 0.9299, Set14 30.24 / 0.8688; x4 Set5 28.42 / 0.8104, Set14
//!   26.00 / 0.7027), and the default.
//! * [`Protocol::Rgb8`] (EDSR / RCAN benchmark files, DIV2K's official LR images):
//!   `lr = imresize(uint8 HR RGB, 1/scale, 'bicubic')` per channel, stored as 8-bit, and Y taken
//!   afterwards. LR quantization costs bicubic about 0.02 dB on Set5 x2; and the published
//!   tables treat gray images like `YFloat` does (see below).
//!
//! **Gray images** (Set14's `bridge.png`): the literature scores the gray values themselves,
//! not `rgb2ycbcr` of R = G = B (which would compress them to 16..235 and flatter PSNR by
//! 1.32 dB on that image). The network, trained on studio-swing Y, is still given studio-swing
//! input (`16/255 + 219/255 * gray`); [`EvalImage::to_metric_space`] maps its output back with
//! `gray = (Y * 255 - 16) / 219` before scoring. For RGB images the metric space is Y itself.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::color::{rgb_planes_to_ycbcr, ycbcr_planes_to_rgb};
use crate::error::{DataError, Result};
use crate::io::{
    has_image_extension, list_images, load_image_u8, Image, LoadedImage, LoadedImage8,
};
use crate::metrics::{psnr_y8, ssim_y8};
use crate::plane::{Plane, PlaneF32};
use crate::resize::{imresize_by, imresize_u8_by, Factor};

/// The LR image of the 8-bit protocol: `imresize(hr, 1/scale, 'bicubic')` on 8-bit data, per
/// channel, rounded to 8 bits after each pass as MATLAB does. `hr` should already be cropped
/// to a multiple of `scale` ([`Image::modcrop`]).
pub fn make_lr_u8(hr: &LoadedImage8, scale: usize) -> LoadedImage8 {
    hr.map_planes(|p| imresize_u8_by(p, Factor::Down(scale)))
}

/// How LR images are made for evaluation (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// SRCNN / VDSR: bicubic on the float Y plane of the 8-bit HR image, LR not rounded.
    /// Reproduces the published bicubic figures.
    #[default]
    YFloat,
    /// EDSR / DIV2K: bicubic on the 8-bit RGB image, LR rounded to 8 bits, then Y.
    Rgb8,
}

/// `16/255 + 219/255 * g`: studio-swing Y of a gray value in [0, 1] (R = G = B = g).
fn gray_to_y(g: f32) -> f32 {
    ((16.0 + 219.0 * f64::from(g)) / 255.0) as f32
}

/// Inverse of [`gray_to_y`].
fn y_to_gray(y: f32) -> f32 {
    ((f64::from(y) * 255.0 - 16.0) / 219.0) as f32
}

fn check_scale_fits(hr: &LoadedImage8, scale: usize) -> Result<()> {
    if scale == 0 || hr.width() < scale || hr.height() < scale {
        return Err(DataError::InvalidConfig {
            what: "image size",
            reason: format!(
                "a {}x{} image has no x{scale} low-resolution version (it needs at least \
                 {scale}x{scale} pixels); remove it from the folder",
                hr.width(),
                hr.height()
            ),
        });
    }
    Ok(())
}

/// One benchmark image prepared for evaluating a network.
#[derive(Clone, Debug)]
pub struct EvalImage {
    /// Image name (file stem).
    pub name: String,
    /// Upscaling factor; also the border shaved by [`EvalImage::score`].
    pub scale: usize,
    /// Whether the HR image is grayscale (scored on gray values, see the module docs).
    pub gray: bool,
    /// The network input: studio-swing Y of the LR image, `hr / scale` in size.
    pub lr_y: PlaneF32,
    /// The ground truth in metric space (Y for RGB, gray for gray), cropped to a multiple of
    /// `scale`; every value is a multiple of 1/255.
    pub hr: PlaneF32,
}

impl EvalImage {
    /// Prepares `hr` (8-bit) for evaluation at `scale` under `protocol`.
    pub fn new(
        name: impl Into<String>,
        hr: &LoadedImage8,
        scale: usize,
        protocol: Protocol,
    ) -> Result<Self> {
        check_scale_fits(hr, scale)?;
        let hr = hr.modcrop(scale);
        let gray = matches!(hr, Image::Gray(_));
        let truth = match &hr {
            Image::Gray(g) => g.to_f32(),
            Image::Rgb(_) => hr.to_y8().to_f32(),
        };
        let lr_y = match protocol {
            Protocol::YFloat => {
                let lr = imresize_by(&truth, Factor::Down(scale));
                if gray {
                    lr.map(gray_to_y)
                } else {
                    lr
                }
            }
            Protocol::Rgb8 => match make_lr_u8(&hr, scale) {
                Image::Gray(g) => g.to_f32().map(gray_to_y),
                lr @ Image::Rgb(_) => lr.to_y8().to_f32(),
            },
        };
        Ok(Self {
            name: name.into(),
            scale,
            gray,
            lr_y,
            hr: truth,
        })
    }

    /// Maps a network output (studio-swing Y) into the metric space of [`EvalImage::hr`]:
    /// unchanged for RGB images, `(Y * 255 - 16) / 219` for gray ones.
    pub fn to_metric_space(&self, sr_y: &PlaneF32) -> PlaneF32 {
        if self.gray {
            sr_y.map(y_to_gray)
        } else {
            sr_y.clone()
        }
    }

    /// PSNR and SSIM of a network output (studio-swing Y, `scale` times the LR size).
    ///
    /// # Panics
    /// When `sr_y` is not the size of [`EvalImage::hr`].
    pub fn score(&self, sr_y: &PlaneF32) -> Scores {
        score(&self.to_metric_space(sr_y), &self.hr, self.scale)
    }
}

/// The bicubic baseline of one image, every plane in metric space (Y for RGB images, gray
/// values for gray ones), ready for [`score`].
#[derive(Clone, Debug)]
pub struct Baseline {
    /// The LR plane.
    pub lr_y: PlaneF32,
    /// The LR plane upscaled by bicubic `imresize` (float for `YFloat`; for `Rgb8` each 8-bit
    /// channel upscaled on `uint8`, then Y).
    pub bicubic_y: PlaneF32,
    /// The HR ground truth, cropped to a multiple of `scale`.
    pub hr_y: PlaneF32,
}

/// The bicubic baseline of the standard protocol for one 8-bit HR image. With
/// [`Protocol::YFloat`] it reproduces the published bicubic figures.
pub fn bicubic_baseline(hr: &LoadedImage8, scale: usize, protocol: Protocol) -> Result<Baseline> {
    check_scale_fits(hr, scale)?;
    match protocol {
        Protocol::YFloat => {
            let e = EvalImage::new("", hr, scale, protocol)?;
            let lr = e.to_metric_space(&e.lr_y);
            let up = imresize_by(&lr, Factor::Up(scale));
            Ok(Baseline {
                lr_y: lr,
                bicubic_y: up,
                hr_y: e.hr,
            })
        }
        Protocol::Rgb8 => {
            let hr = hr.modcrop(scale);
            let lr = make_lr_u8(&hr, scale);
            let up = lr.map_planes(|p| imresize_u8_by(p, Factor::Up(scale)));
            let metric = |img: &LoadedImage8| match img {
                Image::Gray(g) => g.to_f32(),
                Image::Rgb(_) => img.to_y8().to_f32(),
            };
            Ok(Baseline {
                lr_y: metric(&lr),
                bicubic_y: metric(&up),
                hr_y: metric(&hr),
            })
        }
    }
}

/// PSNR (dB) and SSIM of one image.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// PSNR in dB on 8-bit Y, border cropped.
    pub psnr: f64,
    /// SSIM on 8-bit Y, border cropped.
    pub ssim: f64,
}

/// The literature's scores of `sr_y` against `hr_y`: 8-bit Y, `scale` pixels shaved at each
/// border.
///
/// # Panics
/// When the planes differ in size.
pub fn score(sr_y: &PlaneF32, hr_y: &PlaneF32, scale: usize) -> Scores {
    Scores {
        psnr: psnr_y8(sr_y, hr_y, scale),
        ssim: ssim_y8(sr_y, hr_y, scale),
    }
}

/// A benchmark image: its name and its 8-bit pixels.
#[derive(Clone, Debug)]
pub struct BenchmarkImage {
    /// File stem, e.g. `baby`.
    pub name: String,
    /// The file it came from.
    pub path: PathBuf,
    /// The decoded HR image.
    pub hr: LoadedImage8,
}

/// Loads every PNG/JPEG/BMP image of a benchmark folder (e.g. `Set5`), sorted by file name.
pub fn load_benchmark(dir: impl AsRef<Path>) -> Result<Vec<BenchmarkImage>> {
    let dir = dir.as_ref();
    let files = list_images(dir, "benchmark")?;
    files
        .into_iter()
        .filter(|p| has_image_extension(p))
        .map(|path| {
            let hr = load_image_u8(&path)?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(BenchmarkImage { name, path, hr })
        })
        .collect()
}

/// Combines a network's super-resolved Y with the chroma of the LR image, for writing a colour
/// result: Cb and Cr of `lr` are upscaled by bicubic `imresize` (float, not rounded), then
/// converted back to RGB with MATLAB's `ycbcr2rgb`. For a gray LR image the result is gray,
/// inverting the R = G = B convention of [`crate::io::load_y`]:
/// `gray = (Y * 255 - 16) / 219`. Values are not clamped (saving clamps).
///
/// `sr_y` must be `scale` times the size of `lr`.
pub fn merge_sr_y(lr: &LoadedImage, sr_y: &PlaneF32, scale: usize) -> Result<LoadedImage> {
    let (w, h) = (lr.width() * scale, lr.height() * scale);
    if sr_y.size() != (w, h) {
        return Err(DataError::InvalidConfig {
            what: "super-resolved Y size",
            reason: format!(
                "got {}x{}, expected {w}x{h} ({}x{} LR times {scale})",
                sr_y.width,
                sr_y.height,
                lr.width(),
                lr.height()
            ),
        });
    }
    Ok(match lr {
        Image::Gray(_) => Image::Gray(sr_y.map(|y| (y * 255.0 - 16.0) / 219.0)),
        Image::Rgb(rgb) => {
            let [_, cb, cr] = rgb_planes_to_ycbcr(rgb);
            let cb = imresize_by(&cb, Factor::Up(scale));
            let cr = imresize_by(&cr, Factor::Up(scale));
            Image::Rgb(ycbcr_planes_to_rgb(&[sr_y.clone(), cb, cr]))
        }
    })
}

/// Bicubic upscaling of a whole float image by an integer factor (per channel, not rounded):
/// the baseline the upscaling tool can compare against.
pub fn bicubic_upscale(lr: &LoadedImage, scale: usize) -> LoadedImage {
    lr.map_planes(|p: &Plane<f32>| imresize_by(p, Factor::Up(scale)))
}
