//! ITU-R BT.601 "studio swing" colour conversion, as MATLAB's `rgb2ycbcr` / `ycbcr2rgb` and
//! the reference SESR code do it.
//!
//! All values are on the [0, 1] scale of doubles in MATLAB: for RGB in [0, 1],
//!
//! ```text
//! Y  = (16  + ( 65.481 R + 128.553 G +  24.966 B)) / 255     in [16/255, 235/255]
//! Cb = (128 + (-37.797 R -  74.203 G + 112.000 B)) / 255     in [16/255, 240/255]
//! Cr = (128 + (112.000 R -  93.786 G -  18.214 B)) / 255     in [16/255, 240/255]
//! ```
//!
//! The arithmetic is done in `f64` and rounded to `f32` once.

use crate::plane::{Plane, PlaneF32, PlaneU8};

/// The BT.601 matrix applied to RGB in [0, 1], giving YCbCr on the 0..255 scale (before the
/// offsets), rows Y, Cb, Cr.
pub const RGB_TO_YCBCR: [[f64; 3]; 3] = [
    [65.481, 128.553, 24.966],
    [-37.797, -74.203, 112.0],
    [112.0, -93.786, -18.214],
];

/// Offsets added after [`RGB_TO_YCBCR`], on the 0..255 scale.
pub const YCBCR_OFFSET: [f64; 3] = [16.0, 128.0, 128.0];

/// The inverse of [`RGB_TO_YCBCR`], computed at compile time (MATLAB's `ycbcr2rgb` uses
/// `inv(T)` in the same way).
pub const YCBCR_TO_RGB: [[f64; 3]; 3] = invert3(RGB_TO_YCBCR);

const fn invert3(m: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let c00 = m[1][1] * m[2][2] - m[1][2] * m[2][1];
    let c01 = m[1][2] * m[2][0] - m[1][0] * m[2][2];
    let c02 = m[1][0] * m[2][1] - m[1][1] * m[2][0];
    let det = m[0][0] * c00 + m[0][1] * c01 + m[0][2] * c02;
    [
        [
            c00 / det,
            (m[0][2] * m[2][1] - m[0][1] * m[2][2]) / det,
            (m[0][1] * m[1][2] - m[0][2] * m[1][1]) / det,
        ],
        [
            c01 / det,
            (m[0][0] * m[2][2] - m[0][2] * m[2][0]) / det,
            (m[0][2] * m[1][0] - m[0][0] * m[1][2]) / det,
        ],
        [
            c02 / det,
            (m[0][1] * m[2][0] - m[0][0] * m[2][1]) / det,
            (m[0][0] * m[1][1] - m[0][1] * m[1][0]) / det,
        ],
    ]
}

#[inline]
fn y_f64(r: f64, g: f64, b: f64) -> f64 {
    let t = RGB_TO_YCBCR[0];
    (YCBCR_OFFSET[0] + (t[0] * r + t[1] * g + t[2] * b)) / 255.0
}

/// Luminance exactly as the reference SESR code computes it, for RGB in [0, 1]:
/// `Y = (16 + (65.481 R + 128.553 G + 24.966 B)) / 255`, so white gives 235/255 and black
/// 16/255.
#[inline]
pub fn rgb_to_y(r: f32, g: f32, b: f32) -> f32 {
    y_f64(f64::from(r), f64::from(g), f64::from(b)) as f32
}

/// Luminance of an 8-bit RGB pixel as 8 bits, as MATLAB's `rgb2ycbcr` on `uint8` data does it
/// (computed in double, rounded): `round(16 + (65.481 r + 128.553 g + 24.966 b) / 255)`.
#[inline]
pub fn rgb8_to_y8(r: u8, g: u8, b: u8) -> u8 {
    let y = y_f64(
        f64::from(r) / 255.0,
        f64::from(g) / 255.0,
        f64::from(b) / 255.0,
    );
    // Y*255 lies in [16, 235]: the cast cannot saturate.
    (y * 255.0).round() as u8
}

/// Full RGB -> YCbCr, all on the [0, 1] scale (MATLAB `rgb2ycbcr` on doubles).
#[inline]
pub fn rgb_to_ycbcr(r: f32, g: f32, b: f32) -> [f32; 3] {
    let rgb = [f64::from(r), f64::from(g), f64::from(b)];
    let mut out = [0f32; 3];
    for (o, (row, off)) in out
        .iter_mut()
        .zip(RGB_TO_YCBCR.iter().zip(YCBCR_OFFSET.iter()))
    {
        *o = ((off + row[0] * rgb[0] + row[1] * rgb[1] + row[2] * rgb[2]) / 255.0) as f32;
    }
    out
}

/// Full YCbCr -> RGB, all on the [0, 1] scale (MATLAB `ycbcr2rgb` on doubles). The result is
/// not clamped: out-of-gamut YCbCr gives RGB outside [0, 1]; [`crate::Plane::quantize_u8`]
/// clamps when saving.
#[inline]
pub fn ycbcr_to_rgb(y: f32, cb: f32, cr: f32) -> [f32; 3] {
    let v = [
        f64::from(y) * 255.0 - YCBCR_OFFSET[0],
        f64::from(cb) * 255.0 - YCBCR_OFFSET[1],
        f64::from(cr) * 255.0 - YCBCR_OFFSET[2],
    ];
    let mut out = [0f32; 3];
    for (o, row) in out.iter_mut().zip(YCBCR_TO_RGB.iter()) {
        *o = (row[0] * v[0] + row[1] * v[1] + row[2] * v[2]) as f32;
    }
    out
}

