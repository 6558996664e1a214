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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::pair::ImagePair;
use crate::plane::PlaneU8;

/// The reference LR patch side: 64 at x2, 50 at x4 (and 64 for any other scale).
pub fn default_lr_patch(scale: usize) -> usize {
    if scale == 4 {
        50
    } else {
        64
    }
}

/// What an epoch samples and how it batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplerConfig {
    /// Base seed; epoch `e` uses `epoch_seed(seed, e)`.
    pub seed: u64,
    /// Upscaling factor: HR patches are `scale * lr_patch` pixels.
    pub scale: usize,
    /// Patches per image per epoch (reference: 64).
    pub patches_per_image: usize,
    /// LR patch side (reference: 64 at x2, 50 at x4).
    pub lr_patch: usize,
    /// Patches per batch (reference: 32).
    pub batch_size: usize,
}

impl SamplerConfig {
    /// The reference settings for `scale`: 64 patches per image, LR patch 64 (x2) or 50 (x4),
    /// batches of 32.
    pub fn for_scale(scale: usize, seed: u64) -> Self {
        Self {
            seed,
            scale,
            patches_per_image: 64,
            lr_patch: default_lr_patch(scale),
            batch_size: 32,
        }
    }

    /// HR patch side, `scale * lr_patch`.
    pub fn hr_patch(&self) -> usize {
        self.scale * self.lr_patch
    }

    fn validate(&self) -> Result<()> {
        let bad = |what, reason: &str| {
            Err(DataError::InvalidConfig {
                what,
                reason: reason.into(),
            })
        };
        if self.scale == 0 {
            return bad("scale", "must be at least 1 (SESR uses 2 or 4)");
        }
        if self.lr_patch == 0 {
            return bad(
                "LR patch size",
                "must be at least 1 (reference: 64 at x2, 50 at x4)",
            );
        }
        if self.patches_per_image == 0 {
            return bad("patches per image", "must be at least 1 (reference: 64)");
        }
        if self.batch_size == 0 {
            return bad("batch size", "must be at least 1 (reference: 32)");
        }
        Ok(())
    }
}

/// One patch: which image, where (top-left corner in LR pixels; the HR corner is `scale`
/// times that) and how it is transformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PatchSpec {
    /// Index into the image list.
    pub image: usize,
    /// LR column of the top-left corner.
    pub x: usize,
    /// LR row of the top-left corner.
    pub y: usize,
    /// Flip up-down (applied first).
    pub flip: bool,
    /// Then rotate counter-clockwise by `rot * 90` degrees (`numpy.rot90(p, rot)`), 0..4.
    pub rot: u8,
}

/// SplitMix64's finaliser.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The RNG seed of `epoch` for base seed `seed`: a SplitMix64 hash of both, so neighbouring
/// seeds and epochs give unrelated streams.
pub fn epoch_seed(seed: u64, epoch: u64) -> u64 {
    mix64(mix64(seed).wrapping_add(epoch.wrapping_mul(0x9e37_79b9_7f4a_7c15)) ^ 0x5345_5352)
}

/// A uniform integer in `0..n` (n > 0) by Lemire's multiply-and-reject method.
fn below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    debug_assert!(n > 0);
    let threshold = n.wrapping_neg() % n;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(n);
        if (m as u64) >= threshold {
            return (m >> 64) as u64;
        }
    }
}

/// Plans the patches of each epoch for a fixed list of images.
#[derive(Clone, Debug)]
pub struct PatchSampler {
    lr_sizes: Vec<(usize, usize)>,
    config: SamplerConfig,
}

impl PatchSampler {
    /// A sampler for `num_images` images whose LR sizes (width, height) are `lr_sizes`.
    /// Fails when the sizes do not match the count, the configuration is invalid, or an image
    /// is smaller than the LR patch.
    pub fn new(
        num_images: usize,
        lr_sizes: &[(usize, usize)],
        config: SamplerConfig,
    ) -> Result<Self> {
        config.validate()?;
        if lr_sizes.len() != num_images {
            return Err(DataError::InvalidConfig {
                what: "image sizes",
                reason: format!("{} sizes for {num_images} images", lr_sizes.len()),
            });
        }
        if num_images == 0 {
            return Err(DataError::InvalidConfig {
                what: "image list",
                reason: "no images to sample patches from".into(),
            });
        }
        for (index, &(width, height)) in lr_sizes.iter().enumerate() {
            if width < config.lr_patch || height < config.lr_patch {
                return Err(DataError::ImageSmallerThanPatch {
                    index,
                    name: format!("#{index}"),
                    width,
                    height,
                    patch: config.lr_patch,
                });
            }
        }
        Ok(Self {
            lr_sizes: lr_sizes.to_vec(),
            config,
        })
    }

