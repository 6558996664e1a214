//! sesr-eval: the super-resolution evaluation protocol over folders of HR images, for any
//! engine that upscales a Y plane (the libtorch model, sesr-runtime's float32 or int8 path).
//!
//! The protocol is sesr-data's default [`Protocol::YFloat`] (the one that reproduces the
//! published bicubic figures): HR cropped to a multiple of the scale, LR by float bicubic on
//! Y, scores on 8-bit Y with `scale` pixels shaved per border. [`evaluate_image`] scores one
//! file beside bicubic, [`DatasetResult::new`] averages a folder, [`EvalReport`] is the
//! document `sesr-cli eval --json` writes ([`write_report`]) and [`format_table`] the table it
//! prints.

mod error;

pub use error::{EvalError, Result};

use serde::Serialize;
use sesr_data::dataset::list_images;
use sesr_data::metrics::SSIM_WINDOW;
use sesr_data::protocol::{bicubic_baseline, score, EvalImage, Protocol, Scores};
use sesr_data::UpscaleY;
use sesr_model::SesrConfig;
use std::path::{Path, PathBuf};

/// The scores of one image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageResult {
    pub name: String,
    pub file: PathBuf,
    /// HR size after cropping to a multiple of the scale.
    pub width: usize,
    pub height: usize,
    pub gray: bool,
    pub bicubic: Scores,
    pub sesr: Scores,
}

/// One folder: mean scores and the images behind them.
///
/// An image reproduced exactly (a flat one, say) has an infinite PSNR, which would make the
/// folder's mean infinite and hide every other image's score. The PSNR means are therefore
/// taken over the images whose PSNR is finite for bicubic and SESR alike (so both columns
/// average the same images), and the others are named in
/// [`psnr_excluded`](DatasetResult::psnr_excluded); their SSIM (1 when exact) stays in the
/// SSIM means. When every image is excluded the PSNR means are NaN (`null` in JSON).
#[derive(Debug, Clone, Serialize)]
pub struct DatasetResult {
    pub name: String,
    pub path: PathBuf,
    pub images: usize,
    pub bicubic: Scores,
    pub sesr: Scores,
    /// Images left out of the PSNR means: reproduced exactly (infinite PSNR) by bicubic or by
    /// SESR.
    pub psnr_excluded: Vec<String>,
    pub per_image: Vec<ImageResult>,
}

/// The whole evaluation of one model.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub checkpoint: PathBuf,
    /// The architecture, for a checkpoint (a .tflite file holds weights, not the config).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<SesrConfig>,
    /// What ran the network.
    pub engine: String,
    pub scale: usize,
    pub protocol: Protocol,
    /// Border shaved on each side before scoring, in HR pixels.
    pub shave: usize,
    pub datasets: Vec<DatasetResult>,
}

/// The HR images of a folder, in name order; an error names the folder.
pub fn list_hr_images(dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(list_images(dir, "HR image")?)
}

/// The name a folder goes by in the table: its own name, or `parent/HR` for an `HR` folder.
pub fn dataset_name(dir: &Path) -> String {
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.display().to_string())
    };
    let own = name(dir);
    match dir.parent() {
        Some(parent) if own.eq_ignore_ascii_case("hr") && parent.file_name().is_some() => {
            format!("{}/{own}", name(parent))
        }
        _ => own,
    }
}

/// Whether an image's PSNR enters the folder's PSNR means (see [`DatasetResult`]).
fn psnr_counts(r: &ImageResult) -> bool {
    r.bicubic.psnr.is_finite() && r.sesr.psnr.is_finite()
}

/// Mean SSIM over all images, mean PSNR over those [`psnr_counts`] keeps (NaN if none).
fn mean(images: &[ImageResult], scores: impl Fn(&ImageResult) -> Scores) -> Scores {
    let average = |values: Vec<f64>| values.iter().sum::<f64>() / values.len() as f64;
    let psnr = images
        .iter()
        .filter(|r| psnr_counts(r))
        .map(|r| scores(r).psnr);
    Scores {
        psnr: average(psnr.collect()),
        ssim: average(images.iter().map(|r| scores(r).ssim).collect()),
    }
}

