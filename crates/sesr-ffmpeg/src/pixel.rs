//! The planar YUV layouts raw frames travel in between ffmpeg and SESR: which one an input
//! decodes to, how ffmpeg tags it in NUT, and the planes of a frame.

use crate::{FfmpegError, Result};

/// How the chroma planes are subsampled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Subsampling {
    /// Luma only.
    Mono,
    Yuv420,
    Yuv422,
    Yuv444,
}

impl Subsampling {
    /// Horizontal and vertical factors.
    pub fn factors(self) -> (usize, usize) {
        match self {
            Subsampling::Mono | Subsampling::Yuv444 => (1, 1),
            Subsampling::Yuv420 => (2, 2),
            Subsampling::Yuv422 => (2, 1),
        }
    }
}

/// A planar layout: subsampling and bits per sample (8, or 9 to 16 stored in 16-bit
/// little-endian words).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PixelLayout {
    pub subsampling: Subsampling,
    pub bits: u32,
    /// ffmpeg's `yuvj` variant (full range, tagged as such so that ffmpeg does not convert).
    pub jpeg: bool,
}

/// What an input's pixel format becomes for SESR, and whether ffmpeg converts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeChoice {
    pub layout: PixelLayout,
    /// False when ffmpeg converts the decoded frames (e.g. `nv12` to `yuv420p`, `rgb24` to
    /// `yuv444p`): a note for the user.
    pub exact: bool,
}

impl PixelLayout {
    /// ffmpeg's name of the layout (`yuv420p`, `yuvj420p`, `yuv422p10le`, `gray12le`).
    pub fn pix_fmt(self) -> String {
        let depth = if self.bits == 8 {
            String::new()
        } else {
            format!("{}le", self.bits)
        };
        match self.subsampling {
            Subsampling::Mono => format!("gray{depth}"),
            s => {
                let j = if self.jpeg && self.bits == 8 { "j" } else { "" };
                let chroma = match s {
                    Subsampling::Yuv420 => "420",
                    Subsampling::Yuv422 => "422",
                    _ => "444",
                };
                format!("yuv{j}{chroma}p{depth}")
            }
        }
    }

    /// The same layout without the `yuvj` tag (what the encoder is told it receives).
    pub fn plain(self) -> PixelLayout {
        PixelLayout {
            jpeg: false,
            ..self
        }
    }

    /// The codec tag ffmpeg's raw video has in NUT for this layout (libavcodec/raw.c).
    pub fn fourcc(self) -> Vec<u8> {
        if self.bits == 8 {
            return match self.subsampling {
                Subsampling::Mono => b"Y800".to_vec(),
                Subsampling::Yuv420 => b"I420".to_vec(),
                Subsampling::Yuv422 => b"Y42B".to_vec(),
                Subsampling::Yuv444 => b"444P".to_vec(),
            };
        }
        let bits = self.bits as u8;
        match self.subsampling {
            Subsampling::Mono => vec![b'Y', b'1', 0, bits],
            Subsampling::Yuv420 => vec![b'Y', b'3', 11, bits],
            Subsampling::Yuv422 => vec![b'Y', b'3', 10, bits],
            Subsampling::Yuv444 => vec![b'Y', b'3', 0, bits],
        }
    }

    /// Bytes per sample.
    pub fn sample_bytes(self) -> usize {
        if self.bits > 8 {
            2
        } else {
            1
        }
    }

    /// Samples in the luma plane and in each chroma plane of a `width` x `height` frame.
    pub fn plane_samples(self, width: usize, height: usize) -> (usize, usize) {
        if self.subsampling == Subsampling::Mono {
            return (width * height, 0);
        }
        let (sx, sy) = self.subsampling.factors();
        (width * height, width.div_ceil(sx) * height.div_ceil(sy))
    }

    pub fn frame_bytes(self, width: usize, height: usize) -> usize {
        let (luma, chroma) = self.plane_samples(width, height);
        (luma + 2 * chroma) * self.sample_bytes()
    }

