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

/// A collapsed model with its tile size: the libtorch engine as a [`UpscaleY`], for the
/// programs that take any engine.
pub struct TiledSesr {
    pub model: CollapsedSesr,
    /// Side of the LR tiles ([`upscale_y`]).
    pub tile: usize,
}

impl UpscaleY for TiledSesr {
    fn scale(&self) -> usize {
        self.model.config().scale
    }

    fn engine(&self) -> String {
        "float32 on libtorch".into()
    }

    fn upscale_y(&self, y: &PlaneF32) -> std::result::Result<PlaneF32, UpscaleError> {
        Ok(upscale_y(&self.model, y, self.tile)?)
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
