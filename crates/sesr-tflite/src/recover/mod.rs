//! Recovering the integer network from an int8 SESR `.tflite` file written by this crate, as a
//! [`sesr_net::Int8Network`], which does not depend on the file's input size.
//!
//! An exported file has a fixed input size, but its integers (weights, int32 biases, per-channel
//! scales, zero points) do not depend on it: [`read_int8`] reads them back so that a runtime can
//! run the same integer arithmetic on an image of any size, and another writer can write the same
//! numbers. Both layouts are recognised: [`Layout::Plain`] operator for operator, and
//! [`Layout::Fast`], whose phase-packed outer convolutions are unpacked to the plain 5x5 ones and
//! checked by packing them again (see [`crate::graph`]: every original weight appears once per
//! block position, so the packed file must be reproduced bit for bit). The blocks are either
//! convs with a fused ReLU (QAT exports) or convs followed by an int8 PRELU operator
//! (post-training calibration of a PReLU model). Anything else (a float model, an operator or a
//! shape this graph does not have, a model made by TensorFlow's converter with another
//! structure) is an [`TfliteError::InvalidGraph`](crate::TfliteError::InvalidGraph) that names
//! the operator at fault. The Ethos-U layouts (`Layout::is_npu`) are refused with an error
//! that says so: they hold the same integers as the CPU-target file of the same model.
//!
//! One job a module, each using only those before it: `matcher` (one tensor or operator at a
//! time), `unpack` (phase-packed convs back to plain ones), `parts` (the graph, part by part).

mod matcher;
mod parts;
mod unpack;

use crate::error::{Result, TfliteError};
use crate::graph::Layout;
use crate::read::Model;
use crate::schema::BuiltinOp;
use matcher::{unsupported, Matcher};
use sesr_net::Int8Network;

/// What an int8 `.tflite` holds: the integer network, and what only the file has (the input
/// size it was exported for and its layout).
#[derive(Clone, Debug, PartialEq)]
pub struct Int8File {
    /// The integer network, the same for every export size and layout.
    pub network: Int8Network,
    /// Height of the file's input.
    pub height: usize,
    /// Width of the file's input.
    pub width: usize,
    /// The file's layout ([`Layout::Fast`] when any convolution was phase-packed).
    pub layout: Layout,
}

/// Reads the integer network from a model written by [`crate::write_int8`] (either layout).
pub fn read_int8(model: &Model) -> Result<Int8File> {
    let graph = model
        .subgraphs
        .first()
        .ok_or_else(|| unsupported("the model has no subgraph".into()))?;
    // The Ethos-U layouts hold the same integers, but only the CPU layouts are read back.
    let npu_ops = [
        BuiltinOp::TRANSPOSE_CONV,
        BuiltinOp::RESHAPE,
        BuiltinOp::CONCATENATION,
    ];
    if let Some(op) = graph
        .operators
        .iter()
        .filter_map(|op| model.op(op))
        .find(|op| npu_ops.contains(op))
    {
        return Err(TfliteError::InvalidGraph(format!(
            "this is an Ethos-U export (it has {op}), laid out for Vela and the NPU; read \
             the CPU-target file of the same model (`sesr-cli export --format int8`, which \
             holds the same integers)"
        )));
    }
    Matcher {
        model,
        graph,
        next: 0,
    }
    .network()
}
