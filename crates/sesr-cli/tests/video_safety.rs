//! `sesr-cli video` where it used to fail silently or unsafely (issue #30): writing over its
//! own input, standard output closed, limited-range super-whites clipped by the int8 model,
//! file bytes sent raw to the terminal in error messages, a huge first frame read before its
//! size was refused. Clips are made by ffmpeg (installed by `cargo xtask setup`) in the test.
//!
//! `SESR_CLI_BIN=/path/to/sesr-cli` runs these tests against another build (how the issue's
//! "before" column was checked).

mod common;

use common::asset;
use sesr_data::plane::PlaneU8;
use sesr_runtime::Upscaler;
use sesr_video::{Y4mReader, YuvFrame};
use std::ffi::OsString;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

fn bin() -> OsString {
    std::env::var_os("SESR_CLI_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_sesr-cli").into())
}

fn video(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(bin())
        .arg("video")
        .args(args)
        .output()
        .expect("sesr-cli runs")
}

fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .expect("ffmpeg runs (cargo xtask setup installs it)");
    assert!(status.success(), "ffmpeg {args:?}");
}

/// A 3-frame 64x48 4:2:0 clip of a real photo.
fn photo_clip(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    ffmpeg(&[
        "-loop",
        "1",
        "-i",
        asset("valid/chelsea.png").to_str().unwrap(),
        "-vf",
        "crop=64:48:x='n*2':y=10,format=yuv420p",
        "-frames:v",
        "3",
        "-f",
        "yuv4mpegpipe",
        path.to_str().unwrap(),
    ]);
    path
}

fn frames(bytes: &[u8]) -> Vec<YuvFrame> {
    let mut reader = Y4mReader::open(Cursor::new(bytes.to_vec())).unwrap();
    std::iter::from_fn(|| reader.read_frame().unwrap()).collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn video_refuses_to_write_over_its_input() {
    let dir = TempDir::new().unwrap();
    let clip = photo_clip(dir.path(), "clip.y4m");
    let original = std::fs::read(&clip).unwrap();
    let dotted = dir.path().join(".").join("clip.y4m");
    for output in [&clip, &dotted] {
        let out = video(&[
            "--input".as_ref(),
            clip.as_os_str(),
            "--output".as_ref(),
            output.as_os_str(),
        ]);
        assert!(!out.status.success(), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("is the --input file") && stderr(&out).contains("--output"),
            "{}",
            stderr(&out)
        );
        assert_eq!(
            std::fs::read(&clip).unwrap(),
            original,
            "the input was changed"
        );
    }
    // A hard link to the input, and standard output appended onto it, are the same file.
    let link = dir.path().join("link.y4m");
    std::fs::hard_link(&clip, &link).unwrap();
    let out = video(&[
        "--input".as_ref(),
        clip.as_os_str(),
        "--output".as_ref(),
        link.as_os_str(),
    ]);
    assert!(!out.status.success() && stderr(&out).contains("is the --input file"));
    let append = std::fs::OpenOptions::new()
        .append(true)
        .open(&clip)
        .unwrap();
    let out = Command::new(bin())
        .args(["video", "--input"])
        .arg(&clip)
        .stdout(append)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is the --input file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(&clip).unwrap(),
        original,
        "the input was changed"
    );
    // Another name still works.
    let other = dir.path().join("other.y4m");
    let out = video(&[
        "--input".as_ref(),
        clip.as_os_str(),
        "--output".as_ref(),
        other.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(frames(&std::fs::read(&other).unwrap()).len(), 3);
}

#[test]
fn closed_standard_output_is_an_error_not_a_silent_success() {
    let dir = TempDir::new().unwrap();
    let clip = photo_clip(dir.path(), "clip.y4m");
    // The shell closes descriptor 1 (`>&-`) before it starts sesr-cli.
    let closed = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" video --checkpoint m3 --input \"$1\" >&-")
        .arg(bin())
        .arg(&clip)
        .output()
        .unwrap();
    assert!(!closed.status.success(), "{}", stderr(&closed));
    assert!(
        stderr(&closed).contains("standard output is closed"),
        "{}",
        stderr(&closed)
    );
    assert!(!stderr(&closed).contains("frames/s"), "{}", stderr(&closed));
    // `> /dev/null` is a user's choice (timing a run, say) and still works.
    let null = Command::new(bin())
        .args(["video", "--checkpoint", "m3", "--input"])
        .arg(&clip)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(null.status.success(), "{}", stderr(&null));
    assert!(stderr(&null).contains("3 frames"), "{}", stderr(&null));
    // So does a pipe, which gets every byte.
    let piped = Command::new(bin())
        .args(["video", "--checkpoint", "m3", "--input"])
        .arg(&clip)
        .output()
        .unwrap();
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert_eq!(frames(&piped.stdout).len(), 3);
}

/// 64x48 4:2:0 limited range: in the top 36 rows a flat super-white patch (250) on the left,
/// a ramp through white into super-white (200..=254) in the middle, 254 on the right; below
/// them mid-gray.
fn super_white_clip(dir: &Path) -> PathBuf {
    let path = dir.join("bright.y4m");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=gray:s=64x48:r=25:d=1",
        "-vf",
        "format=yuv420p,geq=lum='if(gte(Y\\,36)\\,128\\,if(lt(X\\,20)\\,250\\,if(lt(X\\,48)\\,200+2*(X-20)\\,254)))':cb=128:cr=128",
        "-frames:v",
        "2",
        "-f",
        "yuv4mpegpipe",
        path.to_str().unwrap(),
    ]);
    path
}