    /// A sampler for loaded pairs; also checks that every HR plane is `scale` times its LR
    /// plane, and names the image in errors.
    pub fn for_pairs(pairs: &[ImagePair], config: SamplerConfig) -> Result<Self> {
        config.validate()?;
        for (index, p) in pairs.iter().enumerate() {
            let s = config.scale;
            if p.hr.width != s * p.lr.width || p.hr.height != s * p.lr.height {
                return Err(DataError::InvalidConfig {
                    what: "image pair",
                    reason: format!(
                        "image #{index} ({}) has HR {}x{} and LR {}x{}, not x{s}",
                        p.name, p.hr.width, p.hr.height, p.lr.width, p.lr.height
                    ),
                });
            }
            if p.lr.width < config.lr_patch || p.lr.height < config.lr_patch {
                return Err(DataError::ImageSmallerThanPatch {
                    index,
                    name: p.name.clone(),
                    width: p.lr.width,
                    height: p.lr.height,
                    patch: config.lr_patch,
                });
            }
        }
        let sizes: Vec<_> = pairs.iter().map(|p| (p.lr.width, p.lr.height)).collect();
        Self::new(pairs.len(), &sizes, config)
    }

    /// The configuration.
    pub fn config(&self) -> &SamplerConfig {
        &self.config
    }

    /// Number of images.
    pub fn num_images(&self) -> usize {
        self.lr_sizes.len()
    }

    /// Patches per epoch: images x patches per image.
    pub fn patches_per_epoch(&self) -> usize {
        self.lr_sizes.len() * self.config.patches_per_image
    }

    /// Batches per epoch, the last one possibly partial.
    pub fn batches_per_epoch(&self) -> usize {
        self.patches_per_epoch().div_ceil(self.config.batch_size)
    }

    /// The shuffled patches of `epoch`, a pure function of `(seed, epoch)`: for each image in
    /// order, `patches_per_image` times draw x, y, flip and rotation; then a Fisher-Yates
    /// shuffle of the whole list with the same RNG.
    pub fn plan_epoch(&self, epoch: u64) -> Vec<PatchSpec> {
        let mut rng = ChaCha8Rng::seed_from_u64(epoch_seed(self.config.seed, epoch));
        let p = self.config.lr_patch;
        let mut specs = Vec::with_capacity(self.patches_per_epoch());
        for (image, &(w, h)) in self.lr_sizes.iter().enumerate() {
            for _ in 0..self.config.patches_per_image {
                let x = below(&mut rng, (w - p + 1) as u64) as usize;
                let y = below(&mut rng, (h - p + 1) as u64) as usize;
                let flip = below(&mut rng, 2) == 1;
                let rot = below(&mut rng, 4) as u8;
                specs.push(PatchSpec {
                    image,
                    x,
                    y,
                    flip,
                    rot,
                });
            }
        }
        for i in (1..specs.len()).rev() {
            let j = below(&mut rng, (i + 1) as u64) as usize;
            specs.swap(i, j);
        }
        specs
    }
}

/// A batch laid out N x 1 x H x W (row-major, one channel), values `u8 / 255`.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Number of patches.
    pub n: usize,
    /// LR patch side.
    pub lr_size: usize,
    /// HR patch side.
    pub hr_size: usize,
    /// `n * lr_size * lr_size` LR samples.
    pub lr: Vec<f32>,
    /// `n * hr_size * hr_size` HR samples.
    pub hr: Vec<f32>,
}

