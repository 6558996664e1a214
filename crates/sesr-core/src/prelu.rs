//! PReLU for the libtorch path of training (expanded mode, the first QAT step, widths other than
//! f = 16 and 32, CPUs without AVX-512; the collapsed step of f = 16 and 32 runs on `cpu_step`):
//! a fused channels-last kernel with its own backward.
//!
//! libtorch's `_prelu_kernel_backward` takes about 6 ms per SESR-M5 activation (32x16x64x64)
//! on the 2-core CPU; `csrc/prelu.cpp` does the same forward and backward in one memory-bound
//! pass each (about 1 and 2 ms), as a libtorch autograd Function, so gradients flow through tch
//! as usual. Other layouts, dtypes and devices use libtorch's PReLU.
#![allow(unsafe_code)]

use std::ffi::{c_char, CStr};
use tch::{Device, Kind, TchError, Tensor};
use torch_sys::C_tensor;

extern "C" {
    fn sesr_prelu_channels_last(
        input: *const C_tensor,
        slope: *const C_tensor,
        error: *mut c_char,
    ) -> *mut C_tensor;
}

/// Whether `x` (`[N, C, H, W]`) is stored channels-last without gaps, the layout of every
/// activation in the training model (see [`crate::ops::channels_last`]).
fn is_dense_channels_last(x: &Tensor) -> bool {
    let (size, stride) = (x.size(), x.stride());
    let [_, c, h, w] = size[..] else { return false };
    stride == [h * w * c, 1, w * c, c]
}

/// Whether [`prelu`] runs the fused kernel on these operands: float32 on the CPU, dense
/// channels-last, one slope per channel, not empty. Anything else goes to libtorch's PReLU.
pub fn uses_fused_kernel(x: &Tensor, slope: &Tensor) -> bool {
    x.device() == Device::Cpu
        && x.kind() == Kind::Float
        && slope.kind() == Kind::Float
        && x.numel() > 0
        && is_dense_channels_last(x)
        && slope.size() == [x.size()[1]]
}

/// `max(x, 0) + slope[c] * min(x, 0)`, with one slope per channel of `x` (`[N, C, H, W]`).
///
/// Like tch's own `prelu`, panics on a libtorch error (an allocation failure, say); see
/// [`f_prelu`].
pub fn prelu(x: &Tensor, slope: &Tensor) -> Tensor {
    f_prelu(x, slope).expect("PReLU")
}

/// [`prelu`], returning libtorch's errors.
pub fn f_prelu(x: &Tensor, slope: &Tensor) -> Result<Tensor, TchError> {
    if !uses_fused_kernel(x, slope) {
        return x.f_prelu(slope);
    }
    let mut error = [0 as c_char; 512];
    // SAFETY: both pointers are live tch tensors for the duration of the call; the C++ side
    // returns a fresh heap-allocated at::Tensor that `from_ptr` takes ownership of, or null
    // with a NUL-terminated message in `error` (512 bytes, as the C++ side assumes).
    let out = unsafe { sesr_prelu_channels_last(x.as_ptr(), slope.as_ptr(), error.as_mut_ptr()) };
    if out.is_null() {
        // SAFETY: the C++ side wrote a NUL-terminated string into `error` (snprintf).
        let message = unsafe { CStr::from_ptr(error.as_ptr()) };
        return Err(TchError::Torch(format!(
            "fused PReLU: {}",
            message.to_string_lossy()
        )));
    }
    // SAFETY: `out` is non-null and owned by us (see above).
    Ok(unsafe { Tensor::from_ptr(out) })
}
