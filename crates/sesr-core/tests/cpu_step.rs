//! The collapsed step's own CPU kernels (`Sesr::loss_backward` on AVX-512 machines) against
//! libtorch's autograd of the same network: the loss and every parameter's gradient.

mod common;

use common::{max_abs_diff, perturb, photo_y};
use sesr_core::optim::{Adam, AdamConfig};
use sesr_core::train::train_step;
use sesr_core::{QuantConfig, Sesr, SesrConfig, TrainingMode};
use tch::{Device, Kind, Reduction, Tensor};

fn avx512() -> bool {
    is_x86_feature_detected!("avx512f")
}

/// A batch of real-photo crops `[n, 1, h, w]` and their targets `[n, 1, sh, sw]`: the sharper
/// crop of the same place, so the loss is that of real super-resolution.
fn batch(scale: i64, h: i64, w: i64) -> (Tensor, Tensor) {
    let places = [
        ("train/astronaut.png", 200, 100),
        ("train/coffee.png", 100, 100),
        ("train/brick.png", 0, 0),
    ];
    let (mut lr, mut hr) = (vec![], vec![]);
    for (image, x, y) in places {
        let size = (h.max(w) * scale) as u32;
        let full = photo_y(image, x, y, size)
            .narrow(2, 0, h * scale)
            .narrow(3, 0, w * scale);
        lr.push(full.avg_pool2d([scale, scale], [scale, scale], [0, 0], false, true, None));
        hr.push(full);
    }
    (Tensor::cat(&lr, 0), Tensor::cat(&hr, 0))
}

/// Every trainable tensor's gradient (`quant.*.initialized` flags are not trained).
fn gradients(model: &Sesr) -> Vec<(String, Tensor)> {
    model
        .named_tensors()
        .into_iter()
        .filter(|(name, _)| !name.ends_with("initialized"))
        .map(|(name, t)| (name, t.grad().copy()))
        .collect()
}

fn zero_grads(model: &Sesr) {
    for (_, mut t) in model.named_tensors() {
        t.zero_grad();
    }
}

/// Loss and gradients of both paths; asserts the kernels ran where the CPU has AVX-512.
fn compare(config: SesrConfig, lr: &Tensor, hr: &Tensor, seed: i64) {
    compare_quant(config, QuantConfig::default(), lr, hr, seed);
}

fn compare_quant(config: SesrConfig, quant: QuantConfig, lr: &Tensor, hr: &Tensor, seed: i64) {
    let model = Sesr::with_quant(config, TrainingMode::Collapsed, quant, Device::Cpu).unwrap();
    // The first forward pass sets the quantizers' ranges.
    let _ = model.forward(lr).unwrap();
    perturb(&model, seed);
    assert_eq!(model.uses_cpu_step(lr, hr), avx512());

    let reference = model.forward(lr).unwrap().l1_loss(hr, Reduction::Mean);
    reference.backward();
    let reference_loss = reference.double_value(&[]);
    let expected = gradients(&model);
    zero_grads(&model);

    let loss = model.loss_backward(lr, hr).unwrap();
    let actual = gradients(&model);
    assert!(
        (loss - reference_loss).abs() <= 1e-6 * reference_loss.max(1e-3),
        "{config:?}: loss {loss} vs autograd {reference_loss}"
    );
    for ((name, e), (_, a)) in expected.iter().zip(&actual) {
        let scale = e.abs().max().double_value(&[]);
        assert!(scale > 0.0, "{name}: autograd gives no gradient");
        let err = max_abs_diff(e, a);
        assert!(
            err <= 2e-4 * scale,
            "{config:?} {name}: gradient differs by {err} (largest {scale})"
        );
    }
}

#[test]
fn x2_m5_gradients_equal_autograd_on_real_photos() {
    let (lr, hr) = batch(2, 40, 48);
    compare(SesrConfig::new(5, 16, 256, 2).unwrap(), &lr, &hr, 11);
}

#[test]
fn x4_gradients_equal_autograd_on_odd_sizes() {
    // 13 x 21: rows shorter than a register block, every remainder width.
    let (lr, hr) = batch(4, 13, 21);
    compare(SesrConfig::new(3, 16, 64, 4).unwrap(), &lr, &hr, 12);
}

