//! `sesr-cli inspect MODEL`: what a TFLite or ONNX file holds, ours or anyone's.
//!
//! The format comes from the content, not the name: a `.tflite` carries the identifier `TFL3`
//! in its first bytes; anything else is read as ONNX (protobuf, no signature) when it is named
//! `.onnx` or starts like an ONNX model. The first bytes are read before the rest, so that a
//! file of another kind is refused at once, whatever its size.

use crate::paths::check_input;
use anyhow::{bail, Context, Result};
use clap::Args;
use sesr_model::display::escape_bytes;
use sesr_model::reference::{read_head, sniff, Sniffed};
use sesr_tflite::{inspect, Model};
use std::path::{Path, PathBuf};

/// The largest file protobuf (ONNX) and flatbuffers (TFLite) can hold: 2 GiB.
const MAX_MODEL_BYTES: u64 = 1 << 31;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The .tflite or .onnx file.
    model: PathBuf,
}

pub fn run(args: &InspectArgs) -> Result<()> {
    let path = &args.model;
    check_input("inspect", path)?;
    let metadata =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if metadata.is_dir() {
        bail!(
            "{} is a folder; give the .tflite or .onnx file to inspect",
            path.display()
        );
    }
    let head = read_head(path)?;
    let named_onnx = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    let kind = sniff(&head);
    if kind != Sniffed::Tflite && metadata.len() > MAX_MODEL_BYTES {
        bail!(
            "{} is {:.1} GiB: not a TFLite model (no TFL3 identifier), and larger than the 2 GiB \
             an ONNX file can hold (models with external data are not read)",
            path.display(),
            metadata.len() as f64 / (1u64 << 30) as f64
        );
    }
    match kind {
        Sniffed::Tflite => {
            if named_onnx {
                eprintln!(
                    "note: {} is a TFLite model, though named .onnx; rename it .tflite",
                    path.display()
                );
            }
            let model =
                Model::read(path).with_context(|| format!("cannot inspect {}", path.display()))?;
            print!("{}", inspect(&model));
            Ok(())
        }
        Sniffed::Safetensors => bail!(
            "{} is a checkpoint (safetensors), not an exported model; export it first (sesr-cli \
             export --checkpoint {} --format float32) and inspect the .tflite or .onnx",
            path.display(),
            path.display()
        ),
        Sniffed::Other(what) => bail!(
            "{} is {what}, not a model; inspect reads .tflite and .onnx files",
            path.display()
        ),
        Sniffed::Unknown if named_onnx || looks_like_onnx(&head) => inspect_onnx(path, named_onnx),
        Sniffed::Unknown => bail!(
            "{} is neither a TFLite model (its bytes 4..8 are `{}`, not the identifier TFL3) \
             nor an ONNX model; inspect reads .tflite and .onnx files",
            path.display(),
            escape_bytes(head.get(4..8).unwrap_or_default(), 4)
        ),
    }
}

/// Whether a file starts as every ONNX writer starts a model: field 1 (`ir_version`) as a
/// varint (tag byte 0x08), then a small version number.
fn looks_like_onnx(head: &[u8]) -> bool {
    head.len() >= 2 && head[0] == 0x08 && (1..=32).contains(&head[1])
}

fn inspect_onnx(path: &Path, named_onnx: bool) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let summary = sesr_onnx::summarize(&bytes)
        .with_context(|| format!("cannot inspect {}", path.display()))?;
    if !named_onnx {
        eprintln!("note: {} is an ONNX model; name it .onnx", path.display());
    }
    println!("{summary}");
    Ok(())
}
