//! Loader throughput: patches per second for x2 batches of 32 (LR 64x64, HR 128x128), on the
//! shipped training photos (`assets/images/train`, LR made by MATLAB-style bicubic).
//!
//! Run with `cargo bench -p sesr-data --bench loader`; criterion reports `thrpt` in patches
//! (elements) per second.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sesr_data::dataset::{load_pairs, LoadOptions, Source};
use sesr_data::sampler::{Loader, LoaderOptions, SamplerConfig};

fn loader(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/images/train");
    let pairs = load_pairs(&Source::HrFolder(dir), 2, &LoadOptions::for_scale(2))
        .expect("shipped training images load")
        .pairs;
    let pairs = Arc::new(pairs);
    let config = SamplerConfig::for_scale(2, 0);
    let patches = (pairs.len() * config.patches_per_image) as u64;

    let mut group = c.benchmark_group("loader_x2_batch32");
    group.throughput(Throughput::Elements(patches));
    group.sample_size(20);
    let default_workers = LoaderOptions::default().workers;
    for workers in [1, default_workers] {
        let options = LoaderOptions {
            workers,
            ..LoaderOptions::default()
        };
        let mut epoch = 0u64;
        group.bench_function(format!("epoch_{workers}_workers"), |b| {
            b.iter(|| {
                epoch += 1;
                let loader = Loader::spawn_with(pairs.clone(), config, epoch, None, options)
                    .expect("valid loader");
                for batch in loader {
                    black_box(&batch);
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, loader);
criterion_main!(benches);
