//! sesr-ffmpeg: ffmpeg and ffprobe run for SESR, so that any file ffmpeg reads can be
//! upscaled into any file ffmpeg writes, with its sound, subtitles, chapters and timing kept.
//!
//! - [`probe`](probe::probe): the input's streams, its video stream's size, pixel format and
//!   colour description, and the keyframes ([`probe::keyframes`]) segments are cut at.
//! - [`nut`]: raw frames with exact timestamps between ffmpeg and this process, over pipes,
//!   in ffmpeg's NUT container (reader and writer written here).
//! - [`Job`]: one run, from the checks before any work to the joined output: the decoding
//!   ffmpeg, a frame transform (SESR, given by the caller), one encoding ffmpeg per segment
//!   into a work folder beside the output, and the join that copies every other stream of the
//!   input; a killed run continues with `resume`, and gives the same frames.
//!
//! Nothing here knows SESR: the transform is a closure from planes to planes.
//!
//! ```no_run
//! use sesr_ffmpeg::{Frame, Job, JobOptions};
//!
//! # fn main() -> sesr_ffmpeg::Result<()> {
//! let options = JobOptions {
//!     input: "in.mkv".into(),
//!     output: "out.mkv".into(),
//!     encoder: Default::default(),
//!     subtitle_codec: None,
//!     segment_seconds: 60.0,
//!     resume: true,
//!     scale: 1,
//!     max_bits: None,
//!     transform: "identity".into(),
//!     show_commands: false,
//! };
//! let job = Job::prepare(options)?;
//! let report = job.run(|frame: Frame| Ok(frame.planes), |_| {})?;
//! println!("{} frames", report.frames);
//! # Ok(())
//! # }
//! ```

mod check;
pub mod encode;
pub mod error;
mod job;
mod join;
mod media;
pub mod nut;
pub mod pixel;
pub mod plan;
pub mod probe;
pub mod time;
pub mod tools;

pub use encode::{Colour, Encoder, EncoderSettings};
pub use error::{BoxError, FfmpegError, Result};
pub use job::{Frame, Job, JobOptions, JobReport, Progress};
pub use pixel::{PixelLayout, Planes, Subsampling};
pub use time::Timestamp;
pub use tools::Tools;
