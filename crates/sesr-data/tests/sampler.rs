//! Patch sampling and the background loader on pairs loaded from the shipped photos.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use sesr_data::dataset::{load_pairs, ImagePair, LoadOptions, Source};
use sesr_data::resize::{imresize_by, Factor};
use sesr_data::sampler::{
    assemble_batch, Batch, Loader, LoaderOptions, PatchSampler, SamplerConfig, Shard,
};
use sesr_data::{DataError, Plane, PlaneF32};

/// Pairs from the HR-folder fixture (LR made by MATLAB bicubic), x2 or x4.
fn fixture_pairs(scale: usize) -> Result<Arc<Vec<ImagePair>>> {
    let dir = tempfile::tempdir()?;
    common::hr_fixture(dir.path())?;
    let opts = LoadOptions {
        min_hr_size: 100,
        ..LoadOptions::for_scale(scale)
    };
    Ok(Arc::new(
        load_pairs(&Source::HrFolder(dir.path().to_path_buf()), scale, &opts)?.pairs,
    ))
}

fn small_config(scale: usize, seed: u64) -> SamplerConfig {
    SamplerConfig {
        seed,
        scale,
        patches_per_image: 10,
        lr_patch: if scale == 2 { 32 } else { 20 },
        batch_size: 8,
    }
}

fn collect(loader: Loader) -> Vec<Batch> {
    loader.collect()
}

/// Patch `i` of a batch as a plane.
fn patch(data: &[f32], size: usize, i: usize) -> PlaneF32 {
    Plane::from_vec(
        size,
        size,
        data[i * size * size..(i + 1) * size * size].to_vec(),
    )
    .expect("patch length")
}

/// numpy's rot90(flipud?(p), k), written out independently of the crate.
fn reference_transform(p: &PlaneF32, flip: bool, k: u8) -> PlaneF32 {
    let n = p.width;
    let mut cur = if flip {
        Plane::from_fn(n, n, |x, y| p.get(x, n - 1 - y))
    } else {
        p.clone()
    };
    for _ in 0..k {
        // Counter-clockwise: new[y][x] = old[x][n-1-y] (row y, column x).
        let old = cur.clone();
        cur = Plane::from_fn(n, n, |x, y| old.get(n - 1 - y, x));
    }
    cur
}

#[test]
fn same_seed_and_epoch_give_identical_batches() -> Result<()> {
    let pairs = fixture_pairs(2)?;
    let cfg = small_config(2, 1234);
    let a = collect(Loader::spawn(pairs.clone(), cfg, 3, None)?);
    let b = collect(Loader::spawn(pairs.clone(), cfg, 3, None)?);
    assert_eq!(a, b);
    // 4 images x 10 patches = 40 patches = 5 batches of 8.
    assert_eq!(a.len(), 5);
    let c = collect(Loader::spawn(pairs.clone(), cfg, 4, None)?);
    assert_ne!(a, c, "another epoch must draw other patches");
    let d = collect(Loader::spawn(pairs, small_config(2, 1235), 3, None)?);
    assert_ne!(a, d, "another seed must draw other patches");
    Ok(())
}

#[test]
fn loader_matches_the_sequential_plan_for_any_thread_count() -> Result<()> {
    let pairs = fixture_pairs(2)?;
    let cfg = small_config(2, 7);
    let sampler = PatchSampler::for_pairs(&pairs, cfg)?;
    let plan = sampler.plan_epoch(11);
    let sequential: Vec<Batch> = plan
        .chunks(cfg.batch_size)
        .map(|specs| assemble_batch(&pairs, specs, &cfg))
        .collect::<sesr_data::Result<_>>()?;
    for workers in [1, 2, 3, 7] {
        let opts = LoaderOptions {
            workers,
            prefetch: 1,
        };
        let got = collect(Loader::spawn_with(pairs.clone(), cfg, 11, None, opts)?);
        assert_eq!(got, sequential, "{workers} workers");
    }
    // Resuming = planning the same epoch again: a fresh sampler gives the same plan.
    let again = PatchSampler::for_pairs(&pairs, cfg)?.plan_epoch(11);
    assert_eq!(again, plan);
    Ok(())
}

