//! Batches: the patches of a plan cut out of the images, flipped and rotated, as floats.

use super::plan::{PatchSpec, SamplerConfig};
use crate::error::{DataError, Result};
use crate::pair::ImagePair;
use crate::plane::PlaneU8;

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
}
