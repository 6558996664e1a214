//! A whole job: an input file through a frame transform (SESR) into an output file.
//!
//! [`Job::prepare`] does every check before any work (ffmpeg present, input readable, the
//! output's container holds every stream, the encoder takes its settings, a resumed run
//! matches its work folder) and plans the segments. [`Job::run`] decodes with one ffmpeg
//! (raw frames as NUT on its stdout), transforms each frame on the calling thread while a
//! reader thread parses the next one and a writer thread feeds the encoding ffmpeg of the
//! current segment, and finally joins the segments with the input's other streams into a
//! temporary file in the work folder, renamed over the output once complete.

use crate::check::check_output;
use crate::encode::{Colour, Encoder, EncoderSettings};
use crate::join::join;
use crate::media::Media;
use crate::nut::{NutReader, NutStream, NutWriter};
use crate::pixel::{PixelLayout, Planes};
use crate::plan::{segments, Plan, SegmentRecord, Settings, WorkFolder, PLAN_VERSION};
use crate::probe::{keyframes, probe, MediaInfo};
use crate::time::{seconds_text, Timestamp};
use crate::tools::{Process, Tools};
use crate::{BoxError, FfmpegError, Result};
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::time::Instant;

/// What a job does.
#[derive(Clone, Debug)]
pub struct JobOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    pub encoder: EncoderSettings,
    /// `-c:s` for the joined output (e.g. `mov_text` to put SubRip subtitles into MP4).
    pub subtitle_codec: Option<String>,
    /// Segments are cut at the first keyframe at least this long after the last cut.
    pub segment_seconds: f64,
    /// Continue the work folder of an earlier run.
    pub resume: bool,
    /// How many times larger the transform makes each side.
    pub scale: usize,
    /// At most this many bits per sample reach the transform (8 for an int8 model that the
    /// user allowed to take deep video as 8 bits).
    pub max_bits: Option<u32>,
    /// Names the transform (the model and its options) for `--resume`'s check.
    pub transform: String,
    /// Print each ffmpeg command line before running it.
    pub show_commands: bool,
}

/// A decoded frame for the transform: its size (as decoded, rotation applied) and planes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    pub planes: Planes,
}

/// Where a running job is.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Frames transformed by this run.
    pub frames: u64,
    /// Frames in the segments an earlier run finished.
    pub resumed_frames: u64,
    /// Seconds of the input done (from its start to the last frame transformed).
    pub done_seconds: f64,
    /// The input's duration in seconds, when known.
    pub total_seconds: Option<f64>,
}

/// What a finished job did, and where its time went.
#[derive(Clone, Debug, Default)]
pub struct JobReport {
    /// Video frames in the output.
    pub frames: u64,
    /// Frames transformed by this run (the others came from an earlier run's segments).
    pub transformed: u64,
    pub segments: usize,
    pub resumed_segments: usize,
    /// Seconds the transform took, the main thread waited for decoded frames, and waited for
    /// the encoder to take frames.
    pub transform_seconds: f64,
    pub wait_decode_seconds: f64,
    pub wait_encode_seconds: f64,
    /// Seconds from the first decoded frame to the last segment encoded.
    pub stream_seconds: f64,
    pub join_seconds: f64,
    /// Things the user should know (e.g. a resume that could not seek).
    pub notes: Vec<String>,
}

/// The temporary name of `path` while this process writes it (as `sesr_model::atomic`
/// names it, so that `remove_stale_temporaries` clears a killed run's).
fn temporary(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}

/// Waits for the segment being finished, if any, and passes on its error.
fn join_finisher(handle: &mut Option<std::thread::ScopedJoinHandle<'_, Result<()>>>) -> Result<()> {
    match handle.take() {
        Some(handle) => handle.join().expect("finishing a segment does not panic"),
        None => Ok(()),
    }
}

