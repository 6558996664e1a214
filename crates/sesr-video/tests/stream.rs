//! y4m streams made by real ffmpeg (installed by `cargo xtask setup`) from a real photo, through
//! the shipped models: the luma equals `Upscaler::upscale_y` frame by frame, every chroma
//! layout and range comes out right, headers pass through, and bad streams fail or end as
//! the docs say.

use sesr_data::plane::{PlaneF32, PlaneU8};
use sesr_runtime::Upscaler;
use sesr_video::{
    upscale_y4m, Chroma, ChromaSiting, ColorRange, StreamReport, VideoError, VideoUpscaler,
    Y4mReader, YuvFrame,
};
use std::io::{Cursor, Write};
use std::path::Path;
use std::process::Command;

/// A `frames`-frame pan of `width` x `height` across a real photo, as y4m in `pix_fmt`.
fn clip(width: usize, height: usize, frames: usize, pix_fmt: &str) -> Vec<u8> {
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/images/valid/rocket.jpg");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.y4m");
    let filter = format!("crop={width}:{height}:x='200+n*3':y='120+n',format={pix_fmt}");
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-loop", "1", "-i"])
        .arg(photo)
        .args(["-vf", &filter, "-frames:v", &frames.to_string()])
        .args(["-strict", "-1", "-f", "yuv4mpegpipe", "-y"])
        .arg(&path)
        .status()
        .expect("ffmpeg runs (cargo xtask setup installs it)");
    assert!(status.success(), "ffmpeg made a {pix_fmt} clip");
    std::fs::read(path).unwrap()
}

/// `stream` with header token `from` (e.g. `C420jpeg`) replaced by `to`.
fn with_token(stream: &[u8], from: &str, to: &str) -> Vec<u8> {
    let end = stream.iter().position(|&b| b == b'\n').unwrap();
    let header = String::from_utf8(stream[..end].to_vec()).unwrap();
    let tokens: Vec<&str> = header
        .split(' ')
        .map(|t| if t == from { to } else { t })
        .collect();
    assert!(header.split(' ').any(|t| t == from), "{header} has {from}");
    [tokens.join(" ").as_bytes(), &stream[end..]].concat()
}

fn header(stream: &[u8]) -> String {
    let end = stream.iter().position(|&b| b == b'\n').unwrap();
    String::from_utf8(stream[..end].to_vec()).unwrap()
}

fn frames(stream: &[u8]) -> Vec<YuvFrame> {
    let mut reader = Y4mReader::open(Cursor::new(stream)).unwrap();
    std::iter::from_fn(|| reader.read_frame().unwrap()).collect()
}

fn run(stream: &[u8], upscaler: Upscaler) -> sesr_video::Result<(StreamReport, Vec<u8>)> {
    let input = Y4mReader::open(Cursor::new(stream))?;
    let video = VideoUpscaler::new(upscaler, input.format())?;
    let mut out = vec![];
    let mut progress = 0;
    let report = upscale_y4m(input, &video, &mut out, |n| progress = n)?;
    assert_eq!(progress, report.frames);
    Ok((report, out))
}

fn expected_luma(upscaler: &Upscaler, y: &[u8], width: usize, height: usize) -> Vec<u8> {
    let plane = PlaneU8::from_vec(width, height, y.to_vec()).unwrap();
    upscaler
        .upscale_y(&plane.to_f32())
        .unwrap()
        .quantize_u8()
        .data
}

#[test]
fn every_frames_luma_equals_upscale_y_and_the_header_passes_through() {
    // Odd sizes, 4:2:0 sited as MPEG-2, x2 int8 and x4 float32.
    let input = with_token(&clip(45, 31, 5, "yuv420p"), "C420jpeg", "C420mpeg2");
    for (model, scale) in [("m5-int8", 2usize), ("m3", 4)] {
        let load = || match model {
            "m5-int8" => Upscaler::pretrained_int8("m5", scale).unwrap(),
            _ => Upscaler::pretrained(model, scale).unwrap(),
        };
        let upscaler = load();
        let (report, out) = run(&input, load()).unwrap();
        assert_eq!(report.frames, 5);
        assert_eq!(report.truncated, None);
        let expected_header = header(&input)
            .replace("W45", &format!("W{}", 45 * scale))
            .replace("H31", &format!("H{}", 31 * scale));
        assert_eq!(header(&out), expected_header);
        let (inputs, outputs) = (frames(&input), frames(&out));
        assert_eq!(outputs.len(), 5);
        for (small, big) in inputs.iter().zip(&outputs) {
            assert_eq!(big.y, expected_luma(&upscaler, &small.y, 45, 31));
            let chroma = (45 * scale).div_ceil(2) * (31 * scale).div_ceil(2);
            assert_eq!((big.u.len(), big.v.len()), (chroma, chroma));
        }
        // Different frames of the pan give different outputs (nothing is cached wrongly).
        assert_ne!(outputs[0].y, outputs[4].y);
    }
}

/// PSNR in dB of two byte planes.
fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (255.0f64.powi(2) / mse).log10()
}

