//! Frame by frame: the luma through SESR, the chroma through [`ChromaResampler`], both at
//! once.

use crate::chroma::ChromaResampler;
use crate::format::{Chroma, ColorRange, FrameFormat};
use crate::{Result, VideoError};
use sesr_data::plane::{quantize, PlaneF32, PlaneU8};
use sesr_runtime::Upscaler;

/// One 8-bit frame: the Y plane, then U and V (empty for [`Chroma::Mono`]), each row-major
/// with no padding.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct YuvFrame {
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

/// Studio-swing black and white, as fractions of 255: SESR learnt on this luma range.
const BLACK: f32 = 16.0 / 255.0;
const SWING: f32 = 219.0 / 255.0;

/// Upscales frames of one [`FrameFormat`] with an [`Upscaler`] (float32 or int8).
///
/// ```no_run
/// use sesr_video::{Chroma, ChromaSiting, ColorRange, FrameFormat, VideoUpscaler, YuvFrame};
///
/// # fn main() -> sesr_video::Result<()> {
/// let format = FrameFormat {
///     width: 1920,
///     height: 1080,
///     chroma: Chroma::Yuv420(ChromaSiting::Left),
///     range: ColorRange::Limited,
/// };
/// let upscaler = sesr_runtime::Upscaler::pretrained_int8("m5", 2)?;
/// let video = VideoUpscaler::new(upscaler, format)?;
/// let (luma, chroma) = format.plane_bytes();
/// let frame = YuvFrame { y: vec![128; luma], u: vec![128; chroma], v: vec![128; chroma] };
/// let big = video.upscale_frame(&frame)?;
/// assert_eq!(big.y.len(), 3840 * 2160);
/// # Ok(())
/// # }
/// ```
pub struct VideoUpscaler {
    upscaler: Upscaler,
    input: FrameFormat,
    output: FrameFormat,
    chroma: Option<ChromaResampler>,
}

impl VideoUpscaler {
    /// Frames of `input`'s format; fails if their upscaled size is too large.
    pub fn new(upscaler: Upscaler, input: FrameFormat) -> Result<VideoUpscaler> {
        if input.width == 0 || input.height == 0 {
            return Err(VideoError::Format(format!(
                "a {}x{} frame has no pixels",
                input.width, input.height
            )));
        }
        let output = input.upscaled(upscaler.scale())?;
        let chroma = (input.chroma != Chroma::Mono).then(|| {
            ChromaResampler::new(
                input.chroma,
                input.chroma_size(),
                output.chroma_size(),
                upscaler.scale(),
            )
        });
        Ok(VideoUpscaler {
            upscaler,
            input,
            output,
            chroma,
        })
    }

    pub fn input_format(&self) -> FrameFormat {
        self.input
    }

    pub fn output_format(&self) -> FrameFormat {
        self.output
    }

    pub fn upscaler(&self) -> &Upscaler {
        &self.upscaler
    }

    /// Upscales one frame: the chroma on a second thread while SESR runs on the luma.
    pub fn upscale_frame(&self, frame: &YuvFrame) -> Result<YuvFrame> {
        let (luma, chroma) = self.input.plane_bytes();
        let sizes = (frame.y.len(), frame.u.len(), frame.v.len());
        if sizes != (luma, chroma, chroma) {
            return Err(VideoError::Format(format!(
                "a {}x{} {:?} frame has planes of {luma}, {chroma} and {chroma} bytes, not \
                 {}, {} and {}",
                self.input.width, self.input.height, self.input.chroma, sizes.0, sizes.1, sizes.2
            )));
        }
        let (y, (u, v)) = std::thread::scope(|s| {
            let colour = s.spawn(|| match &self.chroma {
                Some(resampler) => (resampler.resample(&frame.u), resampler.resample(&frame.v)),
                None => (vec![], vec![]),
            });
            let y = self.upscale_luma(&frame.y);
            (y, colour.join().expect("chroma resampling does not panic"))
        });
        Ok(YuvFrame { y: y?, u, v })
    }

    /// The luma plane through SESR: exactly `Upscaler::upscale_y` of the plane's values / 255
    /// (full range first mapped onto the studio swing SESR was trained on, and back), rounded
    /// to 8 bits like a saved PNG.
    pub fn upscale_luma(&self, y: &[u8]) -> Result<Vec<u8>> {
        let (w, h) = (self.input.width, self.input.height);
        let wrong_size = || {
            VideoError::Format(format!(
                "the luma plane has {} bytes, a {w}x{h} frame needs {}",
                y.len(),
                w * h
            ))
        };
        if self.input.range == ColorRange::Limited {
            let plane = PlaneU8::from_vec(w, h, y.to_vec()).ok_or_else(wrong_size)?;
            return Ok(self.upscaler.upscale_y_u8(&plane)?.data);
        }
        let values = y
            .iter()
            .map(|&b| BLACK + f32::from(b) / 255.0 * SWING)
            .collect();
        let plane = PlaneF32::from_vec(w, h, values).ok_or_else(wrong_size)?;
        let big = self.upscaler.upscale_y(&plane)?;
        Ok(big
            .data
            .iter()
            .map(|&v| quantize((v - BLACK) / SWING))
            .collect())
    }
}
