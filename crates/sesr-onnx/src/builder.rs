//! A small builder over the generated `onnx.proto` types: named nodes, typed initializers,
//! graph inputs and outputs with symbolic dimensions, and the model around them.

use crate::proto::attribute_proto::AttributeType;
use crate::proto::tensor_proto::DataType;
use crate::proto::tensor_shape_proto::{dimension, Dimension};
use crate::proto::{
    type_proto, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use prost::Message;

/// The operator set the files use: every op SESR needs (per-channel DequantizeLinear,
/// DepthToSpace DCR, Clip with tensor bounds) in the form ONNX Runtime's CPU provider and
/// vendors' quantizers take.
pub const OPSET: i64 = 13;
/// The IR version that goes with opset 13.
pub const IR_VERSION: i64 = 7;

/// A dimension of a graph input or output: a number or a symbolic name.
pub enum Dim {
    Fixed(i64),
    Named(&'static str),
}

pub fn attribute_int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(value),
        ..Default::default()
    }
}

pub fn attribute_ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: values.to_vec(),
        ..Default::default()
    }
}

pub fn attribute_string(name: &str, value: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::String as i32),
        s: Some(value.as_bytes().to_vec()),
        ..Default::default()
    }
}

/// Nodes and initializers in the order they are added (a topological order: every node
/// reads what was added before it).
#[derive(Default)]
pub struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl GraphBuilder {
    /// Adds node `name` running `op` on `inputs`; returns its output's name (`name`).
    pub fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        attributes: Vec<AttributeProto>,
    ) -> String {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![name.to_string()],
            name: Some(name.to_string()),
            op_type: Some(op.to_string()),
            attribute: attributes,
            ..Default::default()
        });
        name.to_string()
    }

    fn initializer(&mut self, name: &str, dims: &[usize], kind: DataType, raw: Vec<u8>) -> String {
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(kind as i32),
            name: Some(name.to_string()),
            raw_data: Some(raw),
            ..Default::default()
        });
        name.to_string()
    }

    pub fn float(&mut self, name: &str, dims: &[usize], values: &[f32]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(name, dims, DataType::Float, raw)
    }

    pub fn int8(&mut self, name: &str, dims: &[usize], values: &[i8]) -> String {
        let raw = values.iter().map(|&v| v as u8).collect();
        self.initializer(name, dims, DataType::Int8, raw)
    }

    pub fn uint8(&mut self, name: &str, dims: &[usize], values: &[u8]) -> String {
        self.initializer(name, dims, DataType::Uint8, values.to_vec())
    }

    pub fn int32(&mut self, name: &str, dims: &[usize], values: &[i32]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(name, dims, DataType::Int32, raw)
    }

    /// The model's bytes: this graph with one float input and one float output.
    pub fn finish(
        self,
        name: &str,
        input: (&str, &[Dim]),
        output: (&str, &[Dim]),
        doc: String,
    ) -> Vec<u8> {
        let model = ModelProto {
            ir_version: Some(IR_VERSION),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(OPSET),
            }],
            producer_name: Some("sesr-rust".into()),
            producer_version: Some(env!("CARGO_PKG_VERSION").into()),
            doc_string: Some(doc),
            graph: Some(GraphProto {
                node: self.nodes,
                name: Some(name.into()),
                initializer: self.initializers,
                input: vec![float_value(input.0, input.1)],
                output: vec![float_value(output.0, output.1)],
                ..Default::default()
            }),
            ..Default::default()
        };
        model.encode_to_vec()
    }
}

fn float_value(name: &str, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Fixed(n) => dimension::Value::DimValue(*n),
                Dim::Named(s) => dimension::Value::DimParam(s.to_string()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}