/// Where output pixel (r, c) of a transformed `n` x `n` patch comes from in the untransformed
/// patch: output = rot90(flipud?(patch), rot).
#[inline]
pub fn source_of(r: usize, c: usize, n: usize, flip: bool, rot: u8) -> (usize, usize) {
    let m = n - 1;
    // rot90 counter-clockwise, k times: B[r][c] = F[...].
    let (fr, fc) = match rot & 3 {
        0 => (r, c),
        1 => (c, m - r),
        2 => (m - r, m - c),
        _ => (m - c, r),
    };
    // flipud: F[i][j] = P[m - i][j].
    if flip {
        (m - fr, fc)
    } else {
        (fr, fc)
    }
}

/// LUT for u8 -> f32 (`v / 255`), so batches match `PlaneU8::to_f32` exactly.
fn u8_lut() -> [f32; 256] {
    let mut lut = [0f32; 256];
    for (i, v) in lut.iter_mut().enumerate() {
        *v = i as f32 / 255.0;
    }
    lut
}

/// Source coordinate as `base + dr * r + dc * c` for output pixel (r, c): the affine form of
/// [`source_of`], so the copy loop needs no per-pixel branching.
#[derive(Clone, Copy)]
struct Affine {
    base: isize,
    dr: isize,
    dc: isize,
}

/// (row, column) of the source as affine functions of the output (r, c), matching
/// [`source_of`].
fn transform_affine(n: usize, flip: bool, rot: u8) -> (Affine, Affine) {
    let m = n as isize - 1;
    let id_r = Affine {
        base: 0,
        dr: 1,
        dc: 0,
    };
    let id_c = Affine {
        base: 0,
        dr: 0,
        dc: 1,
    };
    let rev = |a: Affine| Affine {
        base: m - a.base,
        dr: -a.dr,
        dc: -a.dc,
    };
    let (fr, fc) = match rot & 3 {
        0 => (id_r, id_c),
        1 => (id_c, rev(id_r)),
        2 => (rev(id_r), rev(id_c)),
        _ => (rev(id_c), id_r),
    };
    if flip {
        (rev(fr), fc)
    } else {
        (fr, fc)
    }
}

fn copy_patch(
    plane: &PlaneU8,
    x0: usize,
    y0: usize,
    n: usize,
    spec: &PatchSpec,
    lut: &[f32; 256],
    out: &mut [f32],
) {
    let (ar, ac) = transform_affine(n, spec.flip, spec.rot);
    let w = plane.width as isize;
    // Linear source index = start + r * step_r + c * step_c.
    let start = (y0 as isize + ar.base) * w + x0 as isize + ac.base;
    let step_r = ar.dr * w + ac.dr;
    let step_c = ar.dc * w + ac.dc;
    for (r, orow) in out.chunks_exact_mut(n).enumerate() {
        let mut idx = start + r as isize * step_r;
        for o in orow {
            // In range: assemble_batch checked that the window fits the plane.
            *o = lut[usize::from(plane.data[idx as usize])];
            idx += step_c;
        }
    }
}

/// Cuts the patches `specs` out of `pairs` and stacks them into a batch.
///
/// # Errors
/// When a spec names a missing image or a window that does not fit (a plan made for other
/// images).
pub fn assemble_batch(
    pairs: &[ImagePair],
    specs: &[PatchSpec],
    config: &SamplerConfig,
) -> Result<Batch> {
    let lp = config.lr_patch;
    let hp = config.hr_patch();
    let s = config.scale;
    let lut = u8_lut();
    let mut lr = vec![0f32; specs.len() * lp * lp];
    let mut hr = vec![0f32; specs.len() * hp * hp];
    for (i, spec) in specs.iter().enumerate() {
        let pair = pairs
            .get(spec.image)
            .ok_or_else(|| DataError::InvalidConfig {
                what: "patch plan",
                reason: format!(
                    "image #{} does not exist ({} images)",
                    spec.image,
                    pairs.len()
                ),
            })?;
        let fits = spec.x + lp <= pair.lr.width
            && spec.y + lp <= pair.lr.height
            && (spec.x + lp) * s <= pair.hr.width
            && (spec.y + lp) * s <= pair.hr.height;
        if !fits {
            return Err(DataError::ImageSmallerThanPatch {
                index: spec.image,
                name: pair.name.clone(),
                width: pair.lr.width,
                height: pair.lr.height,
                patch: lp,
            });
        }
        copy_patch(
            &pair.lr,
            spec.x,
            spec.y,
            lp,
            spec,
            &lut,
            &mut lr[i * lp * lp..(i + 1) * lp * lp],
        );
        copy_patch(
            &pair.hr,
            spec.x * s,
            spec.y * s,
            hp,
            spec,
            &lut,
            &mut hr[i * hp * hp..(i + 1) * hp * hp],
        );
    }
    Ok(Batch {
        n: specs.len(),
        lr_size: lp,
        hr_size: hp,
        lr,
        hr,
    })
}