#[test]
fn int8_video_keeps_super_whites_and_in_range_frames_bit_for_bit() {
    let dir = TempDir::new().unwrap();
    let bright = super_white_clip(dir.path());
    let input = frames(&std::fs::read(&bright).unwrap());
    assert_eq!(input[0].y[10 * 64 + 5], 250, "the clip holds super-whites");
    assert_eq!(input[0].y[10 * 64 + 47], 254);
    let out = dir.path().join("bright_x2.y4m");
    // The default model: SESR-M5 x2 int8.
    let run = video(&[
        "--input".as_ref(),
        bright.as_os_str(),
        "--output".as_ref(),
        out.as_os_str(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let big = frames(&std::fs::read(&out).unwrap());
    let upscaler = Upscaler::pretrained_int8("m5", 2).unwrap();
    let clip_point = *upscaler.unclipped_input_bytes().end();
    assert!(
        clip_point < 250,
        "m5-int8's input range ends at {clip_point}"
    );
    for (small, big) in input.iter().zip(&big) {
        // Inside the flat patch (away from its edges), 250 stays 250 (it was 235).
        for y in 8..60 {
            for x in 6..32 {
                let v = big.y[y * 128 + x];
                assert!((248..=252).contains(&v), "({x}, {y}) = {v}");
            }
        }
        // The ramp keeps rising past the clip point: output columns follow input columns.
        let row = |frame: &[u8], width: usize, y: usize, x: usize| frame[y * width + x];
        for x in 44..=46 {
            let (lr, hr) = (row(&small.y, 64, 10, x), row(&big.y, 128, 21, 2 * x));
            assert!(lr > clip_point + 5, "the ramp at {x} is {lr}");
            assert!(lr.abs_diff(hr) <= 3, "ramp at {x}: {lr} became {hr}");
        }
        // The rest of the frame (mid-gray) is still the network's.
        assert!((124..=132).contains(&row(&big.y, 128, 88, 120)));
    }

    // A frame whose luma is all inside the int8 input range comes out bit for bit as the
    // network computes it, as before; and float32 (no clip point) is untouched.
    let clip = photo_clip(dir.path(), "clip.y4m");
    for (checkpoint, upscaler) in [
        ("m5-int8", upscaler),
        ("m5", Upscaler::pretrained("m5", 2).unwrap()),
    ] {
        let out = dir.path().join(format!("clip_{checkpoint}.y4m"));
        let run = video(&[
            "--checkpoint".as_ref(),
            checkpoint.as_ref(),
            "--input".as_ref(),
            clip.as_os_str(),
            "--output".as_ref(),
            out.as_os_str(),
        ]);
        assert!(run.status.success(), "{}", stderr(&run));
        let small = frames(&std::fs::read(&clip).unwrap());
        let big = frames(&std::fs::read(&out).unwrap());
        for (small, big) in small.iter().zip(&big) {
            assert!(small
                .y
                .iter()
                .all(|b| upscaler.unclipped_input_bytes().contains(b)));
            let plane = PlaneU8::from_vec(64, 48, small.y.clone()).unwrap();
            assert_eq!(
                upscaler.upscale_y_u8(&plane).unwrap().data,
                big.y,
                "{checkpoint}"
            );
        }
    }
    // float32 keeps super-whites on its own, and the video takes that path unchanged.
    let out = dir.path().join("bright_f32.y4m");
    let run = video(&[
        "--checkpoint".as_ref(),
        "m5".as_ref(),
        "--input".as_ref(),
        bright.as_os_str(),
        "--output".as_ref(),
        out.as_os_str(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let float = Upscaler::pretrained("m5", 2).unwrap();
    let plane = PlaneU8::from_vec(64, 48, input[0].y.clone()).unwrap();
    let want = float.upscale_y_u8(&plane).unwrap().data;
    assert_eq!(frames(&std::fs::read(&out).unwrap())[0].y, want);
    assert!((248..=252).contains(&want[20 * 128 + 20]));
}

#[test]
fn file_bytes_in_messages_are_escaped() {
    let dir = TempDir::new().unwrap();
    // A "video" whose first bytes clear the screen, recolour the terminal and retitle it.
    let evil = dir.path().join("evil.y4m");
    std::fs::write(&evil, b"\x1b[2J\x1b[31mEVIL\x1b]0;pwned\x07 and more\n").unwrap();
    // A header whose colour space token carries an escape sequence.
    let token = dir.path().join("token.y4m");
    std::fs::write(&token, b"YUV4MPEG2 W64 H48 F25:1 C\x1b[31m420\nFRAME\n").unwrap();
    // A real MP4 (NUL bytes in its first box).
    let clip = photo_clip(dir.path(), "clip.y4m");
    let mp4 = dir.path().join("clip.mp4");
    ffmpeg(&[
        "-i",
        clip.to_str().unwrap(),
        "-c:v",
        "libx264",
        mp4.to_str().unwrap(),
    ]);
    let out_file = dir.path().join("out.y4m");
    for (input, shown) in [
        (&evil, r"\u{1b}[2J\u{1b}[31mEVIL"),
        (&token, r"C\u{1b}[31m420"),
        (&mp4, r"\0\0\0"),
    ] {
        let out = video(&[
            "--input".as_ref(),
            input.as_os_str(),
            "--output".as_ref(),
            out_file.as_os_str(),
        ]);
        assert!(!out.status.success());
        let bytes = &out.stderr;
        assert!(
            !bytes.iter().any(|&b| b == 0x1b || b == 0 || b == 0x07),
            "raw control bytes on stderr: {bytes:?}"
        );
        assert!(stderr(&out).contains(shown), "{}", stderr(&out));
    }
}

#[test]
fn a_huge_first_frame_is_refused_before_it_is_read() {
    // 24576 x 24576 4:2:0: a 906 MB frame, x2 output 2.4 G pixels. The header and the frame
    // marker arrive through a pipe that stays open with no pixels: the size must be refused
    // from the header alone, not after reading (or waiting for) the frame.
    let mut child = Command::new(bin())
        .args(["video", "--checkpoint", "m3", "--output", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"YUV4MPEG2 W24576 H24576 F25:1 C420jpeg\nFRAME\n")
        .unwrap();
    stdin.write_all(&[16u8; 1 << 16]).unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > Duration::from_secs(60) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if status.is_none() {
        child.kill().unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let status = status.expect("sesr-cli was still reading the frame after 60 s");
    assert!(!status.success());
    let message = stderr(&out);
    assert!(
        message.contains("24576x24576") && message.contains("scale the video down"),
        "{message}"
    );
    assert!(out.stdout.is_empty());
}