#[test]
fn every_chroma_layout_comes_out_at_its_size_and_in_register() {
    let (w, h) = (40, 30);
    // The least PSNR of the chroma averaged back down against the input's; a 4:2:0 plane
    // sited at the wrong column phase scores 51.6 dB, 4:2:2's co-sited samples lose a little
    // to the centred 2x2 average.
    for (pix_fmt, token, chroma, least) in [
        (
            "yuv420p",
            "C420jpeg",
            Chroma::Yuv420(ChromaSiting::Center),
            53.0,
        ),
        ("yuv422p", "C422", Chroma::Yuv422, 49.0),
        ("yuv444p", "C444", Chroma::Yuv444, 53.0),
        ("gray", "Cmono", Chroma::Mono, 0.0),
    ] {
        let input = clip(w, h, 2, pix_fmt);
        assert!(header(&input).contains(token), "{}", header(&input));
        let reader = Y4mReader::open(Cursor::new(&input[..])).unwrap();
        assert_eq!(reader.format().chroma, chroma);
        let (_, out) = run(&input, Upscaler::pretrained("m3", 2).unwrap()).unwrap();
        let big = &frames(&out)[0];
        let small = &frames(&input)[0];
        let (sx, sy) = chroma.subsampling();
        let planes = if chroma == Chroma::Mono { 0 } else { 1 };
        assert_eq!(
            big.u.len(),
            planes * (2 * w / sx) * (2 * h / sy),
            "{pix_fmt}"
        );
        assert_eq!(big.v.len(), big.u.len());
        if chroma != Chroma::Mono {
            // Averaging the upscaled chroma back down must give the input chroma again:
            // the interpolation neither shifts nor blurs away the colour.
            let (cw, ch) = (w / sx, h / sy);
            let down: Vec<u8> = (0..cw * ch)
                .map(|i| {
                    let (x, y) = (i % cw, i / cw);
                    let at =
                        |dx: usize, dy: usize| u32::from(big.u[(2 * y + dy) * 2 * cw + 2 * x + dx]);
                    ((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1) + 2) / 4) as u8
                })
                .collect();
            // A quarter-pixel shift of the interpolation already costs several dB here.
            let shifted: Vec<u8> = (0..cw * ch)
                .map(|i| down[if i % cw == 0 { i } else { i - 1 }].midpoint(down[i]))
                .collect();
            let (good, off) = (psnr(&down, &small.u), psnr(&shifted, &small.u));
            eprintln!("{pix_fmt}: {good:.2} dB, shifted {off:.2} dB");
            assert!(good > least && good > off + 3.0, "{pix_fmt}: {good} dB");
        }
    }
}

#[test]
fn full_range_luma_goes_through_the_studio_swing() {
    let input = clip(24, 16, 1, "yuvj420p");
    assert!(
        header(&input).contains("XCOLORRANGE=FULL"),
        "{}",
        header(&input)
    );
    let upscaler = Upscaler::pretrained("m3", 2).unwrap();
    let reader = Y4mReader::open(Cursor::new(&input[..])).unwrap();
    assert_eq!(reader.format().range, ColorRange::Full);
    let (_, out) = run(&input, Upscaler::pretrained("m3", 2).unwrap()).unwrap();
    let small = &frames(&input)[0];
    let studio = |b: u8| (16.0 + f32::from(b) * 219.0 / 255.0) / 255.0;
    let plane = PlaneF32::from_vec(24, 16, small.y.iter().map(|&b| studio(b)).collect()).unwrap();
    let sr = upscaler.upscale_y(&plane).unwrap();
    let expected: Vec<u8> = sr
        .data
        .iter()
        .map(|&v| sesr_data::plane::quantize((v - 16.0 / 255.0) * 255.0 / 219.0))
        .collect();
    assert_eq!(frames(&out)[0].y, expected);
    assert!(header(&out).contains("XCOLORRANGE=FULL"));
}

#[test]
fn frame_parameters_pass_through() {
    let input = clip(16, 12, 2, "yuv420p");
    let tagged = {
        let text = b"FRAME\n";
        let at = input.windows(6).rposition(|w| w == text).unwrap();
        [&input[..at], b"FRAME Xsomething=1\n", &input[at + 6..]].concat()
    };
    let (report, out) = run(&tagged, Upscaler::pretrained("m3", 2).unwrap()).unwrap();
    assert_eq!(report.frames, 2);
    assert_eq!(
        out.windows(19)
            .filter(|w| w == b"FRAME Xsomething=1\n")
            .count(),
        1
    );
}

