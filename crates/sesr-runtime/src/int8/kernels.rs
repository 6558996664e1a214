//! Which row kernels run: the instruction set ([`KernelLevel`]) and each conv's weights packed
//! for it ([`Kernels`]). The streaming driver makes every row call through here, and here
//! alone the scalar, AVX2 and AVX-512 kernels meet.

use std::ops::Range;

use super::plan::{AddPlan, ConvPlan, NetworkPlan, PreluPlan};
use super::scalar;
#[cfg(target_arch = "x86_64")]
use super::{avx2, avx512};

/// The instruction set the row kernels use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelLevel {
    /// Portable Rust: the correctness reference.
    Scalar,
    /// AVX2 (16-bit products, `vpmaddwd`).
    Avx2,
    /// AVX-512 (F, BW, VL) with VNNI (`vpdpbusd`: four int8 products per 32-bit lane).
    Avx512Vnni,
}

impl KernelLevel {
    /// Whether the running CPU has this instruction set.
    pub fn is_supported(self) -> bool {
        match self {
            Self::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => avx2::is_available(),
            // AVX2 too: convs of shapes without an AVX-512 kernel run on AVX2's.
            #[cfg(target_arch = "x86_64")]
            Self::Avx512Vnni => avx2::is_available() && avx512::is_available(),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The fastest level the CPU supports.
    pub fn best() -> Self {
        [Self::Avx512Vnni, Self::Avx2]
            .into_iter()
            .find(|level| level.is_supported())
            .unwrap_or(Self::Scalar)
    }
}

/// A conv's weights packed for the SIMD kernel that runs it; `Scalar` where the level has
/// none for the conv's shape (the scalar kernel reads the plan's weights).
#[derive(Clone, Debug)]
enum PackedConv {
    #[cfg(target_arch = "x86_64")]
    Avx512(avx512::ConvWeights),
    #[cfg(target_arch = "x86_64")]
    Avx2(avx2::ConvWeights),
    Scalar,
}

impl PackedConv {
    /// The weights of `conv` for the kernel that runs it at `level`: under AVX-512, AVX2's
    /// for a shape AVX-512 has no kernel for.
    fn new(conv: &ConvPlan, level: KernelLevel) -> Self {
        #[cfg(target_arch = "x86_64")]
        let packed = {
            let avx512 = || avx512::ConvWeights::new(conv).map(Self::Avx512);
            let avx2 = || avx2::ConvWeights::new(conv).map(Self::Avx2);
            match level {
                KernelLevel::Avx512Vnni => avx512().or_else(avx2),
                KernelLevel::Avx2 => avx2(),
                KernelLevel::Scalar => None,
            }
        };
        #[cfg(not(target_arch = "x86_64"))]
        let packed = {
            let _ = (conv, level);
            None
        };
        packed.unwrap_or(Self::Scalar)
    }
}

/// The row kernels a network runs with: a level, and the weights of each of the network's
/// convs packed for it.
#[derive(Clone, Debug)]
pub(crate) struct Kernels {
    level: KernelLevel,
    convs: Vec<PackedConv>,
}

impl Kernels {
    /// The kernels of `level` (one the CPU supports) for the convs of `plan`.
    pub(crate) fn new(plan: &NetworkPlan, level: KernelLevel) -> Self {
        let convs = plan
            .convs
            .iter()
            .map(|conv| PackedConv::new(conv, level))
            .collect();
        Self { level, convs }
    }

    /// The instruction set they use.
    pub(crate) fn level(&self) -> KernelLevel {
        self.level
    }

    /// One output row of conv `layer` of `plan` (see [`scalar::conv_row`]).
    pub(crate) fn conv_row(
        &self,
        plan: &NetworkPlan,
        layer: usize,
        rows: &[&[u8]],
        out: &mut [u8],
        cols: Range<usize>,
        width: usize,
    ) {
        let conv = &plan.convs[layer];
        match &self.convs[layer] {
            #[cfg(target_arch = "x86_64")]
            PackedConv::Avx512(weights) => avx512::conv_row(conv, weights, rows, out, cols, width),
            #[cfg(target_arch = "x86_64")]
            PackedConv::Avx2(weights) => avx2::conv_row(conv, weights, rows, out, cols, width),
            PackedConv::Scalar => scalar::conv_row(conv, rows, out, cols, width),
        }
    }

    /// The output conv, the final ADD and the depth-to-space of one row (see
    /// [`scalar::finish_row`]); AVX-512 does all three in registers, other levels write the
    /// conv's row to `conv_out` first.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn output_row(
        &self,
        plan: &NetworkPlan,
        rows: &[&[u8]],
        cols: Range<usize>,
        width: usize,
        x: &[i8],
        out: &mut [i8],
        out_width: usize,
        x0: usize,
        conv_out: &mut [u8],
    ) {
        let layer = plan.m() + 1;
        #[cfg(target_arch = "x86_64")]
        if let PackedConv::Avx512(weights) = &self.convs[layer] {
            let cols = cols.clone();
            if avx512::output_row(plan, weights, rows, cols, width, x, out, out_width, x0) {
                return;
            }
        }
        self.conv_row(plan, layer, rows, conv_out, cols.clone(), width);
        scalar::finish_row(plan, conv_out, cols, width, x, out, out_width, x0);
    }

    /// A PReLU in place over a row (see [`scalar::prelu_row`]).
    pub(crate) fn prelu_row(
        &self,
        prelu: &PreluPlan,
        row: &mut [u8],
        cols: Range<usize>,
        width: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.level == KernelLevel::Avx512Vnni
            && avx512::prelu_row(prelu, row, cols.clone(), width)
        {
            return;
        }
        scalar::prelu_row(prelu, row, cols, width);
    }

    /// Elementwise int8 ADD of two `u8` rows (see [`scalar::add_row`]).
    pub(crate) fn add_row(&self, add: &AddPlan, a: &[u8], b: &[u8], out: &mut [u8]) {
        match self.level {
            #[cfg(target_arch = "x86_64")]
            KernelLevel::Avx512Vnni => avx512::add_row(add, a, b, out),
            #[cfg(target_arch = "x86_64")]
            KernelLevel::Avx2 => avx2::add_row(add, a, b, out),
            _ => scalar::add_row(add, a, b, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesr_net::quant::QuantParams;

    /// The SIMD ADD kernels against the scalar one on every pair of int8 inputs, for input and
    /// output scales from equal to far apart (multipliers near 1 and far below it).
    #[test]
    fn add_kernels_match_the_scalar_add_on_every_input_pair() {
        let a: Vec<u8> = (0..=255u8)
            .flat_map(|v| std::iter::repeat_n(v, 256))
            .collect();
        let b: Vec<u8> = (0..256).flat_map(|_| 0..=255u8).collect();
        let params = |scale: f32, zero_point: i32| QuantParams { scale, zero_point };
        let cases = [
            (params(0.02, -128), params(0.02, -128), params(0.04, -128)),
            (params(0.013, 5), params(0.21, -90), params(0.05, 17)),
            (params(0.5, 0), params(0.001, -3), params(0.0003, 100)),
            (
                params(1.0 / 255.0, -128),
                params(0.003, 12),
                params(1.0 / 255.0, -128),
            ),
        ];
        for (pa, pb, po) in cases {
            let add = AddPlan::new(pa, pb, po);
            let mut want = vec![0u8; a.len()];
            scalar::add_row(&add, &a, &b, &mut want);
            for level in [KernelLevel::Avx2, KernelLevel::Avx512Vnni] {
                if !level.is_supported() {
                    continue;
                }
                let kernels = Kernels {
                    level,
                    convs: Vec::new(),
                };
                let mut got = vec![0u8; a.len()];
                kernels.add_row(&add, &a, &b, &mut got);
                assert!(got == want, "{level:?} {pa:?} {pb:?} {po:?}");
            }
        }
    }
}
