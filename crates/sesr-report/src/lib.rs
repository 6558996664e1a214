//! sesr-report: the pictures of a SESR training run, for people who would rather look than read.
//!
//! * [`plot_training`]: training loss and validation PSNR per epoch, one row per stage, from
//!   the `metrics.jsonl` each `sesr-cli train` run writes ([`read_metrics`]);
//! * [`side_by_side`]: crops of the same region from several upscalers next to each other,
//!   zoomed with nearest neighbour so pixels stay visible, each under its title
//!   ([`detailed_window`] picks a region worth looking at).
//!
//! Both render with the DejaVu Sans font shipped in this crate's `assets/fonts` (no system fonts needed) and
//! write PNG files atomically.

mod crops;
mod curves;
mod error;

pub use crops::{detailed_window, side_by_side, Panel, Window};
pub use curves::{plot_training, StageCurves};
pub use error::{ReportError, Result};
pub use sesr_model::metrics::{read_metrics, EpochMetrics};

/// DejaVu Sans (Bitstream Vera license, `assets/fonts/DejaVuSans.LICENSE`).
const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

/// Registers [`FONT`] as plotters' "sans-serif" once per process.
fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The font is compiled in and known to parse; a failure would be a broken build.
        plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans font does not parse"));
    });
}
