//! Whole images: the luminance through SESR, the colour by bicubic.

use sesr_data::io::LoadedImage;
use sesr_data::plane::PlaneF32;
use sesr_data::protocol::merge_sr_y;
use sesr_data::DataError;

/// Upscales an image by `scale`, its BT.601 studio-swing Y by `upscale_y` (any SESR engine),
/// Cb and Cr by MATLAB-style bicubic, merged back to RGB; a gray image stays gray. Values
/// are not clamped (saving clamps).
///
/// This is the one place that defines how `sesr-cli upscale` treats colour, whichever
/// engine runs the network.
pub fn upscale_image_with<E: From<DataError>>(
    image: &LoadedImage,
    scale: usize,
    upscale_y: impl FnOnce(&PlaneF32) -> Result<PlaneF32, E>,
) -> Result<LoadedImage, E> {
    let sr_y = upscale_y(&image.to_y())?;
    Ok(merge_sr_y(image, &sr_y, scale)?)
}
