//! sesr-export: a collapsed SESR model as the files phones, NPUs and other runtimes run, without
//! libtorch.
//!
//! - [`ExportSource`]: what an export is made from, read from any [`ModelRef`] by
//!   [`ExportSource::load`]: a collapsed checkpoint (its float network, and the int8 ranges of
//!   quantization-aware training when it has them), a shipped model, or an int8 `.tflite`
//!   (its integer network);
//! - [`model_bytes`]: a float32 or full-integer int8 `.tflite` for one input size, or a float32
//!   or int8 (QDQ) `.onnx` of any input size ([`ExportFormat`]); every int8 file is written
//!   from one [`sesr_net::Int8Network`], so they hold the same integers;
//! - [`export`]: the file, written atomically at [`default_output`] or where asked.
//!
//! Training checkpoints are collapsed, and post-training calibration is computed, by
//! `sesr-core` on libtorch; hand the results over with [`ExportSource::Float`] and the
//! `calibrated` ranges.
//!
//! ```no_run
//! use sesr_export::{export, ExportFormat, ExportSource, Target};
//! use sesr_model::ModelRef;
//! use sesr_tflite::InputSize;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let model = ModelRef::parse("runs/qat/best_collapsed.safetensors")?;
//! let source = ExportSource::load(&model)?;
//! // Beside the checkpoint: best_collapsed_int8_1080x1920.tflite (Target::EthosU55: every
//! // operator on an Ethos-U55 NPU, best_collapsed_int8_ethos-u55_1080x1920.tflite)
//! let format = (ExportFormat::Int8, Target::Cpu);
//! let written = export(&model, &source, format, None, InputSize::FULL_HD, None)?;
//! println!("{written}");
//! # Ok(())
//! # }
//! ```

mod error;

pub use error::{ExportError, Result};

use sesr_model::atomic::{same_file, write_file_atomic};
use sesr_model::checkpoint::sidecar_path;
use sesr_model::{CheckpointKind, ModelRef, SesrConfig};
use sesr_net::{ActivationRanges, CollapsedModel, Int8Network};
use sesr_tflite::{write_float32, write_int8_with, InputSize, Layout};
use std::path::{Path, PathBuf};

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

    pub fn is_int8(self) -> bool {
        matches!(self, ExportFormat::Int8 | ExportFormat::OnnxInt8)
    }

    /// The file extension of the format.
    pub fn extension(self) -> &'static str {
        match self.is_onnx() {
            true => "onnx",
            false => "tflite",
        }
    }
}

/// What runs the exported `.tflite`: the graph is laid out for it (the integers are the same
/// for every target).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// A CPU (LiteRT with XNNPACK): outer convolutions phase-packed ([`Layout::Fast`]).
    #[default]
    Cpu,
    /// Arm Ethos-U55: every operator on the NPU, each depth-to-space as a stride-2
    /// TRANSPOSE_CONV ([`Layout::NpuTransposeConv`], Vela's fastest graph there).
    EthosU55,
    /// Arm Ethos-U65: as the U55 ([`Layout::NpuTransposeConv`]).
    EthosU65,
    /// Arm Ethos-U85: every operator on the NPU, the output conv split by output row
    /// ([`Layout::NpuRows`], Vela's fastest graph there).
    EthosU85,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 4] = [
        Target::Cpu,
        Target::EthosU55,
        Target::EthosU65,
        Target::EthosU85,
    ];

    /// The name on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            Target::Cpu => "cpu",
            Target::EthosU55 => "ethos-u55",
            Target::EthosU65 => "ethos-u65",
            Target::EthosU85 => "ethos-u85",
        }
    }

    /// The graph laid out for the target. The NPU layouts were chosen by Vela's estimates
    /// (docs/models.md): of the layouts whose every operator the NPU maps, the fastest.
    pub fn layout(self) -> Layout {
        match self {
            Target::Cpu => Layout::Fast,
            Target::EthosU55 | Target::EthosU65 => Layout::NpuTransposeConv,
            Target::EthosU85 => Layout::NpuRows,
        }
    }

    /// Whether the target is an NPU (int8 `.tflite` only).
    pub fn is_npu(self) -> bool {
        self != Target::Cpu
    }
}

/// What an export is made from.
#[derive(Debug, Clone, PartialEq)]
pub enum ExportSource {
    /// A collapsed float model (after QAT it carries its int8 ranges).
    Float(CollapsedModel),
    /// An int8 network (a shipped int8 model, or an int8 `.tflite` read back).
    Int8(Int8Network),
}

