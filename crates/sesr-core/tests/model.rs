//! The SESR network: modes agree, collapse is exact, shapes and the x4 pixel order are right.

mod common;

use common::{max_abs_diff, perturb, photo_y};
use sesr_core::optim::{Adam, AdamConfig};
use sesr_core::train::train_step;
use sesr_core::{CoreError, ModelError, Preset, Sesr, SesrConfig, TrainingMode};
use tch::{Device, Kind, Tensor};

fn small(scale: usize) -> SesrConfig {
    SesrConfig::new(2, 8, 32, scale).unwrap()
}

#[test]
fn expanded_and_collapsed_modes_give_the_same_output() {
    for scale in [2, 4] {
        let mut model = Sesr::new(
            Preset::M5.config(scale).unwrap(),
            TrainingMode::Expanded,
            Device::Cpu,
        )
        .unwrap();
        perturb(&model, 1);
        let x = photo_y("train/astronaut.png", 200, 100, 48);
        let expanded = model.forward(&x).unwrap();
        model.set_mode(TrainingMode::Collapsed);
        let collapsed = model.forward(&x).unwrap();
        let err = max_abs_diff(&expanded, &collapsed);
        assert!(
            err <= 1e-5,
            "x{scale}: expanded vs collapsed max abs error {err}"
        );
        // Not trivially equal: the network does change the image.
        assert!(
            max_abs_diff(
                &collapsed,
                &x.upsample_nearest2d([48 * scale as i64; 2], None, None)
            ) > 1e-3
        );
    }
}

#[test]
fn one_adam_step_updates_expanded_weights_identically_in_both_modes() {
    let config = small(2);
    let lr = Tensor::cat(
        &[
            photo_y("train/coffee.png", 100, 100, 32),
            photo_y("train/brick.png", 0, 0, 32),
        ],
        0,
    );
    let hr = lr
        .upsample_bicubic2d([64, 64], false, None, None)
        .clamp(0.0, 1.0);
    // The same initial weights for both modes, through a checkpoint: libtorch's generator is
    // shared by the tests running in parallel, so seeding it would not make two models equal.
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("init.safetensors");
    let first = Sesr::new(config, TrainingMode::Expanded, Device::Cpu).unwrap();
    perturb(&first, 4);
    first.save(&init).unwrap();
    let mut after = vec![];
    for mode in [TrainingMode::Expanded, TrainingMode::Collapsed] {
        let mut model = Sesr::from_checkpoint(&init, Device::Cpu).unwrap();
        model.set_mode(mode);
        let before = model
            .named_tensors()
            .into_iter()
            .map(|(n, t)| (n, t.copy()))
            .collect::<Vec<_>>();
        let mut adam = Adam::new(AdamConfig::reference(), model.named_tensors());
        // Two steps so that the moments, not only the first sign-like step, are compared.
        train_step(&model, &mut adam, &lr, &hr).unwrap();
        train_step(&model, &mut adam, &lr, &hr).unwrap();
        let moved: f64 = model
            .named_tensors()
            .iter()
            .zip(&before)
            .map(|((_, a), (_, b))| max_abs_diff(a, b))
            .fold(0.0, f64::max);
        assert!(moved > 1e-5, "{mode:?}: the step did not move the weights");
        after.push(model.named_tensors());
    }
    for ((name, expanded), (_, collapsed)) in after[0].iter().zip(&after[1]) {
        let err = max_abs_diff(expanded, collapsed);
        assert!(
            err <= 1e-6,
            "{name}: expanded-mode and collapsed-mode updates differ by {err}"
        );
    }
}

#[test]
fn collapsed_inference_model_equals_the_training_model() {
    for scale in [2, 4] {
        let model = Sesr::new(small(scale), TrainingMode::Expanded, Device::Cpu).unwrap();
        perturb(&model, 5);
        let inference = model.collapse().unwrap();
        let x = photo_y("valid/chelsea.png", 150, 80, 40);
        let err = max_abs_diff(&model.forward(&x).unwrap(), &inference.forward(&x).unwrap());
        assert!(err <= 1e-5, "x{scale}: {err}");
        // It holds only collapsed weights: one conv per block and the slopes.
        let names: Vec<String> = inference
            .named_tensors()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names.len(), 2 * (2 + 2) + 2);
        assert!(names.iter().all(|n| !n.contains("project")));
    }
}

