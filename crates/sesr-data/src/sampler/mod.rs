//! Training patches: which patches an epoch uses, and a background loader that turns them into
//! batches.
//!
//! Like the reference SESR training pipeline, each epoch takes, for every image, 64 random
//! patches (LR 64x64 / HR 128x128 at x2, LR 50x50 / HR 200x200 at x4), each with a random
//! up-down flip and a random rotation by k * 90 degrees (k in 0..4), the same transform on LR
//! and HR; then all patches of the epoch are shuffled and cut into batches of 32.
//!
//! Everything is a pure function of `(seed, epoch)`: [`PatchSampler::plan_epoch`] seeds a
//! `ChaCha8Rng` with [`epoch_seed`]`(seed, epoch)`, so resuming at epoch `e` replays exactly
//! the patches an uninterrupted run would have used. Integer draws and the shuffle are
//! implemented here on top of the raw ChaCha stream (not `rand`'s distributions), so the plan
//! does not change if `rand` changes its sampling algorithms.
//!
//! `plan` draws the patches of an epoch, `batch` cuts them out of the images, `loader` does
//! that on background threads.

mod batch;
mod loader;
mod plan;

pub use batch::{assemble_batch, source_of, Batch};
pub use loader::{Loader, LoaderOptions, Shard};
pub use plan::{default_lr_patch, epoch_seed, PatchSampler, PatchSpec, SamplerConfig};
