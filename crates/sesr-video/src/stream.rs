//! YUV4MPEG2 (`.y4m`) in and out, pipelined: a reader thread decodes frame n + 1 and a
//! writer thread writes frame n - 1 while frame n is upscaled, with at most one frame
//! waiting between stages, so memory stays bounded whatever the length of the video.
//!
//! The `y4m` crate parses; this module checks the header first (so that an unsupported one
//! gets a message naming its token), tells a truncated stream (a warning, the complete frames
//! kept) from a clean end, and writes the output itself, so that every header token (frame
//! rate, interlacing, pixel aspect, colour space, `X` extensions such as `XCOLORRANGE`) and
//! every frame's parameters pass through unchanged, only W and H replaced.

use crate::format::{Chroma, ChromaSiting, ColorRange, FrameFormat};
use crate::frames::{VideoUpscaler, YuvFrame};
use crate::{Result, VideoError};
use std::io::{self, BufRead, BufReader, Cursor, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;

/// The longest stream or frame header the `y4m` crate reads.
const MAX_HEADER: u64 = 1024;
const MAGIC: &[u8] = b"YUV4MPEG2 ";
/// `FRAME\n`: a frame header without parameters.
const FRAME_HEADER: u64 = 6;

/// Counts the bytes the decoder has taken, to tell a stream cut inside a frame from one that
/// ends between frames (the `y4m` crate reports both as end of file).
struct Counting<R> {
    inner: R,
    consumed: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

type Decoder<R> = y4m::Decoder<io::Chain<Cursor<Vec<u8>>, Counting<BufReader<R>>>>;

/// A frame and its y4m frame parameters (carried through unchanged).
type Y4mFrame = (YuvFrame, Option<Vec<u8>>);

/// A YUV4MPEG2 stream whose header has been read and accepted.
pub struct Y4mReader<R: Read> {
    decoder: Decoder<R>,
    consumed: Arc<AtomicU64>,
    format: FrameFormat,
    /// The stream header's parameters (after `YUV4MPEG2 `, without the newline).
    params: Vec<u8>,
    frames: u64,
}

/// Where a truncated stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// The incomplete frame, counting from 1.
    pub frame: u64,
    /// How many of its bytes (header included) the stream held.
    pub bytes: u64,
}

/// What [`upscale_y4m`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamReport {
    /// Frames written.
    pub frames: u64,
    /// Set when the input ended inside a frame; the frames before it were written.
    pub truncated: Option<Truncation>,
}

/// A header (or the bytes a stream starts with) as it can be shown in a message: at most
/// `max_chars` characters, control characters and bytes that are not UTF-8 escaped, so that
/// a file starting with terminal escape sequences or NUL bytes cannot reach the terminal raw.
fn header_text(line: &[u8], max_chars: usize) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    sesr_model::display::escape_bytes(line, max_chars)
}

/// The frame format a header's `C`, `I` and `XCOLORRANGE` tokens describe; refuses what
/// SESR cannot upscale as it stands.
fn parse_tokens(line: &[u8]) -> Result<(Chroma, ColorRange)> {
    let mut chroma = Chroma::Yuv420(ChromaSiting::Center);
    let mut range = ColorRange::Limited;
    let convert = "convert it with ffmpeg: `-pix_fmt yuv420p -f yuv4mpegpipe`";
    for token in line[MAGIC.len()..].trim_ascii_end().split(|&b| b == b' ') {
        let Some((&tag, value)) = token.split_first() else {
            continue;
        };
        match tag {
            b'C' => {
                chroma = match value {
                    b"420" | b"420jpeg" => Chroma::Yuv420(ChromaSiting::Center),
                    b"420mpeg2" => Chroma::Yuv420(ChromaSiting::Left),
                    b"420paldv" => Chroma::Yuv420(ChromaSiting::TopLeft),
                    b"422" => Chroma::Yuv422,
                    b"444" => Chroma::Yuv444,
                    b"mono" => Chroma::Mono,
                    _ => {
                        let value = header_text(value, 40);
                        let what = if value.contains('p') || value.ends_with("16") {
                            "more than 8 bits per sample"
                        } else {
                            "a chroma layout other than 4:2:0, 4:2:2, 4:4:4 or mono"
                        };
                        return Err(VideoError::Header(format!(
                            "colour space `C{value}` has {what}; sesr-video reads 8-bit \
                             4:2:0, 4:2:2, 4:4:4 and mono: {convert}"
                        )));
                    }
                }
            }
            b'I' if !matches!(value, b"p" | b"?") => {
                return Err(VideoError::Header(format!(
                    "the video is interlaced (`I{}`); SESR upscales progressive frames: \
                     deinterlace it first, e.g. ffmpeg's `-vf bwdif`",
                    header_text(value, 40)
                )))
            }
            b'X' if value == b"COLORRANGE=FULL" => range = ColorRange::Full,
            b'X' if value == b"COLORRANGE=LIMITED" => range = ColorRange::Limited,
            _ => {}
        }
    }
    Ok((chroma, range))
}

