//! Parameter and multiply-accumulate (MAC) counts, as the paper reports them.
//!
//! Parameters count convolution weights (the paper's convention: 13.52K for SESR-M5); biases and
//! PReLU slopes are reported separately. A conv with `w` weights costs `w` MACs per output pixel,
//! and every SESR conv runs at the low-resolution size.

use crate::SesrConfig;

/// Shape of one linear block: `in -> feature_size -> out` with a `kernel x kernel` conv.
#[derive(Debug, Clone, Copy)]
struct BlockDims {
    input: u64,
    output: u64,
    kernel: u64,
}

fn blocks(config: &SesrConfig) -> Vec<BlockDims> {
    let f = config.int_features as u64;
    let out = (config.scale * config.scale) as u64;
    std::iter::once(BlockDims {
        input: 1,
        output: f,
        kernel: 5,
    })
    .chain((0..config.m).map(|_| BlockDims {
        input: f,
        output: f,
        kernel: 3,
    }))
    .chain(std::iter::once(BlockDims {
        input: f,
        output: out,
        kernel: 5,
    }))
    .collect()
}

/// All counts for one configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accounting {
    /// Weights of the collapsed convs (the paper's parameter count).
    pub collapsed_weights: u64,
    /// Biases of the collapsed convs plus PReLU slopes.
    pub collapsed_extras: u64,
    /// All trainable parameters of the expanded training model.
    pub expanded_params: u64,
    /// MACs per low-resolution pixel of the collapsed network.
    pub collapsed_macs_per_pixel: u64,
    /// MACs per low-resolution pixel of the expanded network.
    pub expanded_macs_per_pixel: u64,
    /// MACs to collapse every block once with the paper's Algorithm 1 (impulse response).
    pub collapse_macs: u64,
}

impl Accounting {
    pub fn new(config: &SesrConfig) -> Self {
        let p = config.feature_size as u64;
        let mut a = Accounting {
            collapsed_weights: 0,
            collapsed_extras: (config.m * config.int_features) as u64,
            expanded_params: (config.m * config.int_features) as u64,
            collapsed_macs_per_pixel: 0,
            expanded_macs_per_pixel: 0,
            collapse_macs: 0,
        };
        for b in blocks(config) {
            let area = b.kernel * b.kernel;
            let collapsed = area * b.input * b.output;
            let expanded = area * b.input * p + p * b.output;
            a.collapsed_weights += collapsed;
            a.collapsed_extras += b.output;
            a.expanded_params += expanded + p + b.output;
            a.collapsed_macs_per_pixel += collapsed;
            a.expanded_macs_per_pixel += expanded;
            // Algorithm 1: a batch of `input` impulses, (2k-1)^2 in, k^2 out through the block.
            a.collapse_macs += b.input * area * expanded;
        }
        a
    }

    /// MACs of one inference on an `height x width` low-resolution input, `None` when the
    /// count does not fit in a `u64` (an input of about 2^50 pixels for SESR-M5).
    pub fn checked_inference_macs(&self, height: u64, width: u64) -> Option<u64> {
        height
            .checked_mul(width)?
            .checked_mul(self.collapsed_macs_per_pixel)
    }

    /// Forward MACs of one training step on `batch` patches of `height x width` (LR), `None`
    /// when the count does not fit in a `u64`. The collapsed count includes collapsing every
    /// block once.
    pub fn checked_training_forward_macs(
        &self,
        batch: u64,
        height: u64,
        width: u64,
        collapsed: bool,
    ) -> Option<u64> {
        let pixels = batch.checked_mul(height)?.checked_mul(width)?;
        if collapsed {
            self.collapsed_macs_per_pixel
                .checked_mul(pixels)?
                .checked_add(self.collapse_macs)
        } else {
            self.expanded_macs_per_pixel.checked_mul(pixels)
        }
    }

    /// [`Accounting::checked_inference_macs`] for sizes known to fit.
    ///
    /// # Panics
    /// When the count overflows a `u64` (use the checked form for sizes a user gives).
    pub fn inference_macs(&self, height: u64, width: u64) -> u64 {
        self.checked_inference_macs(height, width)
            .unwrap_or_else(|| panic!("MACs of a {height}x{width} input overflow u64"))
    }

    /// [`Accounting::checked_training_forward_macs`] for sizes known to fit.
    ///
    /// # Panics
    /// When the count overflows a `u64` (use the checked form for sizes a user gives).
    pub fn training_forward_macs(
        &self,
        batch: u64,
        height: u64,
        width: u64,
        collapsed: bool,
    ) -> u64 {
        self.checked_training_forward_macs(batch, height, width, collapsed)
            .unwrap_or_else(|| panic!("MACs of {batch} x {height}x{width} patches overflow u64"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_that_overflow_u64_are_none_not_wrapped() {
        let a = Accounting::new(&SesrConfig::m5(2).unwrap());
        assert_eq!(a.checked_inference_macs(360, 640), Some(13_520 * 360 * 640));
        // 2^32 x 2^32 pixels: the product of the sides alone overflows (it wrapped to 0).
        assert_eq!(a.checked_inference_macs(1 << 32, 1 << 32), None);
        // Sides that fit, times 13520 MACs per pixel, do not.
        assert_eq!(a.checked_inference_macs(1 << 31, 1 << 31), None);
        assert_eq!(
            a.checked_training_forward_macs(u64::MAX, 64, 64, true),
            None
        );
        assert_eq!(
            a.checked_training_forward_macs(1 << 40, 1 << 10, 1, false),
            None
        );
        assert!(a.checked_training_forward_macs(32, 64, 64, true).is_some());
    }
}