/// A prepared job; see the module doc.
pub struct Job {
    options: JobOptions,
    tools: Tools,
    pub info: MediaInfo,
    /// The frames the transform gets and must give back (at `scale` times the size).
    pub layout: PixelLayout,
    /// False when ffmpeg converts the input's pixel format to `layout`.
    pub exact_layout: bool,
    pub encoder: Encoder,
    pub colour: Colour,
    work: WorkFolder,
    plan: Plan,
    done: Vec<Option<SegmentRecord>>,
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> FfmpegError {
    let path = path.to_path_buf();
    move |source| FfmpegError::Io {
        action,
        path,
        source,
    }
}

impl Job {
    /// Checks everything that can be checked before the work and plans the segments (or
    /// reads the plan of the run being resumed).
    pub fn prepare(options: JobOptions) -> Result<Job> {
        let mut tools = Tools::find()?;
        tools.show_commands = options.show_commands;
        let (input, output) = (&options.input, &options.output);
        if options.segment_seconds.is_nan() || options.segment_seconds <= 0.0 || options.scale == 0
        {
            return Err(FfmpegError::Settings(format!(
                "segments of {} s at scale {}: both must be positive",
                options.segment_seconds, options.scale
            )));
        }
        let metadata = std::fs::metadata(input).map_err(io_error("read", input))?;
        if !metadata.is_file() {
            return Err(FfmpegError::Input {
                path: input.clone(),
                message: "is not a file".into(),
            });
        }
        if sesr_model::atomic::same_file(input, output) {
            return Err(FfmpegError::Settings(format!(
                "--output {} is the input: choose another file",
                output.display()
            )));
        }
        if output.is_dir() || output.file_name().is_none() {
            return Err(FfmpegError::Settings(format!(
                "--output {} is a folder; give the file to write, e.g. {}",
                output.display(),
                output.join("out.mkv").display()
            )));
        }
        if output.extension().is_none() {
            return Err(FfmpegError::Settings(format!(
                "--output {} has no extension: ffmpeg picks the container by it (.mkv holds \
                 every stream; .mp4, .mov, .webm)",
                output.display()
            )));
        }
        let info = probe(&tools, input)?;
        if info.video.interlaced {
            return Err(FfmpegError::Input {
                path: input.clone(),
                message: "the video is interlaced; SESR upscales progressive frames: \
                          deinterlace it first, e.g. `ffmpeg -i IN -vf bwdif -c:a copy OUT`"
                    .into(),
            });
        }
        if let Some(start) = info.video.start_time.filter(|&t| t < 0.0) {
            // NUT, which carries the frames, has no negative timestamps.
            return Err(FfmpegError::Input {
                path: input.clone(),
                message: format!(
                    "the video starts at a negative time ({start:.6} s), which the frames' \
                     pipe cannot carry exactly; shift the whole file first: `ffmpeg -i IN -map \
                     0 -c copy -avoid_negative_ts make_zero OUT.mkv`"
                ),
            });
        }
        let choice = PixelLayout::for_input(&info.video.pix_fmt)?;
        let mut layout = choice.layout;
        if let Some(max) = options.max_bits {
            if layout.bits > max {
                layout.bits = max.max(8);
            }
        }
        let encoder = options.encoder.resolve(layout);
        let colour = Colour::of(&info.video, layout);
        let encoder_args = encoder.args(&colour);
        let modified = metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let settings = Settings {
            input: input.canonicalize().unwrap_or_else(|_| input.clone()),
            input_bytes: metadata.len(),
            input_modified: modified,
            video_stream: info.video.index,
            decode_pix_fmt: layout.pix_fmt(),
            encoder: encoder_args.clone(),
            transform: options.transform.clone(),
            scale: options.scale,
            segment_seconds: options.segment_seconds,
        };
        let work = WorkFolder::of(output);
        let existing = match work.dir.is_dir() {
            true => work.read_plan()?,
            false => None,
        };
        if let Some(plan) = &existing {
            if !options.resume {
                let done = (0..plan.segments.len())
                    .filter(|&i| work.finished(i).is_some())
                    .count();
                return Err(FfmpegError::Resume(format!(
                    "--output {}: an earlier run left {done} of {} segments in {}; add \
                     --resume to continue it, or delete that folder to start again",
                    output.display(),
                    plan.segments.len(),
                    work.dir.display()
                )));
            }
            let differences = plan.settings.differences(&settings);
            if !differences.is_empty() {
                return Err(FfmpegError::Resume(format!(
                    "--resume: the run in {} was started with other settings ({}); run with \
                     the same input and options, or delete that folder to start again",
                    work.dir.display(),
                    differences.join("; ")
                )));
            }
        }
        let created = !work.dir.exists();
        std::fs::create_dir_all(&work.dir).map_err(|source| FfmpegError::Io {
            action: "create the work folder (beside --output; is its folder writable?)",
            path: work.dir.clone(),
            source,
        })?;
        let cleanup = |e: FfmpegError| {
            if created {
                let _ = std::fs::remove_dir_all(&work.dir);
            }
            e
        };
        sesr_model::atomic::remove_stale_temporaries(&work.dir).map_err(|e| cleanup(e.into()))?;
        let size = (
            info.video.width * options.scale as u64,
            info.video.height * options.scale as u64,
        );
        let check = work.with_extension_of("check", output);
        let media = Media {
            tools: &tools,
            input,
            info: &info,
            subtitle_codec: options.subtitle_codec.as_deref(),
        };
        check_output(&media, output, &check, &encoder_args, size).map_err(cleanup)?;
        let plan = match existing {
            Some(plan) => plan,
            None => {
                let keys = keyframes(&tools, input, &info.video).map_err(cleanup)?;
                let mut segments = segments(&keys, options.segment_seconds);
                if segments.is_empty() {
                    // No keyframe flags at all: one segment.
                    segments.push(crate::plan::SegmentPlan {
                        start: Timestamp::new(0, info.video.time_base),
                        seek: None,
                    });
                }
                let plan = Plan {
                    version: PLAN_VERSION,
                    settings,
                    segments,
                };
                work.write_json(&work.plan(), &plan).map_err(cleanup)?;
                plan
            }
        };
        let done = (0..plan.segments.len()).map(|i| work.finished(i)).collect();
        Ok(Job {
            options,
            tools,
            info,
            layout,
            exact_layout: choice.exact && layout == choice.layout,
            encoder,
            colour,
            work,
            plan,
            done,
        })
    }

