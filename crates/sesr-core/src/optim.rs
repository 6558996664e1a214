//! Adam with AMSGrad, as the reference trains (`tf.keras.optimizers.Adam(amsgrad=True)`).
//!
//! Written here rather than taken from tch because its state (moments, step) must be saved
//! and restored for `--resume`, and libtorch's C++ optimizers do not expose it to Rust.
//! The update is Keras' formulation, epsilon outside the bias correction:
//! `lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t)`, `p -= lr_t * m / (sqrt(max(v_hat, v)) + eps)`.

use crate::{CoreError, Result};
use std::collections::HashMap;
use tch::Tensor;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// Keras' default, 1e-7.
    pub epsilon: f64,
    pub amsgrad: bool,
}

impl AdamConfig {
    /// The reference's optimizer: Adam, AMSGrad, learning rate 2e-4.
    pub fn reference() -> Self {
        AdamConfig {
            learning_rate: 2e-4,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            amsgrad: true,
        }
    }
}

struct Slot {
    param: Tensor,
    m: Tensor,
    v: Tensor,
    v_hat: Tensor,
}

/// The optimizer over a set of named parameters.
pub struct Adam {
    config: AdamConfig,
    step: u64,
    slots: Vec<(String, Slot)>,
}

impl Adam {
    /// Optimises `params` (name, tensor), e.g. `model.named_tensors()`.
    pub fn new(config: AdamConfig, params: Vec<(String, Tensor)>) -> Self {
        let slots = params
            .into_iter()
            .map(|(name, param)| {
                let zeros = || param.zeros_like();
                let slot = Slot {
                    m: zeros(),
                    v: zeros(),
                    v_hat: zeros(),
                    param,
                };
                (name, slot)
            })
            .collect();
        Adam {
            config,
            step: 0,
            slots,
        }
    }

    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    pub fn set_learning_rate(&mut self, learning_rate: f64) {
        self.config.learning_rate = learning_rate;
    }

    /// Number of updates applied so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Clears the gradients of every parameter.
    pub fn zero_grad(&mut self) {
        for (_, slot) in &mut self.slots {
            slot.param.zero_grad();
        }
    }

    /// Applies one update from the parameters' current gradients.
    pub fn step(&mut self) {
        self.step += 1;
        let AdamConfig {
            learning_rate,
            beta1,
            beta2,
            epsilon,
            amsgrad,
        } = self.config;
        let t = self.step as i32;
        let lr_t = learning_rate * (1.0 - beta2.powi(t)).sqrt() / (1.0 - beta1.powi(t));
        tch::no_grad(|| {
            for (_, s) in &mut self.slots {
                let grad = s.param.grad();
                if !grad.defined() {
                    continue;
                }
                let _ = s.m.g_mul_scalar_(beta1).g_add_(&(&grad * (1.0 - beta1)));
                let _ =
                    s.v.g_mul_scalar_(beta2)
                        .g_add_(&(grad.square() * (1.0 - beta2)));
                let denominator = if amsgrad {
                    s.v_hat.copy_(&s.v_hat.maximum(&s.v));
                    s.v_hat.sqrt()
                } else {
                    s.v.sqrt()
                };
                let _ = s.param.g_sub_(&(&s.m / (denominator + epsilon) * lr_t));
            }
        });
    }

    /// The optimizer's state as named tensors (`m.<param>`, `v.<param>`, `v_hat.<param>`).
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![];
        for (name, s) in &self.slots {
            out.push((format!("m.{name}"), s.m.shallow_clone()));
            out.push((format!("v.{name}"), s.v.shallow_clone()));
            out.push((format!("v_hat.{name}"), s.v_hat.shallow_clone()));
        }
        out
    }

    /// Restores state saved by [`Adam::state_tensors`] and the step count.
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>, step: u64) -> Result<()> {
        tch::no_grad(|| {
            for (name, s) in &mut self.slots {
                for (prefix, slot) in [("m", &mut s.m), ("v", &mut s.v), ("v_hat", &mut s.v_hat)] {
                    let key = format!("{prefix}.{name}");
                    let saved = tensors.get(&key).ok_or_else(|| {
                        CoreError::InvalidConfig(format!("optimizer state has no tensor `{key}`"))
                    })?;
                    if saved.size() != slot.size() {
                        return Err(CoreError::InvalidConfig(format!(
                            "optimizer state `{key}` has shape {:?}, the parameter has {:?}",
                            saved.size(),
                            slot.size()
                        )));
                    }
                    slot.copy_(saved);
                }
            }
            Ok(())
        })?;
        self.step = step;
        Ok(())
    }
}
