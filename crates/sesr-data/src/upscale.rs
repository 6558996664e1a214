//! What every engine that runs SESR offers the programs around it: a luminance plane in, the
//! same plane upscaled out. `sesr-runtime`'s `Upscaler` and `sesr-core`'s libtorch model both
//! implement it, so evaluation, file upscaling and pictures take any engine.

use crate::plane::PlaneF32;

/// An engine's error, boxed: each engine keeps its own error type.
pub type UpscaleError = Box<dyn std::error::Error + Send + Sync>;

/// Upscales luminance planes.
pub trait UpscaleY {
    /// The upscaling factor.
    fn scale(&self) -> usize;

    /// What runs the network, in words, for reports (e.g. `int8 .tflite on sesr-runtime`).
    fn engine(&self) -> String;

    /// `y` (values in [0, 1]) upscaled by [`UpscaleY::scale`].
    fn upscale_y(&self, y: &PlaneF32) -> Result<PlaneF32, UpscaleError>;

    /// How far, in input pixels, an output pixel sees (SESR: `SesrConfig::receptive_radius`,
    /// m + 4): a tile of the input with this halo on every side gives its core's output
    /// exactly, so photos can be upscaled tile by tile. `None` when the engine does not say;
    /// tiling then uses a halo wider than any SESR preset needs.
    fn receptive_radius(&self) -> Option<usize> {
        None
    }

    /// The precision of the luminance the network computes on: `Some(8)` for an int8 network
    /// (8-bit input and output), `None` for float engines.
    fn luma_bits(&self) -> Option<u32> {
        None
    }
}
