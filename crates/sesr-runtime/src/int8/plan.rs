//! The recovered integer network turned into what the row kernels need: activations live as
//! `u8 = q + 128` (so that VNNI's unsigned-by-signed products apply), every conv bias absorbs
//! the input offset, every fixed-point multiplier is split into its shifts, and a PReLU
//! becomes one 256-entry table per channel.

use sesr_net::quant::{multiply_by_quantized_multiplier, quantize_multiplier, QuantParams};
use sesr_net::{Int8Conv, Int8Network, Int8Prelu};

/// Offset between int8 values and the `u8` the kernels store.
pub(crate) const U8_OFFSET: i32 = 128;

/// A fixed-point multiplier `(significand, shift)` with the constants of its single-rounding
/// form. For a shift `-r <= 0`, TFLite's `MultiplyByQuantizedMultiplier(x)` (a rounding
/// doubling high product, then a rounding right shift by `r`) equals
/// `(x m + round - [x m < -2^30] fix) >> total_shift` in 64 bits, with `round = 2^30 +
/// 2^(30 + r)`, `fix = 2^31`, `total_shift = 31 + r` for `r >= 1` (`round = 2^30`, `fix = 0`,
/// `total_shift = 31` for `r = 0`): both roundings are floors of the same exact quotient once
/// the nudges are added. SIMD kernels use it; a positive shift keeps the two-step form.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FixedPoint {
    pub significand: i32,
    pub left_shift: i32,
    pub right_shift: i32,
    pub round: i64,
    pub fix: i64,
    pub total_shift: i64,
}

impl FixedPoint {
    pub fn new((significand, shift): (i32, i32)) -> Self {
        let r = (-shift).max(0);
        Self {
            significand,
            left_shift: shift.max(0),
            right_shift: r,
            round: (1i64 << 30) + if r >= 1 { 1i64 << (30 + r) } else { 0 },
            fix: if r >= 1 { 1i64 << 31 } else { 0 },
            total_shift: 31 + r as i64,
        }
    }

    /// Whether the single-rounding form applies (no left shift).
    pub fn single_rounding(&self) -> bool {
        self.left_shift == 0
    }

    /// The left shift and the single-rounding multiplier that follows it. Exact whenever
    /// the shifted value fits 32 bits (as the scalar's wrapping shift): with a left shift the
    /// right shift is 0, and for `r = 0` the single-rounding form is the rounding doubling
    /// high product for every input.
    pub fn split(&self) -> (i32, FixedPoint) {
        (
            self.left_shift,
            FixedPoint::new((self.significand, -self.right_shift)),
        )
    }
}

/// One conv, ready for the row kernels.
#[derive(Clone, Debug)]
pub(crate) struct ConvPlan {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    /// OHWI weights.
    pub weight: Vec<i8>,
    /// `bias - (128 + input zero point) * sum(w)`: the conv of the `u8` inputs plus this is
    /// TFLite's accumulator `sum w (q - zero_point) + bias`, exactly.
    pub bias: Vec<i32>,
    /// Per output channel: the requantization multiplier.
    pub multiplier: Vec<FixedPoint>,
    /// Whether every channel's multiplier has the single-rounding form.
    pub single_rounding: bool,
    pub output_zero_point: i32,
    /// Smallest output (the zero point under a fused ReLU, else -128).
    pub activation_min: i32,
    /// The input's zero point as `u8`: SAME padding reads it.
    pub pad: u8,
    /// The PReLU applied to this conv's output (PReLU blocks), after requantization.
    pub prelu: Option<PreluPlan>,
}

/// An int8 PRELU on `u8` values: elementwise on 256 possible inputs, so a table per channel
/// holds TFLite's arithmetic (`sesr_net::Int8Prelu::table`) exactly. The SIMD kernel
/// computes it instead (as `PreluParams` does), from the offsets and multipliers.
#[derive(Clone, Debug)]
pub(crate) struct PreluPlan {
    /// Per channel: the output `u8` of each input `u8`.
    pub tables: Vec<[u8; 256]>,
    pub output_zero_point: i32,
    /// Added to an input `u8`: `-128 - input zero point`.
    pub input_offset: i32,
    /// Per channel: the slope minus its zero point.
    pub alpha: Vec<i32>,
    /// `input_scale / output_scale` (inputs `>= 0`).
    pub identity: FixedPoint,
    /// `input_scale * alpha_scale / output_scale` (inputs `< 0`).
    pub alpha_multiplier: FixedPoint,
}

impl PreluPlan {
    pub fn new(prelu: &Int8Prelu) -> Self {
        let (input, output, alpha) = (prelu.input, prelu.output, prelu.alpha_params);
        Self {
            tables: (0..prelu.alpha.len())
                .map(|c| prelu.table(c).map(|v| (v as i32 + U8_OFFSET) as u8))
                .collect(),
            output_zero_point: output.zero_point,
            input_offset: -U8_OFFSET - input.zero_point,
            alpha: prelu
                .alpha
                .iter()
                .map(|&a| a as i32 - alpha.zero_point)
                .collect(),
            // As `PreluParams::new` (TFLite's `PreluPrepare`) derives them.
            identity: FixedPoint::new(quantize_multiplier(
                input.scale as f64 / output.scale as f64,
            )),
            alpha_multiplier: FixedPoint::new(quantize_multiplier(
                input.scale as f64 * alpha.scale as f64 / output.scale as f64,
            )),
        }
    }
}

