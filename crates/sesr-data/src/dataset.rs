//! Training and validation images: finding them, pairing LR with HR, and caching their Y
//! planes in memory.
//!
//! Three layouts are understood ([`Source`]):
//!
//! * the official DIV2K layout (`DIV2K_train_HR/0001.png`,
//!   `DIV2K_train_LR_bicubic/X2/0001x2.png`, `.../X4/0001x4.png`, same for `valid`), whose LR
//!   images are used as published;
//! * a folder of HR images, whose LR images are made here the way the literature does
//!   (MATLAB bicubic `imresize` of the 8-bit RGB image, rounded to 8 bits);
//! * two folders of HR and LR images paired by file name.
//!
//! Each [`ImagePair`] keeps 8-bit Y planes (`round(Y * 255)`), which is how all of DIV2K fits
//! in a few GB; the reference code caches float32 planes instead (a deliberate difference,
//! lossless for 8-bit data up to the rounding of Y).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
pub use crate::io::list_images;
use crate::io::load_image_u8;
pub use crate::pair::ImagePair;
use crate::protocol::make_lr_u8;
use crate::sampler::default_lr_patch;

/// Which half of DIV2K.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Images 0001-0800.
    Train,
    /// Images 0801-0900.
    Valid,
}

impl Split {
    fn tag(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
        }
    }

    /// The HR folder name, e.g. `DIV2K_train_HR`.
    pub fn hr_dir_name(self) -> String {
        format!("DIV2K_{}_HR", self.tag())
    }

    /// The LR folder name for `scale`, relative to the DIV2K root, e.g.
    /// `DIV2K_train_LR_bicubic/X2`.
    pub fn lr_dir_name(self, scale: usize) -> PathBuf {
        Path::new(&format!("DIV2K_{}_LR_bicubic", self.tag())).join(format!("X{scale}"))
    }
}

/// Where training or validation images come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The official DIV2K layout under `root`.
    Div2k {
        /// The folder holding `DIV2K_train_HR` etc.
        root: PathBuf,
        /// Train or valid.
        split: Split,
    },
    /// A folder of HR images; LR images are made by MATLAB-style bicubic downscaling.
    HrFolder(PathBuf),
    /// HR and LR folders paired by file stem (an LR stem may end in `x2`/`x4`).
    Paired {
        /// HR folder.
        hr: PathBuf,
        /// LR folder.
        lr: PathBuf,
    },
}

impl Source {
    /// Recognises the DIV2K layout under `path` (`path/DIV2K_{split}_HR` or any other
    /// `DIV2K_*` folder exists), or `path` being a DIV2K HR folder whose sibling LR folder
    /// exists; anything else is a folder of HR images. A missing folder is an error.
    pub fn detect(path: impl AsRef<Path>, split: Split) -> Result<Source> {
        let path = path.as_ref();
        if !path.is_dir() {
            return Err(DataError::MissingFolder {
                path: path.to_path_buf(),
                what: "data".into(),
                hint: "pass the DIV2K root or a folder of HR images".into(),
            });
        }
        if path.join(split.hr_dir_name()).is_dir() || has_div2k_folders(path) {
            return Ok(Source::Div2k {
                root: path.to_path_buf(),
                split,
            });
        }
        let is_hr_dir = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy() == split.hr_dir_name());
        if is_hr_dir {
            if let Some(parent) = path.parent() {
                let lr_root = parent.join(format!("DIV2K_{}_LR_bicubic", split.tag()));
                if lr_root.is_dir() {
                    return Ok(Source::Div2k {
                        root: parent.to_path_buf(),
                        split,
                    });
                }
            }
        }
        Ok(Source::HrFolder(path.to_path_buf()))
    }

    /// The folder named in messages about the whole source.
    pub fn root(&self) -> &Path {
        match self {
            Source::Div2k { root, .. } => root,
            Source::HrFolder(p) => p,
            Source::Paired { hr, .. } => hr,
        }
    }
}

/// Whether `dir` holds any `DIV2K_*` folder (then a missing split is reported as such, not as
/// an empty HR folder).
fn has_div2k_folders(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("DIV2K_") && e.path().is_dir())
    })
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Div2k { root, split } => {
                write!(f, "DIV2K {} split in {}", split.tag(), root.display())
            }
            Source::HrFolder(p) => write!(
                f,
                "HR images in {} (LR made by MATLAB-style bicubic)",
                p.display()
            ),
            Source::Paired { hr, lr } => {
                write!(f, "HR {} paired with LR {}", hr.display(), lr.display())
            }
        }
    }
}

/// The HR side of a training patch in the reference code: 128 for x2 (LR 64), 200 for x4
/// (LR 50).
pub fn default_hr_patch(scale: usize) -> usize {
    scale * default_lr_patch(scale)
}