impl ExportSource {
    /// Reads what `model` names: a collapsed checkpoint, a shipped model or an int8 `.tflite`.
    /// A training checkpoint needs libtorch to collapse (`sesr_core::CollapsedSesr`), an
    /// ONNX file cannot be read back.
    pub fn load(model: &ModelRef) -> Result<Self> {
        let unsupported = |path: &Path, why: &str| ExportError::Unsupported {
            model: path.to_path_buf(),
            why: why.into(),
        };
        Ok(match model {
            ModelRef::Shipped { name, .. } => {
                let zoo = sesr_zoo::find(name.preset, name.scale)
                    .map_err(|e| unsupported(&model.display_name(), &e.to_string()))?;
                let label = model.display_name();
                match zoo.checkpoint(name.form) {
                    Some(file) => ExportSource::Float(CollapsedModel::from_bytes(
                        &label,
                        file.safetensors,
                        file.sidecar,
                    )?),
                    None => ExportSource::Int8(read_int8_bytes(&label, zoo.int8_tflite)?),
                }
            }
            ModelRef::Checkpoint { path, meta } => match meta.kind {
                CheckpointKind::Collapsed { .. } => {
                    ExportSource::Float(CollapsedModel::read(path)?)
                }
                CheckpointKind::Training { .. } => {
                    return Err(unsupported(
                        path,
                        "is a training checkpoint (expanded linear blocks); collapse it first \
                         (`sesr-cli collapse`), or export it with a sesr-cli built with \
                         libtorch (the `train` feature), which collapses it on the way",
                    ))
                }
            },
            ModelRef::Tflite(path) => {
                let bytes = std::fs::read(path).map_err(|source| sesr_model::ModelError::Io {
                    action: "read",
                    path: path.clone(),
                    source,
                })?;
                ExportSource::Int8(read_int8_bytes(path, &bytes)?)
            }
            ModelRef::Onnx(path) => {
                return Err(unsupported(
                    path,
                    "is already an exported model (ONNX), which export does not read back; \
                     export the checkpoint it was written from",
                ))
            }
        })
    }

    /// The upscaling factor.
    pub fn scale(&self) -> usize {
        match self {
            ExportSource::Float(model) => model.network.scale,
            ExportSource::Int8(net) => net.scale,
        }
    }
}

fn read_int8_bytes(name: &Path, bytes: &[u8]) -> Result<Int8Network> {
    let tflite_error = |source| ExportError::Unsupported {
        model: name.to_path_buf(),
        why: format!("cannot be read as an int8 SESR export: {source}"),
    };
    let model = sesr_tflite::Model::parse(bytes).map_err(tflite_error)?;
    Ok(sesr_tflite::read_int8(&model)
        .map_err(tflite_error)?
        .network)
}

/// The file bytes of `source` in `format` for an LR input of `size` (ignored by ONNX, whose
/// files take any size). int8 uses the `calibrated` ranges when given (post-training
/// quantization of a float model), else the model's own QAT ranges; `name` names the model in
/// errors.
pub fn model_bytes(
    name: &Path,
    source: &ExportSource,
    (format, target): (ExportFormat, Target),
    size: InputSize,
    calibrated: Option<&ActivationRanges>,
) -> Result<Vec<u8>> {
    if target.is_npu() && format != ExportFormat::Int8 {
        return Err(ExportError::NpuNeedsInt8 {
            target: target.name(),
            format: format.name(),
        });
    }
    let tflite_error = |source| ExportError::Tflite { size, source };
    let int8 = || -> Result<Int8Network> {
        match source {
            ExportSource::Int8(_) if calibrated.is_some() => Err(ExportError::UnusedCalibration {
                model: name.to_path_buf(),
                why: "an int8 model is already quantized",
            }),
            ExportSource::Int8(net) => Ok(net.clone()),
            ExportSource::Float(model) => {
                let ranges = match (calibrated, model.qat_ranges()) {
                    (Some(_), Some(_)) => {
                        return Err(ExportError::UnusedCalibration {
                            model: name.to_path_buf(),
                            why: "it was trained with quantization and carries its own ranges",
                        })
                    }
                    (Some(ranges), None) => ranges.clone(),
                    (None, Some(ranges)) => ranges,
                    (None, None) => {
                        return Err(ExportError::NoInt8Ranges {
                            model: name.to_path_buf(),
                        })
                    }
                };
                Ok(Int8Network::quantize(&model.network, &ranges)?)
            }
        }
    };
    let float = || match source {
        ExportSource::Float(model) => Ok(&model.network),
        ExportSource::Int8(_) => Err(ExportError::FloatFromInt8 {
            model: name.to_path_buf(),
        }),
    };
    if !format.is_int8() && calibrated.is_some() {
        return Err(ExportError::UnusedCalibration {
            model: name.to_path_buf(),
            why: "calibration sets int8 ranges, and a float32 export has none",
        });
    }
    Ok(match format {
        ExportFormat::Float32 => write_float32(float()?, size).map_err(tflite_error)?,
        ExportFormat::Int8 => {
            write_int8_with(&int8()?, size, target.layout()).map_err(tflite_error)?
        }
        ExportFormat::OnnxFloat32 => sesr_onnx::float32_model(float()?)?,
        ExportFormat::OnnxInt8 => sesr_onnx::int8_model(&int8()?)?,
    })
}

