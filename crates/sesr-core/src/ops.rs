//! Tensor helpers shared by the training and the inference model.

use tch::Tensor;

/// Returns `x` (`[N, C, H, W]`) stored channels-last (NHWC strides), same values and shape.
///
/// tch has no memory-format API, but libtorch picks its channels-last convolution kernels from
/// the strides, and those run SESR about 3x faster on a CPU than NCHW ones.
pub fn channels_last(x: &Tensor) -> Tensor {
    x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

/// TensorFlow's `depth_to_space` on an NCHW tensor: channel `(i * block + j) * C + c` of pixel
/// `(h, w)` goes to channel `c` of pixel `(h * block + i, w * block + j)`.
///
/// This differs from `pixel_shuffle`, which reads channel `c * block^2 + i * block + j`; the two
/// agree only when `C == 1`. SESR x4 applies this twice, as the reference does.
pub fn depth_to_space(x: &Tensor, block: i64) -> Tensor {
    let [n, c, h, w] = x.size()[..] else {
        panic!("depth_to_space needs [N, C, H, W], got {:?}", x.size())
    };
    let out_c = c / (block * block);
    x.reshape([n, block, block, out_c, h, w])
        .permute([0, 3, 4, 1, 5, 2])
        .reshape([n, out_c, h * block, w * block])
}