/// Scores one HR image file with bicubic and with `model` (LR Y plane -> SR Y plane).
pub fn evaluate_image(file: &Path, model: &dyn UpscaleY) -> Result<ImageResult> {
    let scale = model.scale();
    let protocol = Protocol::YFloat;
    let hr = sesr_data::load_image_u8(file)?;
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let image = EvalImage::new(&name, &hr, scale, protocol)?;
    let (width, height) = image.hr.size();
    // The protocol shaves `scale` pixels per border; SSIM needs a full window after that.
    let least = (SSIM_WINDOW + 2 * scale).div_ceil(scale) * scale;
    if width < least || height < least {
        return Err(EvalError::TooSmall {
            file: file.to_path_buf(),
            width: hr.width(),
            height: hr.height(),
            scale,
            least,
        });
    }
    let baseline = bicubic_baseline(&hr, scale, protocol)?;
    let bicubic = score(&baseline.bicubic_y, &baseline.hr_y, scale);
    let sr_y = model
        .upscale_y(&image.lr_y)
        .map_err(|source| EvalError::Upscale {
            file: file.to_path_buf(),
            source,
        })?;
    let sesr = image.score(&sr_y);
    Ok(ImageResult {
        name,
        file: file.to_path_buf(),
        width,
        height,
        gray: image.gray,
        bicubic,
        sesr,
    })
}

impl DatasetResult {
    /// The folder `dir` with the results of its images, averaged.
    pub fn new(dir: &Path, per_image: Vec<ImageResult>) -> Self {
        DatasetResult {
            name: dataset_name(dir),
            path: dir.to_path_buf(),
            images: per_image.len(),
            bicubic: mean(&per_image, |r| r.bicubic),
            sesr: mean(&per_image, |r| r.sesr),
            psnr_excluded: per_image
                .iter()
                .filter(|r| !psnr_counts(r))
                .map(|r| r.name.clone())
                .collect(),
            per_image,
        }
    }
}

fn scores(s: Scores) -> String {
    match s.psnr {
        psnr if psnr.is_finite() => format!("{psnr:>6.2} dB / {:.4}", s.ssim),
        psnr if psnr == f64::INFINITY => format!(" exact    / {:.4}", s.ssim),
        _ => format!("   n/a    / {:.4}", s.ssim),
    }
}

/// The report as the table `sesr-cli eval` prints: a header naming the model, then a row per
/// folder (and, with `per_image`, a row per image under it).
pub fn format_table(report: &EvalReport, per_image: bool) -> String {
    let mut out = match &report.config {
        Some(c) => format!(
            "SESR m={} f={} p={} x{}  (checkpoint: {})\n",
            c.m,
            c.int_features,
            c.feature_size,
            c.scale,
            report.checkpoint.display()
        ),
        None => format!(
            "SESR x{}, {}  (model: {})\n",
            report.scale,
            report.engine,
            report.checkpoint.display()
        ),
    };
    let mut width = report
        .datasets
        .iter()
        .map(|d| d.name.len() + usize::from(!d.psnr_excluded.is_empty()))
        .chain(std::iter::once("dataset".len()))
        .max()
        .unwrap_or(0);
    if per_image {
        let images = report.datasets.iter().flat_map(|d| &d.per_image);
        width = width.max(images.map(|r| r.name.len() + 2).max().unwrap_or(0));
    }
    out += &format!(
        "{:<width$}  {:>6}  {:>20}  {:>20}\n",
        "dataset", "images", "bicubic PSNR / SSIM", "SESR PSNR / SSIM"
    );
    let mut notes = String::new();
    for d in &report.datasets {
        let mark = if d.psnr_excluded.is_empty() { "" } else { "*" };
        out += &format!(
            "{:<width$}  {:>6}  {:>20}  {:>20}\n",
            format!("{}{mark}", d.name),
            d.images,
            scores(d.bicubic),
            scores(d.sesr)
        );
        if !d.psnr_excluded.is_empty() {
            notes += &format!(
                "* {}: PSNR means over {} of {} images; left out, reproduced exactly (infinite \
                 PSNR): {}\n",
                d.name,
                d.images - d.psnr_excluded.len(),
                d.images,
                d.psnr_excluded.join(", ")
            );
        }
        if per_image {
            for r in &d.per_image {
                out += &format!(
                    "  {:<w$}  {:>6}  {:>20}  {:>20}\n",
                    r.name,
                    "",
                    scores(r.bicubic),
                    scores(r.sesr),
                    w = width - 2
                );
            }
        }
    }
    out + &notes
}

/// Writes the report as pretty JSON, atomically.
pub fn write_report(path: &Path, report: &EvalReport) -> Result<()> {
    let mut text = serde_json::to_string_pretty(report).expect("the report always serialises");
    text.push('\n');
    Ok(sesr_model::atomic::write_file_atomic(
        path,
        text.as_bytes(),
    )?)
}