    pub fn segments(&self) -> usize {
        self.plan.segments.len()
    }

    /// Segments an earlier run finished (the first ones; a run continues after them).
    pub fn resumed_segments(&self) -> usize {
        self.done.iter().take_while(|d| d.is_some()).count()
    }

    /// Where in the input (seconds) this run starts: the first unfinished segment's start.
    pub fn start_seconds(&self) -> f64 {
        match self.plan.segments.get(self.resumed_segments()) {
            Some(segment) if self.resumed_segments() > 0 => segment.start.seconds(),
            _ => 0.0,
        }
    }

    pub fn work_dir(&self) -> &Path {
        &self.work.dir
    }

    /// The decoding ffmpeg, from the start or seeking to `seek` (no later than it).
    fn decoder(&self, seek: Option<Timestamp>) -> Result<Process> {
        let mut args: Vec<String> = vec![];
        if let Some(seek) = seek {
            args.extend([
                "-ss".into(),
                seconds_text(seek.micros_floor()),
                "-noaccurate_seek".into(),
            ]);
        }
        args.extend(["-copyts".into(), "-i".into()]);
        args.push(self.options.input.to_string_lossy().into_owned());
        args.extend([
            "-map".into(),
            format!("0:{}", self.info.video.index),
            "-fps_mode".into(),
            "passthrough".into(),
            "-enc_time_base".into(),
            "-1".into(),
            "-c:v".into(),
            "rawvideo".into(),
            "-pix_fmt".into(),
            self.layout.pix_fmt(),
            "-f".into(),
            "nut".into(),
            "pipe:1".into(),
        ]);
        self.tools.spawn(
            self.tools.ffmpeg(args),
            "ffmpeg decoding the input",
            false,
            true,
        )
    }

    /// The encoding ffmpeg of one segment, writing NUT to `path`.
    fn encoder(&self, path: &Path) -> Result<Process> {
        let mut args: Vec<String> = [
            "-f",
            "nut",
            "-i",
            "pipe:0",
            "-map",
            "0:v",
            "-copyts",
            "-fps_mode",
            "passthrough",
            "-enc_time_base",
            "-1",
        ]
        .map(String::from)
        .to_vec();
        args.extend(self.encoder.args(&self.colour));
        args.extend(["-avoid_negative_ts", "disabled", "-f", "nut", "-y"].map(String::from));
        args.push(path.to_string_lossy().into_owned());
        self.tools.spawn(
            self.tools.ffmpeg(args),
            "ffmpeg encoding a segment",
            true,
            false,
        )
    }

