//! Video through SESR, 2 threads, side by side in one run: for each case, the runtime's bare
//! per-frame time (`Upscaler::upscale_y` of the luma as floats, and `upscale_y_u8` as bytes,
//! which video uses), one whole frame (`upscale_frame`: luma,
//! chroma, 8-bit conversions), the y4m stream end to end (decode, SESR, chroma, write; from
//! memory to a sink), and ffmpeg's own `scale=...:flags=lanczos` of the same clip (a
//! subprocess reading the y4m file, writing y4m to /dev/null). Throughput is in frames.
//!
//! The clip is a pan across `assets/images/valid/rocket.jpg`, made by ffmpeg (installed by
//! `cargo xtask setup`). Before criterion's own measurement each case prints the medians of
//! the four, in frames per second, and the load average.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sesr_data::plane::{PlaneF32, PlaneU8};
use sesr_runtime::Upscaler;
use sesr_video::{upscale_y4m, VideoUpscaler, Y4mReader, YuvFrame};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const THREADS: usize = 2;
const FRAMES: usize = 8;

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// A `FRAMES`-frame 4:2:0 pan of `width` x `height` across a real photo, as y4m.
fn clip(dir: &Path, width: usize, height: usize) -> PathBuf {
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/images/valid/rocket.jpg");
    let path = dir.join(format!("pan_{width}x{height}.y4m"));
    let filter = format!(
        "scale={}:{},crop={width}:{height}:x='t*{}':y=0,format=yuv420p",
        width * 5 / 4,
        height * 5 / 4,
        width / 40
    );
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-loop", "1", "-i"])
        .arg(photo)
        .args(["-vf", &filter, "-frames:v", &FRAMES.to_string()])
        .args(["-f", "yuv4mpegpipe", "-y"])
        .arg(&path)
        .status()
        .expect("ffmpeg runs (cargo xtask setup installs it)");
    assert!(status.success(), "ffmpeg made the clip");
    path
}

fn median_seconds(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn case(c: &mut Criterion, name: &str, model: &str, scale: usize, width: usize, height: usize) {
    // `cargo bench --bench video -- x2_m5_int8` runs only the matching cases.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter.is_some_and(|f| !name.contains(&f) && !f.starts_with(name)) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = clip(dir.path(), width, height);
    let bytes = std::fs::read(&clip).unwrap();
    let upscaler = || {
        let upscaler = match model {
            "int8" => Upscaler::pretrained_int8("m5", scale),
            _ => Upscaler::pretrained("m5", scale),
        };
        upscaler.unwrap().with_threads(THREADS).unwrap()
    };
    let open = || Y4mReader::open(Cursor::new(&bytes[..])).unwrap();
    let video = VideoUpscaler::new(upscaler(), open().format()).unwrap();
    let format = video.input_format();
    let (luma, chroma) = format.plane_bytes();
    let frame = YuvFrame {
        y: bytes[bytes.len() - format.frame_bytes()..][..luma].to_vec(),
        u: vec![128; chroma],
        v: vec![100; chroma],
    };
    let plane = PlaneF32::from_vec(
        width,
        height,
        frame.y.iter().map(|&b| f32::from(b) / 255.0).collect(),
    )
    .unwrap();
    let bytes_plane = PlaneU8::from_vec(width, height, frame.y.clone()).unwrap();
    let bare = || video.upscaler().upscale_y(&plane).unwrap();
    let bare_u8 = || video.upscaler().upscale_y_u8(&bytes_plane).unwrap();
    let whole = || video.upscale_frame(&frame).unwrap();
    let stream = || {
        let report = upscale_y4m(open(), &video, std::io::sink(), |_| {}).unwrap();
        assert_eq!(report.frames, FRAMES as u64);
    };
    let (out_w, out_h) = (width * scale, height * scale);
    let ffmpeg = || {
        let status = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-threads", "2", "-i"])
            .arg(&clip)
            .args(["-vf", &format!("scale={out_w}:{out_h}:flags=lanczos")])
            .args(["-threads", "2", "-f", "yuv4mpegpipe", "-"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    };
    let fps = |seconds: f64, frames: usize| frames as f64 / seconds;
    let (mut b, mut b8, mut w, mut s, mut f) = (0.0, 0.0, 0.0, 0.0, 0.0);
    // Interleaved, so that load changes hit all alike.
    for _ in 0..2 {
        b = fps(median_seconds(3, || drop(bare())), 1);
        b8 = fps(median_seconds(3, || drop(bare_u8())), 1);
        w = fps(median_seconds(3, || drop(whole())), 1);
        s = fps(median_seconds(3, stream), FRAMES);
        f = fps(median_seconds(3, ffmpeg), FRAMES);
    }
    println!(
        "{name}: frames/s: bare SESR upscale_y {b:.2}, upscale_y_u8 {b8:.2}, whole frame \
         {w:.2}, y4m end to end {s:.2}, ffmpeg lanczos {f:.2}; per frame, end to end costs \
         {:+.1}% over upscale_y, {:+.1}% over upscale_y_u8 (load {})",
        (b / s - 1.0) * 100.0,
        (b8 / s - 1.0) * 100.0,
        load_average()
    );
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    group.bench_function("bare_upscale_y", |bench| bench.iter(bare));
    group.bench_function("bare_upscale_y_u8", |bench| bench.iter(bare_u8));
    group.bench_function("upscale_frame", |bench| bench.iter(whole));
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.bench_function("y4m_end_to_end", |bench| bench.iter(stream));
    group.bench_function("ffmpeg_lanczos", |bench| bench.iter(ffmpeg));
    group.finish();
}

fn benches(c: &mut Criterion) {
    case(c, "x2_m5_int8_1080p_to_4k", "int8", 2, 1920, 1080);
    case(c, "x2_m5_float32_1080p_to_4k", "float32", 2, 1920, 1080);
    case(c, "x2_m5_int8_720p_to_1440p", "int8", 2, 1280, 720);
    case(c, "x2_m5_float32_720p_to_1440p", "float32", 2, 1280, 720);
    case(c, "x4_m5_int8_540p_to_4k", "int8", 4, 960, 540);
    case(c, "x4_m5_float32_540p_to_4k", "float32", 4, 960, 540);
}

criterion_group!(benches_group, benches);
criterion_main!(benches_group);
