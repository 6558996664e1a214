//! Frame by frame: the luma through SESR, the chroma through [`ChromaResampler`], both at
//! once.

use crate::chroma::ChromaResampler;
use crate::format::{Chroma, ColorRange, FrameFormat};
use crate::{Result, VideoError};
use sesr_data::plane::{quantize, PlaneF32, PlaneU8};
use sesr_runtime::Upscaler;
use std::ops::RangeInclusive;

mod deep;
pub use deep::YuvFrame16;

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
    /// The luma bytes the network's input holds without clipping (see
    /// [`VideoUpscaler::upscale_luma`]).
    unclipped: std::ops::RangeInclusive<u8>,
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
        // Refused before any frame is read: limited-range luma goes through the byte path,
        // full range through float planes.
        let limit = match input.range {
            ColorRange::Limited => upscaler.max_output_pixels(),
            ColorRange::Full => sesr_runtime::MAX_OUTPUT_PIXELS,
        };
        if output.width.saturating_mul(output.height) > limit {
            return Err(VideoError::Format(format!(
                "a {}x{} frame upscaled x{} would have {}x{} pixels, more than the {limit} \
                 sesr-runtime upscales at once; scale the video down first (e.g. ffmpeg's \
                 `-vf scale=-2:2160`)",
                input.width,
                input.height,
                upscaler.scale(),
                output.width,
                output.height
            )));
        }
        let chroma = (input.chroma != Chroma::Mono).then(|| {
            ChromaResampler::new(
                input.chroma,
                input.chroma_size(),
                output.chroma_size(),
                upscaler.scale(),
            )
        });
        Ok(VideoUpscaler {
            unclipped: upscaler.unclipped_input_bytes(),
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
    ///
    /// Limited-range luma above white (236..=255, super-whites) or below black may lie
    /// outside what an int8 model's input holds (a QAT model's input range ends near 235):
    /// such a frame goes through the network clamped to that range, and the part that was
    /// clamped off is added back upscaled by bicubic, so highlights keep their level instead
    /// of flattening to the clip point. A frame whose luma is all inside (and every frame
    /// for a float32 model) is upscaled exactly as before, bit for bit.
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
            let (lo, hi) = (*self.unclipped.start(), *self.unclipped.end());
            if y.iter().all(|b| (lo..=hi).contains(b)) {
                let plane = PlaneU8::from_vec(w, h, y.to_vec()).ok_or_else(wrong_size)?;
                return Ok(self.upscaler.upscale_y_u8(&plane)?.data);
            }
            let clamped = y.iter().map(|&b| b.clamp(lo, hi)).collect();
            let plane = PlaneU8::from_vec(w, h, clamped).ok_or_else(wrong_size)?;
            let mut big = self.upscaler.upscale_y_u8(&plane)?;
            add_clipped_excess(&mut big, y, w, h, lo..=hi);
            return Ok(big.data);
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

/// Adds to `big` (the network's output on the clamped luma, `scale` times `w x h`) what the
/// clamp to `range` took off `y`, upscaled by bicubic (Keys, a = -0.5, on SESR's sampling
/// grid, as the chroma), rounded to 8 bits. Only the bounding box of the clamped pixels,
/// with the kernel's reach around it, is resampled: outside it the excess is zero.
fn add_clipped_excess(big: &mut PlaneU8, y: &[u8], w: usize, h: usize, range: RangeInclusive<u8>) {
    let scale = big.width / w;
    let excess = |b: u8| f32::from(b) - f32::from(b.clamp(*range.start(), *range.end()));
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for (row, line) in y.chunks_exact(w).enumerate() {
        if let Some(first) = line.iter().position(|b| !range.contains(b)) {
            let last = line
                .iter()
                .rposition(|b| !range.contains(b))
                .unwrap_or(first);
            (x0, x1) = (x0.min(first), x1.max(last + 1));
            (y0, y1) = (y0.min(row), y1.max(row + 1));
        }
    }
    if x0 >= x1 {
        return;
    }
    // Bicubic reaches 2 input pixels; one more keeps a border of zeros inside the crop, so
    // that the crop's edge handling sees what the whole frame's would.
    const REACH: usize = 3;
    let (x0, y0) = (x0.saturating_sub(REACH), y0.saturating_sub(REACH));
    let (x1, y1) = ((x1 + REACH).min(w), (y1 + REACH).min(h));
    let (cw, ch) = (x1 - x0, y1 - y0);
    let crop: Vec<f32> = (0..cw * ch)
        .map(|i| excess(y[(y0 + i / cw) * w + x0 + i % cw]))
        .collect();
    let up = ChromaResampler::new(Chroma::Yuv444, (cw, ch), (cw * scale, ch * scale), scale)
        .resample_f32(&crop);
    let up_width = cw * scale;
    for (r, row) in up.chunks_exact(up_width).enumerate() {
        let start = (y0 * scale + r) * big.width + x0 * scale;
        for (out, &e) in big.data[start..start + up_width].iter_mut().zip(row) {
            // `as` saturates to 0..=255.
            *out = (f32::from(*out) + e).round() as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The excess resampled over its bounding box equals the whole frame's excess resampled:
    /// the crop's border of zeros hides its edges.
    #[test]
    fn cropped_excess_equals_the_whole_frame_resampled() {
        let (w, h, scale) = (40usize, 30usize, 2usize);
        for (hot_x, hot_y) in [(20usize, 15usize), (0, 0), (39, 29), (5, 28)] {
            let y: Vec<u8> = (0..w * h)
                .map(|i| {
                    let (x, r) = (i % w, i / w);
                    let near = x.abs_diff(hot_x) <= 2 && r.abs_diff(hot_y) <= 1;
                    if near {
                        240 + (i % 16) as u8
                    } else {
                        100 + (i % 7) as u8
                    }
                })
                .collect();
            let base = PlaneU8::from_fn(w * scale, h * scale, |x, r| ((x + r) % 50 + 100) as u8);
            let mut cropped = base.clone();
            add_clipped_excess(&mut cropped, &y, w, h, 16..=235);
            let excess: Vec<f32> = y
                .iter()
                .map(|&b| f32::from(b) - f32::from(b.clamp(16, 235)))
                .collect();
            let whole = ChromaResampler::new(Chroma::Yuv444, (w, h), (w * scale, h * scale), scale)
                .resample_f32(&excess);
            let want: Vec<u8> = base
                .data
                .iter()
                .zip(&whole)
                .map(|(&b, &e)| (f32::from(b) + e).round() as u8)
                .collect();
            assert_eq!(cropped.data, want, "hot spot at ({hot_x}, {hot_y})");
            assert_ne!(cropped.data, base.data);
        }
    }
}