    /// Upscales the input into the output: `transform` gets each frame (planes of
    /// [`Job::layout`]) and returns its planes `scale` times larger; `progress` is called
    /// after each frame.
    pub fn run(
        mut self,
        mut transform: impl FnMut(Frame) -> std::result::Result<Planes, BoxError>,
        mut progress: impl FnMut(&Progress),
    ) -> Result<JobReport> {
        let first = self.resumed_segments();
        let mut report = JobReport {
            segments: self.segments(),
            resumed_segments: first,
            ..JobReport::default()
        };
        let resumed_frames: u64 = self.done[..first].iter().flatten().map(|r| r.frames).sum();
        if first < self.segments() {
            let seek = if first == 0 {
                None
            } else {
                self.plan.segments[first].seek
            };
            let result = self.stream(
                first,
                seek,
                resumed_frames,
                &mut report,
                &mut transform,
                &mut progress,
            );
            match result {
                Err(FfmpegError::Resume(why)) if seek.is_some() => {
                    report
                        .notes
                        .push(format!("{why}; decoded from the start instead"));
                    self.stream(
                        first,
                        None,
                        resumed_frames,
                        &mut report,
                        &mut transform,
                        &mut progress,
                    )?;
                }
                result => result?,
            }
        }
        let start = Instant::now();
        let finished: Vec<(PathBuf, SegmentRecord)> = (0..self.segments())
            .filter_map(|i| {
                let record = self.work.finished(i)?;
                (record.frames > 0).then(|| (self.work.segment(i), record))
            })
            .collect();
        if (0..self.segments()).any(|i| self.work.finished(i).is_none()) {
            return Err(FfmpegError::Resume(format!(
                "segments are missing from {} after the run; run again with --resume",
                self.work.dir.display()
            )));
        }
        report.frames = finished.iter().map(|(_, r)| r.frames).sum();
        let joined = self.work.with_extension_of("joined", &self.options.output);
        let media = Media {
            tools: &self.tools,
            input: &self.options.input,
            info: &self.info,
            subtitle_codec: self.options.subtitle_codec.as_deref(),
        };
        join(
            &media,
            &finished,
            &self.colour,
            &self.work.dir.join("segments.ffconcat"),
            &joined,
        )?;
        std::fs::File::open(&joined)
            .and_then(|f| f.sync_all())
            .map_err(io_error("sync", &joined))?;
        std::fs::rename(&joined, &self.options.output).map_err(io_error(
            "rename the joined file into",
            &self.options.output,
        ))?;
        let _ = std::fs::remove_dir_all(&self.work.dir);
        report.join_seconds = start.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Decodes from segment `first` on (seeking to `seek`), transforms and encodes every
    /// frame, segment after segment.
    fn stream(
        &mut self,
        first: usize,
        seek: Option<Timestamp>,
        resumed_frames: u64,
        report: &mut JobReport,
        transform: &mut impl FnMut(Frame) -> std::result::Result<Planes, BoxError>,
        progress: &mut impl FnMut(&Progress),
    ) -> Result<()> {
        let mut decoder = self.decoder(seek)?;
        let stdout = decoder.stdout.take().expect("stdout is piped");
        let reader = match NutReader::open(BufReader::with_capacity(1 << 20, stdout)) {
            Ok(reader) => reader,
            Err(e) => {
                return Err(match decoder.finish() {
                    Err(failed) => failed,
                    Ok(()) => e,
                })
            }
        };
        let stream = reader.streams()[0].clone();
        if stream.class != 0 || stream.fourcc != self.layout.fourcc() {
            return Err(FfmpegError::Nut(format!(
                "the decoder sent \"{}\" frames, not {}",
                sesr_model::display::escape_bytes(&stream.fourcc, 16),
                self.layout.pix_fmt()
            )));
        }
        let (width, height) = (stream.width as usize, stream.height as usize);
        let scale = self.options.scale;
        let out_stream = NutStream {
            fourcc: self.layout.plain().fourcc(),
            width: stream.width * scale as u64,
            height: stream.height * scale as u64,
            ..stream.clone()
        };
        let starts: Vec<Timestamp> = self.plan.segments.iter().map(|s| s.start).collect();
        let layout = self.layout;
        let (out_luma, out_chroma) = layout.plane_samples(width * scale, height * scale);
        let expected_out = (out_luma + 2 * out_chroma) * layout.sample_bytes();
        let time_base = stream.time_base;
        let begin = (first > 0).then(|| starts[first]);
        let this = &*self;
        let begun = Instant::now();
        std::thread::scope(|s| -> Result<()> {
            let (frames_tx, frames_rx) = sync_channel::<Result<Option<(i64, Planes)>>>(2);
            let (done_tx, done_rx) = sync_channel::<Option<(i64, Planes)>>(1);
            let mut reader = reader;
            let decoding = s.spawn(move || {
                let mut kept_any = false;
                loop {
                    let frame = match reader.next_frame() {
                        Ok(Some(frame)) => frame,
                        Ok(None) => {
                            let _ = frames_tx.send(Ok(None));
                            return decoder.finish();
                        }
                        Err(e) => {
                            let _ = frames_tx.send(Err(e));
                            return Err(decoder.kill());
                        }
                    };
                    let pts = Timestamp::new(frame.pts, time_base);
                    if let (Some(begin), false) = (begin, kept_any) {
                        if pts < begin {
                            continue;
                        }
                        if seek.is_some() && pts > begin {
                            let _ = frames_tx.send(Err(FfmpegError::Resume(format!(
                                "seeking to {:.3} s gave a first frame at {:.3} s, after \
                                 the segment's start at {:.3} s",
                                seek.map_or(0.0, Timestamp::seconds),
                                pts.seconds(),
                                begin.seconds()
                            ))));
                            return Err(decoder.kill());
                        }
                    }
                    kept_any = true;
                    let message = match Planes::from_bytes(layout, width, height, &frame.data) {
                        Ok(planes) => Ok(Some((frame.pts, planes))),
                        Err(e) => {
                            let _ = frames_tx.send(Err(e));
                            return Err(decoder.kill());
                        }
                    };
                    if frames_tx.send(message).is_err() {
                        return Err(decoder.kill());
                    }
                }
            });
            let encoding =
                s.spawn(move || this.encode_segments(first, &out_stream, &starts, done_rx));
            let mut failure = None;
            let mut frames = 0u64;
            loop {
                let waited = Instant::now();
                let message = frames_rx.recv();
                report.wait_decode_seconds += waited.elapsed().as_secs_f64();
                let (pts, planes) = match message {
                    Ok(Ok(Some(frame))) => frame,
                    Ok(Ok(None)) => {
                        let _ = done_tx.send(None);
                        break;
                    }
                    Ok(Err(e)) => {
                        failure = Some(e);
                        break;
                    }
                    Err(_) => break,
                };
                let started = Instant::now();
                let big = match transform(Frame {
                    width,
                    height,
                    planes,
                }) {
                    Ok(big) => big,
                    Err(e) => {
                        failure = Some(FfmpegError::Transform(e));
                        break;
                    }
                };
                report.transform_seconds += started.elapsed().as_secs_f64();
                let deep = matches!(big, Planes::Deep { .. });
                if big.byte_len() != expected_out || deep != (layout.bits > 8) {
                    failure = Some(FfmpegError::Transform(
                        format!(
                            "the transform returned a frame of {} bytes, a {}x{} {} frame has \
                             {expected_out}",
                            big.byte_len(),
                            width * scale,
                            height * scale,
                            layout.pix_fmt()
                        )
                        .into(),
                    ));
                    break;
                }
                let waited = Instant::now();
                if done_tx.send(Some((pts, big))).is_err() {
                    break;
                }
                report.wait_encode_seconds += waited.elapsed().as_secs_f64();
                frames += 1;
                progress(&Progress {
                    frames,
                    resumed_frames,
                    done_seconds: Timestamp::new(pts, time_base).seconds(),
                    total_seconds: this.info.duration,
                });
            }
            // Dropping the channels stops the other threads: the writer without an end
            // marker discards its segment, the reader's decoder is killed.
            drop(done_tx);
            drop(frames_rx);
            let encoded = encoding.join().expect("the encoding thread does not panic");
            let decoded = decoding.join().expect("the decoding thread does not panic");
            report.transformed += frames;
            report.stream_seconds += begun.elapsed().as_secs_f64();
            if let Some(e) = failure {
                return Err(e);
            }
            encoded?;
            decoded
        })?;
        for i in 0..self.segments() {
            self.done[i] = self.work.finished(i);
        }
        Ok(())
    }

    /// The writer thread: frames from `frames` into segment files, from segment `first` on.
    /// A `None` marks the end of the input; a closed channel without it aborts the segment.
    /// While one segment's encoder flushes and its file is renamed into place (on a thread
    /// of its own), the next segment's encoder already takes frames.
    fn encode_segments(
        &self,
        first: usize,
        stream: &NutStream,
        starts: &[Timestamp],
        frames: Receiver<Option<(i64, Planes)>>,
    ) -> Result<()> {
        std::thread::scope(|s| {
            let mut finishing = None;
            let aborted = || FfmpegError::Transform("the run stopped before the end".into());
            let segment_of = |pts: i64| {
                let t = Timestamp::new(pts, stream.time_base);
                starts.partition_point(|s| *s <= t).saturating_sub(1)
            };
            let mut pending = frames.recv().map_err(|_| aborted())?;
            let mut scratch = Vec::new();
            let mut segment = first;
            while segment < starts.len() {
                let Some((pts, _)) = &pending else { break };
                let target = segment_of(*pts).max(segment);
                for empty in segment..target {
                    self.record(empty, 0, None, None)?;
                }
                segment = target;
                let next_start = starts.get(segment + 1).copied();
                let (path, tmp) = (
                    self.work.segment(segment),
                    temporary(&self.work.segment(segment)),
                );
                let mut encoder = self.encoder(&tmp)?;
                let stdin = encoder.stdin.take().expect("stdin is piped");
                let mut writer =
                    match NutWriter::new(BufWriter::with_capacity(1 << 20, stdin), stream) {
                        Ok(w) => w,
                        Err(_) => return Err(encoder.kill()),
                    };
                let (mut count, mut first_pts, mut last_pts) = (0u64, None, None);
                while let Some((pts, data)) = pending.take() {
                    let t = Timestamp::new(pts, stream.time_base);
                    if next_start.is_some_and(|next| t >= next) {
                        pending = Some((pts, data));
                        break;
                    }
                    let written =
                        data.write_with(&mut scratch, |parts| writer.write_frame_parts(pts, parts));
                    if written.is_err() {
                        let _ = std::fs::remove_file(&tmp);
                        return Err(encoder.kill());
                    }
                    count += 1;
                    first_pts.get_or_insert(t);
                    last_pts = Some(t);
                    pending = match frames.recv() {
                        Ok(next) => next,
                        Err(_) => {
                            drop(encoder);
                            let _ = std::fs::remove_file(&tmp);
                            join_finisher(&mut finishing)?;
                            return Err(aborted());
                        }
                    };
                }
                match writer.finish() {
                    Ok(stdin) => drop(stdin),
                    Err(_) => return Err(encoder.kill()),
                }
                let finish = move || -> Result<()> {
                    let done = encoder.finish().and_then(|()| {
                        std::fs::File::open(&tmp)
                            .and_then(|f| f.sync_all())
                            .and_then(|()| std::fs::rename(&tmp, &path))
                            .map_err(io_error("sync and rename", &tmp))
                    });
                    if done.is_err() {
                        let _ = std::fs::remove_file(&tmp);
                    }
                    done?;
                    self.record(segment, count, first_pts, last_pts)
                };
                join_finisher(&mut finishing)?;
                finishing = Some(s.spawn(finish));
                segment += 1;
            }
            join_finisher(&mut finishing)?;
            // Segments after the last frame hold nothing.
            for empty in segment..starts.len() {
                self.record(empty, 0, None, None)?;
            }
            Ok(())
        })
    }

    fn record(
        &self,
        segment: usize,
        frames: u64,
        first_pts: Option<Timestamp>,
        last_pts: Option<Timestamp>,
    ) -> Result<()> {
        let record = SegmentRecord {
            frames,
            first_pts,
            last_pts,
        };
        self.work.write_json(&self.work.record(segment), &record)
    }
}
