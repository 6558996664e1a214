//! sesr-runtime: a pure-Rust CPU runtime for collapsed SESR models, without libtorch.
//!
//! [`Upscaler::load_ref`] takes any [`ModelRef`]: a shipped model's name (`m5`, `m11-x4-int8`),
//! a collapsed float32 checkpoint of sesr-core (`MODEL.safetensors` with its `MODEL.json`
//! sidecar) or the project's int8 TFLite export (`.tflite`); [`Upscaler::load`] a file;
//! [`Upscaler::upscale_y`] upscales a luminance plane (values in [0, 1]) by the model's
//! scale, and [`Upscaler::upscale_image`] a whole image (Y by SESR, colour by bicubic).
//!
//! The float32 path runs every layer of a tile while the tile sits in cache (see
//! [`float32`](mod@float32) for the scheme), on a rayon pool of [`Upscaler::with_threads`]
//! threads, with AVX-512F, AVX2 + FMA or portable kernels picked at run time ([`Kernel`]).
//! Its results equal the tch model's to within 1e-4, borders included, for any image size and
//! tile size. Any SESR shape runs: M3 to M11 and XL, x2 and x4, PReLU or ReLU. A QAT
//! checkpoint runs on its float weights (ReLU when weights and activations were quantized),
//! without its fake quantization.
//!
//! The int8 path ([`int8`](mod@int8)) runs the integer network of an int8 `.tflite` with
//! TFLite's requantization, on AVX-512 VNNI, AVX2 or portable kernels: QAT exports (ReLU
//! fused into the block convs) and post-training exports of PReLU models (int8 PRELU after
//! each block conv) alike. A float32 `.tflite` is refused: load the checkpoint it was exported from.
//!
//! Training checkpoints (expanded linear blocks) must be collapsed first (sesr-core's
//! `CollapsedSesr::from_checkpoint(..)?.save(..)`, or `sesr-cli collapse`); the network a
//! runtime runs can also be handed over in memory ([`Upscaler::from_network`]).
//!
//! # Example
//!
//! ```
//! use sesr_data::plane::PlaneF32;
//! use sesr_net::{ConvWeights, Float32Network};
//! use sesr_runtime::{Kernel, Upscaler};
//!
//! # fn main() -> sesr_runtime::Result<()> {
//! // A collapsed network in memory (normally: `Upscaler::load("model.safetensors")?`):
//! // SESR-M1 with 16 features, x2, ReLU, all weights zero.
//! let conv = |o: usize, i: usize, k: usize| ConvWeights {
//!     out_channels: o,
//!     in_channels: i,
//!     kernel: k,
//!     weight: vec![0.0; o * i * k * k],
//!     bias: vec![0.0; o],
//! };
//! let network = Float32Network {
//!     scale: 2,
//!     convs: vec![conv(16, 1, 5), conv(16, 16, 3), conv(4, 16, 5)],
//!     prelu: vec![],
//! };
//! let upscaler = Upscaler::from_network(&network)?.with_threads(2)?;
//! assert_eq!(upscaler.kernel(), Kernel::best());
//!
//! let lr = PlaneF32::from_fn(7, 5, |x, y| (x + y) as f32 / 10.0);
//! let sr = upscaler.upscale_y(&lr)?;
//! assert_eq!(sr.size(), (14, 10));
//! // All-zero weights: every output pixel is its LR pixel (the input skip connection).
//! assert_eq!(sr.get(13, 9), lr.get(6, 4));
//! # Ok(())
//! # }
//! ```
//!
//! Loading a model by name or from a file:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sesr_runtime::{ModelRef, Upscaler};
//! let shipped = Upscaler::load_ref(&ModelRef::parse("m5-x2-int8")?)?;
//! let upscaler = Upscaler::load_ref(&ModelRef::parse("runs/model.safetensors")?)?;
//! let image = sesr_data::load_image("photo.png")?;
//! let sr = upscaler.upscale_image(&image)?;
//! sesr_data::io::save_png("photo_x2.png", &sr)?;
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod files;
pub mod float32;
pub mod int8;
pub mod rgb;

pub use error::{Result, RuntimeError};
pub use rgb::upscale_image_with;

