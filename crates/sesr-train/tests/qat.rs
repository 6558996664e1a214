//! Quantization-aware training as a run: fine-tuned from an FP32 checkpoint it keeps the
//! quality, and its collapsed form carries the learned ranges.

use sesr_core::{CollapsedSesr, QuantConfig, SesrConfig, TrainingMode};
use sesr_data::{load_pairs, LoadOptions, SamplerConfig, Source};
use sesr_testkit::photos::asset;
use sesr_train::{TrainConfig, Trainer};
use std::sync::Arc;
use tch::Device;

const BOTH: QuantConfig = QuantConfig {
    weights: true,
    activations: true,
};

#[test]
fn qat_fine_tunes_from_fp32_and_keeps_the_quality() {
    let load = |folder: &str, min: usize| {
        let opts = LoadOptions {
            min_hr_size: min,
            ..LoadOptions::for_scale(2)
        };
        load_pairs(&Source::HrFolder(asset(folder)), 2, &opts)
            .unwrap()
            .pairs
    };
    let train = Arc::new(load("train", 128));
    let valid = load("valid", 16);
    let model = SesrConfig::new(3, 16, 64, 2).unwrap();
    let config = |quant: QuantConfig, epochs: usize| TrainConfig {
        model,
        mode: TrainingMode::Collapsed,
        quant,
        epochs,
        learning_rate: 5e-4,
        sampler: SamplerConfig {
            batch_size: 16,
            ..SamplerConfig::for_scale(2, 3)
        },
        steps_per_epoch: Some(16),
        init_from: None,
        ranks: 1,
    };
    let dir = tempfile::tempdir().unwrap();
    tch::manual_seed(0);
    let mut fp32 = Trainer::create(
        config(QuantConfig::default(), 10),
        &dir.path().join("fp32"),
        Device::Cpu,
    )
    .unwrap();
    let fp32_psnr = fp32
        .run(train.clone(), &valid, |_| {})
        .unwrap()
        .last()
        .unwrap()
        .valid_psnr_y8;

    let mut qat_config = config(BOTH, 3);
    qat_config.init_from = Some(dir.path().join("fp32/last.safetensors"));
    let mut qat = Trainer::create(qat_config, &dir.path().join("qat"), Device::Cpu).unwrap();
    let metrics = qat.run(train, &valid, |_| {}).unwrap();
    let qat_psnr = metrics.last().unwrap().valid_psnr_y8;
    println!("FP32 {fp32_psnr:.3} dB, QAT (int8 weights and activations, ReLU) {qat_psnr:.3} dB");
    assert!(
        qat_psnr > fp32_psnr - 1.0,
        "QAT {qat_psnr:.3} dB lost more than 1 dB against FP32 {fp32_psnr:.3} dB"
    );
    // The QAT checkpoint remembers its quantization, and its collapsed form carries the ranges.
    let collapsed =
        CollapsedSesr::from_checkpoint(&dir.path().join("qat/best.safetensors"), Device::Cpu)
            .unwrap();
    assert_eq!(collapsed.quant(), BOTH);
    let ranges = collapsed.activation_ranges();
    assert_eq!(ranges.len(), 3 + 5);
    assert_eq!(
        ranges[3 + 4],
        (0.0, 1.0),
        "the final sum is on the 8-bit pixel grid"
    );
}
