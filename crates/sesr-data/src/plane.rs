//! One-channel images stored row-major.

/// A single image channel, row-major: the pixel at column `x`, row `y` is
/// `data[y * width + x]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Plane<T> {
    /// Number of columns.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
    /// `width * height` samples, row after row.
    pub data: Vec<T>,
}

/// An 8-bit plane (0..=255).
pub type PlaneU8 = Plane<u8>;
/// A floating-point plane, normally with values in [0, 1].
pub type PlaneF32 = Plane<f32>;

impl<T> Plane<T> {
    /// `(width, height)`.
    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }
}

impl<T: Copy + Default> Plane<T> {
    /// A `width` x `height` plane filled with `T::default()`.
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            data: vec![T::default(); width * height],
        }
    }
}

impl<T: Copy> Plane<T> {
    /// A `width` x `height` plane with every sample equal to `value`.
    pub fn filled(width: usize, height: usize, value: T) -> Self {
        Self {
            width,
            height,
            data: vec![value; width * height],
        }
    }

    /// Wraps `data`, returning `None` when its length is not `width * height`.
    pub fn from_vec(width: usize, height: usize, data: Vec<T>) -> Option<Self> {
        (data.len() == width * height).then_some(Self {
            width,
            height,
            data,
        })
    }

    /// A plane whose sample at (x, y) is `f(x, y)`.
    pub fn from_fn(width: usize, height: usize, mut f: impl FnMut(usize, usize) -> T) -> Self {
        let mut data = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                data.push(f(x, y));
            }
        }
        Self {
            width,
            height,
            data,
        }
    }

    /// The sample at column `x`, row `y`.
    ///
    /// # Panics
    /// When (x, y) lies outside the plane.
    #[inline]
    pub fn get(&self, x: usize, y: usize) -> T {
        assert!(
            x < self.width && y < self.height,
            "pixel ({x}, {y}) outside a {}x{} plane",
            self.width,
            self.height
        );
        self.data[y * self.width + x]
    }

    /// Sets the sample at column `x`, row `y`.
    ///
    /// # Panics
    /// When (x, y) lies outside the plane.
    #[inline]
    pub fn set(&mut self, x: usize, y: usize, value: T) {
        assert!(
            x < self.width && y < self.height,
            "pixel ({x}, {y}) outside a {}x{} plane",
            self.width,
            self.height
        );
        self.data[y * self.width + x] = value;
    }

    /// Row `y` as a slice.
    #[inline]
    pub fn row(&self, y: usize) -> &[T] {
        &self.data[y * self.width..(y + 1) * self.width]
    }

    /// The `w` x `h` window whose top-left corner is (x, y).
    ///
    /// # Panics
    /// When the window does not fit inside the plane.
    pub fn crop(&self, x: usize, y: usize, w: usize, h: usize) -> Self {
        assert!(
            x + w <= self.width && y + h <= self.height,
            "crop {w}x{h} at ({x}, {y}) does not fit a {}x{} plane",
            self.width,
            self.height
        );
        let mut data = Vec::with_capacity(w * h);
        for row in y..y + h {
            let start = row * self.width + x;
            data.extend_from_slice(&self.data[start..start + w]);
        }
        Self {
            width: w,
            height: h,
            data,
        }
    }

    /// Crops the right and bottom edges so both sides are multiples of `scale` (MATLAB
    /// `modcrop`, which keeps the top-left corner).
    pub fn modcrop(&self, scale: usize) -> Self {
        let scale = scale.max(1);
        self.crop(
            0,
            0,
            self.width - self.width % scale,
            self.height - self.height % scale,
        )
    }

    /// Applies `f` to every sample.
    pub fn map<U>(&self, f: impl Fn(T) -> U) -> Plane<U> {
        Plane {
            width: self.width,
            height: self.height,
            data: self.data.iter().map(|&v| f(v)).collect(),
        }
    }
}

impl PlaneU8 {
    /// Converts to float: `v / 255`.
    pub fn to_f32(&self) -> PlaneF32 {
        self.map(|v| f32::from(v) / 255.0)
    }
}

impl PlaneF32 {
    /// Quantizes values in [0, 1] to 8 bits: `round(v * 255)`, clamped to 0..=255
    /// (NaN becomes 0).
    pub fn quantize_u8(&self) -> PlaneU8 {
        self.map(quantize)
    }
}

/// `round(v * 255)` (halves away from zero) clamped to 0..=255; NaN gives 0.
#[inline]
pub fn quantize(v: f32) -> u8 {
    // `v * 255` and `+ 0.5` are exact in f64 (an f32 has 24 significant bits), so the
    // truncating `as` rounds exactly like `round()` for every value that survives the clamp;
    // `as` saturates and maps NaN to 0, which is the clamp. Unlike `round()` this vectorizes
    // on baseline x86-64 (video converts 8 million values per 4K frame).
    (f64::from(v) * 255.0 + 0.5) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_and_get() {
        let p = Plane::from_fn(5, 4, |x, y| (10 * y + x) as u8);
        assert_eq!(p.get(3, 2), 23);
        let c = p.crop(1, 1, 3, 2);
        assert_eq!(c.size(), (3, 2));
        assert_eq!(c.data, vec![11, 12, 13, 21, 22, 23]);
        let m = p.modcrop(2);
        assert_eq!(m.size(), (4, 4));
        assert_eq!(m.get(3, 3), 33);
    }

    #[test]
    fn quantize_rounds_and_clamps() {
        assert_eq!(quantize(0.0), 0);
        assert_eq!(quantize(1.0), 255);
        assert_eq!(quantize(-0.3), 0);
        assert_eq!(quantize(1.7), 255);
        assert_eq!(quantize(f32::NAN), 0);
        assert_eq!(quantize(0.5 / 255.0 + 1e-6), 1);
        for v in 0..=255u8 {
            assert_eq!(quantize(f32::from(v) / 255.0), v);
        }
        let p = Plane::from_fn(16, 16, |x, y| (x * 16 + y) as u8);
        assert_eq!(p.to_f32().quantize_u8(), p);
    }

    #[test]
    fn quantize_equals_round_then_clamp_at_every_half_step() {
        let reference = |v: f32| (f64::from(v) * 255.0).round().clamp(0.0, 255.0) as u8;
        for step in -2..=2 * 256 + 2 {
            let half = (step as f32 + 0.5) / 255.0;
            let mut v = half;
            // The 64 floats on each side of every rounding boundary.
            for _ in 0..64 {
                v = f32::from_bits(v.to_bits() - 1);
            }
            for _ in 0..128 {
                assert_eq!(quantize(v), reference(v), "{v:e}");
                v = f32::from_bits(v.to_bits() + 1);
            }
        }
    }

    #[test]
    fn from_vec_checks_length() {
        assert!(Plane::from_vec(2, 2, vec![0u8; 3]).is_none());
        assert!(Plane::from_vec(2, 2, vec![0u8; 4]).is_some());
    }
}
