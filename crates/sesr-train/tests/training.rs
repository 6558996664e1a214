//! Training on the shipped photos: it learns, it resumes exactly, x4 really starts from x2.

use sesr_core::{CoreError, QuantConfig, Sesr, SesrConfig, TrainingMode};
use sesr_data::{imresize, load_pairs, psnr_y8, ImagePair, LoadOptions, SamplerConfig, Source};
use sesr_model::metrics::EpochMetrics;
use sesr_model::run::RunDir;
use sesr_testkit::photos::asset;
use sesr_train::{validate, TrainConfig, TrainError, Trainer};
use std::path::Path;
use std::sync::Arc;
use tch::{Device, Kind, Tensor};

/// Gives every tensor of `model` distinct non-zero values (biases and slopes start at zero,
/// which would hide a copy that skips them).
fn scramble(model: &Sesr) {
    tch::no_grad(|| {
        for (i, (_, mut t)) in model.named_tensors().into_iter().enumerate() {
            let values = Tensor::arange(t.numel() as i64, (Kind::Float, Device::Cpu))
                .sin()
                .view(t.size().as_slice())
                * 0.05
                + 0.001 * i as f64;
            t.copy_(&values);
        }
    });
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

fn pairs(folder: &str, scale: usize, min_hr_size: usize) -> Vec<ImagePair> {
    let source = Source::HrFolder(asset(folder));
    let opts = LoadOptions {
        min_hr_size,
        ..LoadOptions::for_scale(scale)
    };
    load_pairs(&source, scale, &opts).unwrap().pairs
}

fn config(model: SesrConfig, epochs: usize, steps: usize, batch: usize) -> TrainConfig {
    TrainConfig {
        model,
        mode: TrainingMode::Collapsed,
        quant: QuantConfig::default(),
        epochs,
        learning_rate: 5e-4,
        sampler: SamplerConfig {
            batch_size: batch,
            ..SamplerConfig::for_scale(model.scale, 7)
        },
        steps_per_epoch: Some(steps),
        init_from: None,
        ranks: 1,
    }
}

/// Mean PSNR (8-bit Y, border = scale) of bicubic upscaling on the same pairs.
fn bicubic_psnr(pairs: &[ImagePair], scale: usize) -> f64 {
    let total: f64 = pairs
        .iter()
        .map(|p| {
            let up = imresize(&p.lr.to_f32(), p.lr.width * scale, p.lr.height * scale);
            psnr_y8(&up, &p.hr.to_f32(), scale)
        })
        .sum();
    total / pairs.len() as f64
}

fn metrics_lines(run_dir: &Path) -> Vec<EpochMetrics> {
    std::fs::read_to_string(RunDir::new(run_dir).metrics())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn short_training_lowers_the_loss_and_beats_bicubic_on_held_out_images() {
    tch::manual_seed(0);
    let train = Arc::new(pairs("train", 2, 128));
    let valid = pairs("valid", 2, 16);
    let dir = tempfile::tempdir().unwrap();
    let model = SesrConfig::new(3, 16, 64, 2).unwrap();
    let mut trainer = Trainer::create(config(model, 12, 16, 16), dir.path(), Device::Cpu).unwrap();
    let metrics = trainer.run(train, &valid, |_| {}).unwrap();
    let bicubic = bicubic_psnr(&valid, 2);
    let (first, last) = (&metrics[0], metrics.last().unwrap());
    println!(
        "loss {:.5} -> {:.5}; valid PSNR {:.3} -> {:.3} dB; bicubic {bicubic:.3} dB",
        first.train_loss, last.train_loss, first.valid_psnr_y8, last.valid_psnr_y8
    );
    assert!(
        last.train_loss < 0.8 * first.train_loss,
        "loss {} -> {}",
        first.train_loss,
        last.train_loss
    );
    assert!(
        last.valid_psnr_y8 > bicubic,
        "SESR {:.3} dB does not beat bicubic {bicubic:.3} dB",
        last.valid_psnr_y8
    );
    // The files a user relies on are there, and best.safetensors scores the best epoch.
    assert_eq!(metrics_lines(dir.path()).len(), 12);
    let best = Sesr::from_checkpoint(&dir.path().join("best.safetensors"), Device::Cpu).unwrap();
    let best_psnr = metrics
        .iter()
        .map(|m| m.valid_psnr_y8)
        .fold(f64::MIN, f64::max);
    let rescored = validate(&best.collapse().unwrap(), &valid).unwrap().psnr_y8;
    assert!(
        (rescored - best_psnr).abs() < 1e-6,
        "{rescored} vs {best_psnr}"
    );
}

#[test]
fn resuming_after_an_interruption_gives_the_same_weights() {
    let train = Arc::new(pairs("train", 2, 128));
    let valid = pairs("valid", 2, 16)[..1].to_vec();
    let model = SesrConfig::new(2, 8, 32, 2).unwrap();
    // Both runs start from the same saved weights: libtorch's generator is shared by the
    // tests running in parallel, so seeding it would not make two initialisations equal.
    let start = tempfile::tempdir().unwrap();
    let init = start.path().join("init.safetensors");
    Sesr::new(model, TrainingMode::Collapsed, Device::Cpu)
        .unwrap()
        .save(&init)
        .unwrap();
    let config = |epochs| TrainConfig {
        init_from: Some(init.clone()),
        ..config(model, epochs, 4, 8)
    };

    let straight = tempfile::tempdir().unwrap();
    let mut trainer = Trainer::create(config(3), straight.path(), Device::Cpu).unwrap();
    trainer.run(train.clone(), &valid, |_| {}).unwrap();
    let expected = trainer.model().named_tensors();

    // Same run, stopped after epoch 2 (the files are exactly what a kill after epoch 2 leaves),
    // plus a metrics line of an epoch 3 that never committed.
    let interrupted = tempfile::tempdir().unwrap();
    let mut first_part = Trainer::create(config(2), interrupted.path(), Device::Cpu).unwrap();
    first_part.run(train.clone(), &valid, |_| {}).unwrap();
    drop(first_part);
    let metrics_path = RunDir::new(interrupted.path()).metrics();
    let mut text = std::fs::read_to_string(&metrics_path).unwrap();
    text.push_str(
        &text
            .lines()
            .last()
            .unwrap()
            .replace("\"epoch\":2", "\"epoch\":3"),
    );
    text.push('\n');
    std::fs::write(&metrics_path, text).unwrap();

    tch::manual_seed(999); // resuming must not depend on the global RNG
    let mut resumed = Trainer::resume(interrupted.path(), Some(3), Device::Cpu).unwrap();
    assert_eq!(resumed.epochs_done(), 2);
    resumed.run(train, &valid, |_| {}).unwrap();
    for ((name, a), (_, b)) in resumed.model().named_tensors().iter().zip(&expected) {
        assert_eq!(max_abs_diff(a, b), 0.0, "{name} differs after resume");
    }
    let epochs: Vec<usize> = metrics_lines(interrupted.path())
        .iter()
        .map(|m| m.epoch)
        .collect();
    assert_eq!(epochs, vec![1, 2, 3]);
    let straight_loss = metrics_lines(straight.path())[2].train_loss;
    assert_eq!(
        metrics_lines(interrupted.path())[2].train_loss,
        straight_loss
    );
}

#[test]
fn x4_training_starts_from_the_x2_weights() {
    let dir = tempfile::tempdir().unwrap();
    let x2_path = dir.path().join("x2.safetensors");
    let x2 = Sesr::new(
        SesrConfig::new(2, 8, 32, 2).unwrap(),
        TrainingMode::Collapsed,
        Device::Cpu,
    )
    .unwrap();
    scramble(&x2);
    x2.save(&x2_path).unwrap();

    let mut cfg = config(SesrConfig::new(2, 8, 32, 4).unwrap(), 1, 1, 4);
    cfg.init_from = Some(x2_path.clone());
    let trainer = Trainer::create(cfg, &dir.path().join("x4"), Device::Cpu).unwrap();
    let x2_tensors: std::collections::HashMap<_, _> = x2.named_tensors().into_iter().collect();
    let mut copied = 0;
    for (name, t) in trainer.model().named_tensors() {
        if name.starts_with("output_block.") {
            // The output block has 16 outputs at x4, 4 at x2: it keeps its fresh initialisation.
            continue;
        }
        assert_eq!(
            max_abs_diff(&t, &x2_tensors[&name]),
            0.0,
            "{name} was not copied from x2"
        );
        copied += 1;
    }
    assert_eq!(copied, x2_tensors.len() - 4);
    assert_eq!(
        trainer
            .model()
            .named_tensors()
            .iter()
            .find(|(n, _)| n == "output_block.project.weight")
            .unwrap()
            .1
            .size(),
        [16, 32, 1, 1]
    );
}

#[test]
fn bad_runs_and_initialisations_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let model = SesrConfig::new(2, 8, 32, 2).unwrap();
    // Resuming where nothing was started.
    let err = Trainer::resume(&dir.path().join("nothing"), None, Device::Cpu)
        .err()
        .unwrap();
    assert!(err.to_string().contains("config.json"), "{err}");
    // Starting over a run that has progress.
    let train = Arc::new(pairs("train", 2, 128));
    let valid = pairs("valid", 2, 16)[..1].to_vec();
    Trainer::create(config(model, 1, 1, 4), dir.path(), Device::Cpu)
        .unwrap()
        .run(train, &valid, |_| {})
        .unwrap();
    let err = Trainer::create(config(model, 1, 1, 4), dir.path(), Device::Cpu)
        .err()
        .unwrap();
    assert!(matches!(err, TrainError::RunExists { .. }), "{err}");
    assert!(
        err.to_string().contains("already holds a training run"),
        "{err}"
    );
    // Initialising from a different architecture or from a collapsed model.
    let other = dir.path().join("m3.safetensors");
    Sesr::new(
        SesrConfig::new(3, 8, 32, 2).unwrap(),
        TrainingMode::Collapsed,
        Device::Cpu,
    )
    .unwrap()
    .save(&other)
    .unwrap();
    let mut cfg = config(model, 1, 1, 4);
    cfg.init_from = Some(other);
    let err = Trainer::create(cfg.clone(), &dir.path().join("a"), Device::Cpu)
        .err()
        .unwrap();
    assert!(
        matches!(err, TrainError::Core(CoreError::Mismatch { .. }))
            && err.to_string().contains("m is 3"),
        "{err}"
    );
    // A collapsed float model starts a run (a shipped one, say); a collapsed QAT model, whose
    // weights belong to its 8-bit grid, does not.
    let collapsed = dir.path().join("collapsed.safetensors");
    Sesr::new(model, TrainingMode::Collapsed, Device::Cpu)
        .unwrap()
        .collapse()
        .unwrap()
        .save(&collapsed)
        .unwrap();
    cfg.init_from = Some(collapsed);
    Trainer::create(cfg.clone(), &dir.path().join("b"), Device::Cpu).unwrap();
    let collapsed_qat = dir.path().join("collapsed_qat.safetensors");
    let quant = QuantConfig {
        weights: true,
        activations: true,
    };
    Sesr::with_quant(model, TrainingMode::Collapsed, quant, Device::Cpu)
        .unwrap()
        .collapse()
        .unwrap()
        .save(&collapsed_qat)
        .unwrap();
    cfg.init_from = Some(collapsed_qat);
    let err = Trainer::create(cfg, &dir.path().join("c"), Device::Cpu)
        .err()
        .unwrap();
    assert!(err.to_string().contains("float checkpoint"), "{err}");
}

/// The named tensors of a run's model, as plain values.
fn weights_of(trainer: &Trainer) -> Vec<(String, Vec<f32>)> {
    trainer
        .model()
        .named_tensors()
        .into_iter()
        .map(|(name, t)| (name, Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()))
        .collect()
}

/// Issue #11: `--seed` fixes the starting weights (libtorch's global generator, which nothing
/// seeded, used to draw them), and a run killed before its first epoch was committed starts
/// again from the same weights and the same `--init-from` when resumed (it used to restart
/// from random weights).
#[test]
fn the_seed_fixes_the_start_and_a_resume_before_the_first_epoch_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = SesrConfig::new(2, 16, 32, 2).unwrap();
    let seeded = |seed: u64| TrainConfig {
        sampler: SamplerConfig {
            seed,
            ..SamplerConfig::for_scale(2, seed)
        },
        ..config(model, 1, 2, 4)
    };
    // Whatever libtorch's generator says, the seed decides.
    tch::manual_seed(1);
    let a = Trainer::create(seeded(3), &dir.path().join("a"), Device::Cpu).unwrap();
    tch::manual_seed(2);
    let b = Trainer::create(seeded(3), &dir.path().join("b"), Device::Cpu).unwrap();
    let c = Trainer::create(seeded(4), &dir.path().join("c"), Device::Cpu).unwrap();
    assert!(weights_of(&a) == weights_of(&b));
    assert!(weights_of(&a) != weights_of(&c));

    // A start from another checkpoint, killed before its first epoch: `create` wrote the
    // run's config.json and an empty metrics.jsonl, no resume state.
    let init = dir.path().join("init.safetensors");
    let source = Sesr::new(model, TrainingMode::Collapsed, Device::Cpu).unwrap();
    scramble(&source);
    source.save(&init).unwrap();
    let from_init = TrainConfig {
        init_from: Some(init.clone()),
        ..seeded(3)
    };
    let killed = dir.path().join("killed");
    let started = weights_of(&Trainer::create(from_init, &killed, Device::Cpu).unwrap());
    let resumed = Trainer::resume(&killed, None, Device::Cpu).unwrap();
    assert_eq!(resumed.epochs_done(), 0);
    assert!(weights_of(&resumed) == started);
    let source_weights: Vec<(String, Vec<f32>)> = source
        .named_tensors()
        .into_iter()
        .map(|(name, t)| (name, Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()))
        .collect();
    assert!(
        weights_of(&resumed) == source_weights,
        "--init-from was lost"
    );
}
