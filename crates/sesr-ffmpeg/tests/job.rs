//! Whole jobs on clips made by ffmpeg, with a pixel-doubling transform standing in for SESR:
//! the other streams come through untouched, timestamps stay exact (variable frame rate
//! included), and a job stopped half-way continues into the same frames.

mod common;

use anyhow::{ensure, Context, Result};
use common::{ffmpeg, ffprobe};
use sesr_ffmpeg::{BoxError, FfmpegError, Frame, Job, JobOptions, Planes};
use std::path::{Path, PathBuf};

/// A command line's words (the tests' paths hold no spaces).
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// Each side doubled by repeating samples (any plane, any depth).
fn double<T: Copy>(plane: &[T], width: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(plane.len() * 4);
    for row in plane.chunks_exact(width) {
        let wide: Vec<T> = row.iter().flat_map(|&s| [s, s]).collect();
        out.extend_from_slice(&wide);
        out.extend_from_slice(&wide);
    }
    out
}

fn doubler(width: usize, chroma_width: usize) -> impl FnMut(Frame) -> Result<Planes, BoxError> {
    move |frame| {
        assert_eq!(frame.width, width);
        Ok(match frame.planes {
            Planes::Eight { y, u, v } => Planes::Eight {
                y: double(&y, width),
                u: double(&u, chroma_width),
                v: double(&v, chroma_width),
            },
            Planes::Deep { y, u, v } => Planes::Deep {
                y: double(&y, width),
                u: double(&u, chroma_width),
                v: double(&v, chroma_width),
            },
        })
    }
}

fn options(input: &Path, output: &Path) -> JobOptions {
    JobOptions {
        input: input.into(),
        output: output.into(),
        encoder: sesr_ffmpeg::EncoderSettings {
            preset: Some("ultrafast".into()),
            ..Default::default()
        },
        subtitle_codec: None,
        segment_seconds: 1.0,
        resume: false,
        scale: 2,
        max_bits: None,
        transform: "double".into(),
        show_commands: false,
    }
}

/// A 3 s 160x96 clip with AAC audio, SubRip subtitles, two chapters and a title.
fn clip_with_everything(dir: &Path) -> Result<PathBuf> {
    let subs = dir.join("subs.srt");
    std::fs::write(
        &subs,
        "1\n00:00:00,500 --> 00:00:01,500\nHello\n\n2\n00:00:02,000 --> 00:00:02,800\nWorld\n",
    )?;
    let meta = dir.join("meta.txt");
    std::fs::write(
        &meta,
        ";FFMETADATA1\ntitle=Test clip\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1500\n\
         title=One\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=1500\nEND=3000\ntitle=Two\n",
    )?;
    let clip = dir.join("clip.mkv");
    ffmpeg(&words(&format!(
        "-f lavfi -i testsrc2=s=160x96:r=25:d=3 -f lavfi -i sine=frequency=440:d=3 -i {} -i {} \
         -map 0 -map 1 -map 2 -map_metadata 3 -map_chapters 3 -c:v libx264 -g 25 \
         -pix_fmt yuv420p -c:a aac -c:s srt {}",
        subs.display(),
        meta.display(),
        clip.display()
    )))?;
    Ok(clip)
}

/// The per-packet MD5 of a stream (`ffmpeg -f streamhash`-like, through `-f framemd5`).
fn packet_md5(path: &Path, stream: &str) -> Result<Vec<String>> {
    let out = ffmpeg(&[
        "-i",
        path.to_str().unwrap(),
        "-map",
        stream,
        "-c",
        "copy",
        "-f",
        "framemd5",
        "-",
    ])?;
    Ok(String::from_utf8(out)?
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(',').nth(5).unwrap_or("").trim().to_string())
        .collect())
}

fn frame_times(path: &Path) -> Result<Vec<String>> {
    Ok(ffprobe(
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pts_time",
            "-of",
            "csv=p=0",
        ],
        path,
    )?
    .lines()
    .map(|l| l.trim_end_matches(',').to_string())
    .filter(|l| !l.is_empty())
    .collect())
}