/// How [`load_pairs`] treats bad files and how many threads it decodes with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadOptions {
    /// Skip unreadable, too-small, mismatched or unpaired files with a warning instead of
    /// failing.
    pub skip_bad: bool,
    /// Minimum HR width and height after cropping to a multiple of the scale (the HR patch
    /// side).
    pub min_hr_size: usize,
    /// Decoding threads; `None` uses rayon's global pool.
    pub threads: Option<usize>,
}

impl LoadOptions {
    /// Strict loading with the reference patch size for `scale` as minimum.
    pub fn for_scale(scale: usize) -> Self {
        Self {
            skip_bad: false,
            min_hr_size: default_hr_patch(scale),
            threads: None,
        }
    }
}

/// What [`load_pairs`] found.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// The images, sorted by file name.
    pub pairs: Vec<ImagePair>,
    /// One line per skipped file (only with `skip_bad`).
    pub warnings: Vec<String>,
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The pairing key of an LR file: its stem without a trailing `x{scale}` (any case).
fn lr_key(path: &Path, scale: usize) -> String {
    let s = stem(path);
    let suffix = format!("x{scale}");
    if s.len() > suffix.len() && s.to_ascii_lowercase().ends_with(&suffix) {
        s[..s.len() - suffix.len()].to_string()
    } else {
        s
    }
}

/// One unit of decoding work.
#[derive(Clone, Debug)]
enum Job {
    HrOnly {
        name: String,
        hr: PathBuf,
    },
    Pair {
        name: String,
        hr: PathBuf,
        lr: PathBuf,
    },
}

/// Keys files by `key`, failing on two files with one key.
fn index_by(
    files: Vec<PathBuf>,
    key: impl Fn(&Path) -> String,
) -> Result<BTreeMap<String, PathBuf>> {
    let mut map: BTreeMap<String, PathBuf> = BTreeMap::new();
    for f in files {
        let k = key(&f);
        if let Some(prev) = map.get(&k) {
            return Err(DataError::DuplicateImage {
                path: f.clone(),
                other: prev.clone(),
                name: k,
            });
        }
        map.insert(k, f);
    }
    Ok(map)
}

/// Pairs HR and LR files by key; unpaired files become errors (or warnings).
fn pair_folders(
    hr_dir: &Path,
    lr_dir: &Path,
    scale: usize,
    skip_bad: bool,
    warnings: &mut Vec<String>,
) -> Result<Vec<Job>> {
    let hr = index_by(list_images(hr_dir, "HR image")?, stem)?;
    let lr = index_by(list_images(lr_dir, &format!("LR x{scale} image"))?, |p| {
        lr_key(p, scale)
    })?;
    let mut jobs = Vec::new();
    let mut problems = Vec::new();
    for (name, hr_path) in &hr {
        match lr.get(name) {
            Some(lr_path) => jobs.push(Job::Pair {
                name: name.clone(),
                hr: hr_path.clone(),
                lr: lr_path.clone(),
            }),
            None => {
                let ext = hr_path
                    .extension()
                    .map(|e| e.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "png".into());
                problems.push(DataError::MissingPair {
                    path: hr_path.clone(),
                    missing: "LR",
                    expected: lr_dir.join(format!("{name}x{scale}.{ext}")),
                });
            }
        }
    }
    for (name, lr_path) in &lr {
        if !hr.contains_key(name) {
            problems.push(DataError::MissingPair {
                path: lr_path.clone(),
                missing: "HR",
                expected: hr_dir.join(format!("{name}.*")),
            });
        }
    }
    for p in problems {
        if skip_bad {
            warnings.push(format!("skipped: {p}"));
        } else {
            return Err(p);
        }
    }
    Ok(jobs)
}

fn check_min(path: &Path, w: usize, h: usize, min: usize, scale: usize) -> Result<()> {
    let min = min.max(scale);
    if w < min || h < min {
        return Err(DataError::TooSmall {
            path: path.to_path_buf(),
            width: w,
            height: h,
            min,
        });
    }
    Ok(())
}

fn run_job(job: &Job, scale: usize, min_hr: usize) -> Result<ImagePair> {
    match job {
        Job::HrOnly { name, hr } => {
            let img = load_image_u8(hr)?.modcrop(scale);
            check_min(hr, img.width(), img.height(), min_hr, scale)?;
            let lr = make_lr_u8(&img, scale);
            Ok(ImagePair {
                name: name.clone(),
                lr: lr.to_y8(),
                hr: img.to_y8(),
            })
        }
        Job::Pair { name, hr, lr } => {
            let hr_img = load_image_u8(hr)?.modcrop(scale);
            let lr_img = load_image_u8(lr)?;
            let (hw, hh) = (hr_img.width(), hr_img.height());
            let (lw, lh) = (lr_img.width(), lr_img.height());
            if (lw, lh) != (hw / scale, hh / scale) {
                return Err(DataError::SizeMismatch {
                    hr: hr.clone(),
                    lr: lr.clone(),
                    scale,
                    hr_w: hw,
                    hr_h: hh,
                    lr_w: lw,
                    lr_h: lh,
                    exp_w: hw / scale,
                    exp_h: hh / scale,
                });
            }
            check_min(hr, hw, hh, min_hr, scale)?;
            Ok(ImagePair {
                name: name.clone(),
                lr: lr_img.to_y8(),
                hr: hr_img.to_y8(),
            })
        }
    }
}

