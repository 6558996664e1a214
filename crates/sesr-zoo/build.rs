//! Compiles every trained model found in `models/` into the library: for each preset and scale
//! whose files are all there (the float32 and QAT checkpoints with their `.json` sidecars and
//! the int8 `.tflite`, named by `sesr_model::ShippedName::file_name`), one `Pretrained` entry
//! of `include_bytes!`. A preset with only some of its files is a build error, so a
//! half-copied zoo cannot ship.

use sesr_model::reference::SHIPPED_SCALES;
use sesr_model::{Preset, ShippedForm, ShippedName};
use std::fmt::Write;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    println!("cargo:rerun-if-changed=models");
    let mut table = String::from("&[\n");
    for preset in Preset::ALL {
        for scale in SHIPPED_SCALES {
            let file = |form| ShippedName::new(preset, scale, form).file_name();
            let sidecar = |form| {
                Path::new(&file(form))
                    .with_extension("json")
                    .display()
                    .to_string()
            };
            let files = [
                file(ShippedForm::Float32),
                sidecar(ShippedForm::Float32),
                file(ShippedForm::Qat),
                sidecar(ShippedForm::Qat),
                file(ShippedForm::Int8),
            ];
            let present: Vec<bool> = files.iter().map(|f| dir.join(f).is_file()).collect();
            if present.iter().all(|&p| !p) {
                continue;
            }
            if let Some(missing) = files.iter().zip(&present).find(|(_, &p)| !p) {
                panic!(
                    "models/{}: missing, while other files of {} x{scale} are there; a shipped \
                     model needs all of {files:?} (run `cargo xtask train-zoo`)",
                    missing.0,
                    preset.name()
                );
            }
            let path = |f: &str| format!("{:?}", dir.join(f));
            writeln!(
                table,
                "    Pretrained {{ preset: Preset::{preset:?}, scale: {scale}, \
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
