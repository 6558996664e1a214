//! `sesr-cli video --input in.mkv --output out.mp4`: any file ffmpeg reads into any file it
//! writes, through sesr-ffmpeg (decoding, segmented encoding that resumes, the join that
//! copies sound, subtitles, chapters and metadata) with sesr-video upscaling each frame.

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sesr_ffmpeg::probe::probe;
use sesr_ffmpeg::{
    BoxError, EncoderSettings, Frame, Job, JobOptions, PixelLayout, Planes, Subsampling, Tools,
};
use sesr_runtime::{Precision, Upscaler};
use sesr_video::{Chroma, ChromaSiting, ColorRange, FrameFormat, VideoUpscaler, YuvFrame};
use std::path::Path;
use std::time::Instant;

/// The options of video files (input or output other than `.y4m` and pipes).
#[derive(Args, Debug, Default)]
pub struct FileArgs {
    /// Video encoder of the output, any ffmpeg has (default: libx264, libx265 beyond 10 bits).
    #[arg(long, value_name = "ENCODER")]
    codec: Option<String>,
    /// Constant quality of the encoder (default 18 for x264, x265, SVT-AV1, AOM AV1, VP9).
    #[arg(long, value_name = "N")]
    crf: Option<u32>,
    /// Encoder preset (default `medium` for x264 and x265).
    #[arg(long, value_name = "NAME")]
    preset: Option<String>,
    /// Pixel format of the output (default: the input's layout and bit depth).
    #[arg(long, value_name = "PIX_FMT")]
    pix_fmt: Option<String>,
    /// Re-encode the subtitles with this codec, for containers that do not take the
    /// input's (e.g. `mov_text` for SubRip or ASS subtitles in .mp4).
    #[arg(long, value_name = "CODEC")]
    subtitle_codec: Option<String>,
    /// Length of the segments a killed run resumes from: each starts at the first keyframe
    /// this long after the previous one.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    segment_seconds: f64,
    /// Continue a killed run from its work folder (`OUTPUT.sesr-work`), losing at most the
    /// segment it was encoding; the output is the same as an uninterrupted run's.
    #[arg(long)]
    resume: bool,
    /// Let an int8 model take 10- to 16-bit video by converting it to 8 bits (the output is
    /// then 8-bit); without it such input is refused (a float32 model, e.g. --model m5,
    /// keeps every bit).
    #[arg(long)]
    to_8bit: bool,
    /// Print each ffmpeg command line before running it.
    #[arg(long)]
    show_commands: bool,
}

/// Whether `path` is a YUV4MPEG2 stream (`-` or `.y4m`), which the y4m path takes.
fn is_y4m(path: &Path) -> bool {
    path.as_os_str() == "-"
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("y4m"))
}

/// Whether the job is one for ffmpeg: an output that is neither y4m nor a pipe or device
/// (a .y4m output, `-`, a FIFO or `/dev/null` take the y4m path, which says how to make y4m
/// of anything else).
pub fn wants_files(output: &Path) -> bool {
    !is_y4m(output) && !sesr_model::atomic::is_special_file(output)
}

fn siting(location: Option<&str>) -> ChromaSiting {
    match location {
        Some("center") => ChromaSiting::Center,
        Some("topleft") => ChromaSiting::TopLeft,
        // H.264, HEVC and MPEG-2's default for 4:2:0.
        _ => ChromaSiting::Left,
    }
}