    /// What `pix_fmt` (as ffprobe names it) decodes to.
    pub fn for_input(pix_fmt: &str) -> Result<DecodeChoice> {
        let refuse = || {
            FfmpegError::Settings(format!(
                "pixel format `{pix_fmt}` is not one sesr-ffmpeg can take; convert the input \
                 first, e.g. `ffmpeg -i IN -pix_fmt yuv420p ...`"
            ))
        };
        let name = pix_fmt.trim_end_matches("le");
        if let Some(stem) = name.strip_suffix("be") {
            // Big-endian words: ffmpeg converts them to the little-endian layout losslessly.
            let mut choice = PixelLayout::for_input(&format!("{stem}le"))?;
            choice.exact = false;
            return Ok(choice);
        }
        let exact = |subsampling, bits, jpeg| DecodeChoice {
            layout: PixelLayout {
                subsampling,
                bits,
                jpeg,
            },
            exact: true,
        };
        let depth = |digits: &str| -> Result<u32> {
            if digits.is_empty() {
                return Ok(8);
            }
            let bits: u32 = digits.parse().map_err(|_| refuse())?;
            Ok(match bits {
                0..=8 => 8,
                9..=16 => bits,
                _ => return Err(refuse()),
            })
        };
        if let Some(rest) = name.strip_prefix("gray") {
            return Ok(exact(Subsampling::Mono, depth(rest)?, false));
        }
        let (jpeg, rest) = match name.strip_prefix("yuvj") {
            Some(rest) => (true, rest),
            None => (false, name.strip_prefix("yuv").unwrap_or("")),
        };
        let planar = [
            ("420p", Subsampling::Yuv420),
            ("422p", Subsampling::Yuv422),
            ("444p", Subsampling::Yuv444),
        ];
        for (prefix, subsampling) in planar {
            if let Some(digits) = rest.strip_prefix(prefix) {
                return Ok(exact(subsampling, depth(digits)?, jpeg));
            }
        }
        // Everything else through ffmpeg's converter, into the nearest planar layout.
        let words = pix_fmt.ends_with("le") || pix_fmt.ends_with("be");
        let stem = &pix_fmt[..pix_fmt.len() - if words { 2 } else { 0 }];
        let deep = (words
            && ["9", "10", "12", "14", "16", "48", "64"]
                .iter()
                .any(|d| stem.ends_with(d)))
            || [
                "p010", "p016", "p210", "p216", "p410", "p416", "y210", "y212", "x2rgb10",
                "x2bgr10",
            ]
            .iter()
            .any(|f| pix_fmt.starts_with(f));
        let subsampling = if [
            "nv12", "nv21", "p010", "p016", "yuv410p", "yuv411p", "yuva420p",
        ]
        .iter()
        .any(|f| pix_fmt.starts_with(f))
        {
            Subsampling::Yuv420
        } else if ["nv16", "p210", "y210", "yuyv422", "uyvy422", "yuva422p"]
            .iter()
            .any(|f| pix_fmt.starts_with(f))
        {
            Subsampling::Yuv422
        } else if pix_fmt.is_empty() {
            return Err(refuse());
        } else {
            Subsampling::Yuv444
        };
        Ok(DecodeChoice {
            layout: PixelLayout {
                subsampling,
                bits: if deep { 10 } else { 8 },
                jpeg: false,
            },
            exact: false,
        })
    }
}

/// The three planes of a frame, 8-bit or 16-bit (U and V empty for mono).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Planes {
    Eight {
        y: Vec<u8>,
        u: Vec<u8>,
        v: Vec<u8>,
    },
    Deep {
        y: Vec<u16>,
        u: Vec<u16>,
        v: Vec<u16>,
    },
}

impl Planes {
    /// Splits a raw frame of `layout` and size into planes.
    pub fn from_bytes(
        layout: PixelLayout,
        width: usize,
        height: usize,
        data: &[u8],
    ) -> Result<Planes> {
        let expected = layout.frame_bytes(width, height);
        if data.len() != expected {
            return Err(FfmpegError::Nut(format!(
                "a {width}x{height} {} frame has {expected} bytes, this one {}",
                layout.pix_fmt(),
                data.len()
            )));
        }
        let (luma, chroma) = layout.plane_samples(width, height);
        if layout.sample_bytes() == 1 {
            let (y, rest) = data.split_at(luma);
            let (u, v) = rest.split_at(chroma);
            return Ok(Planes::Eight {
                y: y.to_vec(),
                u: u.to_vec(),
                v: v.to_vec(),
            });
        }
        let words = |bytes: &[u8]| -> Vec<u16> {
            bytes
                .chunks_exact(2)
                .map(|w| u16::from_le_bytes([w[0], w[1]]))
                .collect()
        };
        let (y, rest) = data.split_at(2 * luma);
        let (u, v) = rest.split_at(2 * chroma);
        Ok(Planes::Deep {
            y: words(y),
            u: words(u),
            v: words(v),
        })
    }

