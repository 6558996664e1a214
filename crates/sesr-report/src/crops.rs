//! Side-by-side crops: the same region from several upscalers, zoomed, under their titles.

use crate::error::{ReportError, Result};
use plotters::prelude::*;
use sesr_data::io::LoadedImage;
use sesr_data::plane::PlaneF32;
use std::path::Path;

/// A rectangle in (high-resolution) pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

/// One column of the picture: an image (all columns the same size) and its title.
#[derive(Clone)]
pub struct Panel {
    pub title: String,
    pub image: LoadedImage,
}

/// The `side x side` window (smaller if the image is) with the most detail in `y`: the largest
/// sum of absolute horizontal and vertical differences, searched on a half-window grid. Edges
/// are where upscalers differ, so this is where a comparison is worth looking at.
pub fn detailed_window(y: &PlaneF32, side: usize) -> Window {
    let (w, h) = y.size();
    let (cw, ch) = (side.min(w).max(1), side.min(h).max(1));
    // Prefix sums of the detail map make every window's sum O(1).
    let mut integral = vec![0f64; (w + 1) * (h + 1)];
    for yy in 0..h {
        let mut row = 0f64;
        for xx in 0..w {
            let v = y.get(xx, yy);
            let dx = if xx + 1 < w {
                (y.get(xx + 1, yy) - v).abs()
            } else {
                0.0
            };
            let dy = if yy + 1 < h {
                (y.get(xx, yy + 1) - v).abs()
            } else {
                0.0
            };
            row += f64::from(dx + dy);
            integral[(yy + 1) * (w + 1) + xx + 1] = integral[yy * (w + 1) + xx + 1] + row;
        }
    }
    let sum = |x: usize, y: usize| {
        let at = |xx: usize, yy: usize| integral[yy * (w + 1) + xx];
        at(x + cw, y + ch) - at(x, y + ch) - at(x + cw, y) + at(x, y)
    };
    let positions = |len: usize, c: usize| {
        let stride = (c / 2).max(1);
        (0..=(len - c))
            .step_by(stride)
            .chain(std::iter::once(len - c))
    };
    let mut best = (f64::NEG_INFINITY, 0, 0);
    for yy in positions(h, ch) {
        for xx in positions(w, cw) {
            let s = sum(xx, yy);
            if s > best.0 {
                best = (s, xx, yy);
            }
        }
    }
    Window {
        x: best.1,
        y: best.2,
        width: cw,
        height: ch,
    }
}

const TITLE_HEIGHT: usize = 34;
const GAP: usize = 8;

/// Writes a PNG at `path`: `window` of every panel's image, zoomed `zoom` times (nearest
/// neighbour), left to right, each under its title. Gray images are drawn gray.
pub fn side_by_side(panels: &[Panel], window: Window, zoom: usize, path: &Path) -> Result<()> {
    let Some(first) = panels.first() else {
        return Err(ReportError::Input(format!(
            "{}: no panels to draw",
            path.display()
        )));
    };
    let size = (first.image.width(), first.image.height());
    if let Some(p) = panels
        .iter()
        .find(|p| (p.image.width(), p.image.height()) != size)
    {
        return Err(ReportError::Input(format!(
            "{}: panel `{}` is {}x{}, panel `{}` is {}x{}; crops need images of one size",
            path.display(),
            p.title,
            p.image.width(),
            p.image.height(),
            first.title,
            size.0,
            size.1
        )));
    }
    let fits = window.width > 0
        && window.height > 0
        && window.x + window.width <= size.0
        && window.y + window.height <= size.1;
    if !fits || zoom == 0 {
        return Err(ReportError::Input(format!(
            "{}: crop {window:?} at zoom {zoom} does not fit a {}x{} image",
            path.display(),
            size.0,
            size.1
        )));
    }
    let (cell_w, cell_h) = (window.width * zoom, window.height * zoom);
    let width = panels.len() * cell_w + (panels.len() + 1) * GAP;
    let height = TITLE_HEIGHT + cell_h + GAP;
    let mut pixels = vec![255u8; width * height * 3];
    for (i, panel) in panels.iter().enumerate() {
        let left = GAP + i * (cell_w + GAP);
        let planes = panel.image.planes();
        for yy in 0..cell_h {
            for xx in 0..cell_w {
                let (sx, sy) = (window.x + xx / zoom, window.y + yy / zoom);
                let at = ((TITLE_HEIGHT + yy) * width + left + xx) * 3;
                for c in 0..3 {
                    let plane = &planes[c.min(planes.len() - 1)];
                    pixels[at + c] = sesr_data::plane::quantize(plane.get(sx, sy));
                }
            }
        }
    }
    crate::register_font();
    {
        let draw_error = |e: &dyn std::fmt::Display| ReportError::Draw {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let root = BitMapBackend::with_buffer(&mut pixels, (width as u32, height as u32))
            .into_drawing_area();
        for (i, panel) in panels.iter().enumerate() {
            let left = (GAP + i * (cell_w + GAP)) as i32;
            root.draw(&Text::new(
                panel.title.clone(),
                (left, 8),
                ("sans-serif", 18).into_font().color(&BLACK),
            ))
            .map_err(|e| draw_error(&e))?;
        }
        root.present().map_err(|e| draw_error(&e))?;
    }
    sesr_data::io::save_rgb8_png(path, &pixels, width as u32, height as u32)?;
    Ok(())
}