impl ConvPlan {
    /// The zero point of what the layer finally writes (after its PReLU, if any) as `u8`.
    pub fn layer_pad(&self) -> u8 {
        let zero_point = self
            .prelu
            .as_ref()
            .map_or(self.output_zero_point, |p| p.output_zero_point);
        (zero_point + U8_OFFSET) as u8
    }

    fn new(conv: &Int8Conv, prelu: Option<&Int8Prelu>) -> Self {
        let per_channel = conv.kernel * conv.kernel * conv.in_channels;
        let input_offset = U8_OFFSET + conv.input.zero_point;
        let bias = conv
            .weight
            .chunks_exact(per_channel)
            .zip(&conv.bias)
            .map(|(w, &b)| b - input_offset * w.iter().map(|&v| v as i32).sum::<i32>())
            .collect();
        let multipliers = conv.multipliers();
        Self {
            in_channels: conv.in_channels,
            out_channels: conv.out_channels,
            kernel: conv.kernel,
            weight: conv.weight.clone(),
            bias,
            single_rounding: multipliers
                .iter()
                .all(|&m| FixedPoint::new(m).single_rounding()),
            multiplier: multipliers.into_iter().map(FixedPoint::new).collect(),
            output_zero_point: conv.output.zero_point,
            activation_min: conv.activation_min(),
            pad: (conv.input.zero_point + U8_OFFSET) as u8,
            prelu: prelu.map(PreluPlan::new),
        }
    }

    /// Half the kernel: the rows and columns read on each side.
    pub fn pad_size(&self) -> usize {
        self.kernel / 2
    }

    /// Requantizes an accumulator of output channel `o` to the `u8` output.
    pub fn requantize(&self, o: usize, acc: i32) -> u8 {
        let m = &self.multiplier[o];
        let v = multiply_by_quantized_multiplier(acc, m.significand, m.left_shift - m.right_shift)
            + self.output_zero_point;
        (v.clamp(self.activation_min, 127) + U8_OFFSET) as u8
    }
}

/// TFLite's int8 ADD (see `sesr_net::quant::AddParams`), on `u8` inputs and output.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AddPlan {
    /// Added to each `u8` input: `-128 - zero_point`.
    pub a_offset: i32,
    pub b_offset: i32,
    pub output_zero_point: i32,
    /// The multipliers of each input and of the output.
    pub a_multiplier: FixedPoint,
    pub b_multiplier: FixedPoint,
    pub output_multiplier: FixedPoint,
}

impl AddPlan {
    /// Whether all three multipliers have the single-rounding form and both inputs'
    /// rescalings the 32-bit form of [`InputTerm`].
    pub fn single_rounding(&self) -> bool {
        self.a_multiplier.single_rounding()
            && self.b_multiplier.single_rounding()
            && self.output_multiplier.single_rounding()
            && self.a_term().is_some()
            && self.b_term().is_some()
    }

    /// The 32-bit form of the first input's rescaling, when it exists.
    pub fn a_term(&self) -> Option<InputTerm> {
        InputTerm::new(&self.a_multiplier)
    }

    /// The 32-bit form of the second input's rescaling, when it exists.
    pub fn b_term(&self) -> Option<InputTerm> {
        InputTerm::new(&self.b_multiplier)
    }
}

/// An ADD input's rescaling `MultiplyByQuantizedMultiplier(x << 20, m)` for `|x| <= 255` in
/// 32-bit arithmetic. In the single-rounding form the `2^20` cancels against the divisor:
/// the result is `floor((x m + c) / 2^(11 + r))` with `c = 2^10 + 2^(10 + r) - [x < 0] 2^11`
/// (`c = 2^10` for `r = 0`), and with `m = 2^11 high + low` that is
/// `(x high + ((x low + c) >> 11)) >> r`, every product within 29 bits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InputTerm {
    pub high: i32,
    pub low: i32,
    /// `c` for `x >= 0`, and what `x < 0` takes off it.
    pub round: i32,
    pub negative_fix: i32,
    pub shift: i32,
}

impl InputTerm {
    fn new(m: &FixedPoint) -> Option<Self> {
        let r = m.right_shift;
        // Without a left shift, and with `c` well inside 32 bits.
        (m.single_rounding() && r <= 19).then(|| Self {
            high: m.significand >> 11,
            low: m.significand & 0x7ff,
            round: (1 << 10) + if r >= 1 { 1 << (10 + r) } else { 0 },
            negative_fix: if r >= 1 { 1 << 11 } else { 0 },
            shift: r,
        })
    }
}

