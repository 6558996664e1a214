//! The int8 activation ranges of an export: the nudged ranges of quantization-aware training,
//! or the ranges a float model shows on calibration images (post-training quantization).

use crate::{ExportError, Result};
use sesr_core::infer::plane_to_tensor;
use sesr_core::CollapsedSesr;
use sesr_data::dataset::list_images;
use sesr_data::load_y;
use sesr_model::QuantPoint;
use sesr_tflite::{ActivationRanges, Range};
use std::path::Path;
use tch::Device;

/// The writer's ranges from per-[`QuantPoint`] `(min, max)` pairs; `input` overrides the
/// input point's range, `block_convs` are the pre-PReLU ranges (empty for ReLU).
pub fn ranges_from(
    points: &[(f64, f64)],
    m: usize,
    input: Option<Range>,
    block_convs: Vec<Range>,
) -> ActivationRanges {
    let at = |point: QuantPoint| {
        let (lo, hi) = points[point.index(m)];
        Range::new(lo as f32, hi as f32)
    };
    let input = input.unwrap_or_else(|| at(QuantPoint::Input));
    ActivationRanges {
        input,
        shifted_input: Range::new(input.min - 0.5, input.max - 0.5),
        input_conv: at(QuantPoint::InputBlock),
        block_convs,
        blocks: (0..m).map(|i| at(QuantPoint::Block(i))).collect(),
        residual_sum: at(QuantPoint::LongResidual),
        output_conv: at(QuantPoint::OutputBlock),
        final_sum: at(QuantPoint::Output),
    }
}

/// The int8 activation ranges of a QAT model (its nudged ranges, point by point);
/// `checkpoint` names the model when it has none.
pub fn qat_ranges(model: &CollapsedSesr, checkpoint: &Path) -> Result<ActivationRanges> {
    if !model.quant().uses_relu() {
        return Err(ExportError::NoInt8Ranges {
            checkpoint: checkpoint.to_path_buf(),
        });
    }
    Ok(ranges_from(
        &model.activation_ranges(),
        model.config().m,
        None,
        vec![],
    ))
}

/// Calibration images must hold at least one training patch's worth of pixels (64 x 64).
const MIN_CALIBRATION_PIXELS: usize = 64 * 64;

/// A calibrated range narrower than one 8-bit step of [0, 1] would quantize its activations
/// to a handful of levels: the images did not exercise the network.
const MIN_RANGE_WIDTH: f64 = 1.0 / 255.0;

/// Post-training ranges: the float model's activations over the images of `dir` (Y planes,
/// whole images). The input range is the full `[0, 1]` any image can use, and the final sum's
/// is the 8-bit pixel grid `[0, 1]`.
pub fn calibrated_ranges(model: &CollapsedSesr, dir: &Path) -> Result<ActivationRanges> {
    if model.quant().any() {
        return Err(ExportError::CalibrationOfQuantized);
    }
    fn calibration(path: &Path) -> impl FnOnce(sesr_data::DataError) -> ExportError + '_ {
        move |source| ExportError::Calibration {
            path: path.to_path_buf(),
            source: Box::new(source),
        }
    }
    let files = list_images(dir, "calibration").map_err(calibration(dir))?;
    let mut inputs = vec![];
    for file in &files {
        let y = load_y(file).map_err(calibration(file))?;
        inputs.push(plane_to_tensor(&y, Device::Cpu)?);
    }
    let pixels: usize = inputs.iter().map(|t| t.numel()).sum();
    if pixels < MIN_CALIBRATION_PIXELS {
        return Err(ExportError::DegenerateCalibration {
            path: dir.to_path_buf(),
            why: format!(
                "its images hold {pixels} pixels in all, fewer than one 64x64 training patch"
            ),
        });
    }
    let observed = model.observe_ranges(&inputs)?;
    let points = sesr_model::QuantPoint::all(model.config().m);
    // The input's range is set to [0, 1] below; every other activation must vary.
    for (point, (lo, hi)) in points.iter().zip(&observed.points).skip(1) {
        let width = hi - lo;
        if width.is_nan() || width < MIN_RANGE_WIDTH {
            return Err(ExportError::DegenerateCalibration {
                path: dir.to_path_buf(),
                why: format!(
                    "the activations at `{}` span only [{lo}, {hi}] on them",
                    point.name()
                ),
            });
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
    let mut ranges = ranges_from(
        &observed.points,
        model.config().m,
        Some(Range::new(0.0, 1.0)),
        block_convs,
    );
    // As after QAT (`Sesr::collapse`): the final sum on the 8-bit pixel grid, so the output is
    // not rounded twice.
    ranges.final_sum = Range::new(0.0, 1.0);
    Ok(ranges)
}
