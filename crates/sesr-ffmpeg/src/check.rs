//! Before any work: does the output's container take every stream of the input, and does
//! the encoder take its settings? A second's dry run of each into the work folder, turned
//! into a message that names the stream and what to choose instead.

use crate::media::Media;
use crate::{FfmpegError, Result};
use std::path::Path;

/// A short clip of black frames at the output size, standing in for the upscaled video.
fn dummy_video(width: u64, height: u64) -> Vec<String> {
    vec![
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!("color=black:s={width}x{height}:r=10:d=0.2"),
    ]
}

/// The encoder's options aimed at output stream 0 only (the others are copied).
fn on_first_stream(encoder_args: &[String]) -> Vec<String> {
    encoder_args
        .iter()
        .map(|a| match a.as_str() {
            "-c:v" => "-c:0".to_string(),
            "-pix_fmt" => "-pix_fmt:0".to_string(),
            _ => a.clone(),
        })
        .collect()
}

fn what_to_choose(kind: &str, ext: &str, index: usize) -> String {
    let drop = format!(
        "or leave the stream out of the input first (`ffmpeg -i IN -map 0 -map -0:{index} -c copy \
         IN2.mkv`)"
    );
    let choice = what_to_choose_first(kind, ext);
    format!("{choice}, {drop}")
}

fn what_to_choose_first(kind: &str, ext: &str) -> String {
    let subtitle = match ext {
        "mp4" | "m4v" | "mov" => "--subtitle-codec mov_text",
        "webm" => "--subtitle-codec webvtt",
        _ => "--subtitle-codec with a codec this container takes",
    };
    match kind {
        "subtitle" => {
            format!("choose .mkv (it holds every stream) or convert the subtitles with {subtitle}")
        }
        _ => "choose .mkv, which holds every stream".into(),
    }
}

/// Checks that `output`'s container holds the encoded video and a copy of every other stream
/// of the input; `check` is the scratch file (same extension as the output).
pub(crate) fn check_output(
    media: &Media,
    output: &Path,
    check: &Path,
    encoder_args: &[String],
    size: (u64, u64),
) -> Result<()> {
    let Media {
        tools,
        input,
        info,
        subtitle_codec,
    } = *media;
    let ext = output
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let others: Vec<_> = info
        .streams
        .iter()
        .filter(|s| s.index != info.video.index)
        .collect();
    let subtitles = |args: &mut Vec<String>| {
        if let Some(codec) = subtitle_codec {
            args.extend(["-c:s".into(), codec.into()]);
        }
    };
    let run = |args: Vec<String>| -> std::result::Result<(), String> {
        let mut command = tools.ffmpeg(args);
        command.arg(check);
        let result = tools.output(command, "the output check");
        let _ = std::fs::remove_file(check);
        match result {
            Ok(_) => Ok(()),
            Err(FfmpegError::Failed { stderr, .. }) => Err(stderr
                .lines()
                .filter(|l| !l.trim().is_empty())
                .take(3)
                .collect::<Vec<_>>()
                .join(" / ")),
            Err(e) => Err(e.to_string()),
        }
    };
    let mut all = vec!["-i".to_string(), input.to_string_lossy().into_owned()];
    all.extend(dummy_video(size.0, size.1));
    all.extend(["-map".into(), "1:v:0".into()]);
    for stream in &others {
        all.extend(["-map".into(), format!("0:{}", stream.index)]);
    }
    all.extend(["-c".into(), "copy".into()]);
    all.extend(on_first_stream(encoder_args));
    subtitles(&mut all);
    all.extend(["-map_metadata", "0", "-map_chapters", "0"].map(String::from));
    // As the join maps them: each copied stream's tags from its input stream.
    for (k, stream) in others.iter().enumerate() {
        all.extend([
            format!("-map_metadata:s:{}", k + 1),
            format!("0:s:{}", stream.index),
        ]);
    }
    all.extend(["-t", "0.1", "-y"].map(String::from));
    if run(all).is_ok() {
        return Ok(());
    }
    // Something does not fit: find what.
    let mut video = dummy_video(size.0, size.1);
    video.extend(["-map".into(), "0:v:0".into()]);
    video.extend(encoder_args.iter().cloned());
    video.extend(["-t", "0.1", "-y"].map(String::from));
    if let Err(reason) = run(video) {
        return Err(FfmpegError::Settings(format!(
            "--output {}: the encoder settings ({}) do not work for a {}x{} video in a .{ext} \
             file: {reason}; check --codec, --crf, --preset and --pix-fmt (`ffmpeg -encoders` \
             lists the encoders) and the output's extension",
            output.display(),
            encoder_args.join(" "),
            size.0,
            size.1
        )));
    }
    let mut refused = vec![];
    for stream in &others {
        let mut one = vec![
            "-i".to_string(),
            input.to_string_lossy().into_owned(),
            "-map".into(),
            format!("0:{}", stream.index),
            "-c".into(),
            "copy".into(),
        ];
        subtitles(&mut one);
        one.extend(["-map_metadata:s:0".into(), format!("0:s:{}", stream.index)]);
        one.extend(["-t", "0.1", "-y"].map(String::from));
        if let Err(reason) = run(one) {
            let label = stream
                .label
                .as_ref()
                .map(|l| format!(", `{l}`"))
                .unwrap_or_default();
            refused.push(format!(
                "stream #{} ({} {}{label}): {reason}; {}",
                stream.index,
                stream.kind,
                stream.codec,
                what_to_choose(&stream.kind, &ext, stream.index)
            ));
        }
    }
    if refused.is_empty() {
        refused.push("ffmpeg refuses the streams together; choose .mkv".into());
    }
    Err(FfmpegError::Container(format!(
        "--output {}: a .{ext} file cannot hold every stream of {}:\n  {}",
        output.display(),
        input.display(),
        refused.join("\n  ")
    )))
}
