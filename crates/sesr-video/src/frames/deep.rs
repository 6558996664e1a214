//! Frames of 9 to 16 bits per sample (10-bit and 12-bit video, HDR included): the luma
//! through a float32 model without rounding to 8 bits, the chroma by the same sited bicubic.

use super::{VideoUpscaler, BLACK, SWING};
use crate::format::ColorRange;
use crate::{Result, VideoError};
use sesr_data::plane::PlaneF32;
use sesr_runtime::Precision;

/// One frame of 9 to 16 bits per sample, each in a 16-bit word: Y, then U and V (empty for
/// mono), row-major with no padding.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct YuvFrame16 {
    pub y: Vec<u16>,
    pub u: Vec<u16>,
    pub v: Vec<u16>,
}

/// How `bits`-bit luma codes map onto SESR's input, which is 8-bit Y / 255.
#[derive(Clone, Copy, Debug)]
struct Scale {
    /// Code = value * `unit` for limited range (studio swing scales by 2^(bits - 8), so
    /// 10-bit 64..940 is 8-bit 16..235 times 4); full range spans 0..=`max`.
    unit: f32,
    max: f32,
}

impl VideoUpscaler {
    /// Upscales a frame of `bits` bits per sample (9 to 16): the chroma on a second thread
    /// while SESR runs on the luma. Needs a float32 model: an int8 model takes 8-bit samples.
    pub fn upscale_frame16(&self, frame: &YuvFrame16, bits: u32) -> Result<YuvFrame16> {
        let scale = self.deep_scale(bits)?;
        let (luma, chroma) = self.input.plane_bytes();
        let sizes = (frame.y.len(), frame.u.len(), frame.v.len());
        if sizes != (luma, chroma, chroma) {
            return Err(VideoError::Format(format!(
                "a {}x{} {:?} frame has planes of {luma}, {chroma} and {chroma} samples, not \
                 {}, {} and {}",
                self.input.width, self.input.height, self.input.chroma, sizes.0, sizes.1, sizes.2
            )));
        }
        let top = scale.max as u16;
        let (y, (u, v)) = std::thread::scope(|s| {
            let colour = s.spawn(|| match &self.chroma {
                Some(resampler) => (
                    resampler.resample16(&frame.u, top),
                    resampler.resample16(&frame.v, top),
                ),
                None => (vec![], vec![]),
            });
            let y = self.upscale_luma_with(&frame.y, scale);
            (y, colour.join().expect("chroma resampling does not panic"))
        });
        Ok(YuvFrame16 { y: y?, u, v })
    }

    /// The luma plane of a `bits`-bit frame through SESR: exactly [`Upscaler::upscale_y`]
    /// of code / (255 * 2^(bits - 8)) for limited range (full range mapped onto the studio
    /// swing first, and back), rounded to `bits` bits.
    ///
    /// [`Upscaler::upscale_y`]: sesr_runtime::Upscaler::upscale_y
    pub fn upscale_luma16(&self, y: &[u16], bits: u32) -> Result<Vec<u16>> {
        let scale = self.deep_scale(bits)?;
        self.upscale_luma_with(y, scale)
    }

    fn deep_scale(&self, bits: u32) -> Result<Scale> {
        if !(9..=16).contains(&bits) {
            return Err(VideoError::Format(format!(
                "{bits} bits per sample: 16-bit frames hold 9 to 16 (8-bit video goes \
                 through upscale_frame)"
            )));
        }
        if self.upscaler.precision() == Precision::Int8 {
            return Err(VideoError::Format(format!(
                "the int8 model {} takes 8-bit samples; {bits}-bit video needs a float32 model \
                 (or conversion to 8 bits first)",
                self.upscaler.name().display()
            )));
        }
        Ok(Scale {
            unit: (255u32 << (bits - 8)) as f32,
            max: ((1u32 << bits) - 1) as f32,
        })
    }

    fn upscale_luma_with(&self, y: &[u16], scale: Scale) -> Result<Vec<u16>> {
        let (w, h) = (self.input.width, self.input.height);
        let full = self.input.range == ColorRange::Full;
        let values = y
            .iter()
            .map(|&s| match full {
                false => f32::from(s) / scale.unit,
                true => BLACK + f32::from(s) / scale.max * SWING,
            })
            .collect();
        let plane = PlaneF32::from_vec(w, h, values).ok_or_else(|| {
            VideoError::Format(format!(
                "the luma plane has {} samples, a {w}x{h} frame needs {}",
                y.len(),
                w * h
            ))
        })?;
        let big = self.upscaler.upscale_y(&plane)?;
        // `as` saturates: below 0 gives 0; the clamp keeps codes within `bits` bits.
        Ok(big
            .data
            .iter()
            .map(|&v| {
                let code = match full {
                    false => v * scale.unit,
                    true => (v - BLACK) / SWING * scale.max,
                };
                code.round().clamp(0.0, scale.max) as u16
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Chroma, ChromaSiting, FrameFormat};
    use sesr_runtime::Upscaler;

    fn format(range: ColorRange) -> FrameFormat {
        FrameFormat {
            width: 12,
            height: 8,
            chroma: Chroma::Yuv420(ChromaSiting::Left),
            range,
        }
    }

    #[test]
    fn ten_bit_luma_is_upscale_y_of_the_codes_over_1020() {
        let video = VideoUpscaler::new(
            Upscaler::pretrained("m5", 2).unwrap(),
            format(ColorRange::Limited),
        )
        .unwrap();
        let y: Vec<u16> = (0..96).map(|i| 64 + (i * 37 % 877) as u16).collect();
        let plane = PlaneF32::from_vec(12, 8, y.iter().map(|&s| f32::from(s) / 1020.0).collect());
        let expected = video.upscaler().upscale_y(&plane.unwrap()).unwrap();
        let got = video.upscale_luma16(&y, 10).unwrap();
        for (g, e) in got.iter().zip(&expected.data) {
            assert_eq!(*g, (e * 1020.0).round().clamp(0.0, 1023.0) as u16);
        }
        // A flat frame stays flat; its chroma keeps every 10-bit value.
        let flat = YuvFrame16 {
            y: vec![301; 96],
            u: vec![513; 24],
            v: vec![498; 24],
        };
        let big = video.upscale_frame16(&flat, 10).unwrap();
        assert!(big.u.iter().all(|&c| c == 513) && big.v.iter().all(|&c| c == 498));
        // SESR keeps a flat plane flat to within one 8-bit step, at the picture's edges too.
        let worst = big.y.iter().map(|&c| c.abs_diff(301)).max().unwrap();
        assert!(worst <= 4, "off by {worst} 10-bit steps");
    }

    #[test]
    fn int8_models_and_odd_depths_are_refused() {
        let int8 = VideoUpscaler::new(
            Upscaler::pretrained_int8("m5", 2).unwrap(),
            format(ColorRange::Limited),
        )
        .unwrap();
        let frame = YuvFrame16 {
            y: vec![0; 96],
            u: vec![0; 24],
            v: vec![0; 24],
        };
        let err = int8.upscale_frame16(&frame, 10).unwrap_err().to_string();
        assert!(err.contains("int8") && err.contains("float32"), "{err}");
        let float = VideoUpscaler::new(
            Upscaler::pretrained("m5", 2).unwrap(),
            format(ColorRange::Full),
        )
        .unwrap();
        assert!(float.upscale_frame16(&frame, 8).is_err());
        assert!(float.upscale_frame16(&frame, 12).is_ok());
    }
}