/// Finds, decodes and pairs the images of `source` for `scale` (2 or 4), in parallel.
///
/// * HR folder: HR cropped to a multiple of `scale`; LR = MATLAB bicubic `imresize` of the
///   8-bit RGB (or gray) image by `1/scale`, rounded to 8 bits; then Y of both.
/// * DIV2K and paired folders: the given LR image; the HR image cropped to a multiple of
///   `scale` must then be exactly `scale` times the LR size, else a size-mismatch error.
///
/// Every file that cannot be read, is smaller than `opts.min_hr_size`, does not match its
/// partner or has no partner is an error naming it; with `opts.skip_bad` it is skipped and
/// reported in [`LoadReport::warnings`] instead. The pairs come sorted by name.
pub fn load_pairs(source: &Source, scale: usize, opts: &LoadOptions) -> Result<LoadReport> {
    if scale != 2 && scale != 4 {
        return Err(DataError::UnsupportedScale {
            path: source.root().to_path_buf(),
            scale,
        });
    }
    let mut warnings = Vec::new();
    let jobs = match source {
        Source::HrFolder(dir) => list_images(dir, "HR image")?
            .into_iter()
            .map(|hr| Job::HrOnly {
                name: stem(&hr),
                hr,
            })
            .collect(),
        Source::Div2k { root, split } => {
            let hr_dir = root.join(split.hr_dir_name());
            let lr_dir = root.join(split.lr_dir_name(scale));
            if !lr_dir.is_dir() {
                return Err(DataError::MissingFolder {
                    path: lr_dir,
                    what: format!("DIV2K LR x{scale}"),
                    hint: format!(
                        "unpack DIV2K_{}_LR_bicubic_X{scale}.zip there, or pass {} itself to \
                         make LR images by bicubic downscaling",
                        split.tag(),
                        hr_dir.display()
                    ),
                });
            }
            pair_folders(&hr_dir, &lr_dir, scale, opts.skip_bad, &mut warnings)?
        }
        Source::Paired { hr, lr } => pair_folders(hr, lr, scale, opts.skip_bad, &mut warnings)?,
    };
    let results = decode_all(&jobs, scale, opts)?;
    let mut pairs = Vec::with_capacity(results.len());
    let mut skipped = warnings.len();
    for r in results {
        match r {
            Some(Ok(pair)) => pairs.push(pair),
            Some(Err(e)) if opts.skip_bad => {
                skipped += 1;
                warnings.push(format!("skipped: {e}"));
            }
            Some(Err(e)) => return Err(e),
            None => {}
        }
    }
    if pairs.is_empty() {
        return Err(DataError::NoUsableImages {
            path: source.root().to_path_buf(),
            skipped,
            warnings,
        });
    }
    Ok(LoadReport { pairs, warnings })
}

/// Decodes every job in parallel, in order. Without `skip_bad` the first failure makes the
/// remaining jobs stop early (`None`); the error of the earliest failed job is returned by
/// the caller.
fn decode_all(
    jobs: &[Job],
    scale: usize,
    opts: &LoadOptions,
) -> Result<Vec<Option<Result<ImagePair>>>> {
    let failed = AtomicBool::new(false);
    let work = || {
        jobs.par_iter()
            .map(|job| {
                if !opts.skip_bad && failed.load(Ordering::Relaxed) {
                    return None;
                }
                let r = run_job(job, scale, opts.min_hr_size);
                if r.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                Some(r)
            })
            .collect::<Vec<_>>()
    };
    match opts.threads {
        None => Ok(work()),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build()
                .map_err(|e| DataError::InvalidConfig {
                    what: "threads",
                    reason: e.to_string(),
                })?;
            Ok(pool.install(work))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lr_keys_strip_scale_suffix() {
        assert_eq!(lr_key(Path::new("a/0001x2.png"), 2), "0001");
        assert_eq!(lr_key(Path::new("a/0001X4.png"), 4), "0001");
        assert_eq!(lr_key(Path::new("a/0001x4.png"), 2), "0001x4");
        assert_eq!(lr_key(Path::new("a/photo.png"), 2), "photo");
        assert_eq!(lr_key(Path::new("a/x2.png"), 2), "x2");
    }

    #[test]
    fn div2k_names() {
        assert_eq!(Split::Train.hr_dir_name(), "DIV2K_train_HR");
        assert_eq!(
            Split::Valid.lr_dir_name(4),
            Path::new("DIV2K_valid_LR_bicubic").join("X4")
        );
        assert_eq!(default_hr_patch(2), 128);
        assert_eq!(default_hr_patch(4), 200);
    }
}