impl<R: Read> Y4mReader<R> {
    /// Reads and checks the stream header.
    pub fn open(reader: R) -> Result<Y4mReader<R>> {
        let mut reader = BufReader::with_capacity(1 << 20, reader);
        let mut line = Vec::new();
        (&mut reader)
            .take(MAX_HEADER)
            .read_until(b'\n', &mut line)
            .map_err(VideoError::Input)?;
        if line.is_empty() {
            return Err(VideoError::Header(
                "the input is empty: expected a YUV4MPEG2 stream".into(),
            ));
        }
        if !line.starts_with(MAGIC) {
            return Err(VideoError::Header(format!(
                "not a YUV4MPEG2 stream (it starts with `{}`); make one with \
                 `ffmpeg -i INPUT -f yuv4mpegpipe -`",
                header_text(&line, 24)
            )));
        }
        if line.last() != Some(&b'\n') {
            return Err(VideoError::Header(format!(
                "the y4m header `{}` does not end within {MAX_HEADER} bytes",
                header_text(&line, 120)
            )));
        }
        let (chroma, range) = parse_tokens(&line)?;
        let params = line[MAGIC.len()..line.len() - 1].to_vec();
        let consumed = Arc::new(AtomicU64::new(0));
        let counting = Counting {
            inner: reader,
            consumed: consumed.clone(),
        };
        let text = header_text(&line, 120);
        let decoder = y4m::Decoder::new(Cursor::new(line).chain(counting)).map_err(|e| {
            VideoError::Header(match e {
                y4m::Error::OutOfMemory => format!("`{text}`: a frame would exceed 1 GiB"),
                _ => format!(
                    "the y4m header `{text}` is malformed ({e}): it needs W and H as \
                     positive integers and F, A as ratios like 30000:1001"
                ),
            })
        })?;
        let format = FrameFormat {
            width: decoder.get_width(),
            height: decoder.get_height(),
            chroma,
            range,
        };
        Ok(Y4mReader {
            decoder,
            consumed,
            format,
            params,
            frames: 0,
        })
    }

    pub fn format(&self) -> FrameFormat {
        self.format
    }

    /// Frames per second as `numerator:denominator`.
    pub fn frame_rate(&self) -> (usize, usize) {
        let rate = self.decoder.get_framerate();
        (rate.num, rate.den)
    }

    /// How many frames a stream of `stream_bytes` in all holds, if its frame headers carry
    /// no parameters (ffmpeg's do not): for progress and ETA.
    pub fn frames_in(&self, stream_bytes: u64) -> u64 {
        let header = (MAGIC.len() + self.params.len() + 1) as u64;
        stream_bytes.saturating_sub(header) / (FRAME_HEADER + self.format.frame_bytes() as u64)
    }

    /// The next frame, `None` at a clean end; [`VideoError::Truncated`] if the stream ends
    /// inside a frame.
    pub fn read_frame(&mut self) -> Result<Option<YuvFrame>> {
        Ok(self.next_frame()?.map(|(frame, _)| frame))
    }

    /// The next frame with its y4m frame parameters.
    fn next_frame(&mut self) -> Result<Option<Y4mFrame>> {
        let before = self.consumed.load(Ordering::Relaxed);
        let frame = match self.decoder.read_frame() {
            Ok(frame) => frame,
            Err(y4m::Error::EOF) => {
                let bytes = self.consumed.load(Ordering::Relaxed) - before;
                return match bytes {
                    0 => Ok(None),
                    _ => Err(VideoError::Truncated(Truncation {
                        frame: self.frames + 1,
                        bytes,
                    })),
                };
            }
            Err(y4m::Error::IoError(e)) => return Err(VideoError::Input(e)),
            Err(e) => {
                return Err(VideoError::Stream(format!(
                    "frame {}: expected a `FRAME` header ({e}); the stream is corrupt after \
                     {} good frames",
                    self.frames + 1,
                    self.frames
                )))
            }
        };
        self.frames += 1;
        let params = frame.get_raw_params().map(<[u8]>::to_vec);
        let yuv = YuvFrame {
            y: frame.get_y_plane().to_vec(),
            u: frame.get_u_plane().to_vec(),
            v: frame.get_v_plane().to_vec(),
        };
        Ok(Some((yuv, params)))
    }

