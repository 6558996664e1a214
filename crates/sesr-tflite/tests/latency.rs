//! LiteRT latency of SESR-M5-sized models (m = 5, f = 16, x2, seeded random weights) from
//! 1080x1920 to 2160x3840 on 2 threads: the median of 5 runs after one warm-up run.
//!
//! Takes tens of seconds, so it is ignored by default; run it by hand on a quiet machine:
//!
//! ```sh
//! cargo test -p sesr-tflite --test latency -- --ignored --nocapture --test-threads 1
//! ```
//!
//! For scale: on the project's 2-core machine the reference's TensorFlow-converted files
//! took about 272 ms (float32) and 129 ms (int8, ReLU). Those files are not available here, so
//! [`latency_versus_reference_style`] also times a stand-in with their structure, made from our
//! plain layout ([`Layout::Plain`]): the same tensors and operators up to the final ADD, then
//! depth-to-space as TRANSPOSE, BATCH_TO_SPACE_ND, TRANSPOSE (the reference's detour) and the
//! clip as MAXIMUM and MINIMUM with constants, as TensorFlow's converter writes
//! `tf.clip_by_value`. The models run in alternation, so a busy machine slows all alike.
//!
//! Measured on the 2-core machine (LiteRT 2.3.0, XNNPACK, 2 threads, no other load: CPU time
//! twice the wall time), medians in ms over separate quiet runs:
//!
//! | SESR-M5 x2, 1080p -> 4K | ours | ours, plain layout | reference-style stand-in |
//! |---|---|---|---|
//! | float32 ReLU  | 453-487   | 585-614 | 637-638 |
//! | float32 PReLU | 514-550   | 644-660 | 650-688 |
//! | int8 ReLU     | 113-148   | 191     | 225-241 |
//! | int8 PReLU    | 959-1151  | 1033    | 1097    |
//!
//! int8 beats the quoted 129 ms; float32 does not reach the quoted 272 ms, and no file with
//! these convolutions can here: single-operator models show one 3x3 16->16 conv at 1080x1920
//! taking 71 ms in float32 (67 GMAC/s; 25 ms in int8), so the five blocks alone take about
//! 355 ms. The plain layout's 5x5 16->4 output conv takes 189 ms (XNNPACK pads 4 output
//! channels to its 16-wide tiles: a 16->16 5x5 conv takes the same time); phase packing (see
//! `sesr_tflite::graph`) removes most of that. int8 PReLU is slow in any layout: LiteRT's
//! XNNPACK does not take int8 PRELU, which splits the graph (the quoted figure for the
//! reference's int8 PReLU file is 963 ms).

use anyhow::{Context, Result};
use sesr_net::{ActivationRanges, Int8Network};
use sesr_testkit::litert::{run_litert, Resolver};
use sesr_testkit::photos::chelsea_y;
use sesr_testkit::reference::forward;
use sesr_testkit::{f32_bytes, random_network};
use sesr_tflite::read::Model;
use sesr_tflite::schema::{Activation, BuiltinOp, OperatorOptions, TensorType};
use sesr_tflite::write::{ModelBuilder, SubgraphBuilder};
use sesr_tflite::{
    write_float32, write_float32_with, write_int8, write_int8_with, InputSize, Layout,
};

const FULL_HD: InputSize = InputSize::FULL_HD;
const CROP: InputSize = InputSize::new(64, 64);

/// The ranges of `network` on the 64x64 crop `crop`.
fn ranges(network: &sesr_net::Float32Network, crop: &[f32]) -> ActivationRanges {
    forward(network, crop, CROP.height, CROP.width).ranges
}

