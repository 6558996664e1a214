//! Shared by the sesr-runtime tests: collapsed checkpoints written without libtorch, and the
//! helpers of `sesr-testkit` under the names these tests use.
#![allow(dead_code)]

use safetensors::tensor::TensorView;
use safetensors::Dtype;
use sesr_data::plane::PlaneF32;
use sesr_net::Float32Network;
use std::path::{Path, PathBuf};

/// The Y plane of a shipped validation photo.
pub fn photo_y(name: &str) -> PlaneF32 {
    sesr_testkit::photos::valid_y(name).unwrap()
}

/// A collapsed SESR (`m` blocks, `f` features) with seeded weights.
pub fn random_graph(m: usize, f: usize, scale: usize, prelu: bool, seed: u64) -> Float32Network {
    sesr_testkit::random_network(scale, m, f, prelu, seed)
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Writes `graph` as sesr-core writes a collapsed checkpoint: `<dir>/<stem>.safetensors`
/// (names `input_block.weight`, `blocks.{i}.bias`, `prelu.{i}`, ...) and `<stem>.json`.
/// `sidecar` overrides the JSON text.
pub fn write_checkpoint(
    dir: &Path,
    stem: &str,
    graph: &Float32Network,
    sidecar: Option<&str>,
) -> PathBuf {
    let m = graph.m();
    let f = graph.features();
    let name = |i: usize| match i {
        0 => "input_block".to_string(),
        i if i == m + 1 => "output_block".to_string(),
        i => format!("blocks.{}", i - 1),
    };
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = vec![];
    for (i, c) in graph.convs.iter().enumerate() {
        tensors.push((
            format!("{}.weight", name(i)),
            vec![c.out_channels, c.in_channels, c.kernel, c.kernel],
            f32_bytes(&c.weight),
        ));
        tensors.push((
            format!("{}.bias", name(i)),
            vec![c.out_channels],
            f32_bytes(&c.bias),
        ));
    }
    // A ReLU network still stores (unused) slopes, as a QAT checkpoint does.
    for i in 0..m {
        let slopes = graph.prelu.get(i).cloned().unwrap_or(vec![0.0; f]);
        tensors.push((format!("prelu.{i}"), vec![f], f32_bytes(&slopes)));
    }
    let quant = !graph.uses_prelu();
    let json = sidecar.map(str::to_string).unwrap_or_else(|| {
        format!(
            r#"{{"format_version": 1, "kind": "collapsed",
                "quant": {{"weights": {quant}, "activations": {quant}}},
                "config": {{"m": {m}, "int_features": {f}, "feature_size": 64,
                            "scale": {}}}}}"#,
            graph.scale
        )
    });
    // After QAT sesr-core also stores the activation ranges and weight scales: as many as
    // the sidecar says (the runtime checks the names against it), with plain values.
    let said: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    let qat = sesr_model::QuantConfig {
        weights: said["quant"]["weights"] == true,
        activations: said["quant"]["activations"] == true,
    };
    if let Ok(config) = sesr_model::SesrConfig::new(m, f, 64, graph.scale) {
        for spec in sesr_model::names::collapsed_tensors(&config, qat) {
            if spec.name.starts_with("quant.") {
                let values = vec![
                    if spec.name.ends_with(".min") {
                        0.0
                    } else {
                        1.0
                    };
                    spec.numel()
                ];
                tensors.push((spec.name, spec.shape, f32_bytes(&values)));
            }
        }
    }
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, shape, bytes)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    let path = dir.join(format!("{stem}.safetensors"));
    safetensors::serialize_to_file(views, None, &path).unwrap();
    std::fs::write(path.with_extension("json"), json).unwrap();
    path
}

/// The collapsed SESR on a whole plane, straight from its definition (`sesr-testkit`'s f64
/// reference).
pub fn reference_upscale(graph: &Float32Network, y: &PlaneF32) -> PlaneF32 {
    let output = sesr_testkit::reference::forward(graph, &y.data, y.height, y.width).output;
    PlaneF32::from_vec(graph.scale * y.width, graph.scale * y.height, output).unwrap()
}

pub fn max_abs_diff(a: &PlaneF32, b: &PlaneF32) -> f32 {
    assert_eq!(a.size(), b.size());
    sesr_testkit::max_abs_diff(&a.data, &b.data)
}
