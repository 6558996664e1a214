//! sesr-export: a collapsed SESR model ([`sesr_core::CollapsedSesr`]) as the files phones and
//! NPUs run.
//!
//! - [`graph_of`]: the model as the plain network description `sesr-tflite` writes (and
//!   `sesr-runtime` runs);
//! - [`ranges`]: the int8 activation ranges, from quantization-aware training
//!   ([`ranges::qat_ranges`]) or observed on calibration images
//!   ([`ranges::calibrated_ranges`], post-training quantization);
//! - [`tflite_bytes`] and [`export_checkpoint`]: a float32 or full-integer int8 `.tflite`.
//!
//! ```no_run
//! use sesr_export::{export_checkpoint, TfliteFormat};
//! let written = export_checkpoint(
//!     "runs/qat/best.safetensors".as_ref(),
//!     TfliteFormat::Int8,
//!     None,         // beside the checkpoint: best_int8_1080x1920.tflite
//!     (1080, 1920), // LR input of the model
//!     None,         // QAT ranges (or Some(folder) to calibrate an FP32 model)
//! )?;
//! println!("{} bytes in {}", written.bytes, written.path.display());
//! # Ok::<(), sesr_export::ExportError>(())
//! ```

mod error;
pub mod ranges;

pub use error::{ExportError, Result};

use sesr_core::CollapsedSesr;
use sesr_model::atomic::{same_file, write_file_atomic};
use sesr_model::names::layer_shape;
use sesr_model::SesrConfig;
use sesr_tflite::{write_float32, write_int8, ConvWeights, SesrGraph};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// The flavours of TFLite file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TfliteFormat {
    Float32,
    /// Full-integer: int8 weights, activations, input and output.
    Int8,
}

impl TfliteFormat {
    pub fn name(self) -> &'static str {
        match self {
            TfliteFormat::Float32 => "float32",
            TfliteFormat::Int8 => "int8",
        }
    }
}

fn floats(tensor: &Tensor) -> Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(
        &tensor
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .flatten(0, -1),
    )?)
}

/// The network description sesr-tflite writes, from a collapsed model, for an LR input of
/// `height` x `width`.
pub fn graph_of(model: &CollapsedSesr, height: usize, width: usize) -> Result<SesrGraph> {
    let convs = model
        .convs()
        .iter()
        .map(|c| {
            let [o, i, k, _] = c.weight.size()[..] else {
                unreachable!("collapsed convs are 4-D")
            };
            Ok(ConvWeights {
                out_channels: o as usize,
                in_channels: i as usize,
                kernel: k as usize,
                weight: floats(&c.weight)?,
                bias: floats(&c.bias)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let prelu = match model.quant().uses_relu() {
        true => vec![],
        false => model.prelu().iter().map(floats).collect::<Result<_>>()?,
    };
    Ok(SesrGraph {
        scale: model.config().scale,
        height,
        width,
        convs,
        prelu,
    })
}

/// The `.tflite` bytes of `model` for an LR input of `(height, width)`. int8 takes its ranges
/// from `calibration` images when given, else from quantization-aware training; `checkpoint`
/// names the model in errors.
pub fn tflite_bytes(
    model: &CollapsedSesr,
    checkpoint: &Path,
    format: TfliteFormat,
    (height, width): (usize, usize),
    calibration: Option<&Path>,
) -> Result<Vec<u8>> {
    if height == 0 || width == 0 {
        return Err(ExportError::EmptyInput { height, width });
    }
    let graph = graph_of(model, height, width)?;
    let written = match format {
        TfliteFormat::Float32 => write_float32(&graph),
        TfliteFormat::Int8 => {
            let ranges = match calibration {
                Some(dir) => ranges::calibrated_ranges(model, dir)?,
                None => ranges::qat_ranges(model, checkpoint)?,
            };
            write_int8(&graph, &ranges)
        }
    };
    written.map_err(|source| ExportError::Tflite {
        height,
        width,
        source,
    })
}

/// Refuses an LR input size the TFLite writer would refuse for this architecture (the tensor
/// sizes TFLite can hold), before anything is trained or loaded.
pub fn check_tflite_size(config: &SesrConfig, (height, width): (usize, usize)) -> Result<()> {
    if height == 0 || width == 0 {
        return Err(ExportError::EmptyInput { height, width });
    }
    let convs = (0..config.m + 2)
        .map(|i| {
            let (o, i, k) = layer_shape(config, i);
            ConvWeights {
                out_channels: o,
                in_channels: i,
                kernel: k,
                weight: vec![0.0; o * i * k * k],
                bias: vec![0.0; o],
            }
        })
        .collect();
    let graph = SesrGraph {
        scale: config.scale,
        height,
        width,
        convs,
        prelu: vec![],
    };
    graph.validate().map_err(|source| ExportError::Tflite {
        height,
        width,
        source,
    })
}

/// The file name an export gets beside its checkpoint: `<stem>_<format>_<H>x<W>.tflite`.
pub fn default_output(checkpoint: &Path, format: TfliteFormat, (h, w): (usize, usize)) -> PathBuf {
    let stem = checkpoint.file_stem().unwrap_or_default().to_string_lossy();
    checkpoint.with_file_name(format!("{stem}_{}_{h}x{w}.tflite", format.name()))
}

/// What [`export_checkpoint`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub path: PathBuf,
    pub format: TfliteFormat,
    pub bytes: usize,
    /// LR input `(height, width)` and HR output `(height, width)` of the model.
    pub input: (usize, usize),
    pub output: (usize, usize),
}

impl std::fmt::Display for Exported {
    /// `PATH: int8, input 1xHxWx1 -> output 1xsHxsWx1, N bytes`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ((h, w), (sh, sw)) = (self.input, self.output);
        write!(
            f,
            "{}: {}, input 1x{h}x{w}x1 -> output 1x{sh}x{sw}x1, {} bytes",
            self.path.display(),
            self.format.name(),
            self.bytes
        )
    }
}

/// Writes `checkpoint` (training or collapsed) as a `.tflite` of `format` for an LR input of
/// `(height, width)`, at `output` or at [`default_output`], atomically.
pub fn export_checkpoint(
    checkpoint: &Path,
    format: TfliteFormat,
    output: Option<PathBuf>,
    (height, width): (usize, usize),
    calibration: Option<&Path>,
) -> Result<Exported> {
    if height == 0 || width == 0 {
        return Err(ExportError::EmptyInput { height, width });
    }
    if checkpoint
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tflite"))
    {
        return Err(ExportError::NotACheckpoint {
            path: checkpoint.to_path_buf(),
        });
    }
    let model = CollapsedSesr::from_checkpoint(checkpoint, Device::Cpu)?;
    let bytes = tflite_bytes(&model, checkpoint, format, (height, width), calibration)?;
    let path = output.unwrap_or_else(|| default_output(checkpoint, format, (height, width)));
    let sidecar = sesr_model::checkpoint::sidecar_path(checkpoint);
    if same_file(&path, checkpoint) || same_file(&path, &sidecar) {
        return Err(ExportError::OverwritesInput { path });
    }
    write_file_atomic(&path, &bytes)?;
    let scale = model.config().scale;
    Ok(Exported {
        path,
        format,
        bytes: bytes.len(),
        input: (height, width),
        output: (height * scale, width * scale),
    })
}
