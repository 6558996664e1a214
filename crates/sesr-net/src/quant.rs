//! int8 quantization as TFLite does it: parameters from ranges and weights, and the
//! fixed-point arithmetic of its reference kernels.
//!
//! * Activations: asymmetric, per tensor, on `[-128, 127]`. A calibrated range `[min, max]`
//!   becomes `scale = (max - min) / 255` and a zero point rounded from `-128 - min / scale`
//!   and clamped to the int8 range, which nudges the range so that 0.0 is exactly
//!   representable: the rule of TensorFlow's `FakeQuantWithMinMaxVars`, so a model trained
//!   with fake quantization (QAT) sees the same grid as the int8 file.
//! * Weights: symmetric, per output channel, narrow range `[-127, 127]`,
//!   `scale_c = max |w_c| / 127`, zero point 0.
//! * Biases: int32, `scale_c = input_scale * weight_scale_c`, zero point 0.
//!
//! The integer helpers reproduce `tensorflow/lite/kernels/internal/common.h` and gemmlowp's
//! fixed-point routines bit for bit: a real multiplier `M` is stored as a Q31 significand and a
//! power-of-two exponent ([`quantize_multiplier`]), and `x * M` is computed as a
//! saturating rounding doubling high multiplication followed by a rounding right shift
//! ([`multiply_by_quantized_multiplier`]).

use crate::error::{NetError, Result};

/// Smallest int8 value.
pub const QMIN: i32 = -128;
/// Largest int8 value.
pub const QMAX: i32 = 127;

/// Per-tensor affine parameters: `real = scale * (q - zero_point)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantParams {
    /// Step between consecutive integers, in real units.
    pub scale: f32,
    /// The integer that represents 0.0.
    pub zero_point: i32,
}

impl QuantParams {
    /// Parameters for a calibrated range, with TensorFlow's fake-quant nudging; `tensor`
    /// names the activation in errors.
    pub fn from_range(tensor: &str, min: f32, max: f32) -> Result<Self> {
        if !(min.is_finite() && max.is_finite() && min < max) {
            return Err(NetError::InvalidRange {
                tensor: tensor.to_string(),
                min,
                max,
            });
        }
        // Nudge as `FakeQuantWithMinMaxVars` does, in the uint8 domain [0, 255], in float.
        let scale = (max - min) / 255.0;
        let zero_point_from_min = 0.0 - min / scale;
        let zero_point = if zero_point_from_min < 0.0 {
            0
        } else if zero_point_from_min > 255.0 {
            255
        } else {
            zero_point_from_min.round() as i32
        };
        if !(scale.is_normal() && scale > 0.0) {
            return Err(NetError::InvalidRange {
                tensor: tensor.to_string(),
                min,
                max,
            });
        }
        Ok(Self {
            scale,
            zero_point: zero_point + QMIN,
        })
    }

    /// The real interval the integers cover after nudging.
    pub fn range(&self) -> (f32, f32) {
        (
            (QMIN - self.zero_point) as f32 * self.scale,
            (QMAX - self.zero_point) as f32 * self.scale,
        )
    }

    /// `clamp(round(x / scale) + zero_point)`, as TFLite's QUANTIZE kernel computes it.
    pub fn quantize(&self, x: f32) -> i8 {
        let q = (x / self.scale).round() as i64 + self.zero_point as i64;
        q.clamp(QMIN as i64, QMAX as i64) as i8
    }

    /// `scale * (q - zero_point)`.
    pub fn dequantize(&self, q: i8) -> f32 {
        self.scale * (q as i32 - self.zero_point) as f32
    }
}

