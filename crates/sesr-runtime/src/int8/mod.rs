//! The int8 path: the integer network of the project's int8 `.tflite` export, run with
//! TFLite's integer arithmetic on images of any size.
//!
//! [`Int8Sesr`] runs an [`sesr_net::Int8Network`] (recovered from a file by
//! [`sesr_tflite::read_int8`], or quantized in memory: per-layer
//! int8 weights, int32 biases, per-channel scales, zero points; phase-packed convs unpacked),
//! then runs it fused over tiles (see `stream`): every layer of a tile is computed while its
//! rows are in cache, bands of rows run in parallel, and the row kernels use AVX-512 VNNI or
//! AVX2 when the CPU has them. The blocks fuse a ReLU (QAT exports) or are followed by an int8
//! PRELU (post-training exports of PReLU models), applied to each conv row while it is in
//! cache: by per-channel 256-entry tables (exact: it is elementwise on int8), looked up 64
//! bytes at a time with AVX-512 VBMI, or by TFLite's arithmetic on AVX-512 without VBMI. Every kernel computes the same integers as TFLite's reference
//! kernels (`sesr_net::Int8Network::simulate`), so the output is what LiteRT computes, up to the one
//! step by which XNNPACK's rounding sometimes differs.
//!
//! Modules, each depending only on those before it: `plan` (the network as the kernels need
//! it, no instruction set in sight), `scalar` (the reference kernels), `x86`, `avx2` and
//! `avx512` (the SIMD kernels), `kernels` (the level and the row calls' dispatch), `stream`
//! (the fused tiles). [`Int8Sesr`] picks the level.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod kernels;
mod plan;
mod scalar;
mod stream;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::path::Path;

use rayon::prelude::*;
use sesr_data::plane::{quantize, PlaneF32, PlaneU8};
use sesr_net::Int8Network;
use sesr_tflite::schema::TensorType;
use sesr_tflite::Model;

use crate::error::{Result, RuntimeError};
pub use kernels::KernelLevel;
use kernels::Kernels;
use plan::NetworkPlan;

/// An int8 SESR model ready to run.
#[derive(Clone, Debug)]
pub struct Int8Sesr {
    /// The recovered network and its kernel plan (boxed: a few hundred bytes).
    model: Box<(Int8Network, NetworkPlan)>,
    /// The row kernels the plan runs on.
    kernels: Kernels,
}

/// Largest output (`scale^2 * height * width` values) accepted: 2^31 int8 values.
pub(crate) const MAX_OUTPUT_VALUES: usize = 1 << 31;

impl Int8Sesr {
    /// Reads an int8 SESR `.tflite` file written by `sesr-tflite` (either layout).
    pub fn from_tflite_file(path: &Path) -> Result<Self> {
        let model = Model::read(path).map_err(|e| RuntimeError::from(e).in_file(path))?;
        Self::from_model(&model, path)
    }

    /// The network of an already-read model; `path` names it in errors. A float32 model gets
    /// its own message, since its weights live in the checkpoint it was exported from.
    pub fn from_model(model: &Model, path: &Path) -> Result<Self> {
        let error = |message: String| RuntimeError::Model {
            path: path.to_path_buf(),
            message,
        };
        let input_type = model.subgraphs.first().and_then(|graph| {
            let index = usize::try_from(*graph.inputs.first()?).ok()?;
            Some(graph.tensors.get(index)?.dtype)
        });
        if input_type == Some(TensorType::FLOAT32) {
            return Err(error(
                "is a float32 TFLite model (its input is FLOAT32); sesr-runtime runs int8 \
                 .tflite files, and float32 models from the collapsed checkpoint \
                 (.safetensors + .json) they were exported from"
                    .into(),
            ));
        }
        let network = sesr_tflite::read_int8(model)
            .map_err(|e| RuntimeError::from(e).in_file(path))?
            .network;
        Self::from_network(network).map_err(|e| e.in_file(path))
    }

    /// An int8 network held in memory (e.g. just quantized); [`RuntimeError::Network`] if it is
    /// not one the kernels run.
    pub fn from_network(network: Int8Network) -> Result<Self> {
        network
            .validate()
            .map_err(|e| RuntimeError::Network(e.to_string()))?;
        if let Some(conv) = network.convs.iter().find(|c| c.kernel > stream::MAX_KERNEL) {
            return Err(RuntimeError::Network(format!(
                "a {0}x{0} convolution; the runtime takes kernels up to {1}x{1}",
                conv.kernel,
                stream::MAX_KERNEL
            )));
        }
        let plan = NetworkPlan::new(&network);
        let kernels = Kernels::new(&plan, KernelLevel::best());
        Ok(Self {
            model: Box::new((network, plan)),
            kernels,
        })
    }

    /// The same model with the row kernels of `level` (for tests and comparisons); an error
    /// if the CPU lacks that instruction set.
    pub fn with_kernel_level(mut self, level: KernelLevel) -> Result<Self> {
        if !level.is_supported() {
            return Err(RuntimeError::Input(format!(
                "this CPU does not support the {level:?} kernels"
            )));
        }
        self.kernels = Kernels::new(&self.model.1, level);
        Ok(self)
    }

    /// The kernels in use.
    pub fn kernel_level(&self) -> KernelLevel {
        self.kernels.level()
    }

    /// The upscaling factor (2 or 4).
    pub fn scale(&self) -> usize {
        self.model.0.scale
    }

    /// The recovered integer network.
    pub fn network(&self) -> &Int8Network {
        &self.model.0
    }

