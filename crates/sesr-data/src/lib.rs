//! sesr-data: images in, luminance planes, training patches and the evaluation protocol out.
//!
//! Everything about image data for SESR ("Collapsible Linear Blocks for Super-Efficient Super
//! Resolution", Bhardwaj et al., MLSys 2022), in pure Rust and without tensors:
//!
//! * [`io`]: images as planes (RGB, gray, alpha apart, 16-bit scaled correctly) and atomic PNG
//!   writing;
//! * [`photo`]: reading PNG / JPEG / WebP / TIFF / BMP / GIF as a viewer shows them (EXIF
//!   orientation applied) with their colour metadata, refusing animations, truncated JPEGs and
//!   images too large for memory ([`memory`]);
//! * [`color`]: BT.601 studio-swing Y and YCbCr exactly as the reference code and MATLAB's
//!   `rgb2ycbcr` / `ycbcr2rgb`;
//! * [`resize`]: MATLAB-compatible bicubic `imresize` (antialiased when shrinking, symmetric
//!   edges, `uint8` rounding after each pass when asked);
//! * [`metrics`]: PSNR / SSIM of the super-resolution literature on 8-bit Y with a border
//!   crop, and the reference code's float PSNR;
//! * [`protocol`]: the Set5/Set14 evaluation protocol and bicubic baseline, and colour
//!   reconstruction for upscaling whole images;
//! * [`dataset`]: DIV2K / HR-folder / paired-folder discovery, pairing and validation, decoded
//!   in parallel into compact 8-bit Y planes;
//! * [`pair`]: [`ImagePair`], one training image's LR and HR Y planes, what `dataset` loads
//!   and `sampler` cuts;
//! * [`upscale`]: [`UpscaleY`], what every engine that runs SESR offers (a Y plane in, the
//!   plane upscaled out);
//! * [`sampler`]: deterministic per-epoch patch plans (random crop, flip, rot90, shuffle) and a
//!   background [`Loader`] yielding N x 1 x H x W batches.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use sesr_data::{load_pairs, LoadOptions, Loader, SamplerConfig, Source, Split};
//!
//! # fn main() -> sesr_data::Result<()> {
//! let source = Source::detect("/data/DIV2K", Split::Train)?;
//! let report = load_pairs(&source, 2, &LoadOptions::for_scale(2))?;
//! for warning in &report.warnings {
//!     eprintln!("{warning}");
//! }
//! let pairs = Arc::new(report.pairs);
//! let config = SamplerConfig::for_scale(2, 42);
//! for batch in Loader::spawn(pairs, config, 0, None)? {
//!     // batch.lr: N x 1 x 64 x 64, batch.hr: N x 1 x 128 x 128, values in [0, 1]
//!     assert_eq!(batch.lr.len(), batch.n * 64 * 64);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Evaluation protocol
//!
//! The published bicubic figures (x2 Set5 33.66 dB / 0.9299, Set14 30.24 / 0.8688; x4 Set5
//! 28.42 / 0.8104, Set14 26.00 / 0.7027) are reproduced to within 0.01 dB and 0.001 SSIM by
//! [`protocol::Protocol::YFloat`], the SRCNN/VDSR MATLAB procedure: bicubic on the *float* Y
//! plane, LR never rounded, gray images (Set14 `bridge.png`) scored on their gray values. The
//! other common procedure, [`protocol::Protocol::Rgb8`] (LR made from 8-bit RGB and stored in
//! 8 bits, as DIV2K's and EDSR's LR files are), scores bicubic 0.005-0.02 dB lower. Both are
//! available; `YFloat` is the default because it matches the tables SESR is compared with.
//!
//! # Deliberate differences from the reference implementation
//!
//! * **8-bit Y cache.** The reference caches float32 Y planes. We cache `round(Y * 255)` as
//!   `u8` (4x less memory, DIV2K fits in a few GB) and hand the network `u8 / 255`. For 8-bit
//!   sources this only adds the rounding of Y to 1/255 (at most 0.5/255).
//! * **LR images made from HR** (HR-folder source) follow the literature's MATLAB procedure for
//!   making LR files: bicubic `imresize` of the 8-bit RGB image, rounded to 8 bits per channel
//!   (after each of the two passes, as MATLAB does on `uint8`), then Y. With the DIV2K source
//!   the official LR images are used, as in the reference.
//! * **Gray images** in training data are treated as R = G = B, so their Y is
//!   `16/255 + 219/255 * gray`, the same studio-swing scale as colour images (the reference
//!   only sees RGB data). In evaluation the network gets that same input, and its output is
//!   mapped back to gray values for scoring, as the literature scores gray images.
//! * **16-bit images** are reduced to 8 bits (rounded) before anything else in the training
//!   and benchmark paths; [`io::load_image`] keeps full precision.
//! * **Patch plan RNG.** Patches come from `ChaCha8Rng` seeded with a hash of `(seed, epoch)`
//!   and our own integer sampling and shuffle (not TensorFlow's RNG), so runs are reproducible
//!   and resumable but do not draw the reference's exact patches. The transform is an up-down
//!   flip followed by `rot90` (k in 0..4), identical on LR and HR.
//! * **Last partial batch** of an epoch is kept when it is non-empty (as `tf.data` does
//!   without `drop_remainder`).

pub mod color;
pub mod dataset;
pub mod error;
pub mod io;
pub mod memory;
pub mod metrics;
pub mod pair;
pub mod photo;
pub mod plane;
pub mod protocol;
pub mod resize;
pub mod sampler;
pub mod upscale;

pub use dataset::{load_pairs, LoadOptions, LoadReport, Source, Split};
pub use error::{DataError, Result};
pub use io::{load_image, load_image_u8, load_y, save_gray_png, save_rgb_png, LoadedImage};
pub use metrics::{psnr_float, psnr_y8, ssim_y8};
pub use pair::ImagePair;
pub use plane::{Plane, PlaneF32, PlaneU8};
pub use protocol::{bicubic_baseline, load_benchmark, Baseline, EvalImage, Protocol, Scores};
pub use resize::{imresize, imresize_u8, Factor};
pub use sampler::{Batch, Loader, LoaderOptions, PatchSampler, PatchSpec, SamplerConfig};
pub use upscale::{UpscaleError, UpscaleY};
