//! `sesr-cli video --input FILE --output FILE` with real ffmpeg on clips made here: sound,
//! subtitles and chapters come through packet for packet, variable frame rate keeps its
//! timestamps, 10-bit video keeps its bits through a float32 model (and an int8 model asks
//! first), a killed run resumes into the same frames, and bad inputs fail with a clear
//! message and nothing under the output's name.

mod common;

use common::sesr_cli;
use sesr_data::plane::PlaneF32;
use sesr_runtime::Upscaler;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A command line's words (the tests' paths hold no spaces).
fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

fn ffmpeg(line: &str) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(words(line))
        .output()
        .expect("ffmpeg runs (cargo xtask setup installs it)");
    assert!(
        out.status.success(),
        "ffmpeg {line}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn ffprobe(line: &str, file: &Path) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(words(line))
        .arg(file)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim_end_matches(',').to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// MD5 of each packet of a stream, copied (`-c copy -f framemd5`).
fn packet_md5(file: &Path, stream: &str) -> Vec<String> {
    let text = ffmpeg(&format!(
        "-i {} -map {stream} -c copy -f framemd5 -",
        file.display()
    ));
    lines(&String::from_utf8(text).unwrap())
        .into_iter()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(',').nth(5).unwrap().trim().to_string())
        .collect()
}

/// MD5 of each decoded video frame, with its timestamps.
fn frame_md5(file: &Path) -> Vec<String> {
    let text = ffmpeg(&format!("-i {} -map 0:v -f framemd5 -", file.display()));
    lines(&String::from_utf8(text).unwrap())
        .into_iter()
        .filter(|l| !l.starts_with('#'))
        .collect()
}

fn frame_times(file: &Path) -> Vec<String> {
    lines(&ffprobe(
        "-select_streams v:0 -show_entries frame=pts_time -of csv=p=0",
        file,
    ))
}

fn duration(file: &Path) -> f64 {
    ffprobe("-show_entries format=duration -of csv=p=0", file)
        .trim()
        .parse()
        .unwrap()
}

/// A 4 s 160x96 clip with AAC sound (French), SubRip subtitles (titled), two chapters and a
/// title, and with `attachment` a text file attached (Matroska only).
fn film_with(dir: &Path, attachment: bool) -> PathBuf {
    let subs = dir.join("subs.srt");
    std::fs::write(
        &subs,
        "1\n00:00:00,500 --> 00:00:01,500\nHello\n\n2\n00:00:02,000 --> 00:00:03,800\nWorld\n",
    )
    .unwrap();
    let meta = dir.join("meta.txt");
    std::fs::write(
        &meta,
        ";FFMETADATA1\ntitle=Test film\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=2000\n\
         title=One\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=2000\nEND=4000\ntitle=Two\n",
    )
    .unwrap();
    let clip = dir.join("film.mkv");
    let attach = match attachment {
        true => format!(
            "-attach {} -metadata:s:t mimetype=text/plain -metadata:s:t filename=notes.txt",
            meta.display()
        ),
        false => String::new(),
    };
    ffmpeg(&format!(
        "-f lavfi -i testsrc2=s=160x96:r=25:d=4 -f lavfi -i sine=frequency=440:d=4 -i {} -i {} \
         -map 0 -map 1 -map 2 -map_metadata 3 -map_chapters 3 -c:v libx264 -g 12 \
         -pix_fmt yuv420p -c:a aac -c:s srt -metadata:s:a:0 language=fra \
         -metadata:s:s:0 title=Lyrics {attach} {}",
        subs.display(),
        meta.display(),
        clip.display()
    ));
    clip
}

fn film(dir: &Path) -> PathBuf {
    film_with(dir, false)
}

