//! sesr-quant: quantization-aware training (QAT) for SESR, numerically as the reference.
//!
//! The reference trains with a differentiable fake quantization whose ranges are trainable
//! (`models/quantize_utils.py` of ARM's SESR code):
//! - the range `[min, max]` is nudged so that 0.0 is exactly representable:
//!   `scale = (max - min) / (q_max - q_min)`, `zero_point = round(q_min - min / scale)` clamped to
//!   `[q_min, q_max]`, `nudged_min = (q_min - zero_point) * scale`, `nudged_max` likewise;
//! - values are clipped to the nudged range and quantized as `floor((x - nudged_min) / scale + 0.5)`,
//!   with a straight-through gradient for the floor, so gradients reach `x`, `min` and `max`;
//! - weights: per output channel, symmetric, narrow range (`[-127, 127]` in int8 terms), ranges
//!   initialised from `max |w|` of the first step's collapsed kernel (one trainable `max` per
//!   channel: see [`WeightQuantizer`]);
//! - activations: per tensor, asymmetric, 256 levels, ranges initialised from the first batch's
//!   min and max.
//!
//! [`ActivationQuantizer`] and [`WeightQuantizer`] hold those ranges as variables of the model's
//! `VarStore`, so the optimizer trains them and checkpoints keep them.

pub use sesr_model::QuantConfig;
use tch::{nn, Kind, Tensor};

/// Levels of an 8-bit quantizer: `q_max = 2^8 - 1`.
pub const Q_MAX: f64 = 255.0;

/// `floor(x)` forward, identity backward (straight-through estimator).
pub fn floor_ste(x: &Tensor) -> Tensor {
    x + (x.floor() - x).detach()
}

/// The reference's `get_nudged_ranges_scale`: `(nudged_min, nudged_max, scale)`.
/// `narrow` drops the lowest level (`q_min = 1`), as symmetric weights use.
pub fn nudged_range(min: &Tensor, max: &Tensor, narrow: bool) -> (Tensor, Tensor, Tensor) {
    let q_min = if narrow { 1.0 } else { 0.0 };
    let scale = (max - min) / (Q_MAX - q_min);
    // The zero point is rounded: no gradient flows through it (as tf.round has none).
    let zero_point = (q_min - min / &scale).detach().round().clamp(q_min, Q_MAX);
    let nudged_min = (-&zero_point + q_min) * &scale;
    let nudged_max = (-zero_point + Q_MAX) * &scale;
    (nudged_min, nudged_max, scale)
}

/// The reference's `fake_quant_with_min_max_vars`, differentiable in `x`, `min` and `max`.
/// `min` and `max` broadcast against `x` (per-tensor scalars or per-channel `[C, 1, 1, 1]`).
pub fn fake_quant(x: &Tensor, min: &Tensor, max: &Tensor, narrow: bool) -> Tensor {
    let (nudged_min, nudged_max, scale) = nudged_range(min, max, narrow);
    let clipped = x.clamp_tensor(Some(&nudged_min), Some(&nudged_max));
    let levels = floor_ste(&((clipped - &nudged_min) / &scale + 0.5));
    levels * scale + nudged_min
}

/// A range must not be empty, or the scale would be zero: a constant tensor (all zeros at the
/// first step, say) gets a range of at least this width around it.
const MIN_RANGE: f64 = 1e-6;

/// Per-tensor asymmetric activation quantizer with a trainable range.
#[derive(Debug)]
pub struct ActivationQuantizer {
    pub min: Tensor,
    pub max: Tensor,
    /// 1.0 once the range was set from a batch; saved with the checkpoint.
    initialized: Tensor,
}

impl ActivationQuantizer {
    pub fn new(p: nn::Path) -> Self {
        ActivationQuantizer {
            min: p.var("min", &[], nn::Init::Const(0.0)),
            max: p.var("max", &[], nn::Init::Const(1.0)),
            initialized: p.zeros_no_train("initialized", &[]),
        }
    }

    pub fn is_initialized(&self) -> bool {
        self.initialized.double_value(&[]) != 0.0
    }

    /// Fake-quantizes `x`; the first call sets the range from `x`'s min and max.
    pub fn apply(&self, x: &Tensor) -> Tensor {
        if !self.is_initialized() {
            tch::no_grad(|| {
                let (lo, hi) = (x.min().double_value(&[]), x.max().double_value(&[]));
                let hi = hi.max(lo + MIN_RANGE);
                let _ = self.min.shallow_clone().fill_(lo);
                let _ = self.max.shallow_clone().fill_(hi);
                let _ = self.initialized.shallow_clone().fill_(1.0);
            });
        }
        fake_quant(x, &self.min, &self.max, false)
    }

    /// The nudged range TFLite will use for this tensor.
    pub fn nudged(&self) -> (f64, f64) {
        let (lo, hi, _) = nudged_range(&self.min.detach(), &self.max.detach(), false);
        (lo.double_value(&[]), hi.double_value(&[]))
    }
}

/// Per-output-channel symmetric narrow-range weight quantizer with a trainable range.
///
/// Deliberate difference: the reference trains `min` and `max` of the weights separately, so
/// they can drift apart and the zero point off 0, which int8 TFLite weights (zero point 0)
/// cannot express. Here one trainable `max` per channel gives the range `[-max, max]`.
#[derive(Debug)]
pub struct WeightQuantizer {
    /// `[C_out]`
    pub max: Tensor,
    initialized: Tensor,
}

impl WeightQuantizer {
    pub fn new(p: nn::Path, out_channels: i64) -> Self {
        WeightQuantizer {
            max: p.var("max", &[out_channels], nn::Init::Const(1.0)),
            initialized: p.zeros_no_train("initialized", &[]),
        }
    }

    pub fn is_initialized(&self) -> bool {
        self.initialized.double_value(&[]) != 0.0
    }

    /// Fake-quantizes a kernel `[C_out, C_in, k, k]`; the first call sets `max = max |w|` per
    /// output channel.
    pub fn apply(&self, weight: &Tensor) -> Tensor {
        if !self.is_initialized() {
            tch::no_grad(|| {
                let max_abs = weight
                    .abs()
                    .amax([1, 2, 3].as_slice(), false)
                    .clamp_min(MIN_RANGE);
                self.max.shallow_clone().copy_(&max_abs);
                let _ = self.initialized.shallow_clone().fill_(1.0);
            });
        }
        let max = self.max.view([-1, 1, 1, 1]);
        fake_quant(weight, &(-&max), &max, true)
    }

    /// Per-channel scales, `max / 127` (the zero point is exactly 0).
    pub fn scales(&self) -> Vec<f64> {
        let max = self.max.detach();
        let (_, _, scale) = nudged_range(&(-&max), &max, true);
        Vec::<f64>::try_from(&scale.to_kind(Kind::Double)).expect("a [C_out] tensor")
    }
}
