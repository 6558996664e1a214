//! Checkpoints: bit-exact round trips, architecture mismatches named, broken files rejected.

mod common;

use common::{max_abs_diff, perturb, photo_y};
use sesr_core::checkpoint::sidecar_path;
use sesr_core::{CollapsedSesr, CoreError, Sesr, SesrConfig, TrainingMode};
use tch::Device;

fn config(m: usize, scale: usize) -> SesrConfig {
    SesrConfig::new(m, 8, 24, scale).unwrap()
}

fn bits(model: &[(String, tch::Tensor)]) -> Vec<(String, Vec<u32>)> {
    model
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                Vec::<f32>::try_from(&t.flatten(0, -1))
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn training_checkpoint_round_trip_is_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run/model.safetensors");
    let model = Sesr::new(config(3, 2), TrainingMode::Expanded, Device::Cpu).unwrap();
    perturb(&model, 11);
    model.save(&path).unwrap();
    assert!(sidecar_path(&path).is_file());
    // No temporary files are left behind.
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        2
    );

    let loaded = Sesr::from_checkpoint(&path, Device::Cpu).unwrap();
    assert_eq!(loaded.config(), model.config());
    assert_eq!(loaded.mode(), TrainingMode::Expanded);
    assert_eq!(bits(&loaded.named_tensors()), bits(&model.named_tensors()));

    // The sidecar says what the file is, in plain JSON.
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sidecar_path(&path)).unwrap()).unwrap();
    assert_eq!(sidecar["kind"], "training");
    assert_eq!(sidecar["mode"], "expanded");
    assert_eq!(sidecar["config"]["m"], 3);
    assert_eq!(sidecar["format_version"], 1);
}

#[test]
fn collapsed_checkpoint_holds_only_collapsed_weights_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("collapsed.safetensors");
    let wide = SesrConfig::new(2, 8, 128, 4).unwrap();
    let model = Sesr::new(wide, TrainingMode::Collapsed, Device::Cpu).unwrap();
    perturb(&model, 12);
    let inference = model.collapse().unwrap();
    inference.save(&path).unwrap();
    let loaded = CollapsedSesr::from_checkpoint(&path, Device::Cpu).unwrap();
    assert_eq!(
        bits(&loaded.named_tensors()),
        bits(&inference.named_tensors())
    );
    let x = photo_y("valid/coins.png", 10, 10, 24);
    assert!(max_abs_diff(&loaded.forward(&x).unwrap(), &model.forward(&x).unwrap()) <= 1e-5);
    // Far smaller than the expanded model: no feature_size-wide tensors at all.
    let stored = std::fs::metadata(&path).unwrap().len();
    let training = dir.path().join("training.safetensors");
    model.save(&training).unwrap();
    assert!(stored * 3 < std::fs::metadata(&training).unwrap().len());
    // A training checkpoint can be opened as an inference model too: it is collapsed on load.
    let from_training = CollapsedSesr::from_checkpoint(&training, Device::Cpu).unwrap();
    assert!(
        max_abs_diff(
            &from_training.forward(&x).unwrap(),
            &loaded.forward(&x).unwrap()
        ) <= 1e-6
    );
    // But a collapsed file cannot resume training.
    let err = Sesr::from_checkpoint(&path, Device::Cpu).unwrap_err();
    assert!(
        err.to_string().contains("collapsed inference model"),
        "{err}"
    );
}

#[test]
fn loading_into_a_different_architecture_names_the_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m3.safetensors");
    Sesr::new(config(3, 2), TrainingMode::Collapsed, Device::Cpu)
        .unwrap()
        .save(&path)
        .unwrap();
    for (other, field) in [
        (config(5, 2), "m is 3 in the checkpoint but 5 here"),
        (config(3, 4), "scale is 2 in the checkpoint but 4 here"),
    ] {
        let mut model = Sesr::new(other, TrainingMode::Collapsed, Device::Cpu).unwrap();
        let err = model.load_weights(&path).unwrap_err();
        assert!(matches!(err, CoreError::Mismatch { .. }), "{err:?}");
        assert!(err.to_string().contains(field), "`{err}` lacks `{field}`");
        assert!(err.to_string().contains("m3.safetensors"), "{err}");
    }
}

#[test]
fn broken_checkpoints_give_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let model = Sesr::new(config(2, 2), TrainingMode::Collapsed, Device::Cpu).unwrap();

    // Missing files.
    let err = Sesr::from_checkpoint(&path, Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("model.json"), "{err}");
    model.save(&path).unwrap();

    // Truncated weights.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = Sesr::from_checkpoint(&path, Device::Cpu).unwrap_err();
    assert!(
        err.to_string().contains("model.safetensors")
            && err.to_string().contains("is not a safetensors file"),
        "{err}"
    );
    std::fs::write(&path, &bytes).unwrap();

    // A sidecar that is not ours, one from the future, one with an impossible config.
    let sidecar = sidecar_path(&path);
    let good = std::fs::read_to_string(&sidecar).unwrap();
    for (text, message) in [
        (
            "{\"hello\": 1}".to_string(),
            "is not a SESR checkpoint sidecar",
        ),
        (
            good.replace("\"format_version\": 1", "\"format_version\": 99"),
            "format version 99",
        ),
        (
            good.replace("\"scale\": 2", "\"scale\": 3"),
            "scale must be 2 or 4",
        ),
    ] {
        std::fs::write(&sidecar, text).unwrap();
        let err = Sesr::from_checkpoint(&path, Device::Cpu).unwrap_err();
        assert!(
            err.to_string().contains(message),
            "`{err}` lacks `{message}`"
        );
    }
    std::fs::write(&sidecar, &good).unwrap();

    // Weights whose tensors do not match the sidecar's architecture.
    let other = dir.path().join("other.safetensors");
    Sesr::new(
        SesrConfig::new(2, 4, 24, 2).unwrap(),
        TrainingMode::Collapsed,
        Device::Cpu,
    )
    .unwrap()
    .save(&other)
    .unwrap();
    std::fs::copy(&other, &path).unwrap();
    let err = Sesr::from_checkpoint(&path, Device::Cpu).unwrap_err();
    assert!(
        err.to_string()
            .contains("`blocks.0.conv.weight` has shape [24, 4, 3, 3]"),
        "{err}"
    );
}

