//! One optimisation step of SESR. The epoch loop, validation and checkpoints build on this.

use crate::optim::Adam;
use crate::{Result, Sesr};
use tch::Tensor;

/// L1 loss of `model(lr)` against `hr`, one Adam update; returns the loss.
pub fn train_step(model: &Sesr, optimizer: &mut Adam, lr: &Tensor, hr: &Tensor) -> Result<f64> {
    optimizer.zero_grad();
    let loss = model.loss_backward(lr, hr)?;
    optimizer.step();
    Ok(loss)
}