/// Our x2 model re-emitted with the reference TFLite file's tail (see the module doc).
fn reference_style(ours: &[u8]) -> Result<Vec<u8>> {
    let model = Model::parse(ours)?;
    let sg = &model.subgraphs[0];
    let int8 = sg.tensors[0].dtype == TensorType::INT8;
    let mut mb = ModelBuilder::new("reference-style tail");
    let mut g = SubgraphBuilder::new("reference");
    for (i, t) in sg.tensors.iter().enumerate() {
        match model.tensor_data(0, i) {
            Some(data) => g.constant(
                &mut mb,
                &t.name,
                &t.shape,
                t.dtype,
                data.to_vec(),
                t.quantization.clone(),
            )?,
            None => g.activation(&t.name, &t.shape, t.dtype, t.quantization.clone())?,
        };
    }
    let index = |name: &str| sg.tensors.iter().position(|t| t.name == name).unwrap() as i32;
    let (sum, output) = (index("final_sum"), index("output"));
    let last_add = sg
        .operators
        .iter()
        .position(|op| op.outputs == [sum])
        .context("no final ADD")?;
    for op in &sg.operators[..=last_add] {
        let code = &model.operator_codes[op.opcode_index as usize];
        let options = match (op.outputs == [sum], &op.options) {
            (true, OperatorOptions::Add { .. }) => OperatorOptions::Add {
                activation: Activation::NONE,
            },
            (_, options) => options.clone(),
        };
        g.operator(
            &mut mb,
            code.op,
            code.version,
            options,
            &op.inputs,
            &op.outputs,
        )?;
    }
    let t = &sg.tensors[sum as usize];
    let (h, w) = (t.shape[1], t.shape[2]);
    let (dtype, q) = (t.dtype, t.quantization.clone());
    let v = if int8 { 2 } else { 1 };
    let int32 = |values: &[i32]| values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let perm = g.constant(
        &mut mb,
        "perm",
        &[4],
        TensorType::INT32,
        int32(&[3, 1, 2, 0]),
        None,
    )?;
    let block = g.constant(
        &mut mb,
        "block",
        &[2],
        TensorType::INT32,
        int32(&[2, 2]),
        None,
    )?;
    let crops = g.constant(
        &mut mb,
        "crops",
        &[2, 2],
        TensorType::INT32,
        int32(&[0; 4]),
        None,
    )?;
    let batch = g.activation("to_batch", &[4, h, w, 1], dtype, q.clone())?;
    let space = g.activation("batch_to_space", &[1, 2 * h, 2 * w, 1], dtype, q.clone())?;
    let d2s = g.activation("depth_to_space", &[1, 2 * h, 2 * w, 1], dtype, q.clone())?;
    let low = g.activation("max0", &[1, 2 * h, 2 * w, 1], dtype, q.clone())?;
    let (zero, one) = if int8 {
        let c = |name: &str, value: i8| {
            (
                name.to_string(),
                vec![value as u8],
                TensorType::INT8,
                q.clone(),
            )
        };
        (c("zero", -128), c("one", 127))
    } else {
        let c = |name: &str, value: f32| {
            (
                name.to_string(),
                value.to_le_bytes().to_vec(),
                TensorType::FLOAT32,
                None,
            )
        };
        (c("zero", 0.0), c("one", 1.0))
    };
    let zero = g.constant(&mut mb, &zero.0, &[1], zero.2, zero.1, zero.3)?;
    let one = g.constant(&mut mb, &one.0, &[1], one.2, one.1, one.3)?;
    let none = OperatorOptions::None;
    g.operator(
        &mut mb,
        BuiltinOp::TRANSPOSE,
        v,
        none.clone(),
        &[sum, perm],
        &[batch],
    )?;
    g.operator(
        &mut mb,
        BuiltinOp::BATCH_TO_SPACE_ND,
        v,
        none.clone(),
        &[batch, block, crops],
        &[space],
    )?;
    g.operator(
        &mut mb,
        BuiltinOp::TRANSPOSE,
        v,
        none,
        &[space, perm],
        &[d2s],
    )?;
    let mm = OperatorOptions::MaximumMinimum;
    g.operator(
        &mut mb,
        BuiltinOp::MAXIMUM,
        v,
        mm.clone(),
        &[d2s, zero],
        &[low],
    )?;
    g.operator(&mut mb, BuiltinOp::MINIMUM, v, mm, &[low, one], &[output])?;
    g.set_io(&sg.inputs, &[output])?;
    Ok(mb.finish(&g)?)
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// A smooth synthetic 1080p frame in [0, 1] (the timings do not depend on the content).
fn frame() -> Vec<f32> {
    let (h, w) = (FULL_HD.height, FULL_HD.width);
    (0..h * w)
        .map(|i| {
            let (r, c) = ((i / w) as f32, (i % w) as f32);
            0.5 + 0.4 * (r / 37.0).sin() * (c / 53.0).cos()
        })
        .collect()
}

/// Our models alone, 5 timed runs each (about 30 s).
#[test]
#[ignore]
fn latency_1080p_to_4k() -> Result<()> {
    let x = frame();
    let xq: Vec<u8> = x
        .iter()
        .map(|&v| (v * 255.0).round() as u8 ^ 0x80)
        .collect();
    let crop = chelsea_y(100, 150, 64, 64)?;
    println!("model                       median ms   CPU ms   wall-clock runs (ms)");
    for prelu in [false, true] {
        let graph = random_network(2, 5, 16, prelu, 42);
        let act = if prelu { "PReLU" } else { "ReLU" };
        let float = run_litert(
            &write_float32(&graph, FULL_HD)?,
            Some(&f32_bytes(&x)),
            Resolver::Auto,
            5,
        )?;
        let q = Int8Network::quantize(&graph, &ranges(&graph, &crop))?;
        let int8 = run_litert(&write_int8(&q, FULL_HD)?, Some(&xq), Resolver::Auto, 5)?;
        for (name, run) in [("float32", float), ("int8", int8)] {
            let wall = run.times_ms();
            println!(
                "SESR-M5 x2 {name:<7} {act:<5}  {:>9.1}  {:>8.1}   {:?}",
                median(wall.clone()),
                median(run.cpu_ms()),
                wall.iter().map(|t| t.round()).collect::<Vec<_>>()
            );
        }
    }
    Ok(())
}

/// Ours (fast and plain layouts) against the reference-style stand-in, in alternation
/// (about 3 minutes).
#[test]
#[ignore]
fn latency_versus_reference_style() -> Result<()> {
    let x = frame();
    // int8 ranges from the float reference on a real crop, with the same weights.
    let crop = chelsea_y(100, 150, 64, 64)?;
    // The stand-in computes what ours computes (checked on a small crop).
    for prelu in [false, true] {
        let small = random_network(2, 5, 16, prelu, 42);
        let float = write_float32_with(&small, CROP, Layout::Plain)?;
        let a = run_litert(&float, Some(&f32_bytes(&crop)), Resolver::Auto, 0)?;
        let b = run_litert(
            &reference_style(&float)?,
            Some(&f32_bytes(&crop)),
            Resolver::Auto,
            0,
        )?;
        assert_eq!(a.output, b.output);
        let q = Int8Network::quantize(&small, &ranges(&small, &crop))?;
        let int8 = write_int8_with(&q, CROP, Layout::Plain)?;
        let xq: Vec<u8> = crop
            .iter()
            .map(|&v| (v * 255.0).round() as u8 ^ 0x80)
            .collect();
        let a = run_litert(&int8, Some(&xq), Resolver::Auto, 0)?;
        let b = run_litert(&reference_style(&int8)?, Some(&xq), Resolver::Auto, 0)?;
        assert_eq!(a.output, b.output);
        // And the fast layout computes the same integers.
        let c = run_litert(&write_int8(&q, CROP)?, Some(&xq), Resolver::Reference, 0)?;
        let d = run_litert(&int8, Some(&xq), Resolver::Reference, 0)?;
        assert_eq!(c.output, d.output);
        println!("reference-style nodes: {:?}", b.nodes());
    }
    println!("model                                median ms   CPU ms   wall-clock runs (ms)");
    for prelu in [false, true] {
        let graph = random_network(2, 5, 16, prelu, 42);
        let act = if prelu { "PReLU" } else { "ReLU" };
        let xf = f32_bytes(&x);
        let xq: Vec<u8> = x
            .iter()
            .map(|&v| (v * 255.0).round() as u8 ^ 0x80)
            .collect();
        let float = write_float32_with(&graph, FULL_HD, Layout::Plain)?;
        let q = Int8Network::quantize(&graph, &ranges(&graph, &crop))?;
        let int8 = write_int8_with(&q, FULL_HD, Layout::Plain)?;
        let cases = [
            ("float32", "ours", write_float32(&graph, FULL_HD)?, &xf),
            ("float32", "ours, plain", float.clone(), &xf),
            ("float32", "reference-style", reference_style(&float)?, &xf),
            ("int8", "ours", write_int8(&q, FULL_HD)?, &xq),
            ("int8", "ours, plain", int8.clone(), &xq),
            ("int8", "reference-style", reference_style(&int8)?, &xq),
        ];
        // Two rounds in alternation, 5 timed runs each: 10 runs per model.
        let mut times = vec![(Vec::new(), Vec::new()); cases.len()];
        for _ in 0..2 {
            for (case, (wall, cpu)) in cases.iter().zip(&mut times) {
                let run = run_litert(&case.2, Some(case.3), Resolver::Auto, 5)?;
                wall.extend(run.times_ms());
                cpu.extend(run.cpu_ms());
            }
        }
        for (case, (wall, cpu)) in cases.iter().zip(times) {
            println!(
                "SESR-M5 x2 {:<7} {act:<5} {:<15}  {:>9.1}  {:>8.1}   {:?}",
                case.0,
                case.1,
                median(wall.clone()),
                median(cpu),
                wall.iter().map(|t| t.round()).collect::<Vec<_>>()
            );
        }
    }
    Ok(())
}
