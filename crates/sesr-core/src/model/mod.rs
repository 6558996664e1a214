//! The SESR network: the training model (expanded weights, expanded or collapsed forward) and
//! the collapsed inference model.
//!
//! - `block`: one expanded linear block, and how a collapsed conv runs;
//! - `graph`: the graph around the layers, shared by both models;
//! - `training`: [`Sesr`], the training model;
//! - `grow`: starting a deeper preset from a trained one, the function unchanged;
//! - `collapsed`: [`CollapsedSesr`], the inference model.

mod block;
mod collapsed;
mod graph;
mod grow;
mod training;

pub use block::LinearBlock;
pub use collapsed::{CollapsedSesr, ObservedRanges};
pub use training::Sesr;
