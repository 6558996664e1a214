//! The encoder the upscaled frames go through, and the colour description it writes into the
//! output's video stream.

use crate::pixel::PixelLayout;
use crate::probe::VideoInfo;

/// What the user asked of the encoder; unset fields get defaults from the input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncoderSettings {
    /// ffmpeg's encoder name (`libx264`, `libx265`, `libsvtav1`, ...).
    pub codec: Option<String>,
    pub crf: Option<u32>,
    pub preset: Option<String>,
    pub pix_fmt: Option<String>,
}

/// The encoder as it runs: every value settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoder {
    pub codec: String,
    pub crf: Option<u32>,
    pub preset: Option<String>,
    pub pix_fmt: String,
}

/// The default CRF of the encoders that take one: visually transparent for x264 and x265.
pub const DEFAULT_CRF: u32 = 18;

impl EncoderSettings {
    /// Settles the defaults for frames of `layout`: x264 (x265 beyond 10 bits, which x264
    /// cannot write), CRF 18, preset `medium`, the frames' own pixel format.
    pub fn resolve(&self, layout: PixelLayout) -> Encoder {
        let codec = self.codec.clone().unwrap_or_else(|| {
            if layout.bits > 10 {
                "libx265".into()
            } else {
                "libx264".into()
            }
        });
        let x26x = matches!(codec.as_str(), "libx264" | "libx265");
        let takes_crf = x26x || matches!(codec.as_str(), "libsvtav1" | "libaom-av1" | "libvpx-vp9");
        let bits = match layout.bits {
            8 => 8,
            9 | 10 => 10,
            _ => 12,
        };
        Encoder {
            crf: self.crf.or(takes_crf.then_some(DEFAULT_CRF)),
            preset: self.preset.clone().or(x26x.then(|| "medium".to_string())),
            pix_fmt: self.pix_fmt.clone().unwrap_or_else(|| {
                PixelLayout {
                    bits,
                    ..layout.plain()
                }
                .pix_fmt()
            }),
            codec,
        }
    }
}

/// Range, matrix, primaries, transfer and chroma siting, as ffmpeg's options name them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Colour {
    pub full_range: bool,
    pub space: Option<String>,
    pub primaries: Option<String>,
    pub transfer: Option<String>,
    pub chroma_location: Option<String>,
}

impl Colour {
    /// ffmpeg's options for range, matrix, primaries, transfer and siting, each with
    /// `specifier` (e.g. `:0` for output stream 0; empty for all). A copied stream takes
    /// them too: the join writes them into the container for codecs whose bitstream has no
    /// place for them (FFV1).
    pub fn args(&self, specifier: &str) -> Vec<String> {
        let range = if self.full_range { "pc" } else { "tv" };
        let mut args = vec![format!("-color_range{specifier}"), range.into()];
        let fields = [
            ("-colorspace", &self.space),
            ("-color_primaries", &self.primaries),
            ("-color_trc", &self.transfer),
            ("-chroma_sample_location", &self.chroma_location),
        ];
        for (flag, value) in fields {
            if let Some(value) = value {
                args.extend([format!("{flag}{specifier}"), value.clone()]);
            }
        }
        args
    }

    pub fn of(video: &VideoInfo, layout: PixelLayout) -> Colour {
        Colour {
            full_range: layout.jpeg || video.color_range.as_deref() == Some("pc"),
            space: video.color_space.clone(),
            primaries: video.color_primaries.clone(),
            transfer: video.color_transfer.clone(),
            chroma_location: video.chroma_location.clone(),
        }
    }
}

impl Encoder {
    /// The output options of the encoding ffmpeg: codec, quality, pixel format and colour.
    pub fn args(&self, colour: &Colour) -> Vec<String> {
        let mut args = vec!["-c:v".to_string(), self.codec.clone()];
        if let Some(crf) = self.crf {
            args.extend(["-crf".into(), crf.to_string()]);
            if self.codec == "libvpx-vp9" {
                // Constant quality needs a zero bitrate target in libvpx.
                args.extend(["-b:v".into(), "0".into()]);
            }
        }
        if let Some(preset) = &self.preset {
            args.extend(["-preset".into(), preset.clone()]);
        }
        args.extend(["-pix_fmt".into(), self.pix_fmt.clone()]);
        args.extend(colour.args(""));
        args
    }

    /// One line for the user: `libx264 CRF 18 preset medium yuv420p`.
    pub fn describe(&self) -> String {
        let mut text = self.codec.clone();
        if let Some(crf) = self.crf {
            text += &format!(" CRF {crf}");
        }
        if let Some(preset) = &self.preset {
            text += &format!(" preset {preset}");
        }
        text + " " + &self.pix_fmt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_bit_depth() {
        let ten = PixelLayout::for_input("yuv420p10le").unwrap().layout;
        let enc = EncoderSettings::default().resolve(ten);
        assert_eq!(enc.describe(), "libx264 CRF 18 preset medium yuv420p10le");
        let twelve = PixelLayout::for_input("yuv422p12le").unwrap().layout;
        assert_eq!(
            EncoderSettings::default().resolve(twelve).describe(),
            "libx265 CRF 18 preset medium yuv422p12le"
        );
        let j = PixelLayout::for_input("yuvj420p").unwrap().layout;
        let chosen = EncoderSettings {
            codec: Some("mpeg4".into()),
            ..Default::default()
        }
        .resolve(j);
        assert_eq!(chosen.describe(), "mpeg4 yuv420p");
        let colour = Colour {
            full_range: true,
            transfer: Some("smpte2084".into()),
            ..Default::default()
        };
        let args = chosen.args(&colour).join(" ");
        assert_eq!(
            args,
            "-c:v mpeg4 -pix_fmt yuv420p -color_range pc -color_trc smpte2084"
        );
    }
}