/// Issue #11: a sidecar edited to describe a smaller network (m 5 -> 3) used to load the
/// first three blocks silently; every kind of load now refuses it, naming the file and the
/// first tensor its sidecar does not describe.
#[test]
fn a_sidecar_that_disagrees_with_its_tensors_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let training = dir.path().join("m5.safetensors");
    let collapsed = dir.path().join("m5_collapsed.safetensors");
    let model = Sesr::new(config(5, 2), TrainingMode::Collapsed, Device::Cpu).unwrap();
    model.save(&training).unwrap();
    model.collapse().unwrap().save(&collapsed).unwrap();
    for path in [&training, &collapsed] {
        let sidecar = sidecar_path(path);
        let good = std::fs::read_to_string(&sidecar).unwrap();
        std::fs::write(&sidecar, good.replace("\"m\": 5", "\"m\": 3")).unwrap();
        let err = CollapsedSesr::from_checkpoint(path, Device::Cpu).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, CoreError::Model(_)), "{err:?}");
        assert!(
            text.contains(path.file_name().unwrap().to_str().unwrap())
                && text.contains("holds tensor `blocks.3.")
                && text.contains("m=3"),
            "{text}"
        );
        if path == &training {
            let err = Sesr::from_checkpoint(path, Device::Cpu).unwrap_err();
            assert!(err.to_string().contains("holds tensor `blocks.3."), "{err}");
        }
        std::fs::write(&sidecar, good).unwrap();
        CollapsedSesr::from_checkpoint(path, Device::Cpu).unwrap();
    }
}

/// Issue #11: NaN weights used to load and upscale to a black image.
#[test]
fn non_finite_weights_are_refused_naming_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nan.safetensors");
    let model = Sesr::new(config(2, 2), TrainingMode::Collapsed, Device::Cpu).unwrap();
    tch::no_grad(|| {
        let mut weight = model.var_store().variables()["blocks.1.project.weight"].shallow_clone();
        let _ = weight.fill_(f64::NAN);
    });
    model.save(&path).unwrap();
    for err in [
        Sesr::from_checkpoint(&path, Device::Cpu).unwrap_err(),
        CollapsedSesr::from_checkpoint(&path, Device::Cpu).unwrap_err(),
    ] {
        let text = err.to_string();
        assert!(
            text.contains("nan.safetensors")
                && text.contains("`blocks.1.project.weight` holds NaN or infinite values"),
            "{text}"
        );
    }
}

/// The models hold exactly the tensors sesr-model's single definition lists, name and shape,
/// for every kind of quantization-aware training: the checkpoints they write are what every
/// reader (this crate, sesr-runtime) checks against.
#[test]
fn models_hold_the_tensors_sesr_model_defines() {
    use sesr_core::QuantConfig;
    use sesr_model::names::{collapsed_tensors, training_tensors};
    let listing = |tensors: Vec<(String, tch::Tensor)>| -> Vec<(String, Vec<usize>)> {
        tensors
            .into_iter()
            .map(|(name, t)| (name, t.size().iter().map(|&d| d as usize).collect()))
            .collect()
    };
    for (config, weights, activations) in [
        (SesrConfig::new(2, 8, 24, 2).unwrap(), false, false),
        (SesrConfig::new(3, 16, 32, 4).unwrap(), true, true),
        (SesrConfig::new(1, 4, 8, 2).unwrap(), true, false),
        (SesrConfig::new(2, 4, 8, 4).unwrap(), false, true),
    ] {
        let quant = QuantConfig {
            weights,
            activations,
        };
        let model = Sesr::with_quant(config, TrainingMode::Collapsed, quant, Device::Cpu).unwrap();
        let expected: Vec<(String, Vec<usize>)> = training_tensors(&config, quant)
            .into_iter()
            .map(|s| (s.name, s.shape))
            .collect();
        assert_eq!(
            listing(model.named_tensors()),
            expected,
            "{config:?} {quant:?}"
        );
        let expected: Vec<(String, Vec<usize>)> = collapsed_tensors(&config, quant)
            .into_iter()
            .map(|s| (s.name, s.shape))
            .collect();
        let collapsed = model.collapse().unwrap().named_tensors();
        assert_eq!(listing(collapsed), expected, "{config:?} {quant:?}");
    }
}

#[test]
fn a_checkpoint_that_cannot_be_written_names_the_file_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    // A folder where the temporary file must go: the write fails as in a read-only folder
    // (which root, running the tests, could still write).
    let blocker = dir
        .path()
        .join(format!("model.safetensors.tmp{}", std::process::id()));
    std::fs::create_dir(&blocker).unwrap();
    let model = Sesr::new(config(3, 2), TrainingMode::Collapsed, Device::Cpu).unwrap();
    let message = model.save(&path).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("cannot write {}: ", path.display()))
            && message.contains("Is a directory"),
        "{message}"
    );
    assert!(!message.contains("Os {"), "a debug dump: {message}");
    assert!(!path.exists());
}
