//! Shared helpers of the integration tests: seeded SESR graphs, a real image's luminance, a
//! plain f32 reference of the SESR graph, and running models in LiteRT.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sesr_tflite::{ActivationRanges, ConvWeights, Range, SesrGraph};

/// SplitMix64: a tiny seeded generator, so the test models never change.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

fn random_conv(rng: &mut Rng, out: usize, inp: usize, k: usize, gain: f32) -> ConvWeights {
    // Uniform with the variance of He initialisation, times `gain`.
    let bound = gain * (6.0 / (inp * k * k) as f32).sqrt();
    ConvWeights {
        out_channels: out,
        in_channels: inp,
        kernel: k,
        weight: (0..out * inp * k * k)
            .map(|_| bound * rng.uniform())
            .collect(),
        bias: (0..out).map(|_| 0.05 * rng.uniform()).collect(),
    }
}

/// A SESR graph with seeded random weights: `m` blocks of `f` features, PReLU slopes in
/// [0.05, 0.45] or ReLU. The output conv is small, so the network adds a modest residual to
/// the input, as a trained one does, and most output pixels stay inside (0, 1).
pub fn random_graph(
    scale: usize,
    height: usize,
    width: usize,
    m: usize,
    f: usize,
    prelu: bool,
    seed: u64,
) -> SesrGraph {
    let mut rng = Rng::new(seed);
    let mut convs = vec![random_conv(&mut rng, f, 1, 5, 1.0)];
    for _ in 0..m {
        convs.push(random_conv(&mut rng, f, f, 3, 0.8));
    }
    convs.push(random_conv(&mut rng, scale * scale, f, 5, 0.1));
    let prelu = if prelu {
        (0..m)
            .map(|_| (0..f).map(|_| 0.25 + 0.2 * rng.uniform()).collect())
            .collect()
    } else {
        Vec::new()
    };
    SesrGraph {
        scale,
        height,
        width,
        convs,
        prelu,
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Luminance of `assets/images/valid/chelsea.png` in [0, 1] (BT.601 studio swing, as the
/// reference: Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255 with RGB in [0, 1]), a
/// `height` x `width` crop at (`top`, `left`).
pub fn chelsea_y(top: usize, left: usize, height: usize, width: usize) -> Result<Vec<f32>> {
    let path = repo_root().join("assets/images/valid/chelsea.png");
    let img = image::open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .to_rgb8();
    if top + height > img.height() as usize || left + width > img.width() as usize {
        bail!("crop outside the {}x{} image", img.width(), img.height());
    }
    let mut y = Vec::with_capacity(height * width);
    for row in top..top + height {
        for col in left..left + width {
            let [r, g, b] = img.get_pixel(col as u32, row as u32).0;
            let (r, g, b) = (r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0);
            y.push((16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0);
        }
    }
    Ok(y)
}

/// Direct SAME convolution on an NHWC plane, weights in OIHW (PyTorch) order.
fn conv(input: &[f32], h: usize, w: usize, c: &ConvWeights) -> Vec<f32> {
    let (ic, oc, k) = (c.in_channels, c.out_channels, c.kernel);
    let pad = (k / 2) as isize;
    let mut out = vec![0.0; h * w * oc];
    for y in 0..h {
        for x in 0..w {
            for o in 0..oc {
                let mut acc = c.bias[o] as f64;
                for ky in 0..k {
                    for kx in 0..k {
                        let iy = y as isize + ky as isize - pad;
                        let ix = x as isize + kx as isize - pad;
                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                            continue;
                        }
                        for i in 0..ic {
                            let v = input[(iy as usize * w + ix as usize) * ic + i] as f64;
                            acc += v * c.weight[((o * ic + i) * k + ky) * k + kx] as f64;
                        }
                    }
                }
                out[(y * w + x) * oc + o] = acc as f32;
            }
        }
    }
    out
}

/// TensorFlow's depth_to_space(2) on an NHWC plane with `c` channels.
fn depth_to_space(input: &[f32], h: usize, w: usize, c: usize) -> Vec<f32> {
    let oc = c / 4;
    let mut out = vec![0.0; input.len()];
    for y in 0..h {
        for x in 0..w {
            for i in 0..2 {
                for j in 0..2 {
                    for ch in 0..oc {
                        out[((2 * y + i) * 2 * w + 2 * x + j) * oc + ch] =
                            input[(y * w + x) * c + (i * 2 + j) * oc + ch];
                    }
                }
            }
        }
    }
    out
}

fn range_of(values: &[f32]) -> Range {
    let mut r = Range::EMPTY;
    r.include(values);
    r
}

/// The SESR graph in plain f32 (f64 accumulation): the output plane and the range of every
/// activation, for calibrating the int8 model.
pub fn float_reference(graph: &SesrGraph, x: &[f32]) -> (Vec<f32>, ActivationRanges) {
    let (h, w) = (graph.height, graph.width);
    let m = graph.m();
    let t: Vec<f32> = x.iter().map(|v| v - 0.5).collect();
    let f0 = conv(&t, h, w, &graph.convs[0]);
    let mut feats = f0.clone();
    let (mut block_convs, mut blocks) = (Vec::new(), Vec::new());
    for i in 0..m {
        feats = conv(&feats, h, w, &graph.convs[i + 1]);
        block_convs.push(range_of(&feats));
        let f = graph.convs[i + 1].out_channels;
        for (j, v) in feats.iter_mut().enumerate() {
            let slope = if graph.prelu.is_empty() {
                0.0
            } else {
                graph.prelu[i][j % f]
            };
            if *v < 0.0 {
                *v *= slope;
            }
        }
        blocks.push(range_of(&feats));
    }
    let r: Vec<f32> = feats.iter().zip(&f0).map(|(a, b)| a + b).collect();
    let o = conv(&r, h, w, &graph.convs[m + 1]);
    let c = graph.scale * graph.scale;
    let s: Vec<f32> = o.iter().enumerate().map(|(i, v)| v + x[i / c]).collect();
    let ranges = ActivationRanges {
        input: range_of(x),
        shifted_input: range_of(&t),
        input_conv: range_of(&f0),
        block_convs: if graph.prelu.is_empty() {
            Vec::new()
        } else {
            block_convs
        },
        blocks,
        residual_sum: range_of(&r),
        output_conv: range_of(&o),
        final_sum: range_of(&s),
    };
    let mut y: Vec<f32> = s.iter().map(|v| v.clamp(0.0, 1.0)).collect();
    let (mut hh, mut ww, mut cc) = (h, w, c);
    for _ in 0..graph.scale / 2 {
        y = depth_to_space(&y, hh, ww, cc);
        hh *= 2;
        ww *= 2;
        cc /= 4;
    }
    (y, ranges)
}

/// Which kernels LiteRT runs (see `litert_run.py`).
#[derive(Clone, Copy, Debug)]
pub enum Resolver {
    /// Builtin kernels with the default XNNPACK delegate: what users get.
    Auto,
    /// Builtin optimized kernels, no delegate.
    Builtin,
    /// TFLite's reference kernels.
    Reference,
}

/// What `litert_run.py` reports.
#[derive(Debug)]
pub struct LiteRtRun {
    pub output: Vec<u8>,
    pub report: serde_json::Value,
    pub stderr: String,
}

impl LiteRtRun {
    /// Operators in the interpreter's node list.
    pub fn nodes(&self) -> Vec<String> {
        self.report["nodes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Wall-clock time of each timed run.
    pub fn times_ms(&self) -> Vec<f64> {
        self.series("times_ms")
    }

    /// CPU time (all threads) of each timed run.
    pub fn cpu_ms(&self) -> Vec<f64> {
        self.series("cpu_ms")
    }

    fn series(&self, key: &str) -> Vec<f64> {
        self.report[key]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
            .unwrap_or_default()
    }
}

/// The project's Python, with ai-edge-litert installed by `cargo xtask setup`.
pub fn python() -> Result<PathBuf> {
    let python = repo_root().join(".venv/bin/python");
    if !python.exists() {
        bail!(
            "{} is missing: run `cargo xtask setup` to create the project's Python \
             environment with LiteRT (ai-edge-litert)",
            python.display()
        );
    }
    Ok(python)
}

/// Runs `model` in LiteRT (2 threads) on the raw little-endian `input` bytes (None: load and
/// allocate only), `time` extra timed runs after the first.
pub fn run_litert(
    model: &[u8],
    input: Option<&[u8]>,
    resolver: Resolver,
    time: usize,
) -> Result<LiteRtRun> {
    let dir = tempfile::tempdir()?;
    let model_path = dir.path().join("model.tflite");
    std::fs::write(&model_path, model)?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/litert_run.py");
    let mut cmd = Command::new(python()?);
    cmd.arg(&script)
        .arg(&model_path)
        .args(["--threads", "2", "--time", &time.to_string()])
        .args([
            "--resolver",
            match resolver {
                Resolver::Auto => "auto",
                Resolver::Builtin => "builtin",
                Resolver::Reference => "ref",
            },
        ]);
    let output_path = dir.path().join("output.bin");
    if let Some(input) = input {
        let input_path = dir.path().join("input.bin");
        std::fs::write(&input_path, input)?;
        cmd.arg("--input")
            .arg(&input_path)
            .arg("--output")
            .arg(&output_path);
    }
    let out = cmd.output().context("cannot start the project's Python")?;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        bail!(
            "LiteRT failed ({}):\n{stderr}\n(if ai_edge_litert is missing, run `cargo xtask setup`)",
            out.status
        );
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("bad report: {}", String::from_utf8_lossy(&out.stdout)))?;
    let output = if input.is_some() {
        std::fs::read(&output_path)?
    } else {
        Vec::new()
    };
    Ok(LiteRtRun {
        output,
        report,
        stderr,
    })
}

pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub fn f32_from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

pub fn i8_bytes(values: &[i8]) -> Vec<u8> {
    values.iter().map(|&v| v as u8).collect()
}

pub fn i8_from_bytes(bytes: &[u8]) -> Vec<i8> {
    bytes.iter().map(|&b| b as i8).collect()
}