/// Worker threads and queue depth of a [`Loader`]. They change speed, never content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderOptions {
    /// Threads assembling batches.
    pub workers: usize,
    /// Finished batches each worker may queue ahead.
    pub prefetch: usize,
}

impl Default for LoaderOptions {
    /// Up to 4 workers (fewer on smaller machines), 2 batches queued per worker.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            workers: cores.clamp(1, 4),
            prefetch: 2,
        }
    }
}

/// Batches of one epoch, assembled on background threads.
///
/// Batch `i` always holds patches `i * batch_size ..` of [`PatchSampler::plan_epoch`], whatever
/// the number of threads: worker `w` builds batches `w, w + W, w + 2W, ...` into its own bounded
/// channel and the iterator reads the channels round-robin. The last batch of the epoch keeps
/// the remaining patches even when fewer than `batch_size` (it is dropped only when empty).
/// Dropping the loader early stops the workers and joins them.
pub struct Loader {
    receivers: Vec<Receiver<Result<Batch>>>,
    handles: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    next: usize,
    total: usize,
}

impl Loader {
    /// Starts loading epoch `epoch` with [`LoaderOptions::default`]; `steps_limit` caps the
    /// number of batches.
    pub fn spawn(
        pairs: Arc<Vec<ImagePair>>,
        config: SamplerConfig,
        epoch: u64,
        steps_limit: Option<usize>,
    ) -> Result<Self> {
        Self::spawn_with(pairs, config, epoch, steps_limit, LoaderOptions::default())
    }

    /// Starts loading epoch `epoch` with explicit thread options.
    pub fn spawn_with(
        pairs: Arc<Vec<ImagePair>>,
        config: SamplerConfig,
        epoch: u64,
        steps_limit: Option<usize>,
        options: LoaderOptions,
    ) -> Result<Self> {
        let sampler = PatchSampler::for_pairs(&pairs, config)?;
        let plan = Arc::new(sampler.plan_epoch(epoch));
        let mut total = sampler.batches_per_epoch();
        if let Some(limit) = steps_limit {
            total = total.min(limit);
        }
        let workers = options.workers.max(1).min(total.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx) = sync_channel(options.prefetch.max(1));
            let pairs = Arc::clone(&pairs);
            let plan = Arc::clone(&plan);
            let stop = Arc::clone(&stop);
            let handle = std::thread::Builder::new()
                .name(format!("sesr-loader-{w}"))
                .spawn(move || {
                    let bs = config.batch_size;
                    for b in (w..total).step_by(workers) {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let specs = &plan[b * bs..((b + 1) * bs).min(plan.len())];
                        let batch = assemble_batch(&pairs, specs, &config);
                        if tx.send(batch).is_err() {
                            break;
                        }
                    }
                })
                .map_err(|e| DataError::InvalidConfig {
                    what: "loader threads",
                    reason: format!("cannot start a worker thread: {e}"),
                })?;
            receivers.push(rx);
            handles.push(handle);
        }
        Ok(Self {
            receivers,
            handles,
            stop,
            next: 0,
            total,
        })
    }

    /// Number of batches this loader yields in total.
    pub fn total_batches(&self) -> usize {
        self.total
    }
}

