//! sesr-photo: photos through SESR, from file to file, as an image viewer shows them.
//!
//! [`upscale_photo`] reads a photo with `sesr_data::photo` (PNG, JPEG, WebP, TIFF, BMP, GIF;
//! EXIF orientation applied; animations, truncated JPEGs and images too large for memory
//! refused), upscales it in bands of rows through any [`UpscaleY`](sesr_data::UpscaleY)
//! engine ([`band`]: the luminance by SESR, colour and alpha by bicubic, colour premultiplied
//! by alpha; each band carries the network's receptive halo, so the result equals the whole
//! image's) and streams the rows into the output, written atomically in the format its
//! extension names ([`write`]: PNG, JPEG with a quality, WebP, TIFF) with the input's ICC
//! profile, PNG colour chunks and EXIF block. Peak memory is the decoded input, one band's
//! planes, and for the formats that are not written row by row (all but PNG) the output's
//! pixels. 16-bit photos stay 16-bit where the format and the engine allow; whatever cannot be
//! kept is said in the [`UpscaleReport`]'s notes, never dropped without a word.

pub mod band;
pub mod error;
pub mod format;
pub mod write;

pub use band::{upscale_photo, UpscaleReport};
pub use error::{PhotoError, Result};
pub use format::{OutputFormat, WriteOptions};
