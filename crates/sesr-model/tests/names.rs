//! Pins the tensor names and shapes of both checkpoint kinds: every checkpoint ever written
//! uses these, so a rename must fail here (and bump `FORMAT_VERSION`), not in a user's load.

use sesr_model::checkpoint::{read_meta, sidecar_path, write_meta};
use sesr_model::names::{collapsed_tensors, training_tensors};
use sesr_model::{CheckpointKind, CheckpointMeta, QuantConfig, SesrConfig, TrainingMode};

fn listing(specs: &[sesr_model::TensorSpec]) -> Vec<String> {
    specs
        .iter()
        .map(|s| format!("{} {:?}", s.name, s.shape))
        .collect()
}

const QAT: QuantConfig = QuantConfig {
    weights: true,
    activations: true,
};

#[test]
fn training_checkpoint_names_are_pinned() {
    // m = 1, f = 3, p = 7, x2: small enough to list every tensor.
    let config = SesrConfig::new(1, 3, 7, 2).unwrap();
    let expected = [
        "blocks.0.conv.bias [7]",
        "blocks.0.conv.weight [7, 3, 3, 3]",
        "blocks.0.project.bias [3]",
        "blocks.0.project.weight [3, 7, 1, 1]",
        "input_block.conv.bias [7]",
        "input_block.conv.weight [7, 1, 5, 5]",
        "input_block.project.bias [3]",
        "input_block.project.weight [3, 7, 1, 1]",
        "output_block.conv.bias [7]",
        "output_block.conv.weight [7, 3, 5, 5]",
        "output_block.project.bias [4]",
        "output_block.project.weight [4, 7, 1, 1]",
        "prelu.0 [3]",
    ];
    assert_eq!(
        listing(&training_tensors(&config, QuantConfig::default())),
        expected
    );
    let qat = listing(&training_tensors(&config, QAT));
    let quant: Vec<&str> = qat
        .iter()
        .map(String::as_str)
        .filter(|n| n.starts_with("quant."))
        .collect();
    assert_eq!(
        quant,
        [
            "quant.act.blocks.0.initialized []",
            "quant.act.blocks.0.max []",
            "quant.act.blocks.0.min []",
            "quant.act.input.initialized []",
            "quant.act.input.max []",
            "quant.act.input.min []",
            "quant.act.input_block.initialized []",
            "quant.act.input_block.max []",
            "quant.act.input_block.min []",
            "quant.act.long_residual.initialized []",
            "quant.act.long_residual.max []",
            "quant.act.long_residual.min []",
            "quant.act.output.initialized []",
            "quant.act.output.max []",
            "quant.act.output.min []",
            "quant.act.output_block.initialized []",
            "quant.act.output_block.max []",
            "quant.act.output_block.min []",
            "quant.weight.blocks.0.initialized []",
            "quant.weight.blocks.0.max [3]",
            "quant.weight.input_block.initialized []",
            "quant.weight.input_block.max [3]",
            "quant.weight.output_block.initialized []",
            "quant.weight.output_block.max [4]",
        ]
    );
    assert_eq!(qat.len(), expected.len() + quant.len());
}

#[test]
fn collapsed_checkpoint_names_are_pinned_in_model_order() {
    let config = SesrConfig::new(2, 3, 7, 4).unwrap();
    assert_eq!(
        listing(&collapsed_tensors(&config, QAT)),
        [
            "input_block.weight [3, 1, 5, 5]",
            "input_block.bias [3]",
            "blocks.0.weight [3, 3, 3, 3]",
            "blocks.0.bias [3]",
            "blocks.1.weight [3, 3, 3, 3]",
            "blocks.1.bias [3]",
            "output_block.weight [16, 3, 5, 5]",
            "output_block.bias [16]",
            "prelu.0 [3]",
            "prelu.1 [3]",
            "quant.act.input.min []",
            "quant.act.input.max []",
            "quant.act.input_block.min []",
            "quant.act.input_block.max []",
            "quant.act.blocks.0.min []",
            "quant.act.blocks.0.max []",
            "quant.act.blocks.1.min []",
            "quant.act.blocks.1.max []",
            "quant.act.long_residual.min []",
            "quant.act.long_residual.max []",
            "quant.act.output_block.min []",
            "quant.act.output_block.max []",
            "quant.act.output.min []",
            "quant.act.output.max []",
            "quant.weight.input_block.scale [3]",
            "quant.weight.blocks.0.scale [3]",
            "quant.weight.blocks.1.scale [3]",
            "quant.weight.output_block.scale [16]",
        ]
    );
    // Without QAT: the convs and slopes only.
    assert_eq!(
        collapsed_tensors(&config, QuantConfig::default()).len(),
        2 * 4 + 2
    );
}

#[test]
fn sidecar_round_trips_and_names_what_it_expects() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("model.safetensors");
    let meta = CheckpointMeta::new(
        SesrConfig::m5(2).unwrap(),
        CheckpointKind::Training {
            mode: TrainingMode::Collapsed,
            quant: QuantConfig::default(),
        },
    );
    write_meta(&weights, &meta).unwrap();
    assert_eq!(read_meta(&weights).unwrap(), meta);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sidecar_path(&weights)).unwrap()).unwrap();
    assert_eq!(json["kind"], "training");
    assert_eq!(json["mode"], "collapsed");
    assert_eq!(json["format_version"], 1);
    // 4 tensors per linear block (7 blocks) and 5 PReLU slopes.
    assert_eq!(meta.tensors().len(), 7 * 4 + 5);

    // A sidecar from the future and one with an impossible architecture name what is wrong.
    let text = std::fs::read_to_string(sidecar_path(&weights)).unwrap();
    std::fs::write(
        sidecar_path(&weights),
        text.replace("\"format_version\": 1", "\"format_version\": 99"),
    )
    .unwrap();
    let err = read_meta(&weights).unwrap_err().to_string();
    assert!(
        err.contains("format version 99") && err.contains("model.json"),
        "{err}"
    );
    std::fs::write(sidecar_path(&weights), text.replace("\"m\": 5", "\"m\": 0")).unwrap();
    let err = read_meta(&weights).unwrap_err().to_string();
    assert!(err.contains("m (number of 3x3 blocks)"), "{err}");
}
