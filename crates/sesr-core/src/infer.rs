//! Tiled inference with [`CollapsedSesr`] over whole Y planes.
//!
//! SESR is fully convolutional, so an image of any size can be upscaled in pieces: each
//! low-resolution tile of at most `tile x tile` pixels (its *core*) is run with a halo of
//! [`receptive_radius`](crate::SesrConfig::receptive_radius) extra pixels on every side, and only the core's output pixels are
//! kept. The halo holds every input pixel the core's outputs depend on, so the result is the
//! whole-image result (up to floating-point reassociation inside libtorch's convolutions);
//! at the true image borders the halo is clipped, so there the network sees the same zero
//! padding as in a whole-image run. Memory stays bounded by the tile size, not the image.

use crate::{CollapsedSesr, CoreError, Result};
use sesr_data::plane::PlaneF32;
use sesr_data::{UpscaleError, UpscaleY};
use tch::{Device, Kind, Tensor};

/// A plane as a `[1, 1, H, W]` float tensor on `device`.
pub fn plane_to_tensor(plane: &PlaneF32, device: Device) -> Result<Tensor> {
    let (w, h) = plane.size();
    if w == 0 || h == 0 {
        return Err(CoreError::InvalidConfig(format!(
            "cannot run SESR on an empty {w}x{h} plane; the image must have at least one pixel"
        )));
    }
    if plane.data.len() != w * h {
        return Err(CoreError::InvalidConfig(format!(
            "plane data holds {} samples, but a {w}x{h} plane needs {}",
            plane.data.len(),
            w * h
        )));
    }
    Ok(Tensor::from_slice(&plane.data)
        .view([1, 1, h as i64, w as i64])
        .to_device(device))
}

/// A `[1, 1, H, W]` (or `[H, W]`) tensor as a plane, copied to the CPU as `f32`.
pub fn tensor_to_plane(tensor: &Tensor) -> Result<PlaneF32> {
    let (h, w) = match tensor.size()[..] {
        [1, 1, h, w] | [h, w] => (h as usize, w as usize),
        ref other => {
            return Err(CoreError::InvalidConfig(format!(
                "expected a single plane [1, 1, H, W] or [H, W], got a tensor of shape {other:?}"
            )))
        }
    };
    let flat = tensor
        .to_device(Device::Cpu)
        .to_kind(Kind::Float)
        .contiguous()
        .view([-1]);
    let data = Vec::<f32>::try_from(&flat)?;
    Ok(PlaneF32::from_vec(w, h, data).expect("a [H, W] tensor holds H * W values"))
}

/// One axis of the tiling: `(core_start, core_end, ext_start, ext_end)` for each tile, the
/// core of at most `tile` pixels, the extension `halo` pixels wider, clipped to `0..len`.
fn spans(len: usize, tile: usize, halo: usize) -> Vec<(usize, usize, usize, usize)> {
    (0..len)
        .step_by(tile)
        .map(|start| {
            let end = start.saturating_add(tile).min(len);
            (
                start,
                end,
                start.saturating_sub(halo),
                end.saturating_add(halo).min(len),
            )
        })
        .collect()
}

/// Upscales a Y plane (studio-swing Y in [0, 1]) by the model's scale, `tile x tile` LR
/// pixels at a time (plus the halo, see the module docs). The result equals running the
/// model on the whole plane, to within about 1e-6.
///
/// Fails for `tile == 0` and for an empty plane.
pub fn upscale_y(model: &CollapsedSesr, y: &PlaneF32, tile: usize) -> Result<PlaneF32> {
    if tile == 0 {
        return Err(CoreError::InvalidConfig(
            "the tile size must be at least 1 LR pixel, got 0; use e.g. 256".into(),
        ));
    }
    let (w, h) = y.size();
    if w == 0 || h == 0 {
        return Err(CoreError::InvalidConfig(format!(
            "cannot upscale an empty {w}x{h} plane; the image must have at least one pixel"
        )));
    }
    if y.data.len() != w * h {
        return Err(CoreError::InvalidConfig(format!(
            "plane data holds {} samples, but a {w}x{h} plane needs {}",
            y.data.len(),
            w * h
        )));
    }
    let scale = model.config().scale;
    let halo = model.config().receptive_radius();
    let device = model.device();
    let mut out = PlaneF32::new(w * scale, h * scale);
    for &(y0, y1, ey0, ey1) in &spans(h, tile, halo) {
        for &(x0, x1, ex0, ex1) in &spans(w, tile, halo) {
            let input = if (ex0, ey0, ex1, ey1) == (0, 0, w, h) {
                plane_to_tensor(y, device)?
            } else {
                plane_to_tensor(&y.crop(ex0, ey0, ex1 - ex0, ey1 - ey0), device)?
            };
            let sr = tensor_to_plane(&model.forward(&input)?)?;
            // The core's outputs inside the tile's output, copied row by row.
            let (ox, oy) = ((x0 - ex0) * scale, (y0 - ey0) * scale);
            let core_w = (x1 - x0) * scale;
            for row in 0..(y1 - y0) * scale {
                let src = (oy + row) * sr.width + ox;
                let dst = (y0 * scale + row) * out.width + x0 * scale;
                out.data[dst..dst + core_w].copy_from_slice(&sr.data[src..src + core_w]);
            }
        }
    }
    Ok(out)
}

