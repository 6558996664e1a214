//! sesr-testkit: what the workspace's tests and benchmarks share, so that no test crate copies
//! another's helpers. A dev-dependency only; never published.
//!
//! - [`random_network`]: seeded SESR networks ([`Rng`]);
//! - [`reference`]: the SESR forward pass straight from its definition, in f64, with the range
//!   of every activation (to calibrate int8 networks);
//! - [`photos`]: the shipped CC0 photos as luminance planes;
//! - [`litert`] and [`ort`]: running a model in LiteRT or ONNX Runtime, from the project's
//!   `.venv` (installed by `cargo xtask setup`);
//! - [`repo_root`], [`max_abs_diff`] and byte conversions.
//!
//! It links no libtorch (a feature would be unified into every test build of the workspace and
//! give libtorch to tests that must run without it); the libtorch tests' own helpers stay in
//! `sesr-core/tests/common`.

pub mod litert;
pub mod ort;
pub mod photos;
pub mod reference;

use sesr_net::{ConvWeights, Float32Network};
use std::path::PathBuf;

/// The workspace root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// The largest absolute difference between two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "compared slices differ in length");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

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

/// A SESR (`m` blocks of `f` features) with seeded random weights: ReLU, or with `prelu` a
/// PReLU after each block with seeded slopes in [-0.2, 0.4) (both signs, as a trained network
/// has). The output conv is small, so the network adds a modest residual to the input, as a
/// trained one does, and most output pixels stay inside (0, 1).
pub fn random_network(scale: usize, m: usize, f: usize, prelu: bool, seed: u64) -> Float32Network {
    let mut rng = Rng::new(seed);
    let mut convs = vec![random_conv(&mut rng, f, 1, 5, 1.0)];
    for _ in 0..m {
        convs.push(random_conv(&mut rng, f, f, 3, 0.8));
    }
    convs.push(random_conv(&mut rng, scale * scale, f, 5, 0.1));
    let mut rng = Rng::new(seed ^ 0x5eed);
    let prelu = match prelu {
        true => (0..m)
            .map(|_| (0..f).map(|_| 0.1 + 0.3 * rng.uniform()).collect())
            .collect(),
        false => Vec::new(),
    };
    Float32Network {
        scale,
        convs,
        prelu,
    }
}

/// Little-endian bytes of `values`, as the runners' input files take them.
pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// `f32` values of little-endian bytes.
pub fn f32_from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The bytes of int8 values.
pub fn i8_bytes(values: &[i8]) -> Vec<u8> {
    values.iter().map(|&v| v as u8).collect()
}

/// int8 values of bytes.
pub fn i8_from_bytes(bytes: &[u8]) -> Vec<i8> {
    bytes.iter().map(|&b| b as i8).collect()
}