/// `video --input IN --output OUT --preset ultrafast --segment-seconds 1` and `extra`.
fn video_args(input: &Path, output: &Path, extra: &str) -> Vec<String> {
    let mut args = words("video --preset ultrafast --threads 2");
    if !extra.contains("--segment-seconds") {
        args.extend(words("--segment-seconds 1"));
    }
    args.extend([
        "--input".into(),
        input.display().to_string(),
        "--output".into(),
        output.display().to_string(),
    ]);
    args.extend(words(extra));
    args
}

fn assert_nothing_written(output: &Path) {
    let mut work = output.as_os_str().to_os_string();
    work.push(".sesr-work");
    assert!(!output.exists(), "{} was written", output.display());
    assert!(
        !Path::new(&work).exists(),
        "{} was left",
        Path::new(&work).display()
    );
}

#[test]
fn sound_subtitles_chapters_and_frames_come_through() {
    let dir = TempDir::new().unwrap();
    let clip = film_with(dir.path(), true);
    let out = dir.path().join("film_x2.mkv");
    let (ok, _, stderr) = sesr_cli(&video_args(&clip, &out, ""));
    assert!(ok, "{stderr}");
    // Printed at the start: the encoder and its settings.
    assert!(
        stderr.contains("libx264 CRF 18 preset ultrafast yuv420p"),
        "{stderr}"
    );
    assert_eq!(packet_md5(&out, "0:a"), packet_md5(&clip, "0:a"));
    assert_eq!(packet_md5(&out, "0:s"), packet_md5(&clip, "0:s"));
    let chapters = ffprobe(
        "-show_entries chapter=start_time,end_time:chapter_tags=title -of csv=p=0",
        &out,
    );
    assert_eq!(
        lines(&chapters),
        ["0.000000,2.000000,One", "2.000000,4.000000,Two"]
    );
    assert_eq!(
        ffprobe("-show_entries format_tags=title -of csv=p=0", &out).trim(),
        "Test film"
    );
    // Every stream, with its tags (language, title, the attachment's name and type).
    let tags = "-show_entries stream=codec_type:stream_tags=language,title,filename,mimetype \
                -of csv=p=0";
    assert_eq!(
        lines(&ffprobe(tags, &out))[1..],
        lines(&ffprobe(tags, &clip))[1..]
    );
    assert_eq!(
        lines(&ffprobe(tags, &out))[1..],
        [
            "audio,fra",
            "subtitle,Lyrics",
            "attachment,notes.txt,text/plain"
        ]
    );
    let size = ffprobe(
        "-select_streams v:0 -show_entries stream=width,height -of csv=p=0",
        &out,
    );
    assert_eq!(size.trim(), "320,192");
    assert_eq!(frame_times(&out), frame_times(&clip));
    assert_eq!(frame_times(&out).len(), 100);
    assert!((duration(&out) - duration(&clip)).abs() <= 0.04);
}

#[test]
fn variable_frame_rate_keeps_its_timestamps() {
    let dir = TempDir::new().unwrap();
    let clip = dir.path().join("vfr.mp4");
    ffmpeg(&format!(
        "-f lavfi -i testsrc2=s=96x64:r=25:d=3 \
         -vf settb=1/1000,setpts='N*40+if(mod(N\\,3)\\,0\\,17)+if(gt(N\\,40)\\,N*7\\,0)' \
         -fps_mode passthrough -enc_time_base 1:1000 -c:v libx264 -g 20 -pix_fmt yuv420p \
         -video_track_timescale 1000 {}",
        clip.display()
    ));
    let times = frame_times(&clip);
    let steps: std::collections::BTreeSet<String> = times
        .windows(2)
        .map(|w| {
            let (a, b): (f64, f64) = (w[0].parse().unwrap(), w[1].parse().unwrap());
            format!("{:.3}", b - a)
        })
        .collect();
    assert!(steps.len() > 3, "the clip is not VFR: {steps:?}");
    let out = dir.path().join("vfr_x2.mp4");
    let (ok, _, stderr) = sesr_cli(&video_args(&clip, &out, ""));
    assert!(ok, "{stderr}");
    assert_eq!(frame_times(&out), times);
}

