//! One training image as [`dataset`](crate::dataset) loads it and
//! [`sampler`](crate::sampler) cuts patches from it.

use crate::plane::PlaneU8;

/// One training image: Y planes of LR and HR, 8-bit (`round(Y * 255)`), with
/// `hr.width == scale * lr.width` and `hr.height == scale * lr.height`.
#[derive(Clone, Debug, PartialEq)]
pub struct ImagePair {
    /// File stem of the HR image, e.g. `0001`.
    pub name: String,
    /// LR Y plane.
    pub lr: PlaneU8,
    /// HR Y plane.
    pub hr: PlaneU8,
}