/// One frame through SESR: the upscaler is made for the first frame's size.
fn upscale(
    video: &mut Option<VideoUpscaler>,
    upscaler: &mut Option<Upscaler>,
    job_format: impl Fn(usize, usize) -> FrameFormat,
    bits: u32,
    frame: Frame,
) -> Result<Planes, BoxError> {
    if video.is_none() {
        let upscaler = upscaler.take().ok_or("the upscaler is gone")?;
        *video = Some(VideoUpscaler::new(
            upscaler,
            job_format(frame.width, frame.height),
        )?);
    }
    let video = video.as_ref().expect("made above");
    Ok(match frame.planes {
        Planes::Eight { y, u, v } => {
            let big = video.upscale_frame(&YuvFrame { y, u, v })?;
            Planes::Eight {
                y: big.y,
                u: big.u,
                v: big.v,
            }
        }
        Planes::Deep { y, u, v } => {
            let big = video.upscale_frame16(&sesr_video::YuvFrame16 { y, u, v }, bits)?;
            Planes::Deep {
                y: big.y,
                u: big.u,
                v: big.v,
            }
        }
    })
}

fn hms(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Upscales `input` into `output` with `upscaler` (named `model` in messages).
pub fn run(
    upscaler: Upscaler,
    model: &str,
    input: &Path,
    output: &Path,
    args: &FileArgs,
) -> Result<()> {
    if input.as_os_str() == "-" {
        bail!(
            "--input -: a pipe carries YUV4MPEG2 only, and --output {} is a video file; give \
             files for both (`--input in.mkv --output out.mp4`), or pipe y4m on both sides \
             (`ffmpeg -i in.mkv -f yuv4mpegpipe - | sesr-cli video | ffmpeg -i - ...`)",
            output.display()
        );
    }
    if output.is_dir() {
        bail!(
            "--output {} is a folder; give the file to write, e.g. {}",
            output.display(),
            output.join("out.mkv").display()
        );
    }
    match std::fs::metadata(input) {
        Err(e) => bail!("cannot open --input {}: {e}", input.display()),
        Ok(m) if m.is_dir() => bail!(
            "--input {} is a folder; give a video file (one at a time)",
            input.display()
        ),
        Ok(_) => {}
    }
    if !(args.segment_seconds > 0.0 && args.segment_seconds.is_finite()) {
        bail!(
            "--segment-seconds {}: give a positive length, e.g. 60",
            args.segment_seconds
        );
    }
    let tools = Tools::find()?;
    let info = probe(&tools, input).context("--input")?;
    let bits = PixelLayout::for_input(&info.video.pix_fmt)
        .context("--input")?
        .layout
        .bits;
    let max_bits = match (bits > 8, upscaler.precision(), args.to_8bit) {
        (true, Precision::Int8, false) => bail!(
            "--input {} is {bits}-bit video ({}); the int8 model {model} takes 8-bit samples. \
             Choose: a float32 model keeps every bit (e.g. --model m5, about 3 times slower), \
             or --to-8bit converts the video to 8 bits (the output is then 8-bit too)",
            input.display(),
            info.video.pix_fmt
        ),
        (true, _, true) => {
            eprintln!(
                "warning: --to-8bit: {} is {bits}-bit; it is converted to 8 bits before SESR \
                 and the output is 8-bit",
                input.display()
            );
            Some(8)
        }
        _ => None,
    };
    let options = JobOptions {
        input: input.into(),
        output: output.into(),
        encoder: EncoderSettings {
            codec: args.codec.clone(),
            crf: args.crf,
            preset: args.preset.clone(),
            pix_fmt: args.pix_fmt.clone(),
        },
        subtitle_codec: args.subtitle_codec.clone(),
        segment_seconds: args.segment_seconds,
        resume: args.resume,
        scale: upscaler.scale(),
        max_bits,
        transform: format!("{model} x{}", upscaler.scale()),
        show_commands: args.show_commands,
    };
    let scale = upscaler.scale();
    let job = Job::prepare(options)?;
    describe(&job, model, input, output, scale);
    let bits = job.layout.bits;
    let chroma_location = job.colour.chroma_location.clone();
    let (subsampling, full_range) = (job.layout.subsampling, job.colour.full_range);
    let format = move |width, height| {
        let chroma = match subsampling {
            Subsampling::Mono => Chroma::Mono,
            Subsampling::Yuv420 => Chroma::Yuv420(siting(chroma_location.as_deref())),
            Subsampling::Yuv422 => Chroma::Yuv422,
            Subsampling::Yuv444 => Chroma::Yuv444,
        };
        FrameFormat {
            width,
            height,
            chroma,
            range: if full_range {
                ColorRange::Full
            } else {
                ColorRange::Limited
            },
        }
    };
    let bar = progress_bar(job.info.duration);
    bar.set_position((job.start_seconds() * 1000.0) as u64);
    bar.reset_eta();
    let (mut video, mut upscaler) = (None, Some(upscaler));
    let start = Instant::now();
    let report = job.run(
        |frame| upscale(&mut video, &mut upscaler, &format, bits, frame),
        |p| {
            bar.set_position((p.done_seconds.max(0.0) * 1000.0) as u64);
            let rate = p.frames as f64 / start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "{} frames, {rate:.2} frames/s",
                p.frames + p.resumed_frames
            ));
        },
    );
    bar.finish_and_clear();
    let report = report.with_context(|| format!("--input {}", input.display()))?;
    let seconds = start.elapsed().as_secs_f64();
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    eprintln!(
        "sesr-cli video: {} frames -> {} in {seconds:.1} s ({} upscaled now, {:.2} frames/s); \
         time: SESR {:.1} s, waiting for the decoder {:.1} s, for the encoder {:.1} s, \
         joining {:.1} s",
        report.frames,
        output.display(),
        report.transformed,
        report.transformed as f64 / report.stream_seconds.max(1e-9),
        report.transform_seconds,
        report.wait_decode_seconds,
        report.wait_encode_seconds,
        report.join_seconds
    );
    Ok(())
}