#[test]
fn batches_have_the_documented_layout() -> Result<()> {
    let pairs = fixture_pairs(4)?;
    let cfg = SamplerConfig {
        patches_per_image: 5,
        batch_size: 6,
        ..small_config(4, 5)
    };
    let batches = collect(Loader::spawn(pairs.clone(), cfg, 0, None)?);
    // 20 patches in batches of 6: 6, 6, 6 and a kept partial batch of 2.
    let sizes: Vec<_> = batches.iter().map(|b| b.n).collect();
    assert_eq!(sizes, [6, 6, 6, 2]);
    for b in &batches {
        assert_eq!((b.lr_size, b.hr_size), (20, 80));
        assert_eq!(b.lr.len(), b.n * 20 * 20);
        assert_eq!(b.hr.len(), b.n * 80 * 80);
        // Values are u8 / 255: multiples of 1/255 in [0, 1].
        for &v in b.lr.iter().chain(&b.hr).step_by(101) {
            let s = v * 255.0;
            assert!((s - s.round()).abs() < 1e-4 && (0.0..=1.0).contains(&v));
        }
    }
    // Every image contributes exactly patches_per_image patches per epoch.
    let plan = PatchSampler::for_pairs(&pairs, cfg)?.plan_epoch(0);
    for i in 0..pairs.len() {
        assert_eq!(plan.iter().filter(|p| p.image == i).count(), 5);
    }
    // steps_limit caps the epoch.
    assert_eq!(Loader::spawn(pairs, cfg, 0, Some(2))?.count(), 2);
    Ok(())
}

#[test]
fn lr_and_hr_patches_correspond_and_share_the_transform() -> Result<()> {
    let pairs = fixture_pairs(2)?;
    let cfg = SamplerConfig {
        patches_per_image: 16,
        batch_size: 64,
        ..small_config(2, 99)
    };
    let plan = PatchSampler::for_pairs(&pairs, cfg)?.plan_epoch(0);
    let batch = assemble_batch(&pairs, &plan, &cfg)?;
    let (lp, hp) = (cfg.lr_patch, cfg.hr_patch());
    let mut seen = std::collections::HashSet::new();
    let (mut worst, mut sum, mut count, mut far) = (0f32, 0f64, 0usize, 0usize);
    for (i, spec) in plan.iter().enumerate() {
        seen.insert((spec.flip, spec.rot));
        let pair = &pairs[spec.image];
        let lr = patch(&batch.lr, lp, i);
        let hr = patch(&batch.hr, hp, i);
        // The patches are the transformed crops at (x, y) and (2x, 2y).
        let lr_crop = pair.lr.crop(spec.x, spec.y, lp, lp).to_f32();
        let hr_crop = pair.hr.crop(2 * spec.x, 2 * spec.y, hp, hp).to_f32();
        assert_eq!(lr, reference_transform(&lr_crop, spec.flip, spec.rot));
        assert_eq!(hr, reference_transform(&hr_crop, spec.flip, spec.rot));
        // Shrinking the (transformed) HR patch gives the (transformed) LR patch, up to 8-bit
        // rounding and the patch edges, where imresize mirrors instead of seeing neighbours.
        // The LR image was made from 8-bit RGB, whose channels are clipped to 0..255 where
        // the bicubic kernel overshoots at hard edges; the Y-domain resize here is not
        // clipped, so a few edge pixels differ by several levels.
        let down = imresize_by(&hr, Factor::Down(2));
        let m = 3;
        for y in m..lp - m {
            for x in m..lp - m {
                let d = (down.get(x, y) - lr.get(x, y)).abs() * 255.0;
                worst = worst.max(d);
                sum += f64::from(d);
                count += 1;
                if d > 1.5 {
                    far += 1;
                }
            }
        }
    }
    let mean = sum / count as f64;
    assert!(mean < 0.5, "mean difference {mean} levels");
    assert!(
        far * 200 < count,
        "{far} of {count} pixels differ by more than 1.5 levels"
    );
    assert!(worst < 12.0, "worst difference {worst} levels");
    assert_eq!(
        seen.len(),
        8,
        "all 8 flip/rotation combinations should occur"
    );
    Ok(())
}

