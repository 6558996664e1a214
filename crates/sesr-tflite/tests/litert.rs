//! The written models run in the real TFLite runtime (LiteRT, `ai-edge-litert` 2.3.0 from the
//! project's `.venv`) and agree with independent Rust computations on a real photo's Y.

use anyhow::Result;
use sesr_net::Int8Network;
use sesr_testkit::litert::{run_litert, LiteRtRun, Resolver};
use sesr_testkit::photos::chelsea_y;
use sesr_testkit::reference::forward;
use sesr_testkit::{f32_bytes, f32_from_bytes, i8_bytes, i8_from_bytes, random_network};
use sesr_tflite::read::Model;
use sesr_tflite::{
    write_float32, write_float32_with, write_int8, write_int8_with, InputSize, Layout, TfliteError,
};

/// Crop of chelsea.png used by the tests (rows, cols).
const TOP: usize = 100;
const LEFT: usize = 150;
const H: usize = 40;
const W: usize = 56;

fn check_float(scale: usize, prelu: bool, seed: u64) -> Result<()> {
    check_float_sized(scale, prelu, seed, H, W, Layout::Fast)
}

fn check_float_sized(
    scale: usize,
    prelu: bool,
    seed: u64,
    h: usize,
    w: usize,
    layout: Layout,
) -> Result<()> {
    let network = random_network(scale, 2, 8, prelu, seed);
    let x = chelsea_y(TOP, LEFT, h, w)?;
    let want = forward(&network, &x, h, w).output;
    // The test means something only if the output is not all clipped.
    let inside = want.iter().filter(|v| **v > 0.0 && **v < 1.0).count();
    assert!(
        inside * 10 > want.len() * 9,
        "{inside} of {} inside (0, 1)",
        want.len()
    );

    let model = write_float32_with(&network, InputSize::new(h, w), layout)?;
    let run = run_litert(&model, Some(&f32_bytes(&x)), Resolver::Auto, 0)?;
    let got = f32_from_bytes(&run.output);
    assert_eq!(got.len(), scale * scale * h * w);
    let max_err = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max_err < 1e-4, "max abs error {max_err}");
    // XNNPACK takes the whole graph: one delegate partition.
    assert_eq!(delegate_partitions(&run), 1, "{:?}", run.nodes());
    Ok(())
}

fn delegate_partitions(run: &LiteRtRun) -> usize {
    run.nodes().iter().filter(|n| *n == "DELEGATE").count()
}

#[test]
fn float32_x2_prelu_matches_reference() -> Result<()> {
    check_float(2, true, 1)
}

#[test]
fn float32_x4_prelu_matches_reference() -> Result<()> {
    check_float(4, true, 2)
}

#[test]
fn float32_x2_relu_matches_reference() -> Result<()> {
    check_float(2, false, 3)
}

/// Odd sizes cannot be phase-packed: the plain graph runs.
#[test]
fn float32_odd_size_matches_reference() -> Result<()> {
    check_float_sized(2, true, 4, 39, 55, Layout::Fast)
}

#[test]
fn float32_plain_layout_matches_reference() -> Result<()> {
    check_float_sized(2, false, 5, H, W, Layout::Plain)
}

/// Differences between LiteRT's int8 output and the simulation.
struct Agreement {
    exact: usize,
    within_one: usize,
    total: usize,
}

fn agreement(got: &[i8], want: &[i8]) -> Agreement {
    assert_eq!(got.len(), want.len());
    let diff = |(a, b): (&i8, &i8)| (*a as i32 - *b as i32).abs();
    Agreement {
        exact: got.iter().zip(want).filter(|p| diff(*p) == 0).count(),
        within_one: got.iter().zip(want).filter(|p| diff(*p) <= 1).count(),
        total: want.len(),
    }
}

fn check_int8(scale: usize, prelu: bool, seed: u64) -> Result<()> {
    check_int8_sized(scale, prelu, seed, H, W, Layout::Fast)
}