#[test]
fn output_shapes_for_x2_and_x4() {
    for (scale, h, w) in [(2, 17, 30), (4, 9, 13), (2, 1, 1)] {
        let model = Sesr::new(small(scale), TrainingMode::Collapsed, Device::Cpu).unwrap();
        let out = model
            .forward(&Tensor::rand([3, 1, h, w], (Kind::Float, Device::Cpu)))
            .unwrap();
        assert_eq!(out.size(), [3, 1, h * scale as i64, w * scale as i64]);
        let min = out.min().double_value(&[]);
        let max = out.max().double_value(&[]);
        assert!(
            (0.0..=1.0).contains(&min) && (0.0..=1.0).contains(&max),
            "not clipped: {min}..{max}"
        );
    }
    let model = Sesr::new(small(2), TrainingMode::Collapsed, Device::Cpu).unwrap();
    for bad in [vec![1, 3, 8, 8], vec![1, 1, 0, 8], vec![8, 8]] {
        let err = model
            .forward(&Tensor::zeros(bad.as_slice(), (Kind::Float, Device::Cpu)))
            .unwrap_err();
        assert!(err.to_string().contains("[N, 1, H, W]"), "{err}");
    }
}

#[test]
fn x4_depth_to_space_follows_tensorflow_applied_twice() {
    // 16 channels, channel c filled with c: where does each channel land in the 4x4 block?
    // TF depth_to_space(2) twice: channel c = (i1*2 + j1)*4 + (i2*2 + j2) goes to
    // row 2*i2 + i1, column 2*j2 + j1 (the first shuffle moves by i1, j1 within a 2x2 cell,
    // then the second doubles that grid and adds i2, j2).
    let x = Tensor::arange(16, (Kind::Float, Device::Cpu)).view([1, 16, 1, 1]);
    let once = sesr_core::ops::depth_to_space(&x, 2);
    let twice = sesr_core::ops::depth_to_space(&once, 2);
    let got: Vec<f32> = Vec::try_from(&twice.flatten(0, -1)).unwrap();
    let mut expected = vec![0f32; 16];
    for c in 0..16usize {
        let (i1, j1, i2, j2) = (c / 8, (c / 4) % 2, (c / 2) % 2, c % 2);
        let (row, col) = (2 * i1 + i2, 2 * j1 + j2);
        expected[row * 4 + col] = c as f32;
    }
    assert_eq!(got, expected);
    // And it is not pixel_shuffle(4), which would put channel c at row c/4, column c%4.
    let shuffled: Vec<f32> = Vec::try_from(&x.pixel_shuffle(4).flatten(0, -1)).unwrap();
    assert_ne!(got, shuffled);
}

#[test]
fn bad_hyper_parameters_are_rejected_with_the_reason() {
    let cases = [
        (
            SesrConfig {
                m: 0,
                int_features: 16,
                feature_size: 256,
                scale: 2,
            },
            "m (number of 3x3 blocks)",
        ),
        (
            SesrConfig {
                m: 5,
                int_features: 0,
                feature_size: 256,
                scale: 2,
            },
            "int_features",
        ),
        (
            SesrConfig {
                m: 5,
                int_features: 16,
                feature_size: 0,
                scale: 2,
            },
            "feature_size",
        ),
        (
            SesrConfig {
                m: 5,
                int_features: 16,
                feature_size: 256,
                scale: 3,
            },
            "scale must be 2 or 4, got 3",
        ),
        (
            SesrConfig {
                m: 5,
                int_features: 1 << 20,
                feature_size: 256,
                scale: 2,
            },
            "beyond any sensible",
        ),
    ];
    for (config, message) in cases {
        let err = Sesr::new(config, TrainingMode::Collapsed, Device::Cpu).unwrap_err();
        assert!(
            matches!(err, CoreError::Model(ModelError::InvalidConfig(_))),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(message),
            "`{err}` lacks `{message}`"
        );
    }
    let err = "m6".parse::<Preset>().unwrap_err();
    assert!(err.to_string().contains("m3, m5, m7, m11, xl"), "{err}");
    let err = "folded".parse::<TrainingMode>().unwrap_err();
    assert!(
        err.to_string().contains("`collapsed` or `expanded`"),
        "{err}"
    );
}
