//! sesr-video: video through SESR, frame after frame.
//!
//! [`VideoUpscaler`] upscales 8-bit YUV frames ([`YuvFrame`], any size, 4:2:0, 4:2:2, 4:4:4
//! or mono, limited or full range) with a sesr-runtime [`Upscaler`](sesr_runtime::Upscaler),
//! float32 or int8: the luma through SESR, the chroma by bicubic interpolation on a second
//! thread meanwhile, sited as the format says. [`upscale_y4m`] streams a YUV4MPEG2 input to a
//! YUV4MPEG2 output, with reading, upscaling and writing overlapped and memory bounded by a
//! few frames, so it sits in an ffmpeg pipe:
//!
//! ```text
//! ffmpeg -i in.mp4 -f yuv4mpegpipe - | sesr-cli video | ffmpeg -i - -c:v libx264 out.mp4
//! ```
//!
//! ```no_run
//! use sesr_video::{upscale_y4m, VideoUpscaler, Y4mReader};
//!
//! # fn main() -> sesr_video::Result<()> {
//! let input = Y4mReader::open(std::fs::File::open("in.y4m").map_err(sesr_video::VideoError::Input)?)?;
//! let upscaler = sesr_runtime::Upscaler::pretrained_int8("m5", 2)?;
//! let video = VideoUpscaler::new(upscaler, input.format())?;
//! let output = std::io::BufWriter::new(std::io::stdout());
//! let report = upscale_y4m(input, &video, output, |frames| eprint!("\r{frames} frames"))?;
//! assert!(report.truncated.is_none());
//! # Ok(())
//! # }
//! ```

mod chroma;
pub mod error;
pub mod format;
mod frames;
pub mod stream;

pub use error::{Result, VideoError};
pub use format::{Chroma, ChromaSiting, ColorRange, FrameFormat};
pub use frames::{VideoUpscaler, YuvFrame, YuvFrame16};
pub use stream::{upscale_y4m, StreamReport, Truncation, Y4mReader};
