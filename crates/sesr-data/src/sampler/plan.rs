//! The patches of an epoch: where each one lies and how it is flipped and rotated, drawn from
//! `(seed, epoch)` alone.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::pair::ImagePair;

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

#[cfg(test)]
mod tests {
    use super::*;

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
