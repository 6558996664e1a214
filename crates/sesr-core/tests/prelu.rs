//! The fused channels-last PReLU against libtorch's own, values and gradients.

use sesr_core::ops::channels_last;
use sesr_core::prelu::{prelu, uses_fused_kernel};
use tch::{Device, Kind, Tensor};

/// Forward and backward of `f` on `x` and `slope` (fresh leaves), upstream gradient `grad`.
fn run(
    f: impl Fn(&Tensor, &Tensor) -> Tensor,
    x: &Tensor,
    slope: &Tensor,
    grad: &Tensor,
) -> (Tensor, Tensor, Tensor) {
    let x = x.detach().copy().set_requires_grad(true);
    let slope = slope.detach().copy().set_requires_grad(true);
    let y = f(&x, &slope);
    // y . grad summed: its gradient with respect to y is `grad`.
    (&y * grad).sum(Kind::Float).backward();
    (y.detach(), x.grad(), slope.grad())
}

fn max_abs(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

fn check(channels: i64) {
    let opts = (Kind::Float, Device::Cpu);
    // Half the values negative, and exact zeros, where PReLU's derivative takes the slope side.
    let shape = [4, channels, 17, 9];
    let x = channels_last(&(Tensor::randn(shape, opts).relu() - Tensor::randn(shape, opts).relu()));
    let slope = Tensor::rand([channels], opts) - 0.3;
    let grad = channels_last(&Tensor::randn(shape, opts));
    assert!(uses_fused_kernel(&x, &slope));
    let (y, gx, gs) = run(prelu, &x, &slope, &grad);
    let (y_ref, gx_ref, gs_ref) = run(|x, s| x.prelu(s), &x, &slope, &grad);
    assert_eq!(max_abs(&y, &y_ref), 0.0, "forward, {channels} channels");
    assert_eq!(
        max_abs(&gx, &gx_ref),
        0.0,
        "input gradient, {channels} channels"
    );
    // The slope gradient is a sum over 612 values per channel, in another order.
    let tolerance = 1e-5 * gs_ref.abs().max().double_value(&[]).max(1.0);
    assert!(
        max_abs(&gs, &gs_ref) <= tolerance,
        "slope gradient, {channels} channels: {gs} vs {gs_ref}"
    );
    // The output keeps the channels-last layout the next convolution wants.
    assert_eq!(y.stride(), channels_last(&y).stride());
    assert_eq!(gx.size(), x.size());
}

#[test]
fn fused_prelu_equals_libtorch_sse_path() {
    check(16);
    check(32);
}

#[test]
fn fused_prelu_equals_libtorch_scalar_path() {
    // Channel counts that are not a multiple of 4 take the scalar loop.
    check(3);
    check(6);
}

#[test]
fn other_layouts_fall_back_to_libtorch() {
    let opts = (Kind::Float, Device::Cpu);
    let x = Tensor::randn([2, 16, 5, 7], opts); // NCHW
    let slope = Tensor::rand([16], opts);
    let grad = Tensor::randn([2, 16, 5, 7], opts);
    assert!(!uses_fused_kernel(&x, &slope));
    let (y, gx, gs) = run(prelu, &x, &slope, &grad);
    let (y_ref, gx_ref, gs_ref) = run(|x, s| x.prelu(s), &x, &slope, &grad);
    assert_eq!(max_abs(&y, &y_ref), 0.0);
    assert_eq!(max_abs(&gx, &gx_ref), 0.0);
    assert_eq!(max_abs(&gs, &gs_ref), 0.0);
    let double = channels_last(&Tensor::randn([2, 16, 5, 7], (Kind::Double, Device::Cpu)));
    let double_slope = slope.to_kind(Kind::Double);
    assert!(!uses_fused_kernel(&double, &double_slope));
    assert_eq!(prelu(&double, &double_slope).kind(), Kind::Double);
    let empty = channels_last(&Tensor::zeros([0, 16, 5, 7], opts));
    assert!(!uses_fused_kernel(&empty, &slope));
    assert_eq!(prelu(&empty, &slope).size(), [0, 16, 5, 7]);
}
