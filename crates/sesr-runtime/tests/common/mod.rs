//! Shared by the sesr-runtime tests: seeded random SESR networks, collapsed checkpoints
//! written without libtorch, the shipped photos and a naive whole-image reference.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use sesr_data::plane::PlaneF32;
use sesr_tflite::{ConvWeights, SesrGraph};
use std::path::{Path, PathBuf};

pub fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/images")
        .join(name)
}

/// The Y plane of a shipped validation photo.
pub fn photo_y(name: &str) -> PlaneF32 {
    sesr_data::load_y(asset(&format!("valid/{name}"))).unwrap()
}

/// A collapsed SESR (`m` blocks, `f` features) with weights drawn from a seeded RNG, scaled
/// like a trained network's so that activations stay in a sensible range.
pub fn random_graph(m: usize, f: usize, scale: usize, prelu: bool, seed: u64) -> SesrGraph {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut conv = |o: usize, i: usize, k: usize| {
        let bound = (1.0 / (i * k * k) as f32).sqrt();
        ConvWeights {
            out_channels: o,
            in_channels: i,
            kernel: k,
            weight: (0..o * i * k * k)
                .map(|_| rng.random_range(-bound..bound))
                .collect(),
            bias: (0..o).map(|_| rng.random_range(-0.1..0.1)).collect(),
        }
    };
    let mut convs = vec![conv(f, 1, 5)];
    convs.extend((0..m).map(|_| conv(f, f, 3)));
    convs.push(conv(scale * scale, f, 5));
    let prelu = match prelu {
        true => (0..m)
            .map(|_| (0..f).map(|_| rng.random_range(-0.3..0.3)).collect())
            .collect(),
        false => vec![],
    };
    SesrGraph {
        scale,
        height: 1,
        width: 1,
        convs,
        prelu,
    }
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
    graph: &SesrGraph,
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

/// The collapsed SESR on a whole plane, straight from its definition, in f64: NCHW
/// convolutions with zero padding, x - 0.5 in, long residual, + x, TF depth_to_space, clip.
pub fn reference_upscale(graph: &SesrGraph, y: &PlaneF32) -> PlaneF32 {
    let (w, h) = y.size();
    let conv = |x: &[Vec<f64>], c: &ConvWeights| -> Vec<Vec<f64>> {
        let r = (c.kernel / 2) as isize;
        (0..c.out_channels)
            .map(|o| {
                let mut out = vec![c.bias[o] as f64; w * h];
                for (i, plane) in x.iter().enumerate() {
                    for ky in 0..c.kernel {
                        for kx in 0..c.kernel {
                            let wt = c.weight
                                [((o * c.in_channels + i) * c.kernel + ky) * c.kernel + kx]
                                as f64;
                            for yy in 0..h as isize {
                                let sy = yy + ky as isize - r;
                                if sy < 0 || sy >= h as isize {
                                    continue;
                                }
                                for xx in 0..w as isize {
                                    let sx = xx + kx as isize - r;
                                    if sx >= 0 && sx < w as isize {
                                        out[yy as usize * w + xx as usize] +=
                                            wt * plane[sy as usize * w + sx as usize];
                                    }
                                }
                            }
                        }
                    }
                }
                out
            })
            .collect()
    };
    let m = graph.m();
    let x: Vec<f64> = y.data.iter().map(|&v| v as f64).collect();
    let shifted = vec![x.iter().map(|v| v - 0.5).collect::<Vec<_>>()];
    let first = conv(&shifted, &graph.convs[0]);
    let mut features = first.clone();
    for i in 0..m {
        features = conv(&features, &graph.convs[i + 1]);
        for (ch, plane) in features.iter_mut().enumerate() {
            let slope = graph.prelu.get(i).map_or(0.0, |s| s[ch] as f64);
            for v in plane.iter_mut() {
                *v = v.max(0.0) + slope * v.min(0.0);
            }
        }
    }
    for (plane, f0) in features.iter_mut().zip(&first) {
        for (v, a) in plane.iter_mut().zip(f0) {
            *v += a;
        }
    }
    let mut out = conv(&features, &graph.convs[m + 1]);
    for plane in out.iter_mut() {
        for (v, a) in plane.iter_mut().zip(&x) {
            *v += a;
        }
    }
    // depth_to_space(2) until one channel is left.
    let (mut cw, mut ch) = (w, h);
    while out.len() > 1 {
        let q = out.len() / 4;
        let mut next = vec![vec![0.0; cw * ch * 4]; q];
        for (c, plane) in out.iter().enumerate() {
            let (ij, cc) = (c / q, c % q);
            for yy in 0..ch {
                for xx in 0..cw {
                    next[cc][(2 * yy + ij / 2) * 2 * cw + 2 * xx + ij % 2] = plane[yy * cw + xx];
                }
            }
        }
        out = next;
        cw *= 2;
        ch *= 2;
    }
    PlaneF32::from_vec(
        cw,
        ch,
        out[0].iter().map(|v| v.clamp(0.0, 1.0) as f32).collect(),
    )
    .unwrap()
}

pub fn max_abs_diff(a: &PlaneF32, b: &PlaneF32) -> f32 {
    assert_eq!(a.size(), b.size());
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
