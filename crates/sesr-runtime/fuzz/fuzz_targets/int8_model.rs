//! Any bytes as an int8 `.tflite`: the runtime refuses them with an error, or builds a plan
//! and upscales a small odd-sized image with it, never panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sesr_data::plane::PlaneF32;
use sesr_runtime::int8::Int8Sesr;
use sesr_tflite::read::Model;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(model) = Model::parse(data) else {
        return;
    };
    let Ok(network) = Int8Sesr::from_model(&model, Path::new("fuzz.tflite")) else {
        return;
    };
    let image = PlaneF32::from_fn(13, 7, |x, y| ((x * 7 + y * 3) % 16) as f32 / 15.0);
    let _ = network.upscale_y(&image, 1);
});
