//! Shared helpers of the int8 tests and benchmark: seeded SESR graphs with activation ranges
//! calibrated on a real image, real luminance planes, and LiteRT (the project's `.venv`)
//! through sesr-tflite's `litert_run.py`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{bail, Context, Result};
use sesr_data::plane::PlaneF32;
use sesr_tflite::{ActivationRanges, ConvWeights, Range, SesrGraph};

/// SplitMix64: a tiny seeded generator, so the test models never change.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
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

/// A ReLU SESR graph (`m` blocks of `f` features) with seeded random weights; the small
/// output conv adds a modest residual to the input, as a trained network does.
pub fn random_graph(
    scale: usize,
    height: usize,
    width: usize,
    m: usize,
    f: usize,
    seed: u64,
) -> SesrGraph {
    let mut rng = Rng::new(seed);
    let mut convs = vec![random_conv(&mut rng, f, 1, 5, 1.0)];
    for _ in 0..m {
        convs.push(random_conv(&mut rng, f, f, 3, 0.8));
    }
    convs.push(random_conv(&mut rng, scale * scale, f, 5, 0.1));
    SesrGraph {
        scale,
        height,
        width,
        convs,
        prelu: Vec::new(),
    }
}

/// [`random_graph`] with a PReLU after each block (seeded slopes of both signs), as a
/// post-training int8 export of an FP32 checkpoint has.
pub fn random_prelu_graph(
    scale: usize,
    height: usize,
    width: usize,
    m: usize,
    f: usize,
    seed: u64,
) -> SesrGraph {
    let mut graph = random_graph(scale, height, width, m, f, seed);
    let mut rng = Rng::new(seed ^ 0x5eed);
    graph.prelu = (0..m)
        .map(|_| (0..f).map(|_| 0.1 + 0.3 * rng.uniform()).collect())
        .collect();
    graph
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The luminance (in [0, 1]) of `assets/images/valid/<name>`.
pub fn valid_y(name: &str) -> Result<PlaneF32> {
    let path = repo_root().join("assets/images/valid").join(name);
    sesr_data::io::load_y(&path).with_context(|| format!("cannot load {}", path.display()))
}

/// A `height` x `width` plane of real luminance: validation photo `name` mirrored as often as
/// needed.
pub fn mirrored_photo(name: &str, height: usize, width: usize) -> Result<PlaneF32> {
    let y = valid_y(name)?;
    let fold = |i: usize, n: usize| {
        let period = 2 * n;
        let i = i % period;
        if i < n {
            i
        } else {
            period - 1 - i
        }
    };
    Ok(PlaneF32::from_fn(width, height, |x, r| {
        y.get(fold(x, y.width), fold(r, y.height))
    }))
}

/// A `height` x `width` crop of `plane` at (`top`, `left`).
pub fn crop(plane: &PlaneF32, top: usize, left: usize, height: usize, width: usize) -> PlaneF32 {
    assert!(top + height <= plane.height && left + width <= plane.width);
    plane.crop(left, top, width, height)
}

/// Direct SAME convolution on an NHWC plane, weights in OIHW order.
fn conv(input: &[f32], h: usize, w: usize, c: &ConvWeights) -> Vec<f32> {
    let (ic, oc, k) = (c.in_channels, c.out_channels, c.kernel);
    let pad = (k / 2) as isize;
    let mut out = vec![0.0; h * w * oc];
    for y in 0..h {
        for x in 0..w {
            for o in 0..oc {
                let mut acc = c.bias[o];
                for ky in 0..k {
                    for kx in 0..k {
                        let iy = y as isize + ky as isize - pad;
                        let ix = x as isize + kx as isize - pad;
                        if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                            continue;
                        }
                        let px = &input[(iy as usize * w + ix as usize) * ic..][..ic];
                        for (i, v) in px.iter().enumerate() {
                            acc += v * c.weight[((o * ic + i) * k + ky) * k + kx];
                        }
                    }
                }
                out[(y * w + x) * oc + o] = acc;
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

/// The ranges of every activation of `graph` on the plane `x`, as a calibration gives them.
pub fn calibrate(graph: &SesrGraph, x: &PlaneF32) -> ActivationRanges {
    let (h, w) = (x.height, x.width);
    let m = graph.m();
    let t: Vec<f32> = x.data.iter().map(|v| v - 0.5).collect();
    let f0 = conv(&t, h, w, &graph.convs[0]);
    let mut feats = f0.clone();
    let mut blocks = Vec::new();
    let mut block_convs = Vec::new();
    let f = graph.convs[0].out_channels;
    for i in 0..m {
        feats = conv(&feats, h, w, &graph.convs[i + 1]);
        match graph.prelu.get(i) {
            // PReLU: the conv's own range is calibrated too (the PRELU's input).
            Some(slopes) => {
                block_convs.push(range_of(&feats));
                for (j, v) in feats.iter_mut().enumerate() {
                    if *v < 0.0 {
                        *v *= slopes[j % f];
                    }
                }
            }
            None => feats.iter_mut().for_each(|v| *v = v.max(0.0)),
        }
        blocks.push(range_of(&feats));
    }
    let r: Vec<f32> = feats.iter().zip(&f0).map(|(a, b)| a + b).collect();
    let o = conv(&r, h, w, &graph.convs[m + 1]);
    let c = graph.scale * graph.scale;
    let s: Vec<f32> = o
        .iter()
        .enumerate()
        .map(|(i, v)| v + x.data[i / c])
        .collect();
    ActivationRanges {
        input: Range::new(0.0, 1.0),
        shifted_input: Range::new(-0.5, 0.5),
        input_conv: range_of(&f0),
        block_convs,
        blocks,
        residual_sum: range_of(&r),
        output_conv: range_of(&o),
        final_sum: range_of(&s),
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

/// A fresh scratch directory under the system's temporary directory.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Result<Self> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sesr-runtime-int8-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs an int8 `model` in LiteRT with 2 threads on `input`; `resolver` is `auto` (XNNPACK,
/// what users get) or `ref` (TFLite's reference kernels). `time` extra timed runs follow the
/// first. Returns the output and the report's `times_ms`.
pub fn run_litert(
    model: &[u8],
    input: &[i8],
    resolver: &str,
    time: usize,
) -> Result<(Vec<i8>, Vec<f64>)> {
    let dir = TempDir::new()?;
    let model_path = dir.path().join("model.tflite");
    let input_path = dir.path().join("input.bin");
    let output_path = dir.path().join("output.bin");
    std::fs::write(&model_path, model)?;
    std::fs::write(
        &input_path,
        input.iter().map(|&v| v as u8).collect::<Vec<u8>>(),
    )?;
    let script = repo_root().join("crates/sesr-tflite/tests/litert_run.py");
    let out = Command::new(python()?)
        .arg(&script)
        .arg(&model_path)
        .args([
            "--threads",
            "2",
            "--resolver",
            resolver,
            "--time",
            &time.to_string(),
        ])
        .arg("--input")
        .arg(&input_path)
        .arg("--output")
        .arg(&output_path)
        .output()
        .context("cannot start the project's Python")?;
    if !out.status.success() {
        bail!(
            "LiteRT failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("bad report: {}", String::from_utf8_lossy(&out.stdout)))?;
    let times = report["times_ms"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
        .unwrap_or_default();
    let output = std::fs::read(&output_path)?
        .into_iter()
        .map(|b| b as i8)
        .collect();
    Ok((output, times))
}
