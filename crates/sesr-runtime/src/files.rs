//! Upscaling image files and folders: which file each input becomes (all checked before any
//! work starts), and one file through any Y upscaler (`sesr_photo::upscale_photo`: banded,
//! metadata kept, written by the output's extension). `sesr-cli upscale` is a thin shell over
//! this, whichever engine runs the network.

use crate::{Result, RuntimeError};
use sesr_data::dataset::list_images;
use sesr_data::io::has_image_extension;
use sesr_data::UpscaleY;
use sesr_model::atomic::same_file;
use sesr_photo::format::OUTPUT_EXTENSIONS;
use sesr_photo::{upscale_photo, OutputFormat, UpscaleReport, WriteOptions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One image to upscale and the file it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileJob {
    pub input: PathBuf,
    pub output: PathBuf,
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
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
            "the input {} is not a .png, .jpg, .jpeg, .webp, .tif, .tiff, .bmp or .gif image",
            input.display()
        )));
    }
    let output = if output.is_dir() {
        output.join(format!("{}.png", stem(input)))
    } else if OutputFormat::from_path(output).is_some() {
        output.to_path_buf()
    } else {
        return Err(refuse(format!(
            "the output {}: upscaling writes the format its extension names; give a path \
             ending in {OUTPUT_EXTENSIONS}, or an existing folder",
            output.display()
        )));
    };
    Ok(FileJob {
        input: input.to_path_buf(),
        output,
    })
}

/// Why `input`, neither a file nor a folder, cannot be read: a broken or looping symbolic
/// link, a special file, or nothing at all.
fn missing_input(input: &Path) -> String {
    let shown = input.display();
    match std::fs::symlink_metadata(input) {
        Ok(meta) if meta.file_type().is_symlink() => match std::fs::metadata(input) {
            Err(e) if e.raw_os_error() == Some(40) => format!(
                "the input {shown} is a symbolic link that loops (it leads back to itself: {e}); \
                 point it at an image or a folder of images"
            ),
            Err(e) => {
                let target = std::fs::read_link(input)
                    .map(|t| t.display().to_string())
                    .unwrap_or_else(|_| "?".into());
                format!(
                    "the input {shown} is a symbolic link to {target}, which cannot be followed \
                     ({e}); point it at an image or a folder of images"
                )
            }
            Ok(_) => format!(
                "the input {shown} is a symbolic link to something that is neither a file nor \
                 a folder; give an image file or a folder of images"
            ),
        },
        Ok(_) => format!(
            "the input {shown} is neither a regular file nor a folder (a device, FIFO or \
             socket); give an image file or a folder of images"
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            format!("the input {shown} does not exist (give an image file or a folder of images)")
        }
        Err(e) => format!("cannot read the input {shown}: {e}"),
    }
}

/// The (input, output) pairs for an image or a folder of images (not searched recursively),
/// checked before anything runs: the inputs exist and are images, outputs name a format
/// ([`OutputFormat`]; a folder's outputs are `<stem>.png`), no two inputs share an output and
/// no output overwrites an input.
pub fn plan_files(input: &Path, output: &Path) -> Result<Vec<FileJob>> {
    let jobs = if input.is_dir() {
        folder_jobs(input, output)?
    } else if input.is_file() {
        vec![file_job(input, output)?]
    } else {
        return Err(refuse(missing_input(input)));
    };
    if let Some(job) = jobs.iter().find(|j| same_file(&j.input, &j.output)) {
        return Err(refuse(format!(
            "the output would overwrite the input image {}; write to another file or folder",
            job.input.display()
        )));
    }
    Ok(jobs)
}

/// Upscales one image file into the file the job names ([`upscale_photo`]): Y by `model` (any
/// engine), colour and alpha by bicubic, in bands; upright, with its colour metadata, in the
/// format of the output's extension. The output's folder must exist
/// ([`create_output_folders`]). The report's notes say what the output could not keep.
pub fn upscale_file(
    job: &FileJob,
    model: &dyn UpscaleY,
    options: WriteOptions,
) -> Result<UpscaleReport> {
    Ok(upscale_photo(&job.input, &job.output, model, options)?)
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