/// # Panics
/// `next` panics only if a worker failed, which cannot happen for pairs that passed
/// [`PatchSampler::for_pairs`] at spawn time (the pairs are shared read-only).
impl Iterator for Loader {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.next >= self.total {
            return None;
        }
        let rx = &self.receivers[self.next % self.receivers.len()];
        match rx.recv() {
            Ok(Ok(batch)) => {
                self.next += 1;
                Some(batch)
            }
            // The sampler validated every image, so a failing batch means the pairs changed
            // under us: a bug, not bad input.
            Ok(Err(e)) => panic!("loader batch {} failed: {e}", self.next),
            Err(_) => panic!("loader worker for batch {} stopped unexpectedly", self.next),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.total - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Loader {}

impl Drop for Loader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the receivers makes any blocked `send` fail, so workers exit promptly.
        self.receivers.clear();
        for h in self.handles.drain(..) {
            // A worker panic has already been reported on stderr; don't double-panic in drop.
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_are_the_dihedral_group() {
        // Apply each transform to a 3x3 patch with distinct values: all 8 results differ.
        let n = 3;
        let mut seen = std::collections::HashSet::new();
        for flip in [false, true] {
            for rot in 0..4u8 {
                let img: Vec<(usize, usize)> = (0..n * n)
                    .map(|i| source_of(i / n, i % n, n, flip, rot))
                    .collect();
                assert!(seen.insert(img));
            }
        }
        // numpy: rot90([[0,1],[2,3]]) == [[1,3],[0,2]].
        let p = [[0, 1], [2, 3]];
        let rot1: Vec<i32> = (0..4)
            .map(|i| {
                let (r, c) = source_of(i / 2, i % 2, 2, false, 1);
                p[r][c]
            })
            .collect();
        assert_eq!(rot1, vec![1, 3, 0, 2]);
        // flipud then rot90: flipud = [[2,3],[0,1]], rot90 of that = [[3,1],[2,0]].
        let fr: Vec<i32> = (0..4)
            .map(|i| {
                let (r, c) = source_of(i / 2, i % 2, 2, true, 1);
                p[r][c]
            })
            .collect();
        assert_eq!(fr, vec![3, 1, 2, 0]);
    }

    #[test]
    fn affine_form_matches_source_of() {
        for n in [1usize, 2, 5] {
            for flip in [false, true] {
                for rot in 0..4u8 {
                    let (ar, ac) = transform_affine(n, flip, rot);
                    for r in 0..n {
                        for c in 0..n {
                            let (ri, ci) = (r as isize, c as isize);
                            let got = (
                                ar.base + ar.dr * ri + ar.dc * ci,
                                ac.base + ac.dr * ri + ac.dc * ci,
                            );
                            let (sr, sc) = source_of(r, c, n, flip, rot);
                            assert_eq!(got, (sr as isize, sc as isize));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn below_is_in_range_and_roughly_uniform() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut counts = [0usize; 5];
        for _ in 0..50_000 {
            counts[below(&mut rng, 5) as usize] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
        assert_eq!(below(&mut rng, 1), 0);
    }

    #[test]
    fn epoch_seeds_differ() {
        assert_ne!(epoch_seed(0, 0), epoch_seed(0, 1));
        assert_ne!(epoch_seed(0, 1), epoch_seed(1, 0));
        assert_eq!(epoch_seed(42, 3), epoch_seed(42, 3));
    }

    #[test]
    fn plan_covers_every_image_equally() {
        let cfg = SamplerConfig {
            seed: 1,
            scale: 2,
            patches_per_image: 5,
            lr_patch: 4,
            batch_size: 3,
        };
        let s = PatchSampler::new(3, &[(4, 4), (10, 6), (7, 20)], cfg).unwrap();
        let plan = s.plan_epoch(0);
        assert_eq!(plan.len(), 15);
        assert_eq!(s.batches_per_epoch(), 5);
        for img in 0..3 {
            assert_eq!(plan.iter().filter(|p| p.image == img).count(), 5);
        }
        assert!(plan
            .iter()
            .filter(|p| p.image == 0)
            .all(|p| p.x == 0 && p.y == 0));
        assert!(plan.iter().all(|p| p.rot < 4));
        let (w, h) = (10, 6);
        assert!(plan
            .iter()
            .filter(|p| p.image == 1)
            .all(|p| p.x + 4 <= w && p.y + 4 <= h));
    }

    #[test]
    fn too_small_image_is_an_error() {
        let cfg = SamplerConfig::for_scale(2, 0);
        let e = PatchSampler::new(2, &[(100, 100), (63, 200)], cfg).unwrap_err();
        assert!(e.to_string().contains("#1"), "{e}");
        assert!(PatchSampler::new(1, &[], cfg).is_err());
    }
}
