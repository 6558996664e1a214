//! `sesr-cli video`: upscale a YUV4MPEG2 stream (file or pipe) with sesr-video, so that SESR
//! sits between two ffmpeg commands, or any video file into any video file (`file`, through
//! sesr-ffmpeg). Progress goes to stderr; stdout can be the video.

mod file;

use crate::models::{model_ref, native};
use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sesr_model::atomic::same_file;
use sesr_runtime::Upscaler;
use sesr_video::{upscale_y4m, StreamReport, VideoError, VideoUpscaler, Y4mReader};
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args, Debug)]
pub struct VideoArgs {
    /// The model: a shipped model's name, PRESET[-xSCALE][-qat|-int8] (docs/models.md;
    /// m5-int8, the default, is SESR-M5 x2 int8), an int8 .tflite or a collapsed or training
    /// checkpoint (.safetensors with its .json).
    #[arg(
        long,
        visible_alias = "model",
        value_name = "NAME|FILE",
        default_value = "m5-int8"
    )]
    checkpoint: PathBuf,
    /// The input: any video file ffmpeg reads (.mkv, .mp4, .mov, ...), or a .y4m (8-bit
    /// 4:2:0, 4:2:2, 4:4:4 or mono) for the raw path; `-` reads y4m from standard input.
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    input: PathBuf,
    /// The output, written atomically: a video file (its extension picks the container; the
    /// input's sound, subtitles and chapters are copied in), or .y4m; `-` writes y4m to
    /// standard output.
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    output: PathBuf,
    /// Worker threads of the network (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    files: file::FileArgs,
}

/// The exit status when the consumer closed the output pipe: what a shell reports for a
/// process killed by SIGPIPE (128 + 13), so that `set -o pipefail` sees it.
pub const OUTPUT_CLOSED_STATUS: u8 = 141;

fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Whether two open files are one file on disk (a hard link or `>>` onto the input included).
#[cfg(unix)]
fn same_inode(a: &File, b: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.metadata(), b.metadata()) {
        (Ok(a), Ok(b)) => a.is_file() && (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_inode(_: &File, _: &File) -> bool {
    false
}

/// Whether descriptor 1 was closed when the program started (`>&-`): Rust's runtime then
/// opens `/dev/null` read-write in its place, where a shell's `> /dev/null` opens it
/// write-only (`/proc/self/fdinfo/1` tells the two apart).
#[cfg(target_os = "linux")]
fn stdout_was_closed(stdout: &File) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let (Ok(ours), Ok(null)) = (stdout.metadata(), std::fs::metadata("/dev/null")) else {
        return false;
    };
    if !ours.file_type().is_char_device() || ours.rdev() != null.rdev() {
        return false;
    }
    // `flags:\t0100002`, in octal; O_ACCMODE is 3 and O_RDWR 2.
    let info = std::fs::read_to_string("/proc/self/fdinfo/1").unwrap_or_default();
    let flags = info.lines().find_map(|line| line.strip_prefix("flags:"));
    flags
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .is_some_and(|flags| flags & 3 == 2)
}

#[cfg(not(target_os = "linux"))]
fn stdout_was_closed(_: &File) -> bool {
    false
}

/// Standard output as a file of its own (a duplicate of descriptor 1), so that writing to it
/// reports every error; refused when it was closed (`>&-`), where a run would write nothing
/// and report success.
fn stdout_file() -> Result<File> {
    use std::os::fd::AsFd;
    let closed = "--output -: standard output is closed (`>&-`), so the video would go \
                  nowhere; pipe it (`| ffmpeg -i - ...`), redirect it to a file, or give \
                  --output FILE.y4m";
    let fd = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| anyhow::anyhow!("{closed} ({e})"))?;
    let file = File::from(fd);
    if stdout_was_closed(&file) {
        bail!("{closed}");
    }
    Ok(file)
}

/// The network `--checkpoint` names, on `--threads` threads.
fn upscaler(args: &VideoArgs) -> Result<Upscaler> {
    let upscaler = native(
        "--checkpoint",
        &model_ref("--checkpoint", &args.checkpoint)?,
    )?;
    Ok(match args.threads {
        Some(threads) => upscaler.with_threads(threads)?,
        None => upscaler,
    })
}