/// What is about to happen, printed before the work.
fn describe(job: &Job, model: &str, input: &Path, output: &Path, scale: usize) {
    let v = &job.info.video;
    let mut others = std::collections::BTreeMap::<&str, usize>::new();
    for s in job.info.streams.iter().filter(|s| s.index != v.index) {
        *others.entry(s.kind.as_str()).or_default() += 1;
    }
    let mut streams: Vec<String> = others.iter().map(|(k, n)| format!("{n} {k}")).collect();
    if job.info.chapters > 0 {
        streams.push(format!("{} chapters", job.info.chapters));
    }
    let rate = v
        .frame_rate
        .map(|r| format!(" {r:.3} fps"))
        .unwrap_or_default();
    let duration = job
        .info
        .duration
        .map(hms)
        .unwrap_or_else(|| "length unknown".into());
    eprintln!(
        "sesr-cli video: {}: {} {}x{} {}{rate}, {duration}{}{}",
        input.display(),
        v.codec,
        v.width,
        v.height,
        v.pix_fmt,
        if streams.is_empty() { "" } else { ", copied: " },
        streams.join(", ")
    );
    if !job.exact_layout {
        eprintln!(
            "note: ffmpeg converts {} to {} for SESR",
            v.pix_fmt,
            job.layout.pix_fmt()
        );
    }
    let resumed = match job.resumed_segments() {
        0 => String::new(),
        n => format!(", resuming after {n} done"),
    };
    eprintln!(
        "  -> {}: {}x{} by {model} (x{scale}), {}; {} segment{} in {}{resumed}",
        output.display(),
        v.width * scale as u64,
        v.height * scale as u64,
        job.encoder.describe(),
        job.segments(),
        if job.segments() == 1 { "" } else { "s" },
        job.work_dir().display()
    );
}

/// Input time done, with ETA from the input's duration; drawn only on a terminal.
fn progress_bar(duration: Option<f64>) -> ProgressBar {
    let (bar, template) = match duration {
        Some(seconds) => (
            ProgressBar::new((seconds * 1000.0) as u64),
            "{percent:>3}%  ETA {eta}  {msg}  {wide_bar}",
        ),
        None => (ProgressBar::no_length(), "{elapsed}  {msg}"),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar
}