#[test]
fn audio_subtitles_chapters_and_frames_come_through() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let clip = clip_with_everything(dir.path())?;
    let out = dir.path().join("out.mkv");
    let job = Job::prepare(options(&clip, &out))?;
    assert!(job.segments() >= 2, "{} segments", job.segments());
    let report = job.run(doubler(160, 80), |_| {})?;
    assert_eq!(report.frames, 75);
    assert!(!dir.path().join("out.mkv.sesr-work").exists());
    assert_eq!(packet_md5(&out, "0:a")?, packet_md5(&clip, "0:a")?);
    assert_eq!(packet_md5(&out, "0:s")?, packet_md5(&clip, "0:s")?);
    let streams = ffprobe(
        &[
            "-show_entries",
            "stream=codec_type,width,height",
            "-of",
            "csv=p=0",
        ],
        &out,
    )?;
    assert_eq!(
        streams.lines().collect::<Vec<_>>(),
        ["video,320,192", "audio", "subtitle,N/A,N/A"]
    );
    let chapters = ffprobe(
        &[
            "-show_entries",
            "chapter=start_time:chapter_tags=title",
            "-of",
            "csv=p=0",
        ],
        &out,
    )?;
    assert_eq!(
        chapters.lines().collect::<Vec<_>>(),
        ["0.000000,One", "1.500000,Two"]
    );
    assert_eq!(frame_times(&out)?, frame_times(&clip)?);
    let duration = |p: &Path| -> Result<f64> {
        Ok(
            ffprobe(&["-show_entries", "format=duration", "-of", "csv=p=0"], p)?
                .trim()
                .parse()?,
        )
    };
    assert!((duration(&out)? - duration(&clip)?).abs() <= 0.04);
    let title = ffprobe(
        &["-show_entries", "format_tags=title", "-of", "csv=p=0"],
        &out,
    )?;
    assert_eq!(title.trim(), "Test clip");
    // SubRip does not go into MP4: refused before any work, nothing written.
    let mp4 = dir.path().join("out.mp4");
    let err = Job::prepare(options(&clip, &mp4))
        .err()
        .context("mp4 with srt must fail")?;
    let text = err.to_string();
    assert!(matches!(err, FfmpegError::Container(_)), "{text}");
    assert!(
        text.contains("stream #2 (subtitle subrip") && text.contains("mov_text"),
        "{text}"
    );
    assert!(!mp4.exists() && !dir.path().join("out.mp4.sesr-work").exists());
    // ... unless converted.
    let mut converted = options(&clip, &mp4);
    converted.subtitle_codec = Some("mov_text".into());
    Job::prepare(converted)?.run(doubler(160, 80), |_| {})?;
    assert_eq!(packet_md5(&mp4, "0:a")?, packet_md5(&clip, "0:a")?);
    assert_eq!(frame_times(&mp4)?, frame_times(&clip)?);
    Ok(())
}

#[test]
fn variable_frame_rate_timestamps_are_kept() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let clip = dir.path().join("vfr.mp4");
    // Irregular steps (40 ms, +17 ms every third frame, then growing) in a 1/1000 time base,
    // 10-bit HDR10 colour, anamorphic pixels, B-frames.
    let filter = "setsar=4/3,settb=1/1000,\
                  setpts='N*40+if(mod(N\\,3)\\,0\\,17)+if(gt(N\\,40)\\,N*7\\,0)'";
    ffmpeg(&words(&format!(
        "-f lavfi -i testsrc2=s=96x64:r=25:d=3 -vf {filter} -fps_mode passthrough \
         -enc_time_base 1:1000 -c:v libx264 -g 20 -pix_fmt yuv420p10le -color_primaries bt2020 \
         -color_trc smpte2084 -colorspace bt2020nc -color_range tv -video_track_timescale 1000 {}",
        clip.display()
    )))?;
    let input_times = frame_times(&clip)?;
    let steps: std::collections::BTreeSet<String> = input_times
        .windows(2)
        .map(|w| {
            format!(
                "{:.3}",
                w[1].parse::<f64>().unwrap() - w[0].parse::<f64>().unwrap()
            )
        })
        .collect();
    ensure!(steps.len() > 3, "the clip is not VFR: steps {steps:?}");
    for ext in ["mp4", "mkv"] {
        let out = dir.path().join(format!("out.{ext}"));
        let report = Job::prepare(options(&clip, &out))?.run(doubler(96, 48), |_| {})?;
        assert_eq!(report.frames as usize, input_times.len());
        assert_eq!(frame_times(&out)?, input_times, "{ext}");
        let entries = "stream=pix_fmt,sample_aspect_ratio,color_range,color_space,\
                       color_transfer,color_primaries";
        let format = ffprobe(&["-show_entries", entries, "-of", "csv=p=0"], &out)?;
        assert_eq!(
            format.trim(),
            "4:3,yuv420p10le,tv,bt2020nc,smpte2084,bt2020",
            "{ext}"
        );
    }
    Ok(())
}

