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
//! runs through `.venv/bin/python` and `crates/sesr-tflite/tests/litert_run.py` (set up by
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

use criterion::{criterion_group, criterion_main, Criterion};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use sesr_data::plane::PlaneF32;
use sesr_runtime::Upscaler;
use sesr_tflite::{write_float32, ConvWeights, SesrGraph};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const THREADS: usize = 2;
const RUNS: usize = 7;

/// SESR-M5 (m = 5, f = 16) with PReLU and weights from a seeded RNG.
fn m5(scale: usize, height: usize, width: usize) -> SesrGraph {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut conv = |o: usize, i: usize, k: usize| {
        let bound = (1.0 / (i * k * k) as f32).sqrt();
        ConvWeights {
            out_channels: o,
            in_channels: i,
            kernel: k,
            weight: (0..o * i * k * k)
                .map(|_| rng.random_range(-bound..bound))
                .collect(),
            bias: (0..o).map(|_| rng.random_range(-0.1..0.1)).collect(),
        }
    };
    let mut convs = vec![conv(16, 1, 5)];
    convs.extend((0..5).map(|_| conv(16, 16, 3)));
    convs.push(conv(scale * scale, 16, 5));
    let prelu = (0..5)
        .map(|_| (0..16).map(|_| rng.random_range(-0.3..0.3)).collect())
        .collect();
    SesrGraph {
        scale,
        height,
        width,
        convs,
        prelu,
    }
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Writes `graph` as sesr-core's collapsed checkpoint (safetensors + JSON sidecar).
fn write_checkpoint(dir: &Path, graph: &SesrGraph) -> PathBuf {
    let name = |i: usize| match i {
        0 => "input_block".to_string(),
        6 => "output_block".to_string(),
        i => format!("blocks.{}", i - 1),
    };
    let mut tensors = vec![];
    for (i, c) in graph.convs.iter().enumerate() {
        let shape = vec![c.out_channels, c.in_channels, c.kernel, c.kernel];
        tensors.push((format!("{}.weight", name(i)), shape, f32_bytes(&c.weight)));
        tensors.push((
            format!("{}.bias", name(i)),
            vec![c.out_channels],
            f32_bytes(&c.bias),
        ));
    }
    for (i, s) in graph.prelu.iter().enumerate() {
        tensors.push((format!("prelu.{i}"), vec![16], f32_bytes(s)));
    }
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, shape, b)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), b).expect("valid tensor");
            (n.clone(), view)
        })
        .collect();
    let path = dir.join(format!("m5_x{}.safetensors", graph.scale));
    safetensors::serialize_to_file(views, None, &path).expect("write the checkpoint");
    let sidecar = format!(
        r#"{{"format_version": 1, "kind": "collapsed", "quant": {{"weights": false,
            "activations": false}}, "config": {{"m": 5, "int_features": 16,
            "feature_size": 256, "scale": {}}}}}"#,
        graph.scale
    );
    std::fs::write(path.with_extension("json"), sidecar).expect("write the sidecar");
    path
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

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// LiteRT's median wall time in ms on `graph` (float32, 2 threads), or why it did not run.
fn litert_median(dir: &Path, graph: &SesrGraph, input: &PlaneF32) -> Result<f64, String> {
    let python = repo_root().join(".venv/bin/python");
    let script = repo_root().join("crates/sesr-tflite/tests/litert_run.py");
    if !python.exists() {
        return Err(format!(
            "{} is missing (run `cargo xtask test` once)",
            python.display()
        ));
    }
    let model = dir.join(format!(
        "m5_x{}_{}x{}.tflite",
        graph.scale, graph.height, graph.width
    ));
    std::fs::write(&model, write_float32(graph).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let input_file = dir.join("input.bin");
    std::fs::write(&input_file, f32_bytes(&input.data)).map_err(|e| e.to_string())?;
    let output = Command::new(&python)
        .arg(&script)
        .arg(&model)
        .args(["--input".as_ref(), input_file.as_os_str()])
        .args([
            "--threads",
            &THREADS.to_string(),
            "--time",
            &RUNS.to_string(),
        ])
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    let times = report["times_ms"]
        .as_array()
        .ok_or("no times_ms in LiteRT's report")?
        .iter()
        .filter_map(|t| t.as_f64())
        .collect();
    Ok(median(times))
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
        let graph = m5(scale, height, width);
        let upscaler = Upscaler::load(&write_checkpoint(dir.path(), &graph))
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
        match litert_median(dir.path(), &graph, &input) {
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