/// Refuses an LR input size the TFLite writer would refuse for this architecture (the tensor
/// sizes TFLite can hold), before anything is trained or loaded.
pub fn check_tflite_size(config: &SesrConfig, size: InputSize) -> Result<()> {
    size.check(config.int_features.max(config.scale * config.scale))
        .map_err(|source| ExportError::Tflite { size, source })
}

/// The file name an export gets: `<stem>_<format>_<H>x<W>.tflite` (an NPU target's name after
/// the format: `_int8_ethos-u55_`), or `<stem>_<format>.onnx` (any size), beside a model
/// file, or in the working folder for a shipped model (stem as its file in the zoo, e.g.
/// `m5_x2_qat`); `int8` is not repeated after a stem that ends with it (`m5_x2_int8_1080x1920.tflite`).
pub fn default_output(
    model: &ModelRef,
    (format, target): (ExportFormat, Target),
    size: InputSize,
) -> PathBuf {
    let (stem, folder) = match model {
        ModelRef::Shipped { name, .. } => {
            let file = name.file_name();
            let stem = Path::new(&file).file_stem().unwrap_or_default().to_owned();
            (stem.to_string_lossy().into_owned(), PathBuf::new())
        }
        ModelRef::Checkpoint { path, .. } | ModelRef::Tflite(path) | ModelRef::Onnx(path) => (
            path.file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            path.parent().map(Path::to_path_buf).unwrap_or_default(),
        ),
    };
    let target = match target.is_npu() {
        true => format!("_{}", target.name()),
        false => String::new(),
    };
    // A shipped int8 model's stem already says int8 (`m5_x2_int8`): not `m5_x2_int8_int8_...`.
    let format_name = match format == ExportFormat::Int8 && stem.ends_with("_int8") {
        true => String::new(),
        false => format!("_{}", format.name()),
    };
    let name = match format.is_onnx() {
        true => format!("{stem}{format_name}.onnx"),
        false => format!("{stem}{format_name}{target}_{size}.tflite"),
    };
    folder.join(name)
}

/// What [`export`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub path: PathBuf,
    pub format: ExportFormat,
    pub bytes: usize,
    /// LR input and HR output `(height, width)` of the model; `None` for ONNX, which takes
    /// any size.
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

/// Checks an output path before any work: its extension fits the format, and it does not
/// name the model being exported.
pub fn check_output(model: &ModelRef, format: ExportFormat, output: &Path) -> Result<()> {
    let inputs: Vec<PathBuf> = match model {
        ModelRef::Shipped { .. } => vec![],
        ModelRef::Checkpoint { path, .. } => vec![path.clone(), sidecar_path(path)],
        ModelRef::Tflite(path) | ModelRef::Onnx(path) => vec![path.clone()],
    };
    if inputs.iter().any(|input| same_file(output, input)) {
        return Err(ExportError::OverwritesInput {
            path: output.to_path_buf(),
        });
    }
    let extension = output
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if extension.as_deref() != Some(format.extension()) {
        return Err(ExportError::WrongExtension {
            path: output.to_path_buf(),
            format: format.name(),
            extension: format.extension(),
        });
    }
    Ok(())
}

/// Writes `source` (read from `model`) as a file of `format` for an LR input of `size`
/// (TFLite only), at `output` or at [`default_output`], atomically; `calibrated` as for
/// [`model_bytes`].
pub fn export(
    model: &ModelRef,
    source: &ExportSource,
    (format, target): (ExportFormat, Target),
    output: Option<PathBuf>,
    size: InputSize,
    calibrated: Option<&ActivationRanges>,
) -> Result<Exported> {
    let path = output.unwrap_or_else(|| default_output(model, (format, target), size));
    check_output(model, format, &path)?;
    let name = model.display_name();
    let bytes = model_bytes(&name, source, (format, target), size, calibrated)?;
    write_file_atomic(&path, &bytes)?;
    let scale = source.scale();
    let fixed = !format.is_onnx();
    let (h, w) = (size.height, size.width);
    Ok(Exported {
        path,
        format,
        bytes: bytes.len(),
        input: fixed.then_some((h, w)),
        output: fixed.then_some((h * scale, w * scale)),
    })
}
