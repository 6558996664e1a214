//! The int8 runtime next to LiteRT (XNNPACK, 2 threads) on the same `.tflite`, in the same run:
//! SESR-M5 x2 1080p -> 4K (the figure), 720p -> 1440p, and x4 540p -> 4K, 2 threads;
//! and the x2 1080p PReLU model (post-training int8 of an FP32 model: an int8 PRELU after each
//! block, which LiteRT's XNNPACK does not take).
//!
//! The model has seeded random weights with activation ranges calibrated on a real photo, and
//! is written by `sesr_tflite` in its default (phase-packed) layout: what `sesr-cli export`
//! produces. Before criterion's own measurement, each case prints both medians, the ratio and
//! the load average, so that figures taken on a busy machine can be told apart.

use std::path::Path;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use sesr_net::Int8Network;
use sesr_runtime::int8::Int8Sesr;
use sesr_testkit::litert::{run_litert, Resolver};
use sesr_testkit::photos::mirrored_photo;
use sesr_testkit::reference::calibrate;
use sesr_testkit::{i8_bytes, i8_from_bytes, random_network};
use sesr_tflite::{write_int8, InputSize, Model};

const THREADS: usize = 2;
const RUNS: usize = 5;
const ROUNDS: usize = 3;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// A `height` x `width` plane of real luminance.
fn photo(height: usize, width: usize) -> sesr_data::plane::PlaneF32 {
    mirrored_photo("rocket.jpg", height, width).expect("assets/images/valid/rocket.jpg")
}

fn case(c: &mut Criterion, name: &str, scale: usize, height: usize, width: usize, prelu: bool) {
    let calib = photo(64, 96);
    let graph = random_network(scale, 5, 16, prelu, 2024);
    let ranges = calibrate(&graph, &calib.data, calib.height, calib.width);
    let q = Int8Network::quantize(&graph, &ranges).expect("quantized model");
    let bytes = write_int8(&q, InputSize::new(height, width)).expect("int8 file");
    let net = Int8Sesr::from_model(&Model::parse(&bytes).expect("readable"), Path::new(name))
        .expect("runnable model");
    let x = q.quantize_input(&photo(height, width).data);

    // Alternate rounds of LiteRT and ours, so that load from other processes hits both; the
    // minimum is the figure least disturbed by it.
    let (mut ours_times, mut litert_times) = (Vec::new(), Vec::new());
    let mut reference = Vec::new();
    for _ in 0..ROUNDS {
        let run =
            run_litert(&bytes, Some(&i8_bytes(&x)), Resolver::Auto, RUNS).expect("LiteRT runs");
        reference = i8_from_bytes(&run.output);
        litert_times.extend(run.times_ms());
        for _ in 0..RUNS {
            let start = Instant::now();
            net.run_int8(&x, width, height, THREADS).expect("run");
            ours_times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    let ours_out = net.run_int8(&x, width, height, THREADS).expect("run");
    let within_one = ours_out
        .iter()
        .zip(&reference)
        .filter(|(a, b)| (**a as i32 - **b as i32).abs() <= 1)
        .count();
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (ours_min, litert_min) = (min(&ours_times), min(&litert_times));
    let (ours, litert) = (median(ours_times), median(litert_times));
    println!(
        "{name}: sesr-runtime int8 median {ours:.1} ms (min {ours_min:.1}, {:?}), LiteRT int8 \
         median {litert:.1} ms (min {litert_min:.1}); LiteRT / ours {:.2}x (medians), {:.2}x \
         (minima); {:.4}% within one step of LiteRT; load average {}",
        net.kernel_level(),
        litert / ours,
        litert_min / ours_min,
        100.0 * within_one as f64 / reference.len() as f64,
        load_average()
    );

    let mut group = c.benchmark_group("int8");
    group.sample_size(10);
    group.bench_function(name, |b| {
        b.iter(|| net.run_int8(&x, width, height, THREADS).expect("run"))
    });
    group.finish();
}

fn int8_upscale(c: &mut Criterion) {
    case(c, "m5_x2_1080p", 2, 1080, 1920, false);
    case(c, "m5_x2_720p", 2, 720, 1280, false);
    case(c, "m5_x4_540p", 4, 540, 960, false);
    case(c, "m5_x2_1080p_prelu", 2, 1080, 1920, true);
}

criterion_group!(benches, int8_upscale);
criterion_main!(benches);
