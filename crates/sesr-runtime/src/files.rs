//! Upscaling image files and folders: which PNG each input becomes (all checked before any
//! work starts), and one file through any Y upscaler. `sesr-cli upscale` is a thin shell over
//! this, whichever engine runs the network.

use crate::rgb::upscale_image_with;
use crate::{Result, RuntimeError};
use sesr_data::dataset::list_images;
use sesr_data::io::{has_image_extension, load_image_and_alpha, save_png_with_alpha};
use sesr_data::resize::imresize;
use sesr_data::UpscaleY;
use sesr_model::atomic::same_file;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One image to upscale and the PNG it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileJob {
    pub input: PathBuf,
    pub output: PathBuf,
}

/// Sizes of an upscaled file: `(width, height)` in and out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSizes {
    pub input: (usize, usize),
    pub output: (usize, usize),
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn is_png_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
}

fn refuse(message: String) -> RuntimeError {
    RuntimeError::Paths(message)
}

/// The jobs of a folder: `<output>/<stem>.png` per image, refusing two inputs with one stem.
fn folder_jobs(input: &Path, output: &Path) -> Result<Vec<FileJob>> {
    if output.exists() && !output.is_dir() {
        return Err(refuse(format!(
            "the output {} is an existing file, but the input {} is a folder; give a folder \
             for the output (it is created if missing)",
            output.display(),
            input.display()
        )));
    }
    let files = list_images(input, "input image")?;
    let mut seen: HashMap<String, &PathBuf> = HashMap::new();
    for file in &files {
        if let Some(other) = seen.insert(stem(file), file) {
            return Err(refuse(format!(
                "{} and {} would both be written as {}.png; rename one of them",
                other.display(),
                file.display(),
                stem(file)
            )));
        }
    }
    Ok(files
        .iter()
        .map(|f| FileJob {
            input: f.clone(),
            output: output.join(format!("{}.png", stem(f))),
        })
        .collect())
}

/// The job of one image file: into `output` if it is a folder, else to the `.png` it names.
fn file_job(input: &Path, output: &Path) -> Result<FileJob> {
    if !has_image_extension(input) {
        return Err(refuse(format!(
            "the input {} is not a .png, .jpg, .jpeg or .bmp image",
            input.display()
        )));
    }
    let output = if output.is_dir() {
        output.join(format!("{}.png", stem(input)))
    } else if is_png_path(output) {
        output.to_path_buf()
    } else {
        return Err(refuse(format!(
            "the output {}: upscaling writes PNG images; give a path ending in .png or an \
             existing folder",
            output.display()
        )));
    };
    Ok(FileJob {
        input: input.to_path_buf(),
        output,
    })
}

/// The (input, output) pairs for an image or a folder of images (not searched recursively),
/// checked before anything runs: the inputs exist and are images, outputs are PNG files, no
/// two inputs share an output and no output overwrites an input.
pub fn plan_files(input: &Path, output: &Path) -> Result<Vec<FileJob>> {
    let jobs = if input.is_dir() {
        folder_jobs(input, output)?
    } else if input.is_file() {
        vec![file_job(input, output)?]
    } else {
        return Err(refuse(format!(
            "the input {} does not exist (give an image file or a folder of images)",
            input.display()
        )));
    };
    if let Some(job) = jobs.iter().find(|j| same_file(&j.input, &j.output)) {
        return Err(refuse(format!(
            "the output would overwrite the input image {}; write to another file or folder",
            job.input.display()
        )));
    }
    Ok(jobs)
}

/// Upscales one image file into one PNG: Y by `model` (any engine), colour by bicubic
/// ([`upscale_image_with`]); an alpha channel is kept, upscaled by bicubic too (SESR models
/// luminance only). The output's folder must exist ([`create_output_folders`]).
pub fn upscale_file(job: &FileJob, model: &dyn UpscaleY) -> Result<FileSizes> {
    let scale = model.scale();
    let (image, alpha) = load_image_and_alpha(&job.input)?;
    let sr = upscale_image_with(&image, scale, |y| {
        model.upscale_y(y).map_err(RuntimeError::Engine)
    })?;
    let sr_alpha = alpha.map(|a| imresize(&a, a.width * scale, a.height * scale));
    save_png_with_alpha(&job.output, &sr, sr_alpha.as_ref())?;
    Ok(FileSizes {
        input: (image.width(), image.height()),
        output: (sr.width(), sr.height()),
    })
}

/// Creates the folders the jobs write into, before any work starts.
pub fn create_output_folders(jobs: &[FileJob]) -> Result<()> {
    let folders: std::collections::BTreeSet<&Path> = jobs
        .iter()
        .filter_map(|job| job.output.parent())
        .filter(|d| !d.as_os_str().is_empty())
        .collect();
    for dir in folders {
        std::fs::create_dir_all(dir).map_err(|source| RuntimeError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}
