//! The decoded model: plain owned structs for the tables a `.tflite` file holds, and what can
//! be asked of them (buffer data, operators, MACs).

use crate::schema::{BuiltinOp, OperatorOptions, Quantization, TensorType};

/// A decoded TFLite model. It keeps the file's bytes so that buffer data can be read on
/// request ([`Model::buffer_data`], [`Model::tensor_data`]).
#[derive(Clone, Debug)]
pub struct Model {
    /// Schema version (3 for every current file).
    pub version: u32,
    /// The `description` field, if any.
    pub description: Option<String>,
    /// Operator codes, indexed by [`Operator::opcode_index`].
    pub operator_codes: Vec<OperatorCode>,
    /// Subgraphs; the first is the main graph.
    pub subgraphs: Vec<SubGraph>,
    /// Where each buffer's data lies; buffer 0 is the empty sentinel.
    pub buffers: Vec<BufferInfo>,
    /// The whole file; [`BufferInfo`] ranges point into it.
    pub(super) bytes: Vec<u8>,
}

/// One entry of the operator-code table.
#[derive(Clone, Debug, PartialEq)]
pub struct OperatorCode {
    /// The operator, resolved from both code fields as the runtime does.
    pub op: BuiltinOp,
    /// The one-byte code of older files (capped at 127 by newer writers).
    pub deprecated_builtin_code: i8,
    /// The int32 code (0 in files written before it existed).
    pub builtin_code: i32,
    /// Name of a custom operator.
    pub custom_code: Option<String>,
    /// Kernel version the operator needs.
    pub version: i32,
}

/// A graph of tensors and operators.
#[derive(Clone, Debug, PartialEq)]
pub struct SubGraph {
    /// Name, if any.
    pub name: Option<String>,
    /// All tensors.
    pub tensors: Vec<Tensor>,
    /// Indices of the input tensors.
    pub inputs: Vec<i32>,
    /// Indices of the output tensors.
    pub outputs: Vec<i32>,
    /// Operators in execution order.
    pub operators: Vec<Operator>,
}

/// A tensor's description.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Name (may be empty).
    pub name: String,
    /// Dimensions (NHWC for images).
    pub shape: Vec<i32>,
    /// Element type.
    pub dtype: TensorType,
    /// Index of its buffer; 0 (the empty sentinel) for tensors computed at run time.
    pub buffer: u32,
    /// Quantization parameters, if the tensor has any.
    pub quantization: Option<Quantization>,
    /// Whether the tensor is a variable (mutable state).
    pub is_variable: bool,
    /// Whether the tensor is stored sparse (its sparsity parameters are not decoded).
    pub is_sparse: bool,
}

impl Tensor {
    /// Product of the dimensions, in 128 bits (cannot overflow for a verified file).
    pub fn element_count(&self) -> u128 {
        self.shape
            .iter()
            .fold(1u128, |n, &d| n.saturating_mul(d.max(0) as u128))
    }
}

/// An operator node.
#[derive(Clone, Debug, PartialEq)]
pub struct Operator {
    /// Index into [`Model::operator_codes`].
    pub opcode_index: u32,
    /// Input tensor indices (-1 for an omitted optional input).
    pub inputs: Vec<i32>,
    /// Output tensor indices.
    pub outputs: Vec<i32>,
    /// The decoded builtin options.
    pub options: OperatorOptions,
    /// Whether the operator carries custom (flexbuffer) options.
    pub has_custom_options: bool,
}

/// Where a buffer's bytes are in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferInfo {
    /// Byte offset in the file.
    pub offset: usize,
    /// Length in bytes (0 for an empty buffer).
    pub len: usize,
}

impl Model {
    /// The bytes of buffer `index` (empty for the sentinel and for run-time tensors).
    pub fn buffer_data(&self, index: usize) -> Option<&[u8]> {
        let info = self.buffers.get(index)?;
        self.bytes.get(info.offset..info.offset + info.len)
    }

    /// The constant data of tensor `tensor` of subgraph `subgraph`, if it has any.
    pub fn tensor_data(&self, subgraph: usize, tensor: usize) -> Option<&[u8]> {
        let t = self.subgraphs.get(subgraph)?.tensors.get(tensor)?;
        self.buffer_data(t.buffer as usize)
            .filter(|d| !d.is_empty())
    }

    /// The operator an operator node runs (`None` for an index out of range, which a
    /// model from [`Model::parse`] never has).
    pub fn op(&self, operator: &Operator) -> Option<BuiltinOp> {
        self.operator_codes
            .get(operator.opcode_index as usize)
            .map(|code| code.op)
    }

    /// Multiply-accumulates of one run of the main subgraph: for every CONV_2D,
    /// `out_h * out_w * out_c * k_h * k_w * in_c` (times the batch), and for every
    /// DEPTHWISE_CONV_2D `out_h * out_w * out_c * k_h * k_w`.
    pub fn macs(&self) -> u128 {
        let Some(graph) = self.subgraphs.first() else {
            return 0;
        };
        let mut total = 0u128;
        for op in &graph.operators {
            let Some(kind) = self
                .op(op)
                .filter(|&k| k == BuiltinOp::CONV_2D || k == BuiltinOp::DEPTHWISE_CONV_2D)
            else {
                continue;
            };
            let tensor = |i: Option<&i32>| {
                i.and_then(|&i| usize::try_from(i).ok())
                    .and_then(|i| graph.tensors.get(i))
            };
            let (Some(filter), Some(output)) =
                (tensor(op.inputs.get(1)), tensor(op.outputs.first()))
            else {
                continue;
            };
            let f = &filter.shape;
            if f.len() != 4 {
                continue;
            }
            let window = (f[1].max(0) as u128) * (f[2].max(0) as u128);
            let per_output = if kind == BuiltinOp::CONV_2D {
                window * f[3].max(0) as u128
            } else {
                window
            };
            total = total.saturating_add(output.element_count().saturating_mul(per_output));
        }
        total
    }
}
