//! The SESR network: the training model (expanded weights, expanded or collapsed forward) and
//! the collapsed inference model.
//!
//! - `block`: one expanded linear block, and how a collapsed conv runs;
//! - `graph`: the graph around the layers, shared by both models;
//! - `training`: [`Sesr`], the training model;
//! - `grow`: starting a deeper or wider preset from a trained one, or any preset from
//!   collapsed weights, the function unchanged;
//! - `collapsed`: [`CollapsedSesr`], the inference model;
//! - `load`: the inference model from any checkpoint or shipped model, and as `sesr-net`'s
//!   format-neutral description (it alone knows both models);
//! - `calibrate`: post-training int8 ranges observed on images.

mod block;
mod calibrate;
mod collapsed;
mod graph;
mod grow;
mod load;
mod training;

pub use block::LinearBlock;
pub use calibrate::calibrated_ranges;
pub use collapsed::{CollapsedSesr, ObservedRanges};
pub use training::Sesr;
