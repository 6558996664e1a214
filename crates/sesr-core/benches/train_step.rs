//! One SESR-M5 x2 training step (Adam, L1, batch 32, LR 64x64) in collapsed and expanded mode,
//! and the collapsed step of quantization-aware training (8-bit weights and activations); the
//! collapsed step of SESR-XL (f = 32) on the CPU kernels and on libtorch's autograd, for its
//! cost per MAC next to M5's.

use criterion::{criterion_group, criterion_main, Criterion};
use sesr_core::optim::{Adam, AdamConfig};
use sesr_core::train::train_step;
use sesr_core::{Preset, QuantConfig, Sesr, TrainingMode};
use std::time::Duration;
use tch::{Device, Kind, Reduction, Tensor};

fn bench_train_step(c: &mut Criterion) {
    let config = Preset::M5.config(2).unwrap();
    let lr = Tensor::rand([32, 1, 64, 64], (Kind::Float, Device::Cpu));
    let hr = Tensor::rand([32, 1, 128, 128], (Kind::Float, Device::Cpu));
    let mut group = c.benchmark_group("sesr_m5_x2_train_step_b32_64x64");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    for mode in [TrainingMode::Collapsed, TrainingMode::Expanded] {
        let model = Sesr::new(config, mode, Device::Cpu).unwrap();
        let mut adam = Adam::new(AdamConfig::reference(), model.named_tensors());
        group.bench_function(mode.name(), |b| {
            b.iter(|| train_step(&model, &mut adam, &lr, &hr).unwrap())
        });
    }
    let qat = QuantConfig {
        weights: true,
        activations: true,
    };
    let model = Sesr::with_quant(config, TrainingMode::Collapsed, qat, Device::Cpu).unwrap();
    let mut adam = Adam::new(AdamConfig::reference(), model.named_tensors());
    // The first step sets the quantizers' ranges; the steps measured are the steady ones.
    train_step(&model, &mut adam, &lr, &hr).unwrap();
    group.bench_function("collapsed_qat", |b| {
        b.iter(|| train_step(&model, &mut adam, &lr, &hr).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("sesr_xl_x2_train_step_b32_64x64");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(20));
    let model = Sesr::new(
        Preset::Xl.config(2).unwrap(),
        TrainingMode::Collapsed,
        Device::Cpu,
    )
    .unwrap();
    let mut adam = Adam::new(AdamConfig::reference(), model.named_tensors());
    group.bench_function("collapsed", |b| {
        b.iter(|| train_step(&model, &mut adam, &lr, &hr).unwrap())
    });
    // The same step on libtorch's convolutions and autograd, the path XL took before the
    // kernels handled f = 32.
    group.bench_function("collapsed_libtorch", |b| {
        b.iter(|| {
            adam.zero_grad();
            let loss = model.forward(&lr).unwrap().l1_loss(&hr, Reduction::Mean);
            loss.backward();
            adam.step();
        })
    });
    group.finish();
}

criterion_group!(benches, bench_train_step);
criterion_main!(benches);