/// Symmetric per-output-channel int8 weights: `values` in the input order, `scales` one per
/// channel. `weights` holds `channels` equal runs, one per output channel.
///
/// A channel of zeros gets scale 1 (runtimes reject a zero scale); its values are all 0.
pub fn quantize_weights_per_channel(weights: &[f32], channels: usize) -> (Vec<i8>, Vec<f32>) {
    let per_channel = weights.len() / channels.max(1);
    let mut values = Vec::with_capacity(weights.len());
    let mut scales = Vec::with_capacity(channels);
    for run in weights.chunks(per_channel.max(1)).take(channels) {
        let max_abs = run.iter().fold(0.0f32, |m, w| m.max(w.abs()));
        let scale = if max_abs > 0.0 { max_abs / 127.0 } else { 1.0 };
        values.extend(
            run.iter()
                .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8),
        );
        scales.push(scale);
    }
    (values, scales)
}

/// int32 biases for an int8 convolution: `round(b_c / (input_scale * weight_scale_c))`,
/// saturated to int32, with the scales they were quantized with.
pub fn quantize_bias(
    bias: &[f32],
    input_scale: f32,
    weight_scales: &[f32],
) -> (Vec<i32>, Vec<f32>) {
    let scales: Vec<f32> = weight_scales.iter().map(|s| input_scale * s).collect();
    let values = bias
        .iter()
        .zip(&scales)
        .map(|(b, s)| {
            let q = (*b as f64 / *s as f64).round();
            q.clamp(i32::MIN as f64, i32::MAX as f64) as i32
        })
        .collect();
    (values, scales)
}

/// TFLite's `QuantizeMultiplier`: a positive real `m` as `(significand, shift)` with
/// `m ~= significand * 2^(shift - 31)` and `significand` in `[2^30, 2^31)`.
pub fn quantize_multiplier(m: f64) -> (i32, i32) {
    if m == 0.0 || !m.is_finite() {
        return (0, 0);
    }
    let (q, mut shift) = frexp(m);
    let mut q_fixed = (q * (1i64 << 31) as f64).round() as i64;
    debug_assert!(q_fixed <= 1i64 << 31);
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    if shift > 30 {
        shift = 30;
        q_fixed = (1i64 << 31) - 1;
    }
    (q_fixed as i32, shift)
}

/// `std::frexp`: `x = q * 2^e` with `|q|` in `[0.5, 1)`.
fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    if exponent == 0 {
        // Subnormal: scale into the normal range first.
        let (q, e) = frexp(x * (1u64 << 54) as f64);
        return (q, e - 54);
    }
    let e = exponent - 1022;
    let q = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (q, e)
}

/// gemmlowp's `SaturatingRoundingDoublingHighMul`: the high 32 bits of `2 a b`, rounded to
/// nearest (ties away from zero), saturating the one overflowing case.
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == b && a == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge = if ab >= 0 {
        1i64 << 30
    } else {
        1 - (1i64 << 30)
    };
    // C++ integer division truncates toward zero, as Rust's does.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp's `RoundingDivideByPOT`: `x / 2^exponent` rounded to nearest, ties away from zero.
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    debug_assert!((0..=31).contains(&exponent));
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// TFLite's `MultiplyByQuantizedMultiplier`: `x * significand * 2^(shift - 31)`, rounded.
pub fn multiply_by_quantized_multiplier(x: i32, significand: i32, shift: i32) -> i32 {
    let left_shift = shift.max(0);
    let right_shift = (-shift).max(0);
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x.wrapping_mul(1 << left_shift), significand),
        right_shift,
    )
}

/// The fixed-point parameters of TFLite's int8 ADD for given input and output parameters:
/// both inputs are shifted left by 20 bits, rescaled to twice the larger input scale, summed
/// and rescaled to the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddParams {
    input1_offset: i32,
    input2_offset: i32,
    output_offset: i32,
    input1_multiplier: (i32, i32),
    input2_multiplier: (i32, i32),
    output_multiplier: (i32, i32),
    activation_min: i32,
    activation_max: i32,
}

/// Bits the int8 ADD kernel shifts its inputs left by before rescaling.
const ADD_LEFT_SHIFT: i32 = 20;