/// Bits the int8 ADD kernel shifts its inputs left by before rescaling.
pub(crate) const ADD_LEFT_SHIFT: i32 = 20;

impl AddPlan {
    /// As TFLite's `PrepareGeneralSubOp` / `add.cc` derive them.
    pub fn new(a: QuantParams, b: QuantParams, output: QuantParams) -> Self {
        let twice_max_input_scale = 2.0 * (a.scale.max(b.scale) as f64);
        Self {
            a_offset: -U8_OFFSET - a.zero_point,
            b_offset: -U8_OFFSET - b.zero_point,
            output_zero_point: output.zero_point,
            a_multiplier: FixedPoint::new(quantize_multiplier(
                a.scale as f64 / twice_max_input_scale,
            )),
            b_multiplier: FixedPoint::new(quantize_multiplier(
                b.scale as f64 / twice_max_input_scale,
            )),
            output_multiplier: FixedPoint::new(quantize_multiplier(
                twice_max_input_scale / ((1i64 << ADD_LEFT_SHIFT) as f64 * output.scale as f64),
            )),
        }
    }

    /// One output element, as `u8`.
    pub fn add(&self, a: u8, b: u8) -> u8 {
        let multiply = |x: i32, m: &FixedPoint| {
            multiply_by_quantized_multiplier(x, m.significand, m.left_shift - m.right_shift)
        };
        let sum = multiply(
            (a as i32 + self.a_offset) << ADD_LEFT_SHIFT,
            &self.a_multiplier,
        ) + multiply(
            (b as i32 + self.b_offset) << ADD_LEFT_SHIFT,
            &self.b_multiplier,
        );
        let v = multiply(sum, &self.output_multiplier) + self.output_zero_point;
        (v.clamp(-128, 127) + U8_OFFSET) as u8
    }
}

/// The whole network, for the streaming driver.
#[derive(Clone, Debug)]
pub(crate) struct NetworkPlan {
    pub scale: usize,
    pub input: QuantParams,
    pub output: QuantParams,
    /// `x - 0.5` of every int8 input `x` (indexed by `x + 128`), as `u8`.
    pub shift_table: [u8; 256],
    /// Input conv, `m` blocks, output conv.
    pub convs: Vec<ConvPlan>,
    /// `ADD(last block (or f0), f0)`.
    pub residual: AddPlan,
    /// `ADD(o, x)`: the output.
    pub final_sum: AddPlan,
    /// High-resolution offset `(dy, dx)` of each output-conv channel after the
    /// depth-to-space operators.
    pub depth_to_space: Vec<(usize, usize)>,
    /// The inverse: the output-conv channel of offset `(dy, dx)`, at `dy * scale + dx`.
    pub channel_at: Vec<usize>,
}

impl NetworkPlan {
    pub fn new(network: &Int8Network) -> Self {
        let shift = AddPlan::new(
            network.input,
            network.shift_constant_params,
            network.shifted,
        );
        let constant = (network.shift_constant as i32 + U8_OFFSET) as u8;
        let mut shift_table = [0u8; 256];
        for (u, entry) in shift_table.iter_mut().enumerate() {
            *entry = shift.add(u as u8, constant);
        }
        let m = network.m();
        let last_block = network.layer_output(m);
        let f0 = network.convs[0].output;
        let output_conv = &network.convs[m + 1];
        let scale = network.scale;
        // TensorFlow's depth_to_space(2), applied log2(scale) times: channel (i * 2 + j) * C'
        // + c goes to pixel (2y + i, 2x + j), channel c.
        let depth_to_space = (0..scale * scale)
            .map(|mut c| {
                let (mut dy, mut dx, mut channels) = (0, 0, scale * scale);
                while channels > 1 {
                    let rest = channels / 4;
                    let (i, j) = ((c / rest) / 2, (c / rest) % 2);
                    c %= rest;
                    dy = dy * 2 + i;
                    dx = dx * 2 + j;
                    channels = rest;
                }
                (dy, dx)
            })
            .collect::<Vec<_>>();
        let mut channel_at = vec![0; scale * scale];
        for (c, &(dy, dx)) in depth_to_space.iter().enumerate() {
            channel_at[dy * scale + dx] = c;
        }
        Self {
            scale,
            input: network.input,
            output: network.output,
            shift_table,
            convs: network
                .convs
                .iter()
                .enumerate()
                .map(|(i, conv)| {
                    let prelu = i.checked_sub(1).and_then(|b| network.prelu.get(b));
                    ConvPlan::new(conv, prelu)
                })
                .collect(),
            residual: AddPlan::new(last_block, f0, network.residual),
            final_sum: AddPlan::new(output_conv.output, network.input, network.output),
            depth_to_space,
            channel_at,
        }
    }

    pub fn m(&self) -> usize {
        self.convs.len() - 2
    }

    pub fn features(&self) -> usize {
        self.convs[0].out_channels
    }
}
