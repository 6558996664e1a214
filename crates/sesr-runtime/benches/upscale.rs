//! SESR-M5 float32 on whole frames, sesr-runtime against LiteRT on the same weights.
//!
//! ```sh
//! cargo bench -p sesr-runtime --bench upscale
//! cargo bench -p sesr-runtime --bench upscale -- x2_1080p   # one case
//! ```
//!
//! The network has seeded random weights (PReLU, collapsed checkpoint written here without
//! libtorch and loaded through `Upscaler::load`). Cases: x2 1080x1920 -> 2160x3840, x2
//! 720x1280 -> 1440x2560 and x4 540x960 -> 2160x3840, on 2 threads. Besides criterion's
//! estimate, each case prints the median of 7 runs of ours next to LiteRT's median (7 runs
//! after a warm-up, XNNPACK, 2 threads) on a float32 `.tflite` of the same weights written
//! by `sesr_tflite::write_float32`, their ratio and the load average at the time. LiteRT
//! runs through `.venv/bin/python` and `sesr-testkit`'s `litert_run.py` (set up by
//! `cargo xtask test`); without them only our figures are printed.
//!
//! Measured (medians in ms, 2 threads, AVX-512 kernels, Winograd F(4,3) rows; LiteRT 2.3.0
//! with XNNPACK on the `write_float32` file of the same weights; load average at the start):
//!
//! | case | sesr-runtime | LiteRT float32 | ratio | where |
//! |---|---|---|---|---|
//! | x2 1080x1920 -> 2160x3840 | 254 | 553 | 0.46 | project machine, load 0.5 |
//! | x2 1080x1920 -> 2160x3840 | 317-402 | 565-816 | 0.39-0.71 | 16-core Xeon, 2 pinned cores, idle (4 runs) |
//! | x2 720x1280 -> 1440x2560 | 138-169 | 246-308 | 0.55 | same, idle |
//! | x4 540x960 -> 2160x3840 | 116-119 | 185-194 | 0.60-0.64 | same, idle |
//!
//! Single-threaded on the project machine, 1080p x2 takes about 370-420 ms (about 140 GFLOP/s
//! counted as direct convolution). Peak resident memory of a 1080p x2 frame
//! (`examples/frame.rs` under `/usr/bin/time -v`) is 45 MB, of which the input and output
//! planes are 41.5 MB.

#[path = "../tests/common/mod.rs"]
mod common;

use common::write_checkpoint;
use criterion::{criterion_group, criterion_main, Criterion};
use sesr_data::plane::PlaneF32;
use sesr_net::Float32Network;
use sesr_runtime::Upscaler;
use sesr_testkit::f32_bytes;
use sesr_testkit::litert::{run_litert, Resolver};
use sesr_tflite::{write_float32, InputSize};
use std::time::Instant;

const THREADS: usize = 2;
const RUNS: usize = 7;

/// SESR-M5 (m = 5, f = 16) with PReLU and seeded weights.
fn m5(scale: usize) -> Float32Network {
    sesr_testkit::random_network(scale, 5, 16, true, 5)
}

/// A smooth synthetic frame in [0, 1] (timings do not depend on the content).
fn frame(height: usize, width: usize) -> PlaneF32 {
    PlaneF32::from_fn(width, height, |c, r| {
        0.5 + 0.4 * (r as f32 / 37.0).sin() * (c as f32 / 53.0).cos()
    })
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// LiteRT's median wall time in ms on `graph` at `size` (float32, 2 threads), or why it did
/// not run.
fn litert_median(graph: &Float32Network, size: InputSize, input: &PlaneF32) -> Result<f64, String> {
    let model = write_float32(graph, size).map_err(|e| e.to_string())?;
    let run = run_litert(&model, Some(&f32_bytes(&input.data)), Resolver::Auto, RUNS)
        .map_err(|e| format!("{e:#}"))?;
    Ok(median(run.times_ms()))
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let cases = [
        ("x2_1080p", 2, 1080, 1920),
        ("x2_720p", 2, 720, 1280),
        ("x4_540p", 4, 540, 960),
    ];
    let mut group = c.benchmark_group("sesr_m5_float32");
    group.sample_size(10);
    for (name, scale, height, width) in cases {
        if !c_filter_matches(name) {
            continue;
        }
        let graph = m5(scale);
        let checkpoint = write_checkpoint(dir.path(), &format!("m5_x{scale}"), &graph, None);
        let upscaler = Upscaler::load(&checkpoint)
            .expect("load the checkpoint")
            .with_threads(THREADS)
            .expect("a thread pool");
        let input = frame(height, width);
        group.bench_function(name, |b| {
            b.iter(|| upscaler.upscale_y(&input).expect("upscale"))
        });
        let ours = median(
            (0..RUNS)
                .map(|_| {
                    let start = Instant::now();
                    upscaler.upscale_y(&input).expect("upscale");
                    start.elapsed().as_secs_f64() * 1e3
                })
                .collect(),
        );
        let load = load_average();
        let (sw, sh) = (width * scale, height * scale);
        match litert_median(&graph, InputSize::new(height, width), &input) {
            Ok(litert) => println!(
                "{name}: {width}x{height} -> {sw}x{sh}, {THREADS} threads, {} kernel: \
                 sesr-runtime {ours:.1} ms, LiteRT float32 {litert:.1} ms, ratio {:.2} \
                 (load average {load})",
                upscaler.kernel(),
                ours / litert
            ),
            Err(why) => println!(
                "{name}: sesr-runtime {ours:.1} ms (load average {load}); LiteRT not run: {why}"
            ),
        }
    }
    group.finish();
}

/// Whether the case passes the name filter given on the command line (criterion's own
/// filter only skips its measurement, not our side-by-side runs).
fn c_filter_matches(name: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

criterion_group!(benches, bench);
criterion_main!(benches);