use float32::{Float32Sesr, RowKernels};
use rayon::prelude::*;
use sesr_data::io::LoadedImage;
use sesr_data::plane::{quantize, PlaneF32, PlaneU8};
use sesr_data::{UpscaleError, UpscaleY};
pub use sesr_model::{ModelRef, ShippedForm, ShippedName};
use sesr_net::{CollapsedModel, Float32Network, Int8Network};
use std::path::{Path, PathBuf};

/// The largest output this runtime allocates, in pixels (a 4 GiB float plane, e.g.
/// 32768 x 32768); larger requests are refused before any allocation.
pub const MAX_OUTPUT_PIXELS: usize = 1 << 30;

/// Default strip width of a tile, in LR columns: wide enough that the recomputed halo is
/// small, narrow enough that a tile's rows stay in a 2 MB L2 cache.
pub const DEFAULT_TILE_WIDTH: usize = 512;

/// The most worker threads [`Upscaler::with_threads`] starts.
pub const MAX_THREADS: usize = 1024;

/// The most LR rows of a band when its height is chosen automatically.
const MAX_AUTO_BAND: usize = 256;

/// The instruction set of the float32 kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Portable Rust, the correctness reference.
    Scalar,
    /// AVX2 with FMA (x86-64).
    Avx2,
    /// AVX-512F (x86-64).
    Avx512,
}

impl Kernel {
    pub const ALL: [Kernel; 3] = [Kernel::Scalar, Kernel::Avx2, Kernel::Avx512];

    /// The fastest kernel this CPU runs.
    pub fn best() -> Kernel {
        [Kernel::Avx512, Kernel::Avx2]
            .into_iter()
            .find(|k| k.is_available())
            .unwrap_or(Kernel::Scalar)
    }

    /// Whether this CPU has the kernel's instruction set.
    pub fn is_available(self) -> bool {
        RowKernels::new(self).is_some()
    }

    fn needs(self) -> &'static str {
        match self {
            Kernel::Scalar => "nothing",
            Kernel::Avx2 => "an x86-64 CPU with AVX2 and FMA",
            Kernel::Avx512 => "an x86-64 CPU with AVX-512F",
        }
    }
}

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kernel::Scalar => "scalar",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        })
    }
}

/// Which arithmetic a loaded model runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Float32,
    Int8,
}

// One per Upscaler: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Network {
    Float32(Float32Sesr),
    Int8(int8::Int8Sesr),
}

/// A loaded SESR model, ready to upscale: the network, its kernels and its thread pool.
#[derive(Debug)]
pub struct Upscaler {
    network: Network,
    kernel: Kernel,
    rows: RowKernels,
    threads: usize,
    pool: rayon::ThreadPool,
    tile_width: usize,
    tile_height: Option<usize>,
    /// What the model was loaded from, for messages about its output.
    source: PathBuf,
}

fn build_pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("sesr-runtime-{i}"))
        .build()
        .map_err(|source| RuntimeError::ThreadPool { threads, source })
}