/// The 10-bit luma planes ffmpeg decodes from `file`.
fn luma10(file: &Path, width: usize, height: usize) -> Vec<Vec<u16>> {
    let raw = ffmpeg(&format!(
        "-i {} -map 0:v -fps_mode passthrough -pix_fmt yuv420p10le -f rawvideo -",
        file.display()
    ));
    let frame = width * height * 3; // 1.5 samples per pixel, 2 bytes each
    raw.chunks_exact(frame)
        .map(|f| {
            f[..2 * width * height]
                .chunks_exact(2)
                .map(|w| u16::from_le_bytes([w[0], w[1]]))
                .collect()
        })
        .collect()
}

#[test]
fn ten_bit_video_keeps_its_bits_through_a_float32_model() {
    let dir = TempDir::new().unwrap();
    let clip = dir.path().join("hdr10.mkv");
    ffmpeg(&format!(
        "-f lavfi -i testsrc2=s=64x48:r=10:d=0.5 -c:v libx265 -x265-params log-level=error \
         -pix_fmt yuv420p10le -color_primaries bt2020 -color_trc smpte2084 \
         -colorspace bt2020nc {}",
        clip.display()
    ));
    // An int8 model asks first: float32 or 8 bits.
    let refused = dir.path().join("refused.mkv");
    let (ok, _, stderr) = sesr_cli(&video_args(&clip, &refused, ""));
    assert!(!ok);
    assert!(
        stderr.contains("10-bit") && stderr.contains("--model m5") && stderr.contains("--to-8bit"),
        "{stderr}"
    );
    assert_nothing_written(&refused);
    let eight = dir.path().join("eight.mkv");
    let (ok, _, stderr) = sesr_cli(&video_args(&clip, &eight, "--to-8bit"));
    assert!(ok && stderr.contains("warning: --to-8bit"), "{stderr}");
    let format = "-select_streams v:0 -show_entries stream=pix_fmt,color_transfer -of csv=p=0";
    assert_eq!(ffprobe(format, &eight).trim(), "yuv420p,smpte2084");
    // Float32 M5, lossless FFV1, so that the output holds exactly what SESR gave.
    let out = dir.path().join("hdr10_x2.mkv");
    let (ok, _, stderr) = sesr_cli(&video_args(&clip, &out, "--model m5 --codec ffv1"));
    assert!(ok, "{stderr}");
    assert_eq!(ffprobe(format, &out).trim(), "yuv420p10le,smpte2084");
    let upscaler = Upscaler::pretrained("m5", 2).unwrap();
    let (inputs, outputs) = (luma10(&clip, 64, 48), luma10(&out, 128, 96));
    assert_eq!(inputs.len(), 5);
    assert_eq!(outputs.len(), 5);
    let mut off_the_8bit_grid = 0;
    for (lr, hr) in inputs.iter().zip(&outputs) {
        // 10-bit studio swing is 8-bit's times 4: code / 1020 is SESR's input scale.
        let plane = PlaneF32::from_vec(64, 48, lr.iter().map(|&s| f32::from(s) / 1020.0).collect());
        let expected = upscaler.upscale_y(&plane.unwrap()).unwrap();
        for (&got, &want) in hr.iter().zip(&expected.data) {
            let want = (want * 1020.0).round().clamp(0.0, 1023.0);
            assert!(
                (f32::from(got) - want).abs() <= 1.0,
                "luma {got}, Upscaler gives {want}"
            );
            off_the_8bit_grid += usize::from(got % 4 != 0);
        }
    }
    assert!(off_the_8bit_grid > outputs.len() * 128 * 96 / 2);
}