/// The smallest tile side [`TiledSesr`] runs, in LR pixels; smaller tiles are raised to it.
///
/// A tile only bounds memory: the result is the same whatever its size (see the module
/// docs), and a 64-pixel tile with its halo takes a few MB even for SESR-XL. Below that, the
/// halo recomputed around every tile costs more than the tile itself, and every tile is a
/// libtorch call with its fixed cost: at tile 1, SESR-M5's 9-pixel halo makes each call a
/// 19x19 input for one output pixel (361 times the work, 9600 calls for a 120x80 image),
/// which took over 90 s where the whole image takes a fraction of a second.
pub const MIN_TILE: usize = 64;

/// A collapsed model with its tile size: the libtorch engine as a [`UpscaleY`], for the
/// programs that take any engine.
///
/// Before every image it checks the model's weights as `sesr-net` does (finite, and no
/// value a working SESR cannot have, [`sesr_net::MAX_PARAMETER_MAGNITUDE`]), and after it
/// refuses an output that is not a number or all clipped to black or white while the input
/// is mostly mid-tones, which no working SESR gives.
pub struct TiledSesr {
    pub model: CollapsedSesr,
    /// Side of the LR tiles ([`upscale_y`]); raised to [`MIN_TILE`] when smaller.
    pub tile: usize,
}

impl TiledSesr {
    /// The tile side it runs: [`TiledSesr::tile`], at least [`MIN_TILE`] (0 stays 0, an
    /// error).
    pub fn effective_tile(&self) -> usize {
        match self.tile {
            0 => 0,
            tile => tile.max(MIN_TILE),
        }
    }

    /// [`UpscaleY::upscale_y`] with sesr-core's error.
    pub fn upscale(&self, y: &PlaneF32) -> Result<PlaneF32> {
        self.model.to_model()?.network.validate()?;
        let out = upscale_y(&self.model, y, self.effective_tile())?;
        let not_a_number = out.data.iter().any(|v| v.is_nan());
        let clipped = out.data.iter().all(|&v| v.is_nan() || v <= 0.0 || v >= 1.0);
        let midtones = y
            .data
            .iter()
            .filter(|&&v| (16.0 / 255.0..=235.0 / 255.0).contains(&v))
            .count();
        if not_a_number || (clipped && 2 * midtones >= y.data.len()) {
            let what = match not_a_number {
                true => "its output holds NaN",
                false => {
                    "every output pixel is clipped to black or white on an image that is \
                          mostly mid-tones"
                }
            };
            return Err(CoreError::Net(sesr_net::NetError::InvalidNetwork(format!(
                "{what}, which no working SESR does: its weights are broken (a corrupt file, \
                 or absurd values); retrain it or export it again"
            ))));
        }
        Ok(out)
    }
}

impl UpscaleY for TiledSesr {
    fn scale(&self) -> usize {
        self.model.config().scale
    }

    fn engine(&self) -> String {
        "float32 on libtorch".into()
    }

    fn upscale_y(&self, y: &PlaneF32) -> std::result::Result<PlaneF32, UpscaleError> {
        Ok(self.upscale(y)?)
    }

    fn receptive_radius(&self) -> Option<usize> {
        Some(self.model.config().receptive_radius())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_the_axis_once_with_clipped_halos() {
        assert_eq!(
            spans(10, 4, 3),
            vec![(0, 4, 0, 7), (4, 8, 1, 10), (8, 10, 5, 10)]
        );
        assert_eq!(spans(5, 100, 3), vec![(0, 5, 0, 5)]);
        assert_eq!(spans(3, usize::MAX, 3), vec![(0, 3, 0, 3)]);
        for (len, tile) in [(1, 1), (7, 2), (301, 64), (64, 64)] {
            let s = spans(len, tile, 5);
            let covered: usize = s.iter().map(|(a, b, _, _)| b - a).sum();
            assert_eq!(covered, len);
            assert!(s.windows(2).all(|p| p[0].1 == p[1].0));
        }
    }
}