fn assert_same_size<T>(planes: &[Plane<T>; 3]) {
    assert!(
        planes[1].size() == planes[0].size() && planes[2].size() == planes[0].size(),
        "colour planes differ in size: {:?}, {:?}, {:?}",
        planes[0].size(),
        planes[1].size(),
        planes[2].size()
    );
}

/// Y plane of an RGB image given as three planes in [0, 1].
///
/// # Panics
/// When the three planes differ in size.
pub fn rgb_planes_to_y(rgb: &[PlaneF32; 3]) -> PlaneF32 {
    assert_same_size(rgb);
    let [r, g, b] = rgb;
    let data = r
        .data
        .iter()
        .zip(&g.data)
        .zip(&b.data)
        .map(|((&r, &g), &b)| rgb_to_y(r, g, b))
        .collect();
    Plane {
        width: r.width,
        height: r.height,
        data,
    }
}

/// 8-bit Y plane of an 8-bit RGB image (see [`rgb8_to_y8`]).
///
/// # Panics
/// When the three planes differ in size.
pub fn rgb8_planes_to_y8(rgb: &[PlaneU8; 3]) -> PlaneU8 {
    assert_same_size(rgb);
    let [r, g, b] = rgb;
    let data = r
        .data
        .iter()
        .zip(&g.data)
        .zip(&b.data)
        .map(|((&r, &g), &b)| rgb8_to_y8(r, g, b))
        .collect();
    Plane {
        width: r.width,
        height: r.height,
        data,
    }
}

/// RGB planes -> [Y, Cb, Cr] planes, all on the [0, 1] scale.
///
/// # Panics
/// When the three planes differ in size.
pub fn rgb_planes_to_ycbcr(rgb: &[PlaneF32; 3]) -> [PlaneF32; 3] {
    assert_same_size(rgb);
    convert_planes(rgb, rgb_to_ycbcr)
}

/// [Y, Cb, Cr] planes -> RGB planes, all on the [0, 1] scale, not clamped.
///
/// # Panics
/// When the three planes differ in size.
pub fn ycbcr_planes_to_rgb(ycbcr: &[PlaneF32; 3]) -> [PlaneF32; 3] {
    assert_same_size(ycbcr);
    convert_planes(ycbcr, ycbcr_to_rgb)
}

fn convert_planes(src: &[PlaneF32; 3], f: impl Fn(f32, f32, f32) -> [f32; 3]) -> [PlaneF32; 3] {
    let (w, h) = src[0].size();
    let mut out = [
        PlaneF32::new(w, h),
        PlaneF32::new(w, h),
        PlaneF32::new(w, h),
    ];
    for i in 0..w * h {
        let v = f(src[0].data[i], src[1].data[i], src[2].data[i]);
        for (plane, value) in out.iter_mut().zip(v) {
            plane.data[i] = value;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_matrix_is_inverse() {
        let identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        for (i, row) in RGB_TO_YCBCR.iter().enumerate() {
            for (j, want) in identity[i].iter().enumerate() {
                let s: f64 = (0..3).map(|k| row[k] * YCBCR_TO_RGB[k][j]).sum();
                assert!((s - want).abs() < 1e-12, "({i},{j}) = {s}");
            }
        }
        // MATLAB: inv(T) * 255, first column is 255/219 = 1.164383...
        assert!((YCBCR_TO_RGB[0][0] * 255.0 - 1.164_383_561_6).abs() < 1e-6);
    }

    #[test]
    fn y_of_known_colours() {
        assert_eq!(rgb_to_y(1.0, 1.0, 1.0), 235.0 / 255.0);
        assert_eq!(rgb_to_y(0.0, 0.0, 0.0), 16.0 / 255.0);
        assert!((rgb_to_y(1.0, 0.0, 0.0) - (16.0 + 65.481) / 255.0).abs() < 1e-7);
        assert_eq!(rgb8_to_y8(255, 255, 255), 235);
        assert_eq!(rgb8_to_y8(0, 0, 0), 16);
        // 16 + 65.481 = 81.481 -> 81; 16 + 128.553 = 144.553 -> 145; 16 + 24.966 -> 41.
        assert_eq!(rgb8_to_y8(255, 0, 0), 81);
        assert_eq!(rgb8_to_y8(0, 255, 0), 145);
        assert_eq!(rgb8_to_y8(0, 0, 255), 41);
    }

    #[test]
    fn ycbcr_of_known_colours() {
        let [y, cb, cr] = rgb_to_ycbcr(0.5, 0.5, 0.5);
        assert!((cb - 128.0 / 255.0).abs() < 1e-6 && (cr - 128.0 / 255.0).abs() < 1e-6);
        assert!((y - (16.0 + 219.0 * 0.5) / 255.0).abs() < 1e-6);
        let [_, cb, _] = rgb_to_ycbcr(0.0, 0.0, 1.0);
        assert!((cb - 240.0 / 255.0).abs() < 1e-6);
    }

    #[test]
    fn round_trip_is_exact_to_float_precision() {
        for r in 0..=8 {
            for g in 0..=8 {
                for b in 0..=8 {
                    let rgb = [r as f32 / 8.0, g as f32 / 8.0, b as f32 / 8.0];
                    let [y, cb, cr] = rgb_to_ycbcr(rgb[0], rgb[1], rgb[2]);
                    let back = ycbcr_to_rgb(y, cb, cr);
                    for c in 0..3 {
                        assert!((back[c] - rgb[c]).abs() < 1e-5, "{rgb:?} -> {back:?}");
                    }
                }
            }
        }
    }
}
