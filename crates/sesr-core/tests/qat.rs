//! Quantization-aware training: the collapsed model carries int8 grids and ranges, and ReLU
//! replaces PReLU (fine-tuning from FP32 is `sesr-train`'s tests/qat.rs).

mod common;

use common::{max_abs_diff, perturb, photo_y};
use sesr_core::{CollapsedSesr, QuantConfig, Sesr, SesrConfig, TrainingMode};
use tch::Device;

const BOTH: QuantConfig = QuantConfig {
    weights: true,
    activations: true,
};

fn small() -> SesrConfig {
    SesrConfig::new(2, 8, 32, 2).unwrap()
}

#[test]
fn collapsed_qat_model_is_on_int8_grids_and_equals_the_training_model() {
    let model = Sesr::with_quant(small(), TrainingMode::Collapsed, BOTH, Device::Cpu).unwrap();
    perturb(&model, 31);
    let x = photo_y("valid/chelsea.png", 120, 60, 40);
    let trained = model.forward(&x).unwrap(); // first forward sets the ranges
    let collapsed = model.collapse().unwrap();
    // The collapsed model quantizes the final sum on the 8-bit pixel grid [0, 1] instead of
    // the trained range: every output is a multiple of 1/255.
    let output = collapsed.forward(&x).unwrap();
    let levels = &output * 255.0;
    let off_grid = (&levels - levels.round()).abs().max().double_value(&[]);
    assert!(
        off_grid < 1e-3,
        "an output is {off_grid} of a step off the 8-bit grid"
    );
    assert_eq!(collapsed.activation_ranges()[2 + 4], (0.0, 1.0));
    // Inside the trained range, it is the training model rounded to the other grid: within
    // half a step of each. It also recomputes each quantizer's scale from its nudged range,
    // which can differ from the training model's `(max - min) / 255` in the last bit, so a
    // value on a rounding boundary may take the neighbouring level upstream (seen: 99.9% of
    // pixels within the bound).
    let tensors: std::collections::HashMap<_, _> = model.named_tensors().into_iter().collect();
    let end = |name: &str| tensors[&format!("quant.act.output.{name}")].double_value(&[]);
    let (lo, hi) = (end("min").max(0.0), end("max").min(1.0));
    let step = (end("max") - end("min")) / 255.0;
    let inside = trained.gt(lo + step) * trained.lt(hi - step);
    let close = (&output - &trained)
        .abs()
        .le((step + 1.0 / 255.0) / 2.0 + 1e-5);
    let count = |t: &tch::Tensor| {
        t.to_kind(tch::Kind::Float)
            .sum(tch::Kind::Float)
            .double_value(&[])
    };
    let (inside_count, close_inside) = (count(&inside), count(&(close * &inside)));
    assert!(
        inside_count > 0.5 * trained.numel() as f64 && close_inside >= 0.99 * inside_count,
        "{close_inside} of {inside_count} outputs inside the trained range agree"
    );

    // Weights: per output channel k * scale with |k| <= 127.
    for (conv, scales) in collapsed.convs().iter().zip(collapsed.weight_scales()) {
        let w: Vec<f32> = Vec::try_from(&conv.weight.flatten(0, -1)).unwrap();
        let per_channel = w.len() / scales.len();
        for (i, v) in w.iter().enumerate() {
            let k = *v as f64 / scales[i / per_channel];
            assert!(
                (k - k.round()).abs() < 1e-3 && k.abs() <= 127.001,
                "weight {v} off the grid"
            );
        }
    }
    // Activations: m + 5 ranges, each with zero exactly representable.
    let ranges = collapsed.activation_ranges();
    assert_eq!(ranges.len(), 2 + 5);
    for (lo, hi) in ranges {
        let zero_point = -lo / ((hi - lo) / 255.0);
        assert!(
            lo <= 0.0 + 1e-9 && (zero_point - zero_point.round()).abs() < 1e-3,
            "({lo}, {hi})"
        );
    }
    // Saved and loaded, it is the same model.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qat.safetensors");
    collapsed.save(&path).unwrap();
    let loaded = CollapsedSesr::from_checkpoint(&path, Device::Cpu).unwrap();
    assert_eq!(loaded.quant(), BOTH);
    assert_eq!(
        max_abs_diff(
            &loaded.forward(&x).unwrap(),
            &collapsed.forward(&x).unwrap()
        ),
        0.0
    );
    let training = dir.path().join("qat-training.safetensors");
    model.save(&training).unwrap();
    let reloaded = Sesr::from_checkpoint(&training, Device::Cpu).unwrap();
    assert_eq!(reloaded.quant(), BOTH);
    assert_eq!(max_abs_diff(&reloaded.forward(&x).unwrap(), &trained), 0.0);
}

#[test]
fn with_weights_and_activations_quantized_relu_replaces_prelu() {
    let x = photo_y("train/coffee.png", 200, 100, 32);
    let model = Sesr::with_quant(small(), TrainingMode::Collapsed, BOTH, Device::Cpu).unwrap();
    perturb(&model, 32);
    let before = model.forward(&x).unwrap();
    tch::no_grad(|| {
        for (name, mut t) in model.named_tensors() {
            if name.starts_with("prelu.") {
                let _ = t.fill_(0.7);
            }
        }
    });
    assert_eq!(max_abs_diff(&model.forward(&x).unwrap(), &before), 0.0);
    // Weight-only QAT keeps PReLU: the slopes matter there.
    let w_only = QuantConfig {
        weights: true,
        activations: false,
    };
    let model = Sesr::with_quant(small(), TrainingMode::Collapsed, w_only, Device::Cpu).unwrap();
    perturb(&model, 32);
    let before = model.forward(&x).unwrap();
    tch::no_grad(|| {
        model
            .named_tensors()
            .into_iter()
            .filter(|(n, _)| n.starts_with("prelu."))
            .for_each(|(_, mut t)| {
                let _ = t.fill_(0.7);
            })
    });
    assert!(max_abs_diff(&model.forward(&x).unwrap(), &before) > 0.0);
}

#[test]
fn weight_quantization_needs_collapsed_training() {
    let err = Sesr::with_quant(small(), TrainingMode::Expanded, BOTH, Device::Cpu).unwrap_err();
    assert!(
        err.to_string().contains("collapsed linear block type"),
        "{err}"
    );
}
