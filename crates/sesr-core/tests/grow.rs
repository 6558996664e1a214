//! Growing a trained network into a deeper or wider preset: the same function, and the new
//! blocks and channels learn.

mod common;

use common::{max_abs_diff, perturb, photo_y};
use sesr_core::optim::{Adam, AdamConfig};
use sesr_core::train::train_step;
use sesr_core::{CoreError, Preset, QuantConfig, Sesr, SesrConfig, TrainingMode};
use std::path::Path;
use tch::{Device, Tensor};

fn batch() -> (Tensor, Tensor) {
    let lr = Tensor::cat(
        &[
            photo_y("train/coffee.png", 100, 100, 24),
            photo_y("valid/coins.png", 10, 10, 24),
        ],
        0,
    );
    let hr = lr
        .upsample_bicubic2d([48, 48], false, None, None)
        .clamp(0.0, 1.0);
    (lr, hr)
}

/// A trained-looking source checkpoint: every weight, bias and slope away from its start.
fn source(dir: &Path, preset: Preset, seed: i64) -> (Sesr, std::path::PathBuf) {
    let path = dir.join(format!("{}.safetensors", preset.name()));
    let model = Sesr::new(
        preset.config(2).unwrap(),
        TrainingMode::Collapsed,
        Device::Cpu,
    )
    .unwrap();
    perturb(&model, seed);
    model.save(&path).unwrap();
    (model, path)
}

#[test]
fn a_grown_preset_computes_the_same_function_and_its_new_blocks_learn() {
    let dir = tempfile::tempdir().unwrap();
    let (lr, hr) = batch();
    // M5 -> M7 keeps p = 256 and copies the expanded weights; M5 -> M11 (p = 64) and M7 -> M11
    // refactor every layer by SVD; M11 -> XL widens f from 16 to 32 (same m and p), M5 -> XL
    // widens and deepens.
    for (from, to) in [
        (Preset::M5, Preset::M7),
        (Preset::M5, Preset::M11),
        (Preset::M7, Preset::M11),
        (Preset::M11, Preset::Xl),
        (Preset::M5, Preset::Xl),
    ] {
        let (small, path) = source(dir.path(), from, 3);
        let grown = Sesr::new(to.config(2).unwrap(), TrainingMode::Collapsed, Device::Cpu).unwrap();
        let set = grown.init_from(&path).unwrap();
        let (m_from, m_to) = (small.config().m, grown.config().m);
        assert!(set.contains(&format!("blocks.{}.project.weight", m_to - 1)));
        assert!(set.contains(&format!("prelu.{}", m_to - 1)));
        let expected = small.forward(&lr).unwrap();
        let err = max_abs_diff(&grown.forward(&lr).unwrap(), &expected);
        assert!(
            err < 2e-5,
            "{from:?} -> {to:?}: the grown network's output differs by {err}"
        );
        // The new blocks start as identities but are not stuck there: one step moves their
        // projections off zero.
        let mut adam = Adam::new(AdamConfig::reference(), grown.named_tensors());
        train_step(&grown, &mut adam, &lr, &hr).unwrap();
        let tensors: std::collections::HashMap<_, _> = grown.named_tensors().into_iter().collect();
        for i in m_from..m_to {
            let projection = &tensors[&format!("blocks.{i}.project.weight")];
            let moved = projection.abs().max().double_value(&[]);
            assert!(moved > 0.0, "{from:?} -> {to:?}: block {i} did not learn");
        }
        // A widened network's new channels start unread (every weight reading them is zero,
        // hence the same function) and one step makes the output block read them.
        let (f_from, f_to) = (small.config().int_features, grown.config().int_features);
        if f_to > f_from {
            let collapsed = grown.collapse().unwrap();
            let output = &collapsed.convs().last().unwrap().weight;
            let reads_new = output
                .narrow(1, f_from as i64, (f_to - f_from) as i64)
                .abs()
                .max()
                .double_value(&[]);
            assert!(
                reads_new > 0.0,
                "{from:?} -> {to:?}: the new channels did not learn"
            );
        }
    }
}

