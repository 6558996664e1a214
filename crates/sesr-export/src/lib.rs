//! sesr-export: a collapsed SESR model ([`sesr_core::CollapsedSesr`]) as the files phones and
//! NPUs run.
//!
//! - [`graph_of`]: the model as the plain network description `sesr-tflite` writes (and
//!   `sesr-runtime` runs);
//! - [`ranges`]: the int8 activation ranges, from quantization-aware training
//!   ([`ranges::qat_ranges`]) or observed on calibration images
//!   ([`ranges::calibrated_ranges`], post-training quantization);
//! - [`model_bytes`] and [`export_checkpoint`]: a float32 or full-integer int8 `.tflite`, or
//!   a float32 or int8 (QDQ) `.onnx` of any input size ([`ExportFormat`]).
//!
//! ```no_run
//! use sesr_export::{export_checkpoint, ExportFormat};
//! let written = export_checkpoint(
//!     "runs/qat/best.safetensors".as_ref(),
//!     ExportFormat::Int8,
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
use sesr_tflite::{write_float32, write_int8, ConvWeights, Int8Network, Model, SesrGraph};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// The files an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// A float32 `.tflite` for one input size.
    Float32,
    /// A full-integer `.tflite` (int8 weights, activations, input and output) for one input
    /// size.
    Int8,
    /// A float32 `.onnx` that takes any input size.
    OnnxFloat32,
    /// An int8 `.onnx` in QDQ form (float input and output), any input size: the integer
    /// network of the int8 `.tflite`, same weights and parameters.
    OnnxInt8,
}

impl ExportFormat {
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Float32 => "float32",
            ExportFormat::Int8 => "int8",
            ExportFormat::OnnxFloat32 => "onnx",
            ExportFormat::OnnxInt8 => "onnx-int8",
        }
    }

    pub fn is_onnx(self) -> bool {
        matches!(self, ExportFormat::OnnxFloat32 | ExportFormat::OnnxInt8)
    }
}

/// The input size ONNX exports build their graph at: the files take any size, and the int8
/// parameters do not depend on it.
const ONNX_GRAPH_SIZE: (usize, usize) = (16, 16);

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

/// The file bytes of `model` in `format`, for an LR input of `(height, width)` (ignored by
/// ONNX, whose files take any size). int8 takes its ranges from `calibration` images when
/// given, else from quantization-aware training; `checkpoint` names the model in errors.
pub fn model_bytes(
    model: &CollapsedSesr,
    checkpoint: &Path,
    format: ExportFormat,
    (height, width): (usize, usize),
    calibration: Option<&Path>,
) -> Result<Vec<u8>> {
    if height == 0 || width == 0 {
        return Err(ExportError::EmptyInput { height, width });
    }
    let (height, width) = if format.is_onnx() {
        ONNX_GRAPH_SIZE
    } else {
        (height, width)
    };
    let graph = graph_of(model, height, width)?;
    let tflite_error = |source| ExportError::Tflite {
        height,
        width,
        source,
    };
    let int8 = |graph: &SesrGraph| -> Result<Vec<u8>> {
        let ranges = match calibration {
            Some(dir) => ranges::calibrated_ranges(model, dir)?,
            None => ranges::qat_ranges(model, checkpoint)?,
        };
        write_int8(graph, &ranges).map_err(tflite_error)
    };
    Ok(match format {
        ExportFormat::Float32 => write_float32(&graph).map_err(tflite_error)?,
        ExportFormat::Int8 => int8(&graph)?,
        ExportFormat::OnnxFloat32 => sesr_onnx::float32_model(&graph)?,
        ExportFormat::OnnxInt8 => {
            // The integer network of the int8 .tflite: the same numbers in both files.
            let tflite = int8(&graph)?;
            let network = Model::parse(&tflite)
                .and_then(|model| Int8Network::from_model(&model))
                .map_err(tflite_error)?;
            sesr_onnx::int8_model(&network)?
        }
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

/// The file name an export gets beside its checkpoint: `<stem>_<format>_<H>x<W>.tflite`, or
/// `<stem>_<format>.onnx` (any size).
pub fn default_output(checkpoint: &Path, format: ExportFormat, (h, w): (usize, usize)) -> PathBuf {
    let stem = checkpoint.file_stem().unwrap_or_default().to_string_lossy();
    let name = match format.is_onnx() {
        true => format!("{stem}_{}.onnx", format.name()),
        false => format!("{stem}_{}_{h}x{w}.tflite", format.name()),
    };
    checkpoint.with_file_name(name)
}

/// What [`export_checkpoint`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub path: PathBuf,
    pub format: ExportFormat,
    pub bytes: usize,
    /// LR input `(height, width)` and HR output `(height, width)` of the model; `None` for
    /// ONNX, which takes any size.
    pub input: Option<(usize, usize)>,
    pub output: Option<(usize, usize)>,
}

impl std::fmt::Display for Exported {
    /// `PATH: int8, input 1xHxWx1 -> output 1xsHxsWx1, N bytes` (ONNX: `1x1xHxW`, any size).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shapes = match (self.input, self.output) {
            (Some((h, w)), Some((sh, sw))) => format!("input 1x{h}x{w}x1 -> output 1x{sh}x{sw}x1"),
            _ => "input 1x1xHxW of any size (NCHW)".to_string(),
        };
        write!(
            f,
            "{}: {}, {shapes}, {} bytes",
            self.path.display(),
            self.format.name(),
            self.bytes
        )
    }
}

/// Writes `checkpoint` (training or collapsed) as a model file of `format` for an LR input of
/// `(height, width)` (TFLite only), at `output` or at [`default_output`], atomically.
pub fn export_checkpoint(
    checkpoint: &Path,
    format: ExportFormat,
    output: Option<PathBuf>,
    (height, width): (usize, usize),
    calibration: Option<&Path>,
) -> Result<Exported> {
    if height == 0 || width == 0 {
        return Err(ExportError::EmptyInput { height, width });
    }
    if checkpoint
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tflite") || e.eq_ignore_ascii_case("onnx"))
    {
        return Err(ExportError::NotACheckpoint {
            path: checkpoint.to_path_buf(),
        });
    }
    let model = CollapsedSesr::from_checkpoint(checkpoint, Device::Cpu)?;
    let bytes = model_bytes(&model, checkpoint, format, (height, width), calibration)?;
    let path = output.unwrap_or_else(|| default_output(checkpoint, format, (height, width)));
    let sidecar = sesr_model::checkpoint::sidecar_path(checkpoint);
    if same_file(&path, checkpoint) || same_file(&path, &sidecar) {
        return Err(ExportError::OverwritesInput { path });
    }
    write_file_atomic(&path, &bytes)?;
    let scale = model.config().scale;
    let fixed = !format.is_onnx();
    Ok(Exported {
        path,
        format,
        bytes: bytes.len(),
        input: fixed.then_some((height, width)),
        output: fixed.then_some((height * scale, width * scale)),
    })
}
