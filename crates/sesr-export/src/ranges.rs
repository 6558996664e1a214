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

/// Post-training ranges: the float model's activations over the images of `dir` (Y planes,
/// whole images). The input range is the full `[0, 1]` any image can use.
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
    let observed = model.observe_ranges(&inputs)?;
    let block_convs = match model.quant().uses_relu() {
        true => vec![],
        false => observed
            .block_convs
            .iter()
            .map(|(lo, hi)| Range::new(*lo as f32, *hi as f32))
            .collect(),
    };
    Ok(ranges_from(
        &observed.points,
        model.config().m,
        Some(Range::new(0.0, 1.0)),
        block_convs,
    ))
}
