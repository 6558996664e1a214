//! Recovering the integer network from an int8 SESR `.tflite` file written by this crate, as a
//! description that no longer depends on the file's input size.
//!
//! An exported file has a fixed input size, but its integers (weights, int32 biases, per-channel
//! scales, zero points) do not depend on it: [`Int8Network::from_model`] reads them back so that a
//! runtime can run the same integer arithmetic on an image of any size. Both layouts are
//! recognised: [`Layout::Plain`](crate::Layout::Plain) operator for operator, and
//! [`Layout::Fast`](crate::Layout::Fast), whose phase-packed outer convolutions are unpacked to the
//! plain 5x5 ones and checked by packing them again (see [`crate::graph`]: every original weight
//! appears once per block position, so the packed file must be reproduced bit for bit). The blocks
//! are either convs with a fused ReLU (QAT exports) or convs followed by an int8 PRELU operator
//! (post-training calibration of a PReLU model), whose slopes and parameters are kept in
//! [`Int8Prelu`]. Anything else (a float model, an operator or a shape this graph does not have, a
//! model made by TensorFlow's converter with another structure) is an
//! [`TfliteError::InvalidGraph`](crate::TfliteError::InvalidGraph) that names the operator at
//! fault.
//!
//! One job a module, each using only those before it: `network` (the recovered types),
//! `matcher` (one tensor or operator at a time), `unpack` (phase-packed convs back to plain
//! ones), `parts` (the graph, part by part).

mod matcher;
mod network;
mod parts;
mod unpack;

pub use network::{Int8Conv, Int8Network, Int8Prelu};

use crate::error::Result;
use crate::read::Model;
use matcher::{unsupported, Matcher};

impl Int8Network {
    /// Reads the network from a model written by [`crate::write_int8`] (either layout).
    pub fn from_model(model: &Model) -> Result<Self> {
        let graph = model
            .subgraphs
            .first()
            .ok_or_else(|| unsupported("the model has no subgraph".into()))?;
        Matcher {
            model,
            graph,
            next: 0,
        }
        .network()
    }
}