fn check_int8_sized(
    scale: usize,
    prelu: bool,
    seed: u64,
    h: usize,
    w: usize,
    layout: Layout,
) -> Result<()> {
    let network = random_network(scale, 2, 8, prelu, seed);
    let x = chelsea_y(TOP, LEFT, h, w)?;
    // Ranges from the float reference on the same image, as a calibration would give.
    let float = forward(&network, &x, h, w);
    let float_out = float.output;
    let q = Int8Network::quantize(&network, &float.ranges)?;
    let xq = q.quantize_input(&x);
    let sim = q.simulate(&xq, h, w)?;
    let model = write_int8_with(&q, InputSize::new(h, w), layout)?;

    // TFLite's reference kernels compute exactly what the simulation computes.
    let reference = run_litert(&model, Some(&i8_bytes(&xq)), Resolver::Reference, 0)?;
    let a = agreement(&i8_from_bytes(&reference.output), &sim);
    assert_eq!(
        a.exact, a.total,
        "reference kernels differ from the simulation"
    );

    // The optimized kernels and XNNPACK round some requantizations differently: within one
    // step on at least 99.9% of the pixels.
    for resolver in [Resolver::Builtin, Resolver::Auto] {
        let run = run_litert(&model, Some(&i8_bytes(&xq)), resolver, 0)?;
        let a = agreement(&i8_from_bytes(&run.output), &sim);
        assert!(
            a.within_one * 1000 >= a.total * 999,
            "{resolver:?}: {} exact, {} within 1 of {}",
            a.exact,
            a.within_one,
            a.total
        );
        assert!(
            a.exact * 10 >= a.total * 9,
            "{resolver:?}: only {} exact",
            a.exact
        );
        if matches!(resolver, Resolver::Auto) && !prelu {
            // ReLU int8 runs entirely in XNNPACK; int8 PRELU does not (it splits the graph).
            assert_eq!(delegate_partitions(&run), 1, "{:?}", run.nodes());
        }
    }

    // And the int8 model approximates the float one: mean error under one output step.
    let op = q.output;
    let mean_err = sim
        .iter()
        .zip(&float_out)
        .map(|(a, b)| (op.dequantize(*a) - b).abs())
        .sum::<f32>()
        / sim.len() as f32;
    assert!(mean_err < op.scale, "mean abs error {mean_err}");
    Ok(())
}

#[test]
fn int8_x2_relu_matches_simulation() -> Result<()> {
    check_int8(2, false, 11)
}

#[test]
fn int8_x4_relu_matches_simulation() -> Result<()> {
    check_int8(4, false, 12)
}

#[test]
fn int8_x2_prelu_matches_simulation() -> Result<()> {
    check_int8(2, true, 13)
}

/// The phase-packed and the plain graph compute the same integers; odd sizes run plain.
#[test]
fn int8_plain_layout_and_odd_size_match_simulation() -> Result<()> {
    check_int8_sized(2, false, 14, H, W, Layout::Plain)?;
    check_int8_sized(4, false, 15, 39, 55, Layout::Fast)
}

/// The default export size: 1080x1920 in, 2160x3840 out. The files are written, read back and
/// accepted by LiteRT (tensors allocated).
#[test]
fn default_size_models_load_in_litert() -> Result<()> {
    let network = random_network(2, 5, 16, false, 21);
    let x: Vec<f32> = (0..64).map(|i| i as f32 / 63.0).collect();
    let ranges = forward(&network, &x, 8, 8).ranges;
    let int8 = Int8Network::quantize(&network, &ranges)?;
    let size = InputSize::FULL_HD;
    for model in [write_float32(&network, size)?, write_int8(&int8, size)?] {
        let read = Model::parse(&model)?;
        let sg = &read.subgraphs[0];
        assert_eq!(sg.tensors[sg.inputs[0] as usize].shape, [1, 1080, 1920, 1]);
        assert_eq!(sg.tensors[sg.outputs[0] as usize].shape, [1, 2160, 3840, 1]);
        let run = run_litert(&model, None, Resolver::Auto, 0)?;
        assert_eq!(
            run.report["output"]["shape"],
            serde_json::json!([1, 2160, 3840, 1])
        );
    }
    Ok(())
}

/// Sizes whose tensors exceed TFLite's int32 element counts are refused with a clear error.
#[test]
fn oversized_inputs_are_refused() {
    let network = random_network(4, 1, 4, false, 1);
    let err = write_float32(&network, InputSize::new(40_000, 40_000)).unwrap_err();
    assert!(matches!(err, TfliteError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("smaller input size"), "{err}");
}