impl AddParams {
    /// As `PrepareGeneralSubOp` / `add.cc` compute them (no fused activation).
    pub fn new(input1: QuantParams, input2: QuantParams, output: QuantParams) -> Self {
        let twice_max_input_scale = 2.0 * (input1.scale.max(input2.scale) as f64);
        let real_input1 = input1.scale as f64 / twice_max_input_scale;
        let real_input2 = input2.scale as f64 / twice_max_input_scale;
        let real_output =
            twice_max_input_scale / ((1i64 << ADD_LEFT_SHIFT) as f64 * output.scale as f64);
        Self {
            input1_offset: -input1.zero_point,
            input2_offset: -input2.zero_point,
            output_offset: output.zero_point,
            input1_multiplier: quantize_multiplier(real_input1),
            input2_multiplier: quantize_multiplier(real_input2),
            output_multiplier: quantize_multiplier(real_output),
            activation_min: QMIN,
            activation_max: QMAX,
        }
    }

    /// One output element.
    pub fn add(&self, a: i8, b: i8) -> i8 {
        let a = (self.input1_offset + a as i32) * (1 << ADD_LEFT_SHIFT);
        let b = (self.input2_offset + b as i32) * (1 << ADD_LEFT_SHIFT);
        let a =
            multiply_by_quantized_multiplier(a, self.input1_multiplier.0, self.input1_multiplier.1);
        let b =
            multiply_by_quantized_multiplier(b, self.input2_multiplier.0, self.input2_multiplier.1);
        let sum = a + b;
        let out = multiply_by_quantized_multiplier(
            sum,
            self.output_multiplier.0,
            self.output_multiplier.1,
        ) + self.output_offset;
        out.clamp(self.activation_min, self.activation_max) as i8
    }
}

/// The fixed-point parameters of TFLite's int8 PRELU (`prelu.cc`, reference kernel): a
/// non-negative input is rescaled by `input_scale / output_scale`, a negative one is multiplied
/// by its channel's slope and rescaled by `input_scale * alpha_scale / output_scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreluParams {
    input_offset: i32,
    alpha_offset: i32,
    output_offset: i32,
    identity_multiplier: (i32, i32),
    alpha_multiplier: (i32, i32),
}

impl PreluParams {
    /// As `PreluPrepare` computes them (in double).
    pub fn new(input: QuantParams, alpha: QuantParams, output: QuantParams) -> Self {
        Self {
            input_offset: -input.zero_point,
            alpha_offset: -alpha.zero_point,
            output_offset: output.zero_point,
            identity_multiplier: quantize_multiplier(input.scale as f64 / output.scale as f64),
            alpha_multiplier: quantize_multiplier(
                input.scale as f64 * alpha.scale as f64 / output.scale as f64,
            ),
        }
    }