#[test]
fn growing_refuses_what_it_cannot_preserve() {
    let dir = tempfile::tempdir().unwrap();
    let (_, m11) = source(dir.path(), Preset::M11, 5);
    let grow = |to: Preset, from: &Path| {
        Sesr::new(to.config(2).unwrap(), TrainingMode::Collapsed, Device::Cpu)
            .unwrap()
            .init_from(from)
            .err()
            .unwrap()
    };
    // Narrower and shallower networks cannot hold the same function.
    let (_, xl) = source(dir.path(), Preset::Xl, 6);
    let err = grow(Preset::M11, &xl);
    assert!(
        matches!(err, CoreError::Mismatch { .. }) && err.to_string().contains("int_features is 32"),
        "{err}"
    );
    let err = grow(Preset::M7, &m11);
    assert!(err.to_string().contains("m is 11"), "{err}");
    // A QAT checkpoint: its ranges belong to the smaller network.
    let qat_path = dir.path().join("qat.safetensors");
    let quant = QuantConfig {
        weights: true,
        activations: true,
    };
    Sesr::with_quant(
        SesrConfig::new(5, 16, 256, 2).unwrap(),
        TrainingMode::Collapsed,
        quant,
        Device::Cpu,
    )
    .unwrap()
    .save(&qat_path)
    .unwrap();
    let err = grow(Preset::M7, &qat_path);
    assert!(err.to_string().contains("float checkpoint"), "{err}");
}

#[test]
fn a_collapsed_float_model_starts_training_where_it_stands() {
    let dir = tempfile::tempdir().unwrap();
    let (lr, hr) = batch();
    // The same preset (fine-tuning a shipped model), a deeper one and a wider one.
    for (from, to) in [
        (Preset::M5, Preset::M5),
        (Preset::M5, Preset::M7),
        (Preset::M11, Preset::Xl),
    ] {
        let (small, _) = source(dir.path(), from, 7);
        let collapsed_path = dir
            .path()
            .join(format!("{}-collapsed.safetensors", from.name()));
        small.collapse().unwrap().save(&collapsed_path).unwrap();
        let grown = Sesr::new(to.config(2).unwrap(), TrainingMode::Collapsed, Device::Cpu).unwrap();
        let set = grown.init_from(&collapsed_path).unwrap();
        assert!(set.contains(&"output_block.project.weight".to_string()));
        let expected = small.forward(&lr).unwrap();
        let err = max_abs_diff(&grown.forward(&lr).unwrap(), &expected);
        assert!(
            err < 2e-5,
            "{from:?} -> {to:?} from collapsed weights: the output differs by {err}"
        );
        // The factored layers train: one step moves the output.
        let mut adam = Adam::new(AdamConfig::reference(), grown.named_tensors());
        train_step(&grown, &mut adam, &lr, &hr).unwrap();
        let moved = max_abs_diff(&grown.forward(&lr).unwrap(), &expected);
        assert!(moved > 1e-4, "{from:?} -> {to:?}: one step moved nothing");
    }
    // A collapsed QAT model: its ranges and integer grid are not a float start.
    let qat = Sesr::with_quant(
        SesrConfig::new(5, 16, 256, 2).unwrap(),
        TrainingMode::Collapsed,
        QuantConfig {
            weights: true,
            activations: true,
        },
        Device::Cpu,
    )
    .unwrap();
    let qat_path = dir.path().join("qat-collapsed.safetensors");
    qat.collapse().unwrap().save(&qat_path).unwrap();
    let err = Sesr::new(
        Preset::M5.config(2).unwrap(),
        TrainingMode::Collapsed,
        Device::Cpu,
    )
    .unwrap()
    .init_from(&qat_path)
    .err()
    .unwrap();
    assert!(err.to_string().contains("float checkpoint"), "{err}");
}