impl Upscaler {
    /// Loads a model file: `.safetensors` (a collapsed float32 checkpoint with its `.json`
    /// sidecar) or `.tflite` (the int8 export of `sesr-cli export --format int8`).
    pub fn load(path: &Path) -> Result<Upscaler> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("safetensors") => Self::new(Network::Float32(
                Float32Sesr::from_network(&CollapsedModel::read(path)?.network)
                    .map_err(|e| e.in_file(path))?,
            ))
            .map(|u| u.with_name(path)),
            Some("tflite") => Self::new(Network::Int8(int8::Int8Sesr::from_tflite_file(path)?))
                .map(|u| u.with_name(path)),
            _ => Err(RuntimeError::Model {
                path: path.to_path_buf(),
                message: "is neither a .safetensors checkpoint (with its .json sidecar) nor a \
                          .tflite model"
                    .into(),
            }),
        }
    }

    /// A collapsed checkpoint held in memory (safetensors bytes and the sidecar's text), as
    /// [`Upscaler::load`] reads it from files; `name` stands for the file in errors.
    pub fn from_checkpoint_bytes(
        name: &Path,
        safetensors: &[u8],
        sidecar: &str,
    ) -> Result<Upscaler> {
        let model = CollapsedModel::from_bytes(name, safetensors, sidecar)?;
        Self::new(Network::Float32(
            Float32Sesr::from_network(&model.network).map_err(|e| e.in_file(name))?,
        ))
        .map(|u| u.with_name(name))
    }

    /// An int8 `.tflite` held in memory; `name` stands for the file in errors.
    pub fn from_tflite_bytes(name: &Path, bytes: &[u8]) -> Result<Upscaler> {
        let model =
            sesr_tflite::Model::parse(bytes).map_err(|e| RuntimeError::from(e).in_file(name))?;
        Self::new(Network::Int8(int8::Int8Sesr::from_model(&model, name)?))
            .map(|u| u.with_name(name))
    }

    /// The shipped float32 model of `preset` (`m3`, `m5`, `m7`, `m11`, `xl`) at `scale`, from
    /// `sesr-zoo`: no file on disk. `docs/models.md` says how each was trained and scores.
    pub fn pretrained(preset: &str, scale: usize) -> Result<Upscaler> {
        Self::shipped(ShippedName::new(
            preset.parse()?,
            scale,
            ShippedForm::Float32,
        ))
    }

    /// The shipped int8 model (its `.tflite`) of `preset` at `scale`; see [`Upscaler::pretrained`].
    pub fn pretrained_int8(preset: &str, scale: usize) -> Result<Upscaler> {
        Self::shipped(ShippedName::new(preset.parse()?, scale, ShippedForm::Int8))
    }

    /// A shipped model in any of its forms (the QAT form runs on its float weights).
    pub fn shipped(name: ShippedName) -> Result<Upscaler> {
        let model = sesr_zoo::find(name.preset, name.scale)?;
        let label = PathBuf::from(format!("{name} (shipped)"));
        match model.checkpoint(name.form) {
            Some(file) => Self::from_checkpoint_bytes(&label, file.safetensors, file.sidecar),
            None => Self::from_tflite_bytes(&label, model.int8_tflite),
        }
    }

    /// Any model a [`ModelRef`] names: a shipped model, a collapsed checkpoint or an int8
    /// `.tflite`. A training checkpoint must be collapsed first (`sesr-cli collapse`, or
    /// sesr-core's `CollapsedSesr::from_checkpoint`), an ONNX file runs in ONNX Runtime.
    pub fn load_ref(model: &ModelRef) -> Result<Upscaler> {
        let refuse = |path: &Path, message: &str| {
            Err(RuntimeError::Model {
                path: path.to_path_buf(),
                message: message.into(),
            })
        };
        match model {
            ModelRef::Shipped { name, .. } => Self::shipped(*name),
            ModelRef::Tflite(path) => Self::load(path),
            ModelRef::Checkpoint { path, meta } => match meta.kind {
                sesr_model::CheckpointKind::Collapsed { .. } => Self::load(path),
                sesr_model::CheckpointKind::Training { .. } => refuse(
                    path,
                    "is a training checkpoint (expanded linear blocks); sesr-runtime runs \
                     collapsed models: write one with `sesr-cli collapse --checkpoint ... \
                     --output ...` (or sesr-core's `CollapsedSesr::from_checkpoint`)",
                ),
            },
            ModelRef::Onnx(path) => refuse(
                path,
                "is an ONNX model, which runs in ONNX Runtime; sesr-runtime runs collapsed \
                 checkpoints (.safetensors) and int8 .tflite exports",
            ),
        }
    }

    /// A float32 upscaler from a collapsed network in memory. An empty `prelu` means ReLU.
    pub fn from_network(network: &Float32Network) -> Result<Upscaler> {
        Self::new(Network::Float32(Float32Sesr::from_network(network)?))
    }

    /// An int8 upscaler from an int8 network in memory (quantized, or read from any file).
    pub fn from_int8_network(network: Int8Network) -> Result<Upscaler> {
        Self::new(Network::Int8(int8::Int8Sesr::from_network(network)?))
    }

    fn new(network: Network) -> Result<Upscaler> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let kernel = match &network {
            Network::Float32(_) => Kernel::best(),
            Network::Int8(net) => match net.kernel_level() {
                int8::KernelLevel::Scalar => Kernel::Scalar,
                int8::KernelLevel::Avx2 => Kernel::Avx2,
                int8::KernelLevel::Avx512Vnni => Kernel::Avx512,
            },
        };
        Ok(Upscaler {
            network,
            kernel,
            rows: RowKernels::new(kernel).unwrap_or(RowKernels::Scalar),
            threads,
            pool: build_pool(threads)?,
            tile_width: DEFAULT_TILE_WIDTH,
            tile_height: None,
            source: PathBuf::from("the SESR network given in memory"),
        })
    }

    /// Names the model in messages about its output (a file, or what stands for it); models
    /// loaded from files and shipped models are named already.
    pub fn with_name(mut self, name: impl Into<PathBuf>) -> Upscaler {
        self.source = name.into();
        self
    }

    /// What the model was loaded from (its file, `NAME (shipped)`), as messages name it.
    pub fn name(&self) -> &Path {
        &self.source
    }

    /// Runs on `threads` worker threads (default: the available cores).
    pub fn with_threads(mut self, threads: usize) -> Result<Upscaler> {
        if threads == 0 || threads > MAX_THREADS {
            return Err(RuntimeError::Option(format!(
                "threads must be between 1 and {MAX_THREADS} (e.g. the number of cores), got \
                 {threads}"
            )));
        }
        self.pool = build_pool(threads)?;
        self.threads = threads;
        Ok(self)
    }

    /// Forces a kernel (default [`Kernel::best`]); fails when this CPU lacks it. For an
    /// int8 model, `Avx512` means AVX-512 with VNNI.
    pub fn with_kernel(mut self, kernel: Kernel) -> Result<Upscaler> {
        let unavailable = RuntimeError::KernelUnavailable {
            kernel,
            needs: kernel.needs(),
        };
        self.network = match self.network {
            Network::Int8(net) => {
                let level = match kernel {
                    Kernel::Scalar => int8::KernelLevel::Scalar,
                    Kernel::Avx2 => int8::KernelLevel::Avx2,
                    Kernel::Avx512 => int8::KernelLevel::Avx512Vnni,
                };
                if !level.is_supported() {
                    let needs = match kernel {
                        Kernel::Avx512 => "an x86-64 CPU with AVX-512 VNNI (int8 model)",
                        _ => kernel.needs(),
                    };
                    return Err(RuntimeError::KernelUnavailable { kernel, needs });
                }
                Network::Int8(net.with_kernel_level(level)?)
            }
            float => float,
        };
        self.rows = RowKernels::new(kernel).ok_or(unavailable)?;
        self.kernel = kernel;
        Ok(self)
    }

    /// Tiles of `width` LR columns (default [`DEFAULT_TILE_WIDTH`]) and `height` LR rows
    /// (`None`: chosen from the image height and the thread count). Results do not depend
    /// on the tile size beyond float rounding.
    pub fn with_tile(mut self, width: usize, height: Option<usize>) -> Result<Upscaler> {
        if width == 0 || height == Some(0) {
            return Err(RuntimeError::Option(format!(
                "tile sides must be at least 1 LR pixel, got width {width}, height {}",
                height.unwrap_or(0)
            )));
        }
        self.tile_width = width;
        self.tile_height = height;
        Ok(self)
    }

    pub fn scale(&self) -> usize {
        match &self.network {
            Network::Float32(net) => net.scale(),
            Network::Int8(net) => net.scale(),
        }
    }

    pub fn precision(&self) -> Precision {
        match &self.network {
            Network::Float32(_) => Precision::Float32,
            Network::Int8(_) => Precision::Int8,
        }
    }

    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Band height for an image of `height` rows: the rows split evenly into a multiple of
    /// the thread count, bands of at most 256 rows.
    fn band_height(&self, height: usize) -> usize {
        self.tile_height.unwrap_or_else(|| {
            let per_thread = height.div_ceil(self.threads * MAX_AUTO_BAND).max(1);
            height.div_ceil(self.threads * per_thread).max(1)
        })
    }

    /// The 8-bit Y values (byte / 255, as [`Upscaler::upscale_y_u8`] reads them) the
    /// network's input represents without clipping: all of them for a float32 model; for an
    /// int8 model those inside its input quantization range, which a QAT model learnt on
    /// studio-swing Y ends near 235 (video's super-whites above it would all read as its
    /// top).
    pub fn unclipped_input_bytes(&self) -> std::ops::RangeInclusive<u8> {
        match &self.network {
            Network::Float32(_) => 0..=255,
            Network::Int8(net) => net.unclipped_input_bytes(),
        }
    }

    /// The most output pixels [`Upscaler::upscale_y_u8`] makes in one call:
    /// [`MAX_OUTPUT_PIXELS`] for a float32 model, twice that for an int8 one (its output is
    /// bytes, never a float plane). [`Upscaler::upscale_y`] takes [`MAX_OUTPUT_PIXELS`].
    pub fn max_output_pixels(&self) -> usize {
        match &self.network {
            Network::Float32(_) => MAX_OUTPUT_PIXELS,
            Network::Int8(_) => int8::MAX_OUTPUT_VALUES,
        }
    }

    /// The output size of a `width x height` plane through [`Upscaler::upscale_y_u8`], or
    /// the error it would give for that size (empty, or more than
    /// [`Upscaler::max_output_pixels`]): a caller can refuse a size before it reads pixels.
    pub fn output_size(&self, width: usize, height: usize) -> Result<(usize, usize)> {
        self.checked_output(width, height, self.max_output_pixels())
    }

    fn checked_output(&self, w: usize, h: usize, limit: usize) -> Result<(usize, usize)> {
        if w == 0 || h == 0 {
            return Err(RuntimeError::Input(format!(
                "cannot upscale an empty {w}x{h} plane; the image must have at least one pixel"
            )));
        }
        let s = self.scale();
        let too_large = || {
            RuntimeError::Input(format!(
                "a {w}x{h} image upscaled x{s} has more than {limit} pixels; split it into parts"
            ))
        };
        let (ws, hs) = (
            w.checked_mul(s).ok_or_else(too_large)?,
            h.checked_mul(s).ok_or_else(too_large)?,
        );
        ws.checked_mul(hs)
            .filter(|&n| n <= limit)
            .ok_or_else(too_large)?;
        Ok((ws, hs))
    }

    /// Upscales a Y plane (values in [0, 1]) by [`Upscaler::scale`].
    ///
    /// Fails for an empty plane, a plane whose data does not match its size, and an output of
    /// more than [`MAX_OUTPUT_PIXELS`] (or one that cannot be allocated).
    pub fn upscale_y(&self, y: &PlaneF32) -> Result<PlaneF32> {
        let (w, h) = y.size();
        let (ws, hs) = self.checked_output(w, h, MAX_OUTPUT_PIXELS)?;
        let pixels = ws * hs;
        if y.data.len() != w * h {
            return Err(RuntimeError::Input(format!(
                "plane data holds {} samples, but a {w}x{h} plane needs {}",
                y.data.len(),
                w * h
            )));
        }
        let net = match &self.network {
            Network::Float32(net) => net,
            Network::Int8(net) => {
                let out = self.pool.install(|| net.upscale_y(y, self.threads))?;
                let (lo, hi) = self.output_bounds();
                self.check_output(
                    || saturated(&out.data, |v| v.is_nan() || v <= lo || v >= hi),
                    || mostly_midtones(&y.data, |v| (MIDTONES_F32.0..=MIDTONES_F32.1).contains(&v)),
                )?;
                return Ok(out);
            }
        };
        let mut data = Vec::new();
        data.try_reserve_exact(pixels).map_err(|_| {
            RuntimeError::Input(format!(
                "cannot allocate the {ws}x{hs} output ({} MB)",
                pixels * 4 / 1_000_000
            ))
        })?;
        data.resize(pixels, 0.0);
        // No tile larger than the image: the tile loops add sides to positions.
        let tile = (self.tile_width.min(w), self.band_height(h).min(h));
        self.pool
            .install(|| net.upscale_into(&self.rows, y, tile, &mut data));
        self.check_output(
            || saturated(&data, |v| v.is_nan() || v <= 0.0 || v >= 1.0),
            || mostly_midtones(&y.data, |v| (MIDTONES_F32.0..=MIDTONES_F32.1).contains(&v)),
        )?;
        Ok(PlaneF32::from_vec(ws, hs, data).expect("the output holds ws * hs pixels"))
    }

    /// Upscales an 8-bit Y plane (each byte / 255, like [`PlaneU8::to_f32`]) to 8 bits:
    /// exactly `upscale_y(&y.to_f32())?.quantize_u8()`. An int8 model maps bytes through
    /// lookup tables and never builds the float planes; the conversions run on the worker
    /// threads. This is what video uses.
    pub fn upscale_y_u8(&self, y: &PlaneU8) -> Result<PlaneU8> {
        if let Network::Int8(net) = &self.network {
            let out = self.pool.install(|| net.upscale_y_u8(y, self.threads))?;
            let (lo, hi) = self.output_bounds();
            let (lo, hi) = (quantize(lo), quantize(hi));
            self.check_output(
                || saturated(&out.data, |b| b <= lo || b >= hi),
                || mostly_midtones(&y.data, |b| MIDTONES_U8.contains(&b)),
            )?;
            return Ok(out);
        }
        let values = self.pool.install(|| {
            y.data
                .par_chunks(1 << 16)
                .flat_map_iter(|c| c.iter().map(|&b| f32::from(b) / 255.0))
                .collect()
        });
        let plane = PlaneF32::from_vec(y.width, y.height, values).ok_or_else(|| {
            RuntimeError::Input(format!(
                "plane data holds {} samples, but a {}x{} plane needs {}",
                y.data.len(),
                y.width,
                y.height,
                y.width * y.height
            ))
        })?;
        let big = self.upscale_y(&plane)?;
        let data = self.pool.install(|| {
            big.data
                .par_chunks(1 << 16)
                .flat_map_iter(|c| c.iter().map(|&v| quantize(v)))
                .collect()
        });
        Ok(PlaneU8::from_vec(big.width, big.height, data).expect("same size as the float plane"))
    }

    /// The lowest and highest output values the network can give: 0 and 1 (its final clip)
    /// for float32; for int8, the ends of its output quantization inside [0, 1].
    fn output_bounds(&self) -> (f32, f32) {
        match &self.network {
            Network::Float32(_) => (0.0, 1.0),
            Network::Int8(net) => {
                let (lo, hi) = net.output_range();
                (lo.max(0.0), hi.min(1.0))
            }
        }
    }

    /// Refuses an output that is all clipped (or not a number) when the input is mostly
    /// mid-tones: no working SESR does that (its output follows its input through the skip
    /// connection), a model with absurd weights does. Both tests stop early on a working
    /// model's output (its first mid-tone sample).
    fn check_output(
        &self,
        output_saturated: impl FnOnce() -> bool,
        input_midtones: impl FnOnce() -> bool,
    ) -> Result<()> {
        if output_saturated() && input_midtones() {
            return Err(RuntimeError::SaturatedOutput {
                model: self.source.clone(),
            });
        }
        Ok(())
    }

    /// Upscales a whole image: Y by SESR, Cb and Cr by bicubic; gray stays gray (see
    /// [`upscale_image_with`]).
    pub fn upscale_image(&self, image: &LoadedImage) -> Result<LoadedImage> {
        upscale_image_with(image, self.scale(), |y| self.upscale_y(y))
    }
}