#[test]
fn dropping_the_loader_early_stops_cleanly() -> Result<()> {
    let pairs = fixture_pairs(2)?;
    let cfg = SamplerConfig {
        patches_per_image: 500,
        ..small_config(2, 3)
    };
    let start = Instant::now();
    let mut loader = Loader::spawn_with(
        pairs,
        cfg,
        0,
        None,
        LoaderOptions {
            workers: 3,
            prefetch: 2,
        },
    )?;
    assert_eq!(loader.len(), 250);
    let first = loader.next().expect("a first batch");
    assert_eq!(first.n, 8);
    drop(loader);
    assert!(start.elapsed() < Duration::from_secs(10));
    Ok(())
}

#[test]
fn images_smaller_than_a_patch_are_errors_not_panics() -> Result<()> {
    let pairs = fixture_pairs(2)?;
    let cfg = SamplerConfig {
        lr_patch: 90,
        ..small_config(2, 0)
    };
    // astronaut's LR is 105x81: 81 < 90.
    let err = PatchSampler::for_pairs(&pairs, cfg).unwrap_err();
    assert!(matches!(err, DataError::ImageSmallerThanPatch { .. }));
    assert!(err.to_string().contains("astronaut"), "{err}");
    assert!(Loader::spawn(pairs.clone(), cfg, 0, None).is_err());
    // A zero batch size or patch count is rejected too.
    let zero = SamplerConfig {
        batch_size: 0,
        ..small_config(2, 0)
    };
    assert!(Loader::spawn(pairs.clone(), zero, 0, None).is_err());
    // A plan made for other images is an error from assemble_batch, not a panic.
    let big = PatchSampler::new(1, &[(500, 500)], small_config(2, 0))?.plan_epoch(0);
    assert!(assemble_batch(&pairs, &big, &small_config(2, 0)).is_err());
    Ok(())
}

#[test]
fn reference_sizes_are_the_defaults() {
    let x2 = SamplerConfig::for_scale(2, 0);
    assert_eq!(
        (
            x2.lr_patch,
            x2.hr_patch(),
            x2.patches_per_image,
            x2.batch_size
        ),
        (64, 128, 64, 32)
    );
    let x4 = SamplerConfig::for_scale(4, 0);
    assert_eq!((x4.lr_patch, x4.hr_patch()), (50, 200));
}

#[test]
fn rank_shards_split_every_batch_into_disjoint_covering_parts() -> Result<()> {
    let pairs = fixture_pairs(2)?;
    let cfg = small_config(2, 77);
    let whole = collect(Loader::spawn(pairs.clone(), cfg, 5, None)?);
    for ranks in [2, 3] {
        let shards: Vec<Vec<Batch>> = (0..ranks)
            .map(|rank| {
                let shard = Shard { rank, ranks };
                Ok(collect(Loader::spawn_shard(
                    pairs.clone(),
                    cfg,
                    5,
                    None,
                    LoaderOptions::default(),
                    shard,
                )?))
            })
            .collect::<Result<_>>()?;
        for (b, batch) in whole.iter().enumerate() {
            // The ranks' parts, in rank order, are the single-process batch.
            let lr: Vec<f32> = shards.iter().flat_map(|s| s[b].lr.clone()).collect();
            let hr: Vec<f32> = shards.iter().flat_map(|s| s[b].hr.clone()).collect();
            let n: usize = shards.iter().map(|s| s[b].n).sum();
            assert_eq!((n, &lr, &hr), (batch.n, &batch.lr, &batch.hr), "batch {b}");
        }
        assert!(shards.iter().all(|s| s.len() == whole.len()));
    }
    let bad = Shard { rank: 2, ranks: 2 };
    let err = Loader::spawn_shard(pairs, cfg, 0, None, LoaderOptions::default(), bad);
    assert!(err.is_err());
    Ok(())
}