#[test]
fn single_block_and_single_pixel_images() {
    let (lr, hr) = batch(2, 9, 35);
    compare(SesrConfig::new(1, 16, 32, 2).unwrap(), &lr, &hr, 13);
    let (lr, hr) = batch(2, 1, 1);
    compare(SesrConfig::new(2, 16, 32, 2).unwrap(), &lr, &hr, 14);
}

#[test]
fn clamped_outputs_pass_no_gradient() {
    // Targets outside the image range push many outputs past the clamp at 0 and 1.
    let (lr, hr) = batch(2, 16, 16);
    let hr = (hr * 3.0 - 1.0).to_kind(Kind::Float);
    compare(SesrConfig::new(2, 16, 32, 2).unwrap(), &lr, &hr, 15);
}

#[test]
fn weight_quantization_aware_training_runs_on_the_kernels() {
    // Weight fake quantization lives in the collapse, on autograd; the kernels see the
    // quantized kernels and their gradients reach the quantizers' ranges too.
    let (lr, hr) = batch(2, 20, 28);
    let quant = QuantConfig {
        weights: true,
        activations: false,
    };
    compare_quant(SesrConfig::new(2, 16, 32, 2).unwrap(), quant, &lr, &hr, 17);
}

#[test]
fn adam_steps_on_the_kernels_match_expanded_training() {
    let config = SesrConfig::new(2, 16, 64, 2).unwrap();
    let (lr, hr) = batch(2, 24, 24);
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("init.safetensors");
    let first = Sesr::new(config, TrainingMode::Expanded, Device::Cpu).unwrap();
    perturb(&first, 16);
    first.save(&init).unwrap();
    let mut after = vec![];
    for mode in [TrainingMode::Expanded, TrainingMode::Collapsed] {
        let mut model = Sesr::from_checkpoint(&init, Device::Cpu).unwrap();
        model.set_mode(mode);
        assert_eq!(
            model.uses_cpu_step(&lr, &hr),
            mode == TrainingMode::Collapsed && avx512()
        );
        let mut adam = Adam::new(AdamConfig::reference(), model.named_tensors());
        let first_loss = train_step(&model, &mut adam, &lr, &hr).unwrap();
        let second_loss = train_step(&model, &mut adam, &lr, &hr).unwrap();
        assert!(
            second_loss < first_loss,
            "{mode:?}: the step did not lower the loss"
        );
        after.push(model.named_tensors());
    }
    for ((name, expanded), (_, collapsed)) in after[0].iter().zip(&after[1]) {
        let err = max_abs_diff(expanded, collapsed);
        assert!(
            err <= 2e-6,
            "{name}: expanded and kernel updates differ by {err}"
        );
    }
}

#[test]
fn other_models_and_inputs_take_the_autograd_path() {
    let (lr, hr) = batch(2, 8, 8);
    let config = SesrConfig::new(2, 16, 32, 2).unwrap();
    for weights in [false, true] {
        let quant = QuantConfig {
            weights,
            activations: true,
        };
        let qat = Sesr::with_quant(config, TrainingMode::Collapsed, quant, Device::Cpu).unwrap();
        assert!(!qat.uses_cpu_step(&lr, &hr));
    }
    let expanded = Sesr::new(config, TrainingMode::Expanded, Device::Cpu).unwrap();
    assert!(!expanded.uses_cpu_step(&lr, &hr));
    let narrow = Sesr::new(
        SesrConfig::new(2, 8, 32, 2).unwrap(),
        TrainingMode::Collapsed,
        Device::Cpu,
    )
    .unwrap();
    assert!(!narrow.uses_cpu_step(&lr, &hr));
    let model = Sesr::new(config, TrainingMode::Collapsed, Device::Cpu).unwrap();
    assert!(!model.uses_cpu_step(&lr.to_kind(Kind::Double), &hr.to_kind(Kind::Double)));
    // A target of the wrong size is libtorch's to reject, as before.
    let wrong = hr.narrow(3, 0, 15);
    assert!(!model.uses_cpu_step(&lr, &wrong));
    assert!(model.loss_backward(&lr, &wrong).is_err());
    // So is an input that is not a batch of Y planes.
    let rgb = Tensor::rand([1, 3, 8, 8], (Kind::Float, Device::Cpu));
    let message = model.loss_backward(&rgb, &hr).unwrap_err().to_string();
    assert!(message.contains("[N, 1, H, W]"), "{message}");
}
