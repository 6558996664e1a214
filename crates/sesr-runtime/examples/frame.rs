//! Upscales one synthetic frame with a seeded random SESR-M5 (float32), to measure what a
//! frame costs in time and memory:
//!
//! ```sh
//! cargo build --release -p sesr-runtime --example frame
//! /usr/bin/time -v target/release/examples/frame 1080 1920 2 2   # height width scale threads
//! ```
//!
//! The input plane (4 bytes a pixel) and the output plane (4 scale^2 bytes a pixel) are
//! allocated whatever the engine; the rest of the peak resident size is the runtime's.

use sesr_data::plane::PlaneF32;
use sesr_net::{ConvWeights, Float32Network};
use sesr_runtime::Upscaler;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let [height, width, scale, threads] = args[..] else {
        return Err("usage: frame HEIGHT WIDTH SCALE THREADS".into());
    };
    // Deterministic weights in a trained network's range (a simple LCG; values do not
    // affect the cost).
    let mut state = 5u64;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let mut conv = |o: usize, i: usize, k: usize| ConvWeights {
        out_channels: o,
        in_channels: i,
        kernel: k,
        weight: (0..o * i * k * k).map(|_| uniform() * 0.2).collect(),
        bias: (0..o).map(|_| uniform() * 0.1).collect(),
    };
    let mut convs = vec![conv(16, 1, 5)];
    convs.extend((0..5).map(|_| conv(16, 16, 3)));
    convs.push(conv(scale * scale, 16, 5));
    let graph = Float32Network {
        scale,
        convs,
        prelu: vec![vec![0.1; 16]; 5],
    };
    let upscaler = Upscaler::from_network(&graph)?.with_threads(threads)?;
    let frame = PlaneF32::from_fn(width, height, |c, r| {
        0.5 + 0.4 * (r as f32 / 37.0).sin() * (c as f32 / 53.0).cos()
    });
    let start = Instant::now();
    let sr = upscaler.upscale_y(&frame)?;
    println!(
        "{width}x{height} -> {}x{}, {threads} threads, {} kernel: {:.1} ms",
        sr.width,
        sr.height,
        upscaler.kernel(),
        start.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
