//! What ffprobe says about an input: its streams, the video stream to upscale with its colour
//! properties, and where that stream's keyframes are.

use crate::nut::Rational;
use crate::time::Timestamp;
use crate::tools::Tools;
use crate::{FfmpegError, Result};
use serde::Deserialize;
use std::path::Path;

#[derive(Clone, Debug, Default, Deserialize)]
struct RawProbe {
    #[serde(default)]
    streams: Vec<RawStream>,
    #[serde(default)]
    format: RawFormat,
    #[serde(default)]
    chapters: Vec<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct RawFormat {
    format_name: Option<String>,
    duration: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct RawStream {
    index: usize,
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u64>,
    height: Option<u64>,
    pix_fmt: Option<String>,
    sample_aspect_ratio: Option<String>,
    color_range: Option<String>,
    color_space: Option<String>,
    color_transfer: Option<String>,
    color_primaries: Option<String>,
    chroma_location: Option<String>,
    field_order: Option<String>,
    time_base: Option<String>,
    start_time: Option<String>,
    duration: Option<String>,
    avg_frame_rate: Option<String>,
    #[serde(default)]
    disposition: std::collections::BTreeMap<String, i64>,
    #[serde(default)]
    tags: std::collections::BTreeMap<String, String>,
}

/// One stream of the input, as the messages about it need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    pub index: usize,
    /// `video`, `audio`, `subtitle`, `data` or `attachment`.
    pub kind: String,
    pub codec: String,
    /// The `title` or `language` tag, if any.
    pub label: Option<String>,
}

/// The video stream to upscale.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoInfo {
    pub index: usize,
    pub codec: String,
    pub width: u64,
    pub height: u64,
    pub pix_fmt: String,
    /// 1:1 when the input does not say.
    pub sample_aspect: Option<Rational>,
    /// ffmpeg's names (`tv`, `bt709`, `smpte2084`, `left`, ...); `None` when unknown.
    pub color_range: Option<String>,
    pub color_space: Option<String>,
    pub color_transfer: Option<String>,
    pub color_primaries: Option<String>,
    pub chroma_location: Option<String>,
    pub interlaced: bool,
    pub time_base: Rational,
    /// When the stream starts, in seconds, when known.
    pub start_time: Option<f64>,
    /// Frames per second on average, when known.
    pub frame_rate: Option<f64>,
}

/// What ffprobe found in a file.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaInfo {
    pub format: String,
    /// Seconds, when known.
    pub duration: Option<f64>,
    pub streams: Vec<StreamInfo>,
    pub chapters: usize,
    pub video: VideoInfo,
}

fn known(value: &Option<String>) -> Option<String> {
    value
        .clone()
        .filter(|v| !v.is_empty() && v != "unknown" && v != "unspecified" && v != "reserved")
}

fn ratio(text: &str, separator: char) -> Option<Rational> {
    let (num, den) = text.split_once(separator)?;
    let (num, den) = (num.trim().parse().ok()?, den.trim().parse().ok()?);
    (num > 0 && den > 0).then_some(Rational::new(num, den))
}

/// Runs `ffprobe -show_format -show_streams -show_chapters` on `path` and picks the first
/// video stream that is not a cover picture.
pub fn probe(tools: &Tools, path: &Path) -> Result<MediaInfo> {
    let mut command = tools.ffprobe([
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        "-show_chapters",
    ]);
    command.arg(path);
    let not_media = |message: String| FfmpegError::Input {
        path: path.to_path_buf(),
        message,
    };
    let out = match tools.output(command, "ffprobe") {
        Ok(out) => out,
        Err(FfmpegError::Failed { stderr, .. }) => {
            let reason = stderr.lines().last().unwrap_or("").trim().to_string();
            return Err(not_media(format!(
                "ffprobe cannot read it as a video file ({reason}); give a video file that \
                 ffmpeg reads (e.g. .mkv, .mp4, .mov, .webm)"
            )));
        }
        Err(e) => return Err(e),
    };
    let raw: RawProbe = serde_json::from_slice(&out)
        .map_err(|e| not_media(format!("ffprobe's report cannot be read: {e}")))?;
    let streams = raw
        .streams
        .iter()
        .map(|s| StreamInfo {
            index: s.index,
            kind: s.codec_type.clone().unwrap_or_else(|| "data".into()),
            codec: s.codec_name.clone().unwrap_or_else(|| "unknown".into()),
            label: s
                .tags
                .get("title")
                .or_else(|| s.tags.get("language"))
                .cloned(),
        })
        .collect();
    let video = raw
        .streams
        .iter()
        .find(|s| {
            s.codec_type.as_deref() == Some("video")
                && s.disposition.get("attached_pic").copied().unwrap_or(0) == 0
                && s.width.is_some_and(|w| w > 0)
        })
        .ok_or_else(|| {
            not_media(format!(
                "holds no video stream (ffprobe sees {} stream(s){})",
                raw.streams.len(),
                match raw.format.format_name.as_deref() {
                    Some(name) => format!(" as `{name}`"),
                    None => String::new(),
                }
            ))
        })?;
    let time_base = video
        .time_base
        .as_deref()
        .and_then(|t| ratio(t, '/'))
        .ok_or_else(|| not_media("the video stream has no time base".into()))?;
    let frame_rate = video
        .avg_frame_rate
        .as_deref()
        .and_then(|r| ratio(r, '/'))
        .map(Rational::as_f64);
    let interlaced = video
        .field_order
        .as_deref()
        .is_some_and(|f| matches!(f, "tt" | "bb" | "tb" | "bt"));
    let seconds = |text: &Option<String>| text.as_deref().and_then(|d| d.parse::<f64>().ok());
    Ok(MediaInfo {
        format: raw.format.format_name.clone().unwrap_or_default(),
        duration: seconds(&raw.format.duration).or_else(|| seconds(&video.duration)),
        streams,
        chapters: raw.chapters.len(),
        video: VideoInfo {
            index: video.index,
            codec: video.codec_name.clone().unwrap_or_default(),
            width: video.width.unwrap_or(0),
            height: video.height.unwrap_or(0),
            pix_fmt: video.pix_fmt.clone().unwrap_or_default(),
            sample_aspect: video
                .sample_aspect_ratio
                .as_deref()
                .and_then(|r| ratio(r, ':')),
            color_range: known(&video.color_range),
            color_space: known(&video.color_space),
            color_transfer: known(&video.color_transfer),
            color_primaries: known(&video.color_primaries),
            chroma_location: known(&video.chroma_location),
            interlaced,
            time_base,
            start_time: seconds(&video.start_time),
            frame_rate,
        },
    })
}

/// The presentation timestamps of the video stream's keyframes, in order (from its packets,
/// without decoding).
pub fn keyframes(tools: &Tools, path: &Path, video: &VideoInfo) -> Result<Vec<Timestamp>> {
    let mut command = tools.ffprobe([
        "-select_streams".to_string(),
        video.index.to_string(),
        "-show_entries".into(),
        "packet=pts,flags".into(),
        "-of".into(),
        "csv=p=0".into(),
    ]);
    command.arg(path);
    let out = tools.output(command, "ffprobe (keyframes)")?;
    let mut keys: Vec<Timestamp> = String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|line| {
            let (pts, flags) = line.trim().split_once(',')?;
            flags.starts_with('K').then_some(())?;
            Some(Timestamp::new(pts.parse().ok()?, video.time_base))
        })
        .collect();
    keys.sort();
    keys.dedup();
    Ok(keys)
}
