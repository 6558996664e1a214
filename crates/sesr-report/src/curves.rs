//! Training curves: loss and validation PSNR per epoch, one row per stage.

use crate::error::{ReportError, Result};
use plotters::prelude::*;
use sesr_model::metrics::EpochMetrics;
use std::ops::Range;
use std::path::Path;

/// The records of one training stage, under its name (e.g. `x2-fp32`).
#[derive(Clone, Debug)]
pub struct StageCurves {
    pub name: String,
    pub records: Vec<EpochMetrics>,
}

const ROW_HEIGHT: u32 = 300;
const WIDTH: u32 = 1200;

/// Draws `stages` into a PNG at `path`: per stage, the training loss (left) and the
/// validation PSNR (right) against the epoch.
pub fn plot_training(stages: &[StageCurves], path: &Path) -> Result<()> {
    if stages.is_empty() || stages.iter().any(|s| s.records.is_empty()) {
        return Err(ReportError::Input(format!(
            "{}: every stage needs at least one epoch to plot",
            path.display()
        )));
    }
    crate::register_font();
    let height = ROW_HEIGHT * stages.len() as u32;
    let mut pixels = vec![0u8; (WIDTH * height * 3) as usize];
    let draw_error = |e: &dyn std::fmt::Display| ReportError::Draw {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw_error(&e))?;
        let rows = root.split_evenly((stages.len(), 2));
        for (stage, cells) in stages.iter().zip(rows.chunks(2)) {
            let epochs = |r: &EpochMetrics| i64::try_from(r.epoch).unwrap_or(i64::MAX);
            let loss: Vec<(i64, f64)> = stage
                .records
                .iter()
                .map(|r| (epochs(r), r.train_loss))
                .collect();
            let psnr: Vec<(i64, f64)> = stage
                .records
                .iter()
                .map(|r| (epochs(r), r.valid_psnr_y8))
                .collect();
            let panels = [
                (&cells[0], "training L1 loss", loss, BLUE),
                (&cells[1], "validation PSNR (dB, Y)", psnr, RED),
            ];
            for (area, what, points, color) in panels {
                let caption = format!("{}: {what}", stage.name);
                let axis = x_range(&points);
                // Epochs are whole numbers: an integer axis puts a tick on whole epochs only,
                // never several ticks (all printed the same) inside one epoch.
                let labels = usize::try_from(axis.end.saturating_sub(axis.start))
                    .map_or(MAX_EPOCH_LABELS, |span| (span + 1).min(MAX_EPOCH_LABELS));
                let mut chart = ChartBuilder::on(area)
                    .caption(caption, ("sans-serif", 18))
                    .margin(12)
                    .x_label_area_size(36)
                    .y_label_area_size(64)
                    .build_cartesian_2d(axis, y_range(&points))
                    .map_err(|e| draw_error(&e))?;
                chart
                    .configure_mesh()
                    .x_desc("epoch")
                    .x_labels(labels)
                    .label_style(("sans-serif", 13))
                    .draw()
                    .map_err(|e| draw_error(&e))?;
                chart
                    .draw_series(LineSeries::new(
                        points.iter().copied(),
                        color.stroke_width(2),
                    ))
                    .map_err(|e| draw_error(&e))?;
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(|e| draw_error(&e))?;
            }
        }
        root.present().map_err(|e| draw_error(&e))?;
    }
    sesr_data::io::save_rgb8_png(path, &pixels, WIDTH, height)?;
    Ok(())
}

/// The most epoch labels on an axis (a long run gets one every few epochs).
const MAX_EPOCH_LABELS: usize = 10;

/// The epochs, with room for a single epoch.
fn x_range(points: &[(i64, f64)]) -> Range<i64> {
    let lo = points.iter().map(|p| p.0).min().unwrap_or(0);
    let hi = points.iter().map(|p| p.0).max().unwrap_or(0);
    if hi > lo {
        lo..hi
    } else {
        lo.saturating_sub(1)..hi.saturating_add(1)
    }
}

/// The values with a 5% margin, and room for a flat curve.
fn y_range(points: &[(i64, f64)]) -> Range<f64> {
    let (lo, hi) = bounds(points.iter().map(|p| p.1));
    let pad = if hi > lo {
        0.05 * (hi - lo)
    } else {
        lo.abs().max(1e-3) * 0.05
    };
    lo - pad..hi + pad
}

/// The finite minimum and maximum; `(0, 1)` when no value is finite (a diverged run).
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo <= hi {
        (lo, hi)
    } else {
        (0.0, 1.0)
    }
}