#[test]
fn a_killed_run_resumes_into_the_same_frames() {
    let dir = TempDir::new().unwrap();
    let clip = film(dir.path());
    let whole = dir.path().join("whole.mkv");
    let (ok, _, stderr) = sesr_cli(&video_args(&clip, &whole, "--segment-seconds 0.4"));
    assert!(ok, "{stderr}");
    let out = dir.path().join("killed.mkv");
    let work = dir.path().join("killed.mkv.sesr-work");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sesr-cli"))
        .args(video_args(&clip, &out, "--segment-seconds 0.4"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let second = work.join("seg-000001.json");
    let start = Instant::now();
    while !second.exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(second.exists(), "the run never finished its second segment");
    assert!(
        !out.exists(),
        "the run ended before the kill; nothing to resume"
    );
    // Without --resume the work is not thrown away.
    let (ok, _, stderr) = sesr_cli(&video_args(&clip, &out, "--segment-seconds 0.4"));
    assert!(!ok && stderr.contains("--resume"), "{stderr}");
    let (ok, _, stderr) = sesr_cli(&video_args(&clip, &out, "--segment-seconds 0.4 --resume"));
    assert!(ok, "{stderr}");
    assert!(stderr.contains("resuming after"), "{stderr}");
    assert!(!work.exists());
    assert_eq!(frame_md5(&out), frame_md5(&whole));
    assert_eq!(packet_md5(&out, "0:a"), packet_md5(&clip, "0:a"));
}

#[test]
fn bad_inputs_fail_clearly_and_write_nothing() {
    let dir = TempDir::new().unwrap();
    // Not a video.
    let text = dir.path().join("notes.mkv");
    std::fs::write(&text, "not a video at all\n").unwrap();
    let out = dir.path().join("out.mp4");
    let (ok, _, stderr) = sesr_cli(&video_args(&text, &out, ""));
    assert!(
        !ok && stderr.contains("notes.mkv") && stderr.contains("video file"),
        "{stderr}"
    );
    assert_nothing_written(&out);
    let clip = film(dir.path());
    // No ffmpeg on PATH.
    let empty = dir.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_sesr-cli"))
        .args(video_args(&clip, &out, ""))
        .env("PATH", &empty)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("`ffmpeg` was not found on PATH")
            && stderr.contains("apt-get install ffmpeg"),
        "{stderr}"
    );
    assert_nothing_written(&out);
    // SubRip subtitles into MP4: the stream and the way out are named before any work.
    let (ok, _, stderr) = sesr_cli(&video_args(&clip, &out, ""));
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("stream #2 (subtitle subrip")
            && stderr.contains(".mkv")
            && stderr.contains("--subtitle-codec mov_text"),
        "{stderr}"
    );
    assert_nothing_written(&out);
    // ... and with that conversion it works.
    let (ok, _, stderr) = sesr_cli(&video_args(&clip, &out, "--subtitle-codec mov_text"));
    assert!(ok, "{stderr}");
    assert_eq!(packet_md5(&out, "0:a"), packet_md5(&clip, "0:a"));
    // An output where nothing can be written: its folder is a file.
    let blocked = clip.join("out.mkv");
    let (ok, _, stderr) = sesr_cli(&video_args(&clip, &blocked, ""));
    assert!(!ok && stderr.contains("work folder"), "{stderr}");
    assert!(!blocked.exists());
    // A y4m pipe on one side only.
    let (ok, _, stderr) = sesr_cli(&video_args(Path::new("-"), &out, ""));
    assert!(!ok && stderr.contains("YUV4MPEG2"), "{stderr}");
    for y4m in [dir.path().join("out.y4m"), PathBuf::from("/dev/null")] {
        let (ok, _, stderr) = sesr_cli(&video_args(&clip, &y4m, ""));
        assert!(!ok && stderr.contains("yuv4mpegpipe"), "{stderr}");
    }
    // Unknown encoder: refused before any work.
    let bad = dir.path().join("bad.mkv");
    let (ok, _, stderr) = sesr_cli(&video_args(&clip, &bad, "--codec nosuchcodec"));
    assert!(!ok && stderr.contains("--codec"), "{stderr}");
    assert_nothing_written(&bad);
}
