//! The finished segments joined into the output, with every other stream of the input
//! copied beside them, timestamps untouched.
//!
//! ffmpeg's concat demuxer shifts file k's timestamps by `start_k - file_start_k`, where
//! `start_k` is the sum of the earlier files' `duration` lines and `file_start_k` the file's
//! own start (its first timestamp, in microseconds). With each duration set to the difference
//! of the segments' first timestamps in microseconds, every file is shifted by the same
//! `-first_start`, which `-itsoffset` gives back: with `-copyts` the joined video keeps the
//! input's timestamps exactly (to the microsecond, and exactly in its own time base), and so
//! stays in step with the audio and subtitles copied from the input.

use crate::encode::Colour;
use crate::media::Media;
use crate::plan::SegmentRecord;
use crate::time::seconds_text;
use crate::{FfmpegError, Result};
use std::path::{Path, PathBuf};

/// The concat script: `(file, first timestamp in microseconds)` of each segment with frames.
fn concat_script(segments: &[(PathBuf, i64)]) -> String {
    let mut script = String::from("ffconcat version 1.0\n");
    for (i, (path, start)) in segments.iter().enumerate() {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        script += &format!("file '{}'\n", name.replace('\'', r"'\''"));
        if let Some((_, next)) = segments.get(i + 1) {
            script += &format!("duration {}\n", seconds_text(next - start));
        }
    }
    script
}

/// Joins `segments` (path and record, in order) with the input's other streams into `joined`.
pub(crate) fn join(
    media: &Media,
    segments: &[(PathBuf, SegmentRecord)],
    colour: &Colour,
    list: &Path,
    joined: &Path,
) -> Result<()> {
    let Media {
        tools,
        input,
        info,
        subtitle_codec,
    } = *media;
    let starts: Vec<(PathBuf, i64)> = segments
        .iter()
        .filter_map(|(path, record)| Some((path.clone(), record.first_pts?.micros())))
        .collect();
    let Some(&(_, first)) = starts.first() else {
        return Err(FfmpegError::Input {
            path: input.to_path_buf(),
            message: "ffmpeg decoded no video frames from it".into(),
        });
    };
    std::fs::write(list, concat_script(&starts)).map_err(|source| FfmpegError::Io {
        action: "write",
        path: list.to_path_buf(),
        source,
    })?;
    let mut args: Vec<String> = vec!["-copyts".into()];
    if first != 0 {
        args.extend(["-itsoffset".into(), seconds_text(first)]);
    }
    args.extend(["-f", "concat", "-safe", "0", "-i"].map(String::from));
    args.push(list.to_string_lossy().into_owned());
    args.extend(["-i".into(), input.to_string_lossy().into_owned()]);
    // The input's stream order, the upscaled video in the place of the original.
    let mut video_out = 0;
    for (out, stream) in info.streams.iter().enumerate() {
        let source = if stream.index == info.video.index {
            video_out = out;
            "0:v:0".to_string()
        } else {
            format!("1:{}", stream.index)
        };
        args.extend(["-map".into(), source]);
    }
    args.extend(["-c".into(), "copy".into()]);
    if let Some(codec) = subtitle_codec {
        args.extend(["-c:s".into(), codec.into()]);
    }
    args.extend(colour.args(&format!(":{video_out}")));
    args.extend(["-map_metadata".into(), "1".into()]);
    args.extend(["-map_chapters".into(), "1".into()]);
    // Every stream's tags (language, title, an attachment's file name) from the input's
    // stream, the new video stream's from the old one's: any per-stream mapping turns off
    // ffmpeg's default copy, so all are mapped.
    for (out, stream) in info.streams.iter().enumerate() {
        args.extend([
            format!("-map_metadata:s:{out}"),
            format!("1:s:{}", stream.index),
        ]);
    }
    args.push("-y".into());
    args.push(joined.to_string_lossy().into_owned());
    tools.output(tools.ffmpeg(args), "ffmpeg joining the segments")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_differences_of_starts_in_microseconds() {
        let script = concat_script(&[
            (PathBuf::from("/w/seg-000000.nut"), 17_000),
            (PathBuf::from("/w/seg-000001.nut"), 1_600_000),
            (PathBuf::from("/w/seg-000002.nut"), 2_837_000),
        ]);
        assert_eq!(
            script,
            "ffconcat version 1.0\nfile 'seg-000000.nut'\nduration 1.583000\n\
             file 'seg-000001.nut'\nduration 1.237000\nfile 'seg-000002.nut'\n"
        );
    }
}
