//! LiteRT latency of SESR-M5-sized models (m = 5, f = 16, x2, seeded random weights) from
//! 1080x1920 to 2160x3840 on 2 threads: the median of 5 runs after one warm-up run.
//!
//! Takes tens of seconds, so it is ignored by default; run it by hand on a quiet machine:
//!
//! ```sh
//! cargo test -p sesr-tflite --test latency -- --ignored --nocapture
//! ```
//!
//! For scale: on the project's 2-core machine the reference's TensorFlow-converted files
//! took about 272 ms (float32) and 129 ms (int8, ReLU).

mod common;

use anyhow::Result;
use common::*;
use sesr_tflite::sesr::{DEFAULT_HEIGHT, DEFAULT_WIDTH};
use sesr_tflite::{write_float32, write_int8};

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

#[test]
#[ignore]
fn latency_1080p_to_4k() -> Result<()> {
    let (h, w) = (DEFAULT_HEIGHT, DEFAULT_WIDTH);
    // A smooth synthetic frame in [0, 1] (the timings do not depend on the content).
    let x: Vec<f32> = (0..h * w)
        .map(|i| {
            let (r, c) = ((i / w) as f32, (i % w) as f32);
            0.5 + 0.4 * (r / 37.0).sin() * (c / 53.0).cos()
        })
        .collect();
    // int8 ranges from the float reference on a real crop, with the same weights.
    let crop = chelsea_y(100, 150, 64, 64)?;
    println!("model                     median ms   runs (ms)");
    for prelu in [false, true] {
        let graph = random_graph(2, h, w, 5, 16, prelu, 42);
        let (_, ranges) = float_reference(&random_graph(2, 64, 64, 5, 16, prelu, 42), &crop);
        let act = if prelu { "PReLU" } else { "ReLU" };
        let float = run_litert(
            &write_float32(&graph)?,
            Some(&f32_bytes(&x)),
            Resolver::Auto,
            5,
        )?;
        let xq: Vec<u8> = x
            .iter()
            .map(|&v| (v * 255.0).round() as u8 ^ 0x80)
            .collect();
        let int8 = run_litert(&write_int8(&graph, &ranges)?, Some(&xq), Resolver::Auto, 5)?;
        for (name, run) in [("float32", float), ("int8", int8)] {
            let times = run.times_ms();
            println!(
                "SESR-M5 x2 {name:<7} {act:<5}  {:>9.1}   {:?}",
                median(times.clone()),
                times.iter().map(|t| t.round()).collect::<Vec<_>>()
            );
        }
    }
    Ok(())
}