    /// One output element: input `x` with the stored slope `alpha` of its channel.
    pub fn apply(&self, x: i8, alpha: i8) -> i8 {
        let v = self.input_offset + x as i32;
        let out = if v >= 0 {
            multiply_by_quantized_multiplier(
                v,
                self.identity_multiplier.0,
                self.identity_multiplier.1,
            )
        } else {
            let a = self.alpha_offset + alpha as i32;
            multiply_by_quantized_multiplier(
                v * a,
                self.alpha_multiplier.0,
                self.alpha_multiplier.1,
            )
        };
        (out + self.output_offset).clamp(QMIN, QMAX) as i8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_matches_the_c_library() {
        assert_eq!(frexp(1.0), (0.5, 1));
        assert_eq!(frexp(0.75), (0.75, 0));
        assert_eq!(frexp(3.0), (0.75, 2));
        assert_eq!(frexp(1.0 / 1024.0), (0.5, -9));
        let tiny = f64::MIN_POSITIVE / 8.0;
        let (q, e) = frexp(tiny);
        assert_eq!((q, e), (0.5, -1024)); // 2^-1025
        assert_eq!(q * 2f64.powi(e + 100), tiny * 2f64.powi(100));
        assert!((0.5..1.0).contains(&q));
    }

    #[test]
    fn quantize_multiplier_examples() {
        // 0.5 = 2^30 * 2^(0 - 31)
        assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
        assert_eq!(quantize_multiplier(1.0), (1 << 30, 1));
        assert_eq!(quantize_multiplier(0.0), (0, 0));
        // Rounding up to 2^31 renormalises.
        let (q, s) = quantize_multiplier(1.0 - 1e-12);
        assert_eq!((q, s), (1 << 30, 1));
        for m in [1e-6, 0.0031, 0.25, 0.9999, 1.5, 77.0] {
            let (q, s) = quantize_multiplier(m);
            let back = q as f64 * 2f64.powi(s - 31);
            assert!((back - m).abs() <= m * 1e-9, "{m} -> {q} {s}");
        }
    }

    #[test]
    fn fixed_point_rounding() {
        // 2 * a * b / 2^32 with a = 2^30 (0.5): halves.
        assert_eq!(saturating_rounding_doubling_high_mul(10, 1 << 30), 5);
        assert_eq!(saturating_rounding_doubling_high_mul(11, 1 << 30), 6);
        // gemmlowp's nudge for negative products rounds the tie -5.5 up, to -5.
        assert_eq!(saturating_rounding_doubling_high_mul(-11, 1 << 30), -5);
        assert_eq!(saturating_rounding_doubling_high_mul(-13, 1 << 30), -6);
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(4, 2), 1);
        assert_eq!(rounding_divide_by_pot(6, 2), 2);
        assert_eq!(rounding_divide_by_pot(-6, 2), -2);
        assert_eq!(rounding_divide_by_pot(7, 0), 7);
        // x * 0.75 * 2^-2
        let (q, s) = quantize_multiplier(0.1875);
        assert_eq!(multiply_by_quantized_multiplier(1000, q, s), 188);
        assert_eq!(multiply_by_quantized_multiplier(-1000, q, s), -188);
    }

    #[test]
    fn activation_params_nudge_zero() {
        let p = QuantParams::from_range("x", 0.0, 1.0).unwrap();
        assert_eq!(p.zero_point, -128);
        assert_eq!(p.scale, 1.0 / 255.0);
        assert_eq!(p.quantize(0.0), -128);
        assert_eq!(p.quantize(1.0), 127);
        assert_eq!(p.quantize(2.0), 127);
        // A range that does not straddle 0 on the grid is nudged so that 0 is representable.
        let p = QuantParams::from_range("t", -0.3, 0.7).unwrap();
        assert_eq!(p.dequantize(p.quantize(0.0)), 0.0);
        let (lo, hi) = p.range();
        assert!((hi - lo - 1.0).abs() < 1e-5);
        let p = QuantParams::from_range("relu", 0.5, 2.0).unwrap();
        assert_eq!(p.zero_point, -128);
        assert!(QuantParams::from_range("bad", 1.0, 1.0).is_err());
        assert!(QuantParams::from_range("bad", 0.0, f32::NAN).is_err());
    }

    #[test]
    fn weights_are_symmetric_per_channel() {
        let w = [0.6, -1.0, 0.2, 0.0, 0.0, 0.0, 2.0, 0.9, -2.0];
        let (q, s) = quantize_weights_per_channel(&w, 3);
        assert_eq!(s, vec![1.0 / 127.0, 1.0, 2.0 / 127.0]);
        assert_eq!(q, vec![76, -127, 25, 0, 0, 0, 127, 57, -127]);
        let (b, bs) = quantize_bias(&[1.0, -1.0, 0.0], 0.5, &s);
        assert_eq!(bs[1], 0.5);
        assert_eq!(b, vec![254, -2, 0]);
    }

    #[test]
    fn add_of_equal_scales_is_exact() {
        let p = QuantParams::from_range("x", -1.0, 1.0).unwrap();
        let out = QuantParams::from_range("y", -2.0, 2.0).unwrap();
        let add = AddParams::new(p, p, out);
        for (a, b) in [(-100i8, 20i8), (0, 0), (127, 127), (-128, -128), (5, -7)] {
            let want = out.quantize(p.dequantize(a) + p.dequantize(b));
            assert!((add.add(a, b) as i32 - want as i32).abs() <= 1, "{a} {b}");
        }
    }
}
