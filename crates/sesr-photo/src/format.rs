//! What an output file's extension asks for, and the options of the writers.

use std::path::Path;

/// The formats photos are written in, chosen by the output's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// `.png`: 8 or 16 bits, alpha, ICC profile, `gAMA` / `cHRM` / `sRGB` / `cICP`, EXIF;
    /// written row by row.
    Png,
    /// `.jpg` / `.jpeg`: 8 bits, no alpha, sides up to 65535, ICC profile and EXIF.
    Jpeg,
    /// `.webp` (lossless): 8 bits, alpha, sides up to 16383, ICC profile and EXIF.
    WebP,
    /// `.tif` / `.tiff`: 8 or 16 bits, alpha, ICC profile.
    Tiff,
}

/// The extensions [`OutputFormat::from_path`] knows, for messages.
pub const OUTPUT_EXTENSIONS: &str = ".png, .jpg, .jpeg, .webp, .tif or .tiff";

impl OutputFormat {
    /// The format `path`'s extension names (case-insensitive), `None` for any other.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "png" => Self::Png,
            "jpg" | "jpeg" => Self::Jpeg,
            "webp" => Self::WebP,
            "tif" | "tiff" => Self::Tiff,
            _ => return None,
        })
    }

    /// The format's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
            Self::WebP => "WebP",
            Self::Tiff => "TIFF",
        }
    }

    /// Whether it stores 16-bit samples.
    pub fn keeps_16_bits(self) -> bool {
        matches!(self, Self::Png | Self::Tiff)
    }

    /// Whether it stores an alpha channel.
    pub fn keeps_alpha(self) -> bool {
        !matches!(self, Self::Jpeg)
    }

    /// The largest width or height it stores.
    pub fn max_side(self) -> u64 {
        match self {
            Self::Png | Self::Tiff => u64::from(u32::MAX),
            Self::Jpeg => 65_535,
            Self::WebP => 16_383,
        }
    }

    /// Whether it is written row by row (the output's pixels never all in memory).
    pub fn streams(self) -> bool {
        matches!(self, Self::Png)
    }
}

/// Options of the writers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// JPEG quality, 1 to 100 (other formats are lossless).
    pub jpeg_quality: u8,
}

impl WriteOptions {
    /// The default JPEG quality: high enough that the upscaled detail survives.
    pub const DEFAULT_JPEG_QUALITY: u8 = 92;
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            jpeg_quality: Self::DEFAULT_JPEG_QUALITY,
        }
    }
}