pub fn run(args: &VideoArgs) -> Result<()> {
    if args.threads == Some(0) {
        bail!("--threads 0: give at least 1 worker thread (default: every core)");
    }
    if file::wants_files(&args.output) {
        let upscaler = upscaler(args)?;
        let model = args.checkpoint.display().to_string();
        return file::run(upscaler, &model, &args.input, &args.output, &args.files);
    }
    if is_stdio(&args.input) && std::io::stdin().is_terminal() {
        bail!("--input -: standard input is a terminal; pipe a stream in (`ffmpeg -i in.mp4 -f yuv4mpegpipe - | sesr-cli video ...`) or give --input FILE.y4m");
    }
    if args.output.is_dir() {
        bail!(
            "--output {} is a folder; give the file to write, e.g. {}",
            args.output.display(),
            args.output.join("out.y4m").display()
        );
    }
    if is_stdio(&args.output) && std::io::stdout().is_terminal() {
        bail!("--output -: standard output is a terminal; pipe it (`| ffmpeg -i - ...`) or give --output FILE.y4m");
    }
    // Before any file is opened: a closed descriptor 1 would be reused by the next open.
    let stdout = is_stdio(&args.output).then(stdout_file).transpose()?;
    if !is_stdio(&args.input) && !is_stdio(&args.output) && same_file(&args.input, &args.output) {
        bail!(
            "--output {} is the --input file: the upscaled video would replace the one being \
             read; write it under another name",
            args.output.display()
        );
    }
    let (input, stream_bytes): (Box<dyn Read + Send>, Option<u64>) = if is_stdio(&args.input) {
        (Box::new(std::io::stdin()), None)
    } else {
        let file = File::open(&args.input)
            .with_context(|| format!("cannot open --input {}", args.input.display()))?;
        let onto_input = match (&stdout, File::open(&args.output)) {
            (Some(stdout), _) => same_inode(&file, stdout),
            (None, Ok(output)) => same_inode(&file, &output),
            (None, Err(_)) => false,
        };
        if onto_input {
            bail!(
                "--output {} is the --input file {} (standard output redirected onto it, or a \
                 link to it): the upscaled video would replace the one being read; write it \
                 under another name",
                args.output.display(),
                args.input.display()
            );
        }
        let bytes = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        (Box::new(file), bytes)
    };
    let name = if is_stdio(&args.input) {
        "standard input".to_string()
    } else {
        args.input.display().to_string()
    };
    let input = Y4mReader::open(input).with_context(|| format!("--input {name}"))?;
    let video = VideoUpscaler::new(upscaler(args)?, input.format())
        .with_context(|| format!("--input {name}"))?;
    let (inp, out) = (video.input_format(), video.output_format());
    let expected = stream_bytes.map(|bytes| input.frames_in(bytes));
    let bar = progress_bar(expected);
    let start = Instant::now();
    let stream = |output: &mut (dyn Write + Send)| -> Result<StreamReport, VideoError> {
        upscale_y4m(input, &video, output, |frames| bar.set_position(frames))
    };
    let result = if let Some(stdout) = stdout {
        stream(&mut BufWriter::with_capacity(1 << 20, stdout))
    } else {
        let mut report = None;
        sesr_model::atomic::write_atomic(&args.output, |tmp| -> Result<()> {
            let file = File::create(tmp)
                .with_context(|| format!("cannot create --output {}", args.output.display()))?;
            report = Some(stream(&mut BufWriter::with_capacity(1 << 20, file))?);
            Ok(())
        })
        .map(|()| report.expect("written"))
        .map_err(|e| match e.downcast::<VideoError>() {
            Ok(e) => e,
            Err(e) => VideoError::Output(std::io::Error::other(format!("{e:#}"))),
        })
    };
    bar.finish_and_clear();
    let report = result.with_context(|| format!("--input {name}"))?;
    let seconds = start.elapsed().as_secs_f64();
    eprintln!(
        "sesr-cli video: {} frames {}x{} -> {}x{} in {seconds:.1} s ({:.2} frames/s)",
        report.frames,
        inp.width,
        inp.height,
        out.width,
        out.height,
        report.frames as f64 / seconds.max(1e-9)
    );
    if let Some(cut) = report.truncated {
        eprintln!(
            "warning: {name} ends inside frame {} ({} of its {} bytes); the {} complete \
             frames before it were written",
            cut.frame,
            cut.bytes,
            inp.frame_bytes() + 6,
            report.frames
        );
    } else if report.frames == 0 {
        eprintln!("warning: {name} holds no frames; the output is a header only");
    }
    Ok(())
}

/// Frames, frames per second and, when the length is known, ETA; drawn only on a terminal.
fn progress_bar(frames: Option<u64>) -> ProgressBar {
    let (bar, template) = match frames {
        Some(n) => (
            ProgressBar::new(n),
            "{pos}/{len} frames  {per_sec}  ETA {eta}  {wide_bar}",
        ),
        None => (
            ProgressBar::no_length(),
            "{pos} frames  {per_sec}  {elapsed}",
        ),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar
}
