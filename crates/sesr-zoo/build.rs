//! Compiles every trained model found in `models/` into the library: for each preset and scale
//! whose five files are all there (`<preset>_x<scale>.safetensors` + `.json`, the same with
//! `_qat`, and `<preset>_x<scale>_int8.tflite`), one `Pretrained` entry of `include_bytes!`.
//! A preset with only some of its files is a build error, so a half-copied zoo cannot ship.

use std::fmt::Write;
use std::path::Path;

const PRESETS: [&str; 5] = ["m3", "m5", "m7", "m11", "xl"];
const SCALES: [usize; 2] = [2, 4];

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    println!("cargo:rerun-if-changed=models");
    let mut table = String::from("&[\n");
    for preset in PRESETS {
        for scale in SCALES {
            let stem = format!("{preset}_x{scale}");
            let files = [
                format!("{stem}.safetensors"),
                format!("{stem}.json"),
                format!("{stem}_qat.safetensors"),
                format!("{stem}_qat.json"),
                format!("{stem}_int8.tflite"),
            ];
            let present: Vec<bool> = files.iter().map(|f| dir.join(f).is_file()).collect();
            if present.iter().all(|&p| !p) {
                continue;
            }
            if let Some(missing) = files.iter().zip(&present).find(|(_, &p)| !p) {
                panic!(
                    "models/{}: missing, while other files of {stem} are there; a shipped \
                     model needs all of {files:?} (run `cargo xtask train-zoo`)",
                    missing.0
                );
            }
            let path = |f: &str| format!("{:?}", dir.join(f));
            writeln!(
                table,
                "    Pretrained {{ preset: {preset:?}, scale: {scale}, \
                 float32: Checkpoint {{ safetensors: include_bytes!({}), sidecar: include_str!({}) }}, \
                 qat: Checkpoint {{ safetensors: include_bytes!({}), sidecar: include_str!({}) }}, \
                 int8_tflite: include_bytes!({}) }},",
                path(&files[0]),
                path(&files[1]),
                path(&files[2]),
                path(&files[3]),
                path(&files[4]),
            )
            .expect("writing to a String cannot fail");
        }
    }
    table.push(']');
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("models.rs");
    std::fs::write(&out, table).expect("OUT_DIR is writable");
}