    /// The raw frame: Y, U, V, 16-bit samples little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Planes::Eight { y, u, v } => [y.as_slice(), u, v].concat(),
            Planes::Deep { y, u, v } => {
                let mut out = Vec::with_capacity(2 * (y.len() + u.len() + v.len()));
                for plane in [y, u, v] {
                    for s in plane {
                        out.extend_from_slice(&s.to_le_bytes());
                    }
                }
                out
            }
        }
    }

    /// Writes the raw frame (as [`Planes::to_bytes`] gives it) through `write`, plane by
    /// plane; `scratch` holds the little-endian bytes of a 16-bit plane.
    pub fn write_with<E>(
        &self,
        scratch: &mut Vec<u8>,
        write: impl FnOnce(&[&[u8]]) -> Result<(), E>,
    ) -> Result<(), E> {
        match self {
            Planes::Eight { y, u, v } => write(&[y, u, v]),
            Planes::Deep { y, u, v } => {
                scratch.clear();
                for plane in [y, u, v] {
                    scratch.extend(plane.iter().flat_map(|s| s.to_le_bytes()));
                }
                write(&[scratch])
            }
        }
    }

    /// Bytes of the frame as [`Planes::to_bytes`] writes it.
    pub fn byte_len(&self) -> usize {
        match self {
            Planes::Eight { y, u, v } => y.len() + u.len() + v.len(),
            Planes::Deep { y, u, v } => 2 * (y.len() + u.len() + v.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_and_tags_match_ffmpeg() {
        // Tags from `ffmpeg -pix_fmt P -c:v rawvideo -f nut` (ffmpeg 5.1), read with xxd.
        let cases: [(&str, &[u8]); 8] = [
            ("yuv420p", b"I420"),
            ("yuvj420p", b"I420"),
            ("yuv422p", b"Y42B"),
            ("yuv444p", b"444P"),
            ("gray", b"Y800"),
            ("yuv420p10le", &[b'Y', b'3', 11, 10]),
            ("yuv444p12le", &[b'Y', b'3', 0, 12]),
            ("gray10le", &[b'Y', b'1', 0, 10]),
        ];
        for (pix_fmt, tag) in cases {
            let choice = PixelLayout::for_input(pix_fmt).unwrap();
            assert!(choice.exact, "{pix_fmt}");
            assert_eq!(choice.layout.pix_fmt(), pix_fmt);
            assert_eq!(choice.layout.fourcc(), tag, "{pix_fmt}");
        }
        let nv12 = PixelLayout::for_input("nv12").unwrap();
        assert_eq!(
            (nv12.layout.pix_fmt().as_str(), nv12.exact),
            ("yuv420p", false)
        );
        let p010 = PixelLayout::for_input("p010le").unwrap();
        assert_eq!(p010.layout.pix_fmt(), "yuv420p10le");
        assert_eq!(
            PixelLayout::for_input("yuv420p10be").unwrap().layout.bits,
            10
        );
    }

    #[test]
    fn planes_round_trip_through_bytes() {
        let layout = PixelLayout::for_input("yuv420p10le").unwrap().layout;
        let data: Vec<u8> = (0..layout.frame_bytes(5, 3))
            .map(|i| (i % 4) as u8)
            .collect();
        let planes = Planes::from_bytes(layout, 5, 3, &data).unwrap();
        let Planes::Deep { y, u, .. } = &planes else {
            panic!("10-bit frames are deep")
        };
        assert_eq!((y.len(), u.len()), (15, 6));
        assert_eq!(planes.to_bytes(), data);
        let mut written = vec![];
        planes
            .write_with(&mut vec![], |parts| -> Result<(), ()> {
                written = parts.concat();
                Ok(())
            })
            .unwrap();
        assert_eq!(written, data);
        assert!(Planes::from_bytes(layout, 5, 4, &data).is_err());
    }
}
