//! The SESR graph, emitted once for both numeric types, and the phase packing of its input and
//! output convolutions.
//!
//! # Phase packing
//!
//! XNNPACK computes a convolution as a matrix product whose output channels are processed 16
//! at a time, so SESR's two outer convolutions waste most of the work on this hardware: the
//! 5x5 output conv has 4 output channels at x2 (three quarters of each tile padded), and the
//! 5x5 input conv reads a single channel. On an input of even height and width, both are
//! computed exactly on the 2x2 space-to-depth of their input instead: a stride-1 SAME
//! convolution with a `k x k` kernel, `C` inputs and `O` outputs equals, block by block, a
//! SAME convolution on the packed image (`4C` channels, half the size) with a
//! `(k/2 + 1) | 1`-sized kernel (3x3 for 5x5) and `4O` outputs, one per output pixel of the
//! 2x2 block and channel. Every original weight appears once per block position and the
//! other taps are zero, so an int8 model keeps the very same integers (and the same
//! per-channel scales): it computes bit for bit what the unpacked graph computes, and float
//! models differ only by the order of the additions.
//!
//! * Input conv: `SPACE_TO_DEPTH(2)` of the input, the packed conv (4 -> 4f), then
//!   `DEPTH_TO_SPACE(2)` restores `f0`.
//! * Output conv at x2: `SPACE_TO_DEPTH(2)` of the long residual sum, the packed conv
//!   (4f -> 16) whose output channels are ordered so that one `DEPTH_TO_SPACE(4)` lays out the
//!   high-resolution image exactly as the reference's `depth_to_space(2)` does, and the input
//!   added to each of the 16 channels of its 2x2 block by a 1x1 conv with one-hot weights
//!   (exact: one product by one, the rest by zero). At x4 the output conv already has 16
//!   channels and stays as it is.
//!
//! On the project's 2-core machine (LiteRT 2.3, 2 threads) this takes SESR-M5 x2 with ReLU from
//! 1080p to 4K from about 600 to 470 ms in float32 and from 191 to 113-148 ms in int8 (see
//! `tests/latency.rs`).
//!
//! One job a module, each using only those before it: `conv` (a convolution's constants and
//! its phase packing), `spec` (what the writers give the emitter), `emit` (the graph).

mod conv;
mod emit;
mod spec;

pub(crate) use conv::{input_conv_channel, output_conv_channel, to_bytes, Conv, Element};
pub(crate) use emit::emit;
pub use spec::Layout;
pub(crate) use spec::{Constant, Dims, Numerics, Role};
