//! Post-training calibration, for users who skip quantization-aware training: the int8 ranges of
//! a float model, observed on representative images.

use super::collapsed::CollapsedSesr;
use crate::infer::plane_to_tensor;
use crate::{CoreError, Result};
use sesr_data::dataset::list_images;
use sesr_data::load_y;
use sesr_model::QuantPoint;
use sesr_net::{ActivationRanges, Range};
use std::path::Path;
use tch::Device;

/// Calibration images must hold at least one training patch's worth of pixels (64 x 64).
const MIN_CALIBRATION_PIXELS: usize = 64 * 64;

/// A calibrated range narrower than one 8-bit step of [0, 1] would quantize its activations
/// to a handful of levels: the images did not exercise the network.
const MIN_RANGE_WIDTH: f64 = 1.0 / 255.0;

/// Post-training ranges: the float model's activations over the images of `dir` (Y planes,
/// whole images). The input range is the full `[0, 1]` any image can use, and the final sum's
/// is the 8-bit pixel grid `[0, 1]`.
pub fn calibrated_ranges(model: &CollapsedSesr, dir: &Path) -> Result<ActivationRanges> {
    let degenerate = |why: String| CoreError::Calibration {
        path: dir.to_path_buf(),
        why,
    };
    if model.quant().any() {
        return Err(degenerate(
            "the model was trained with quantization and carries its own ranges; export it \
             without calibration"
                .into(),
        ));
    }
    let files = list_images(dir, "calibration")?;
    let mut inputs = vec![];
    for file in &files {
        inputs.push(plane_to_tensor(&load_y(file)?, Device::Cpu)?);
    }
    let pixels: usize = inputs.iter().map(|t| t.numel()).sum();
    if pixels < MIN_CALIBRATION_PIXELS {
        return Err(degenerate(format!(
            "its images hold {pixels} pixels in all, fewer than one 64x64 training patch; \
             calibrate on representative images (for example the training photos), several of \
             them and larger than a 64x64 patch"
        )));
    }
    let observed = model.observe_ranges(&inputs)?;
    let m = model.config().m;
    // The input's range is set to [0, 1] below; every other activation must vary.
    for (point, (lo, hi)) in QuantPoint::all(m).iter().zip(&observed.points).skip(1) {
        let width = hi - lo;
        if width.is_nan() || width < MIN_RANGE_WIDTH {
            return Err(degenerate(format!(
                "the activations at `{}` span only [{lo}, {hi}] on them; calibrate on \
                 representative images (for example the training photos), several of them and \
                 larger than a 64x64 patch",
                point.name()
            )));
        }
    }
    let block_convs = match model.quant().uses_relu() {
        true => vec![],
        false => observed
            .block_convs
            .iter()
            .map(|(lo, hi)| Range::new(*lo as f32, *hi as f32))
            .collect(),
    };
    let mut ranges = ActivationRanges::from_points(
        &observed.points,
        m,
        Some(Range::new(0.0, 1.0)),
        block_convs,
    )?;
    // As after QAT (`Sesr::collapse`): the final sum on the 8-bit pixel grid, so the output is
    // not rounded twice.
    ranges.final_sum = Range::new(0.0, 1.0);
    Ok(ranges)
}
