//! The written models run in the real TFLite runtime (LiteRT, `ai-edge-litert` 2.3.0 from the
//! project's `.venv`) and agree with independent Rust computations on a real photo's Y.

mod common;

use anyhow::Result;
use common::*;
use sesr_tflite::{write_float32, QuantizedSesr};

/// Crop of chelsea.png used by the tests (rows, cols).
const TOP: usize = 100;
const LEFT: usize = 150;
const H: usize = 40;
const W: usize = 56;

fn check_float(scale: usize, prelu: bool, seed: u64) -> Result<()> {
    let graph = random_graph(scale, H, W, 2, 8, prelu, seed);
    let x = chelsea_y(TOP, LEFT, H, W)?;
    let (want, _) = float_reference(&graph, &x);
    let model = write_float32(&graph)?;
    let run = run_litert(&model, Some(&f32_bytes(&x)), Resolver::Auto, 0)?;
    let got = f32_from_bytes(&run.output);
    assert_eq!(got.len(), scale * scale * H * W);
    let max_err = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let inside = want.iter().filter(|v| **v > 0.0 && **v < 1.0).count();
    eprintln!(
        "float x{scale} prelu={prelu}: max error {max_err:e}, {inside}/{} inside (0,1), nodes {:?}",
        want.len(),
        run.nodes()
    );
    assert!(max_err < 1e-4, "max abs error {max_err}");
    Ok(())
}

#[test]
fn float32_x2_matches_reference() -> Result<()> {
    check_float(2, true, 1)
}

#[test]
fn float32_x4_matches_reference() -> Result<()> {
    check_float(4, true, 2)
}

#[test]
fn float32_relu_matches_reference() -> Result<()> {
    check_float(2, false, 3)
}

fn check_int8(scale: usize, prelu: bool, seed: u64) -> Result<()> {
    let graph = random_graph(scale, H, W, 2, 8, prelu, seed);
    let x = chelsea_y(TOP, LEFT, H, W)?;
    let (float_out, ranges) = float_reference(&graph, &x);
    let q = QuantizedSesr::new(&graph, &ranges)?;
    let xq: Vec<i8> = x.iter().map(|&v| q.input_params().quantize(v)).collect();
    let sim = q.simulate(&xq)?;
    let model = q.write()?;
    for resolver in [Resolver::Reference, Resolver::Builtin, Resolver::Auto] {
        let run = run_litert(&model, Some(&i8_bytes(&xq)), resolver, 0)?;
        let got = i8_from_bytes(&run.output);
        assert_eq!(got.len(), sim.len());
        let diffs: Vec<i32> = got
            .iter()
            .zip(&sim)
            .map(|(a, b)| (*a as i32 - *b as i32).abs())
            .collect();
        let exact = diffs.iter().filter(|d| **d == 0).count();
        let within1 = diffs.iter().filter(|d| **d <= 1).count();
        let maxd = diffs.iter().max().copied().unwrap_or(0);
        eprintln!("int8 x{scale} prelu={prelu} {resolver:?}: exact {exact}/{n}, within 1: {within1}, max {maxd}, nodes {:?}", run.nodes(), n = sim.len());
    }
    let op = q.output_params();
    let err: f32 = sim
        .iter()
        .zip(&float_out)
        .map(|(a, b)| (op.dequantize(*a) - b).abs())
        .sum::<f32>()
        / sim.len() as f32;
    eprintln!("mean abs error int8 vs float: {err}");
    Ok(())
}

#[test]
fn int8_x2_matches_simulation() -> Result<()> {
    check_int8(2, false, 11)
}

#[test]
fn int8_x4_matches_simulation() -> Result<()> {
    check_int8(4, false, 12)
}

#[test]
fn int8_prelu_matches_simulation() -> Result<()> {
    check_int8(2, true, 13)
}
