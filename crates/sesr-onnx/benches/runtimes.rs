//! The shipped SESR-M5 x2 (float32 and its QAT int8) exported as ONNX and TFLite, each run in
//! its runtime on one 1080x1920 luminance plane (4K out), 2 threads, in the same run: ONNX
//! Runtime (CPU provider) on the `.onnx` files, LiteRT (XNNPACK) on the `.tflite` files, and
//! sesr-runtime on the checkpoint and the int8 `.tflite`. The files are what `sesr-cli
//! export` writes: the float32 ONNX and TFLite from the shipped checkpoint, the int8 ONNX from
//! the shipped int8 `.tflite`'s integer network (what `--format onnx-int8` of the QAT
//! checkpoint builds). The Python runtimes time themselves (median of 5 runs after a warm-up,
//! printed with the file sizes and the load average); criterion times sesr-runtime.

use criterion::{criterion_group, criterion_main, Criterion};
use sesr_net::CollapsedModel;
use sesr_runtime::Upscaler;
use sesr_testkit::photos::mirrored_photo;
use sesr_testkit::{litert, ort, repo_root};
use sesr_tflite::{InputSize, Model};
use std::path::Path;
use std::process::Command;

const THREADS: &str = "2";
const RUNS: &str = "5";
const SIZE: InputSize = InputSize::FULL_HD;

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Median milliseconds of `script` (ort_run.py or litert_run.py) on `model` and `input`.
fn python_median(script: &Path, model: &Path, input: &Path, extra: &[&str]) -> f64 {
    let out = Command::new(litert::python().unwrap())
        .arg(script)
        .arg(model)
        .arg("--input")
        .arg(input)
        .args(["--threads", THREADS, "--time", RUNS])
        .args(extra)
        .output()
        .expect("the project's Python (cargo xtask setup)");
    assert!(
        out.status.success(),
        "{}: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut times: Vec<f64> = report["times_ms"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_f64())
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn benches(c: &mut Criterion) {
    let models = repo_root().join("crates/sesr-zoo/models");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: Vec<u8>| {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        (path, bytes.len())
    };
    let graph = CollapsedModel::read(&models.join("m5_x2.safetensors"))
        .unwrap()
        .network;
    let shipped_int8 = std::fs::read(models.join("m5_x2_int8.tflite")).unwrap();
    let int8_network = sesr_tflite::read_int8(&Model::parse(&shipped_int8).unwrap())
        .unwrap()
        .network;
    let onnx_float = write("m5_x2.onnx", sesr_onnx::float32_model(&graph).unwrap());
    let onnx_int8 = write(
        "m5_x2_int8.onnx",
        sesr_onnx::int8_model(&int8_network).unwrap(),
    );
    let tflite_float = write(
        "m5_x2.tflite",
        sesr_tflite::write_float32(&graph, SIZE).unwrap(),
    );
    let tflite_int8 = write("m5_x2_int8.tflite", shipped_int8);

    // A 1080x1920 plane of real luminance: a photo mirrored out to that size.
    let plane = mirrored_photo("rocket.jpg", SIZE.height, SIZE.width).unwrap();
    let float_input = dir.path().join("in_f32.bin");
    let floats: Vec<u8> = plane.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&float_input, floats).unwrap();
    let int8_runtime = Upscaler::load(&tflite_int8.0)
        .unwrap()
        .with_threads(2)
        .unwrap();
    let float_runtime = Upscaler::pretrained("m5", 2)
        .unwrap()
        .with_threads(2)
        .unwrap();
    let int8_input = dir.path().join("in_i8.bin");
    let quantized: Vec<u8> = plane
        .data
        .iter()
        .map(|&v| int8_network.input.quantize(v) as u8)
        .collect();
    std::fs::write(&int8_input, quantized).unwrap();

    let hw = ["--height", "1080", "--width", "1920"];
    let ort_float = python_median(&ort::script(), &onnx_float.0, &float_input, &hw);
    let ort_int8 = python_median(&ort::script(), &onnx_int8.0, &float_input, &hw);
    let litert_float = python_median(&litert::script(), &tflite_float.0, &float_input, &[]);
    let litert_int8 = python_median(&litert::script(), &tflite_int8.0, &int8_input, &[]);
    println!(
        "M5 x2 1080x1920 -> 4K, 2 threads, median ms (load {}):\n  \
         ONNX Runtime: float32 {ort_float:.1} ({} bytes), int8 QDQ {ort_int8:.1} ({} bytes)\n  \
         LiteRT XNNPACK: float32 {litert_float:.1} ({} bytes), int8 {litert_int8:.1} ({} bytes)",
        load_average(),
        onnx_float.1,
        onnx_int8.1,
        tflite_float.1,
        tflite_int8.1
    );
    let mut group = c.benchmark_group("m5_x2_1080p_sesr_runtime");
    group.sample_size(10);
    group.bench_function("float32", |b| {
        b.iter(|| float_runtime.upscale_y(&plane).unwrap())
    });
    group.bench_function("int8", |b| {
        b.iter(|| int8_runtime.upscale_y(&plane).unwrap())
    });
    group.finish();
}

criterion_group!(benches_group, benches);
criterion_main!(benches_group);
