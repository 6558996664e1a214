//! The Winograd F(4,3) transform of a 3x3 kernel row, one definition for both CPU engines
//! that run SESR's 3x3 blocks this way (sesr-core's training kernels, sesr-runtime): four
//! neighbouring outputs of a row take six products per input instead of twelve.

/// Points per kernel row of F(4,3).
pub const POINTS: usize = 6;

/// The six points `G g` of the kernel row `g = (g0, g1, g2)` (Lavin and Gray's `G`).
pub fn kernel_row_points([g0, g1, g2]: [f32; 3]) -> [f32; POINTS] {
    [
        g0 / 4.0,
        -(g0 + g1 + g2) / 6.0,
        -(g0 - g1 + g2) / 6.0,
        g0 / 24.0 + g1 / 12.0 + g2 / 6.0,
        g0 / 24.0 - g1 / 12.0 + g2 / 6.0,
        g2,
    ]
}