#[test]
fn a_truncated_stream_keeps_its_complete_frames() {
    let input = clip(20, 14, 4, "yuv420p");
    let frame = 6 + 20 * 14 + 2 * 10 * 7;
    let header_len = header(&input).len() + 1;
    assert_eq!(input.len(), header_len + 4 * frame);
    // Cut inside frame 3's pixels, and inside its `FRAME` header.
    for cut in [header_len + 2 * frame + 100, header_len + 2 * frame + 3] {
        let (report, out) = run(&input[..cut], Upscaler::pretrained("m3", 2).unwrap()).unwrap();
        assert_eq!(report.frames, 2);
        let truncation = report.truncated.unwrap();
        assert_eq!(truncation.frame, 3);
        assert_eq!(truncation.bytes as usize, cut - header_len - 2 * frame);
        assert_eq!(frames(&out).len(), 2);
    }
    let mut reader = Y4mReader::open(Cursor::new(&input[..header_len + frame + 10])).unwrap();
    assert!(reader.read_frame().unwrap().is_some());
    assert!(matches!(reader.read_frame(), Err(VideoError::Truncated(_))));
}

#[test]
fn zero_frames_give_a_header_only() {
    let input = clip(20, 14, 1, "yuv420p");
    let only_header = &input[..header(&input).len() + 1];
    let (report, out) = run(only_header, Upscaler::pretrained("m3", 2).unwrap()).unwrap();
    assert_eq!(report.frames, 0);
    assert_eq!(report.truncated, None);
    assert_eq!(
        out,
        header(only_header)
            .replace("W20 H14", "W40 H28")
            .into_bytes()
            .into_iter()
            .chain([b'\n'])
            .collect::<Vec<u8>>()
    );
}

fn open_error(stream: &[u8]) -> String {
    match Y4mReader::open(Cursor::new(stream)) {
        Ok(_) => panic!(
            "{:?} opened",
            String::from_utf8_lossy(&stream[..stream.len().min(60)])
        ),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_headers_are_clear_errors() {
    let good = clip(20, 14, 1, "yuv420p");
    assert!(open_error(b"").contains("empty"));
    assert!(open_error(b"\x89PNG\r\n\x1a\n garbage").contains("not a YUV4MPEG2 stream"));
    assert!(
        open_error(&[b"YUV4MPEG2 W20".as_slice(), &[b'9'; 2000]].concat())
            .contains("does not end within 1024 bytes")
    );
    let e = open_error(&with_token(&good, "W20", "Wtwenty"));
    assert!(e.contains("malformed") && e.contains("Wtwenty"), "{e}");
    assert!(open_error(&with_token(&good, "W20", "W0")).contains("malformed"));
    let e = open_error(&with_token(
        &with_token(&good, "W20", "W200000"),
        "H14",
        "H200000",
    ));
    assert!(e.contains("1 GiB"), "{e}");
    let e = open_error(&with_token(&good, "Ip", "It"));
    assert!(e.contains("interlaced") && e.contains("bwdif"), "{e}");
    let e = open_error(&with_token(&good, "C420jpeg", "C411"));
    assert!(
        e.contains("C411") && e.contains("4:2:0, 4:2:2, 4:4:4 or mono"),
        "{e}"
    );
    // Real 10-bit output of ffmpeg.
    let e = open_error(&clip(20, 14, 1, "yuv420p10le"));
    assert!(
        e.contains("C420p10") && e.contains("more than 8 bits"),
        "{e}"
    );
}

#[test]
fn a_corrupt_frame_header_names_the_frame() {
    let input = clip(20, 14, 3, "yuv420p");
    let at = input.windows(6).rposition(|w| w == b"FRAME\n").unwrap();
    let broken = [&input[..at], b"FRAMX\n", &input[at + 6..]].concat();
    let e = run(&broken, Upscaler::pretrained("m3", 2).unwrap()).unwrap_err();
    assert!(matches!(e, VideoError::Stream(_)));
    assert!(
        e.to_string().contains("frame 3") && e.to_string().contains("2 good frames"),
        "{e}"
    );
}

/// A consumer that takes `left` bytes and then closes the pipe.
struct ClosingPipe {
    left: usize,
}

impl Write for ClosingPipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_closed_output_pipe_stops_the_stream() {
    let input = clip(20, 14, 12, "yuv420p");
    let reader = Y4mReader::open(Cursor::new(&input[..])).unwrap();
    let video =
        VideoUpscaler::new(Upscaler::pretrained("m3", 2).unwrap(), reader.format()).unwrap();
    for left in [0, 3000] {
        let reader = Y4mReader::open(Cursor::new(&input[..])).unwrap();
        let e = upscale_y4m(reader, &video, ClosingPipe { left }, |_| {}).unwrap_err();
        assert!(matches!(e, VideoError::OutputClosed), "{e}");
    }
}

#[test]
fn frames_of_the_wrong_size_are_refused() {
    let input = clip(20, 14, 1, "yuv420p");
    let reader = Y4mReader::open(Cursor::new(&input[..])).unwrap();
    let video =
        VideoUpscaler::new(Upscaler::pretrained("m3", 2).unwrap(), reader.format()).unwrap();
    let mut frame = frames(&input).remove(0);
    assert_eq!(video.upscale_frame(&frame).unwrap().y.len(), 40 * 28);
    frame.u.pop();
    let e = video.upscale_frame(&frame).unwrap_err();
    assert!(e.to_string().contains("not 280, 69 and 70"), "{e}");
}