    /// The header of the upscaled stream: the input's, token for token (frame rate,
    /// interlacing, pixel aspect, colour space, `X` extensions, comments), with the new size.
    fn output_header(&self, output: FrameFormat) -> Vec<u8> {
        let mut header = MAGIC.to_vec();
        for (i, token) in self.params.split(|&b| b == b' ').enumerate() {
            if i > 0 {
                header.push(b' ');
            }
            match token.first() {
                Some(b'W') => header.extend(format!("W{}", output.width).bytes()),
                Some(b'H') => header.extend(format!("H{}", output.height).bytes()),
                _ => header.extend(token),
            }
        }
        header.push(b'\n');
        header
    }
}

/// A write error: the consumer closing the pipe is [`VideoError::OutputClosed`].
fn write_error(e: io::Error) -> VideoError {
    match e.kind() {
        io::ErrorKind::BrokenPipe => VideoError::OutputClosed,
        _ => VideoError::Output(e),
    }
}

/// One frame as y4m: `FRAME`, its parameters, a newline, the planes.
fn write_frame(output: &mut impl Write, (frame, params): &Y4mFrame) -> io::Result<()> {
    output.write_all(b"FRAME")?;
    if let Some(params) = params {
        output.write_all(b" ")?;
        output.write_all(params)?;
    }
    output.write_all(b"\n")?;
    output.write_all(&frame.y)?;
    output.write_all(&frame.u)?;
    output.write_all(&frame.v)
}

/// Upscales every frame of `input` into `output`, pipelined (see the module doc); `progress`
/// gets the count of frames upscaled so far after each one.
///
/// A stream that ends inside a frame is not an error: the complete frames are written and
/// [`StreamReport::truncated`] says where it ended.
pub fn upscale_y4m<R: Read + Send, W: Write + Send>(
    input: Y4mReader<R>,
    video: &VideoUpscaler,
    output: W,
    mut progress: impl FnMut(u64),
) -> Result<StreamReport> {
    if video.input_format() != input.format() {
        return Err(VideoError::Format(format!(
            "the upscaler takes {:?} frames, the stream has {:?}",
            video.input_format(),
            input.format()
        )));
    }
    let header = input.output_header(video.output_format());
    let mut input = input;
    let mut output = output;
    std::thread::scope(|s| {
        let (frames_tx, frames_rx) = sync_channel::<Y4mFrame>(1);
        let (done_tx, done_rx) = sync_channel::<Y4mFrame>(1);
        let reader = s.spawn(move || loop {
            match input.next_frame() {
                Ok(Some(frame)) => {
                    if frames_tx.send(frame).is_err() {
                        return Ok(None);
                    }
                }
                Ok(None) => return Ok(None),
                Err(VideoError::Truncated(at)) => return Ok(Some(at)),
                Err(e) => return Err(e),
            }
        });
        let writer = s.spawn(move || -> Result<u64> {
            output.write_all(&header).map_err(write_error)?;
            let mut written = 0;
            for frame in done_rx {
                write_frame(&mut output, &frame).map_err(write_error)?;
                written += 1;
            }
            output.flush().map_err(write_error)?;
            Ok(written)
        });
        let mut upscaled = 0;
        let mut failure = None;
        for (frame, params) in frames_rx {
            match video.upscale_frame(&frame) {
                Ok(big) => {
                    if done_tx.send((big, params)).is_err() {
                        break;
                    }
                    upscaled += 1;
                    progress(upscaled);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        drop(done_tx);
        let written = writer.join().expect("the y4m writer does not panic")?;
        if let Some(e) = failure {
            return Err(e);
        }
        let truncated = reader.join().expect("the y4m reader does not panic")?;
        Ok(StreamReport {
            frames: written,
            truncated,
        })
    })
}
