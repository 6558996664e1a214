//! The checks of a decoded model: every index in range, shapes non-negative, quantization
//! parameters consistent with their tensor, and buffers as long as their tensor's shape.

use super::model::{Model, Operator, SubGraph, Tensor};
use crate::error::{Result, TfliteError};

fn bad(what: String) -> Result<()> {
    Err(TfliteError::Malformed(what))
}

impl Model {
    /// Checks the decoded model: indices in range, shapes and buffers consistent.
    pub(super) fn check(&self) -> Result<()> {
        if self.subgraphs.is_empty() {
            return bad("the model has no subgraph".into());
        }
        if self.buffers.first().is_some_and(|b| b.len != 0) {
            return bad("buffer 0 must be the empty sentinel".into());
        }
        for (s, graph) in self.subgraphs.iter().enumerate() {
            for (i, t) in graph.tensors.iter().enumerate() {
                self.check_tensor(&format!("subgraph {s} tensor {i} ({})", t.name), t)?;
            }
            check_io(s, graph)?;
            for (k, op) in graph.operators.iter().enumerate() {
                self.check_operator(&format!("subgraph {s} operator {k}"), op, graph)?;
            }
        }
        Ok(())
    }

    /// A tensor's shape, buffer and quantization; `here` names it in errors.
    fn check_tensor(&self, here: &str, t: &Tensor) -> Result<()> {
        if let Some(d) = t.shape.iter().find(|&&d| d < 0) {
            return bad(format!("{here}: negative dimension {d} in {:?}", t.shape));
        }
        let Some(buffer) = self.buffers.get(t.buffer as usize) else {
            return bad(format!(
                "{here}: buffer {} out of range ({} buffers)",
                t.buffer,
                self.buffers.len()
            ));
        };
        if buffer.len > 0 && !t.is_sparse {
            if let Some(size) = t.dtype.element_size() {
                let expected = t.element_count().saturating_mul(size as u128);
                if expected != buffer.len as u128 {
                    return bad(format!(
                        "{here}: shape {:?} of {} needs {expected} bytes, its buffer {} holds {}",
                        t.shape, t.dtype, t.buffer, buffer.len
                    ));
                }
            }
        }
        check_quantization(here, t)
    }

    /// An operator's code and tensor indices; `here` names it in errors.
    fn check_operator(&self, here: &str, op: &Operator, graph: &SubGraph) -> Result<()> {
        if op.opcode_index as usize >= self.operator_codes.len() {
            return bad(format!(
                "{here}: operator code {} out of range ({} codes)",
                op.opcode_index,
                self.operator_codes.len()
            ));
        }
        let n = graph.tensors.len();
        let optional_ok = |i: i32| i == -1 || in_range(i, n);
        if let Some(&i) = op.inputs.iter().find(|&&i| !optional_ok(i)) {
            return bad(format!(
                "{here}: input tensor {i} out of range ({n} tensors)"
            ));
        }
        if let Some(&i) = op.outputs.iter().find(|&&i| !in_range(i, n)) {
            return bad(format!(
                "{here}: output tensor {i} out of range ({n} tensors)"
            ));
        }
        Ok(())
    }
}

fn in_range(i: i32, tensors: usize) -> bool {
    i >= 0 && (i as usize) < tensors
}

/// Zero points as many as scales (or none), and per-channel scales along an existing axis
/// of their length.
fn check_quantization(here: &str, t: &Tensor) -> Result<()> {
    let Some(q) = &t.quantization else {
        return Ok(());
    };
    if !q.zero_point.is_empty() && q.zero_point.len() != q.scale.len() {
        return bad(format!(
            "{here}: {} scales but {} zero points",
            q.scale.len(),
            q.zero_point.len()
        ));
    }
    if q.scale.len() > 1 {
        let axis = q.quantized_dimension;
        let dim = usize::try_from(axis).ok().and_then(|a| t.shape.get(a));
        if dim.is_none_or(|&d| d as usize != q.scale.len()) {
            return bad(format!(
                "{here}: {} per-channel scales along axis {axis} of shape {:?}",
                q.scale.len(),
                t.shape
            ));
        }
    }
    Ok(())
}

/// The subgraph's input and output indices.
fn check_io(s: usize, graph: &SubGraph) -> Result<()> {
    let n = graph.tensors.len();
    for (which, list) in [("input", &graph.inputs), ("output", &graph.outputs)] {
        if let Some(&i) = list.iter().find(|&&i| !in_range(i, n)) {
            return bad(format!(
                "subgraph {s} {which} tensor {i} out of range ({n} tensors)"
            ));
        }
    }
    Ok(())
}