/// Studio-swing Y, black (16) to white (235), as bytes and as fractions of 255.
const MIDTONES_U8: std::ops::RangeInclusive<u8> = 16..=235;
const MIDTONES_F32: (f32, f32) = (16.0 / 255.0, 235.0 / 255.0);

/// Whether every sample is `at_bound` (stops at the first that is not).
fn saturated<T: Copy>(samples: &[T], at_bound: impl Fn(T) -> bool) -> bool {
    samples.iter().all(|&v| at_bound(v))
}

/// Whether at least half the samples are mid-tones.
fn mostly_midtones<T: Copy>(samples: &[T], midtone: impl Fn(T) -> bool) -> bool {
    2 * samples.iter().filter(|&&v| midtone(v)).count() >= samples.len()
}

impl UpscaleY for Upscaler {
    fn scale(&self) -> usize {
        Upscaler::scale(self)
    }

    fn engine(&self) -> String {
        match self.precision() {
            Precision::Float32 => "float32 on sesr-runtime".into(),
            Precision::Int8 => "int8 .tflite on sesr-runtime".into(),
        }
    }

    fn upscale_y(&self, y: &PlaneF32) -> std::result::Result<PlaneF32, UpscaleError> {
        Ok(Upscaler::upscale_y(self, y)?)
    }

    fn receptive_radius(&self) -> Option<usize> {
        Some(match &self.network {
            Network::Float32(net) => net.radius(),
            // Every conv reaches half its kernel side (5x5: 2, 3x3: 1).
            Network::Int8(net) => net.network().convs.iter().map(|c| c.kernel / 2).sum(),
        })
    }

    fn luma_bits(&self) -> Option<u32> {
        (self.precision() == Precision::Int8).then_some(8)
    }
}