    /// Upscales a Y plane with values in `[0, 1]`: quantized with the model's input
    /// parameters (`round(y / scale) + zero_point`, as TFLite's users do), run through the
    /// integer network, dequantized with the output parameters.
    pub fn upscale_y(&self, y: &PlaneF32, threads: usize) -> Result<PlaneF32> {
        let input: Vec<i8> = y
            .data
            .iter()
            .map(|&v| self.model.1.input.quantize(v))
            .collect();
        let out = self.run_int8(&input, y.width, y.height, threads)?;
        let s = self.scale();
        let params = self.model.1.output;
        let mut data = Vec::new();
        data.try_reserve_exact(out.len()).map_err(|_| {
            RuntimeError::Input(format!(
                "cannot allocate the {}-value float output of a {}x{} image",
                out.len(),
                y.width,
                y.height
            ))
        })?;
        data.extend(out.iter().map(|&q| params.dequantize(q)));
        PlaneF32::from_vec(s * y.width, s * y.height, data)
            .ok_or_else(|| RuntimeError::Input("output plane size mismatch".into()))
    }

    /// [`Int8Sesr::upscale_y`] of `y / 255` quantized to 8 bits, exactly, through two
    /// 256-entry tables instead of float planes: bytes to the network's int8 input, its int8
    /// output to bytes. The output table runs on the rayon pool it is called in.
    pub fn upscale_y_u8(&self, y: &PlaneU8, threads: usize) -> Result<PlaneU8> {
        let (input, output) = (self.model.1.input, self.model.1.output);
        let to_int8: [i8; 256] = std::array::from_fn(|b| input.quantize(b as f32 / 255.0));
        let to_byte: [u8; 256] =
            std::array::from_fn(|q| quantize(output.dequantize(q as u8 as i8)));
        let values: Vec<i8> = y.data.iter().map(|&b| to_int8[usize::from(b)]).collect();
        let out = self.run_int8(&values, y.width, y.height, threads)?;
        let mut data = vec![0u8; out.len()];
        data.par_chunks_mut(1 << 16)
            .zip(out.par_chunks(1 << 16))
            .for_each(|(bytes, q)| {
                for (b, &q) in bytes.iter_mut().zip(q) {
                    *b = to_byte[usize::from(q as u8)];
                }
            });
        let s = self.scale();
        PlaneU8::from_vec(s * y.width, s * y.height, data)
            .ok_or_else(|| RuntimeError::Input("output plane size mismatch".into()))
    }

    /// The real values of the lowest and highest int8 output.
    pub fn output_range(&self) -> (f32, f32) {
        let output = self.model.1.output;
        (output.dequantize(-128), output.dequantize(127))
    }

    /// The bytes `b` whose `b / 255` the network's input quantization holds without clipping
    /// (TFLite's QUANTIZE saturates the rest to its lowest or highest integer): a QAT model's
    /// learnt input range usually stops near studio-swing white, 235.
    pub fn unclipped_input_bytes(&self) -> std::ops::RangeInclusive<u8> {
        let input = self.model.1.input;
        let fits = |b: u8| {
            let q = (f32::from(b) / 255.0 / input.scale).round() as i64 + input.zero_point as i64;
            (-128..=127).contains(&q)
        };
        let lo = (0..=255u8).find(|&b| fits(b)).unwrap_or(0);
        let hi = (0..=255u8).rev().find(|&b| fits(b)).unwrap_or(255);
        lo..=hi.max(lo)
    }

    /// Runs the integer network on an int8 plane (NHWC, one channel, `height` rows of `width`
    /// values), returning the `scale * height` by `scale * width` int8 output.
    pub fn run_int8(
        &self,
        input: &[i8],
        width: usize,
        height: usize,
        threads: usize,
    ) -> Result<Vec<i8>> {
        if width == 0 || height == 0 {
            return Err(RuntimeError::Input(format!(
                "the image is {width}x{height}; it needs at least one pixel"
            )));
        }
        let s = self.scale();
        let values = width
            .checked_mul(height)
            .and_then(|n| n.checked_mul(s * s))
            .filter(|&n| n <= MAX_OUTPUT_VALUES)
            .ok_or_else(|| {
                RuntimeError::Input(format!(
                    "a {width}x{height} image is too large: its x{s} output would exceed \
                     {MAX_OUTPUT_VALUES} values"
                ))
            })?;
        if input.len() != width * height {
            return Err(RuntimeError::Input(format!(
                "{} input values for a {width}x{height} image",
                input.len()
            )));
        }
        let mut output = Vec::new();
        output.try_reserve_exact(values).map_err(|_| {
            RuntimeError::Input(format!(
                "cannot allocate the {values}-byte output of a {width}x{height} image"
            ))
        })?;
        output.resize(values, 0i8);
        let threads = threads.max(1);
        let run = |output: &mut [i8]| {
            stream::run(
                &self.model.1,
                &self.kernels,
                input,
                width,
                height,
                output,
                threads,
            )
        };
        // Inside a rayon pool of the right size (e.g. the `Upscaler`'s), run on it; otherwise
        // on a pool of `threads` threads.
        let in_pool =
            rayon::current_thread_index().is_some() && rayon::current_num_threads() == threads;
        if threads == 1 || in_pool {
            run(&mut output);
        } else {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|e| RuntimeError::Input(format!("cannot start {threads} threads: {e}")))?;
            pool.install(|| run(&mut output));
        }
        Ok(output)
    }
}
