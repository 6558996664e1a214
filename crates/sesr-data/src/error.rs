//! The one error type of `sesr-data`.
//!
//! Every variant that comes from a file carries its path, says what is wrong with it and what
//! would fix it, so that a command-line user can act on the message alone.

use std::path::PathBuf;

/// Everything that can go wrong while reading, writing or sampling image data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// An atomic write that could not create, sync or rename its file.
    #[error(transparent)]
    Write(#[from] sesr_model::ModelError),
    /// The operating system refused to read or write a file or folder.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The file exists but is not a decodable PNG, JPEG, WebP, TIFF, BMP or GIF image.
    #[error(
        "{path} is not a readable image ({reason}); replace it with a valid PNG, JPEG, WebP, \
         TIFF, BMP or GIF file, or remove it (a dataset loaded with `skip_bad` skips such files)"
    )]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        reason: String,
    },

    /// A file that ends before its image data does (a JPEG without its end-of-image marker):
    /// decoding it would fill the missing part with grey.
    #[error(
        "{path} is truncated: {reason}; copy or download it again (half a photo is not \
         upscaled)"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Where the data stops.
        reason: String,
    },

    /// A TIFF with several pages: only single images are read.
    #[error(
        "{path} is a TIFF with {pages} pages; only single images are read: save each page as \
         its own file (e.g. `tiffsplit {path}` from libtiff-tools) and give the folder"
    )]
    MultiPage {
        /// The file.
        path: PathBuf,
        /// How many pages it has.
        pages: usize,
    },

    /// An animation: only still images are read, everywhere (upscale, compare, eval, training).
    #[error(
        "{path} is {format} with {frames}; only still images are read: extract the frames \
         (e.g. `ffmpeg -i {path} frame_%04d.png`) and give the folder, or save one frame as a \
         still image"
    )]
    Animated {
        /// The file.
        path: PathBuf,
        /// What it is, e.g. "an animated PNG (APNG)".
        format: &'static str,
        /// How many frames, in words.
        frames: String,
    },

    /// An image whose decoding and processing need more memory than the process may take.
    #[error(
        "{path} is {width}x{height}: working on it needs about {needed} of memory, but \
         {available}; free memory or raise the limit, or split the image into parts"
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Width as shown.
        width: u32,
        /// Height as shown.
        height: u32,
        /// The memory needed, in words (`"1.2 GB"`).
        needed: String,
        /// What is available, in words.
        available: String,
    },

    /// The image decoded but has a pixel layout we do not handle.
    #[error("{path} has an unsupported pixel format ({format}); convert it to 8-bit RGB or gray")]
    UnsupportedPixels {
        /// The file.
        path: PathBuf,
        /// The decoder's name for the layout.
        format: String,
    },

    /// Writing an image failed.
    #[error("cannot write image {path}: {reason}")]
    Encode {
        /// The file being written.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },

    /// A folder that should hold images does not exist or is not a folder.
    #[error("{what} folder {path} does not exist or is not a folder; {hint}")]
    MissingFolder {
        /// The folder.
        path: PathBuf,
        /// Which folder it is meant to be (for example "HR image" or "DIV2K LR x2").
        what: String,
        /// What to do about it.
        hint: String,
    },

    /// A folder holds no image file.
    #[error(
        "{path} contains no images (expected .png, .jpg, .jpeg, .webp, .tif, .tiff, .bmp or \
         .gif files); point to the folder that holds the images"
    )]
    EmptyFolder {
        /// The folder.
        path: PathBuf,
    },

    /// An image is smaller than one training patch.
    #[error(
        "{path} is {width}x{height} (after cropping to a multiple of the scale), smaller than \
         the {min}x{min} training patch; remove it from the folder, or load with `skip_bad` to \
         skip such images with a warning"
    )]
    TooSmall {
        /// The file.
        path: PathBuf,
        /// Its width after cropping.
        width: usize,
        /// Its height after cropping.
        height: usize,
        /// The minimum side length.
        min: usize,
    },

    /// A low-resolution image does not match its high-resolution partner.
    #[error(
        "size mismatch for x{scale}: HR {hr} is {hr_w}x{hr_h} (cropped to a multiple of \
         {scale}) but LR {lr} is {lr_w}x{lr_h}, expected {exp_w}x{exp_h}; \
         regenerate the LR image or fix the pairing"
    )]
    SizeMismatch {
        /// The high-resolution file.
        hr: PathBuf,
        /// The low-resolution file.
        lr: PathBuf,
        /// The scale factor.
        scale: usize,
        /// HR width after cropping to a multiple of the scale.
        hr_w: usize,
        /// HR height after cropping to a multiple of the scale.
        hr_h: usize,
        /// LR width.
        lr_w: usize,
        /// LR height.
        lr_h: usize,
        /// Expected LR width.
        exp_w: usize,
        /// Expected LR height.
        exp_h: usize,
    },

    /// An image has no partner in the other resolution.
    #[error(
        "{path} has no {missing} partner: expected {expected}; add that file or remove this one"
    )]
    MissingPair {
        /// The file that has no partner.
        path: PathBuf,
        /// Which side is missing ("LR" or "HR").
        missing: &'static str,
        /// Where the partner was looked for.
        expected: PathBuf,
    },

    /// Only x2 and x4 are supported.
    #[error("cannot load {path} at scale x{scale}: only x2 and x4 are supported")]
    UnsupportedScale {
        /// The data the scale was requested for.
        path: PathBuf,
        /// The requested scale.
        scale: usize,
    },

    /// Two files in one folder map to the same image name.
    #[error("{path} and {other} both match image {name}; keep only one of them")]
    DuplicateImage {
        /// One file.
        path: PathBuf,
        /// The other file.
        other: PathBuf,
        /// The shared name.
        name: String,
    },

    /// Every image was skipped as bad.
    #[error(
        "no usable images in {path}: all {skipped} files were skipped as bad{}",
        warnings.first().map(|w| format!("; the first: {}", w.trim_start_matches("skipped: "))).unwrap_or_default()
    )]
    NoUsableImages {
        /// The data folder.
        path: PathBuf,
        /// How many files were skipped.
        skipped: usize,
        /// Why, one line per skipped file (what a successful load returns as warnings).
        warnings: Vec<String>,
    },

    /// A sampler, loader or resize parameter is invalid.
    #[error("invalid {what}: {reason}")]
    InvalidConfig {
        /// The parameter.
        what: &'static str,
        /// Why it is invalid and what to use instead.
        reason: String,
    },

    /// An image in memory is too small for the training patch (the sampler's own check).
    #[error(
        "image #{index} ({name}) has LR size {width}x{height}, smaller than the \
         {patch}x{patch} LR patch; remove it from the data set"
    )]
    ImageSmallerThanPatch {
        /// Index of the image in the data set.
        index: usize,
        /// Its name.
        name: String,
        /// LR width.
        width: usize,
        /// LR height.
        height: usize,
        /// LR patch side.
        patch: usize,
    },
}

/// Result with [`DataError`].
pub type Result<T> = std::result::Result<T, DataError>;

impl DataError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