#[test]
fn a_stopped_job_resumes_into_the_same_frames() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let clip = clip_with_everything(dir.path())?;
    let whole = dir.path().join("whole.mkv");
    Job::prepare(options(&clip, &whole))?.run(doubler(160, 80), |_| {})?;
    let out = dir.path().join("out.mkv");
    let job = Job::prepare(options(&clip, &out))?;
    let work = job.work_dir().to_path_buf();
    let mut seen = 0;
    let mut transform = doubler(160, 80);
    let failed = job.run(
        move |frame| {
            seen += 1;
            if seen == 50 {
                return Err("stopped on purpose".into());
            }
            transform(frame)
        },
        |_| {},
    );
    assert!(failed.is_err());
    assert!(!out.exists(), "nothing under the output's name");
    assert!(work.join("seg-000000.json").exists());
    // Without --resume the folder is not touched.
    let err = Job::prepare(options(&clip, &out))
        .err()
        .context("must refuse")?;
    assert!(err.to_string().contains("--resume"), "{err}");
    let mut resume = options(&clip, &out);
    resume.resume = true;
    let job = Job::prepare(resume.clone())?;
    assert!(job.resumed_segments() >= 1);
    let report = job.run(doubler(160, 80), |_| {})?;
    assert!(
        report.transformed < 75,
        "{} frames transformed again",
        report.transformed
    );
    let md5 = |p: &Path| packet_md5_decoded(p);
    assert_eq!(md5(&out)?, md5(&whole)?);
    // Other settings: refused.
    let again = dir.path().join("again.mkv");
    Job::prepare(options(&clip, &again))?;
    let mut other = options(&clip, &again);
    other.resume = true;
    other.encoder.crf = Some(30);
    let err = Job::prepare(other).err().context("must refuse")?;
    assert!(err.to_string().contains("other settings"), "{err}");
    Ok(())
}

fn packet_md5_decoded(path: &Path) -> Result<Vec<String>> {
    let out = ffmpeg(&[
        "-i",
        path.to_str().unwrap(),
        "-map",
        "0:v",
        "-f",
        "framemd5",
        "-",
    ])?;
    Ok(String::from_utf8(out)?
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(String::from)
        .collect())
}

/// A transport stream (90 kHz, starting at 1.4 s, NTSC rate, MP2 sound): the output's
/// timestamps are those of the input copied into the same container (`-copyts -c copy`),
/// which rounds them to its own precision (Matroska: milliseconds).
#[test]
fn transport_stream_timestamps_match_a_remux() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let clip = dir.path().join("in.ts");
    ffmpeg(&words(&format!(
        "-f lavfi -i testsrc2=s=96x64:r=30000/1001:d=3 -f lavfi -i sine=d=3 -c:v libx264 -g 15 -pix_fmt yuv420p -c:a mp2 {}",
        clip.display()
    )))?;
    for ext in ["mkv", "mp4"] {
        let out = dir.path().join(format!("out.{ext}"));
        let report = Job::prepare(options(&clip, &out))?.run(doubler(96, 48), |_| {})?;
        let remux = dir.path().join(format!("remux.{ext}"));
        ffmpeg(&words(&format!(
            "-copyts -i {} -map 0 -c copy {}",
            clip.display(),
            remux.display()
        )))?;
        let a = frame_times(&remux)?;
        let b = frame_times(&out)?;
        assert_eq!(report.frames, 90);
        assert_eq!(a, b, "{ext}");
        assert_eq!(packet_md5(&out, "0:a")?, packet_md5(&clip, "0:a")?);
    }
    Ok(())
}
