//! What a frame is: its size, how its chroma is subsampled and sited, and its value range.

use crate::{Result, VideoError};

/// Where the samples of a 4:2:0 chroma plane sit relative to the luma grid (ffmpeg's
/// `chroma_sample_location`; y4m's `C420jpeg`, `C420mpeg2` and `C420paldv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChromaSiting {
    /// Between two luma columns and two luma rows (JPEG, MPEG-1, y4m `C420jpeg` and `C420`).
    Center,
    /// On the even luma columns, between two rows (MPEG-2, H.264's default, `C420mpeg2`).
    Left,
    /// On the even luma columns and rows (`C420paldv`).
    TopLeft,
}

/// The chroma planes of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chroma {
    /// Luma only (y4m `Cmono`).
    Mono,
    /// Half width, half height.
    Yuv420(ChromaSiting),
    /// Half width, full height; samples on the even luma columns (BT.601).
    Yuv422,
    /// Full resolution.
    Yuv444,
}

impl Chroma {
    /// Horizontal and vertical subsampling factors.
    pub fn subsampling(self) -> (usize, usize) {
        match self {
            Chroma::Mono | Chroma::Yuv444 => (1, 1),
            Chroma::Yuv420(_) => (2, 2),
            Chroma::Yuv422 => (2, 1),
        }
    }

    /// Where chroma sample 0 sits, in luma samples right of and below luma sample 0.
    pub(crate) fn siting(self) -> (f64, f64) {
        match self {
            Chroma::Yuv420(ChromaSiting::Center) => (0.5, 0.5),
            Chroma::Yuv420(ChromaSiting::Left) => (0.0, 0.5),
            Chroma::Yuv420(ChromaSiting::TopLeft) | Chroma::Yuv422 => (0.0, 0.0),
            Chroma::Mono | Chroma::Yuv444 => (0.0, 0.0),
        }
    }
}

/// The range of 8-bit sample values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorRange {
    /// Studio swing, luma 16..=235 (video's usual range, y4m's default, `XCOLORRANGE=LIMITED`).
    Limited,
    /// 0..=255 (`XCOLORRANGE=FULL`, ffmpeg's `yuvj` formats).
    Full,
}

/// The layout of one 8-bit frame: Y, then U and V (absent for [`Chroma::Mono`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameFormat {
    pub width: usize,
    pub height: usize,
    pub chroma: Chroma,
    pub range: ColorRange,
}

impl FrameFormat {
    /// Width and height of each chroma plane ((0, 0) for mono); odd sizes round up.
    pub fn chroma_size(&self) -> (usize, usize) {
        if self.chroma == Chroma::Mono {
            return (0, 0);
        }
        let (sx, sy) = self.chroma.subsampling();
        (self.width.div_ceil(sx), self.height.div_ceil(sy))
    }

    /// Bytes of the luma plane and of each chroma plane.
    pub fn plane_bytes(&self) -> (usize, usize) {
        let (cw, ch) = self.chroma_size();
        (self.width * self.height, cw * ch)
    }

    /// Bytes of a whole frame.
    pub fn frame_bytes(&self) -> usize {
        let (luma, chroma) = self.plane_bytes();
        luma + 2 * chroma
    }

    /// The same format, `scale` times wider and taller; fails if that size overflows.
    pub fn upscaled(&self, scale: usize) -> Result<FrameFormat> {
        let grow = |side: usize| side.checked_mul(scale);
        match (grow(self.width), grow(self.height)) {
            (Some(width), Some(height)) if width.checked_mul(height).is_some() => Ok(FrameFormat {
                width,
                height,
                ..*self
            }),
            _ => Err(VideoError::Format(format!(
                "a {}x{} frame upscaled x{scale} is too large",
                self.width, self.height
            ))),
        }
    }
}
