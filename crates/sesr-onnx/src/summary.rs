//! What `sesr-cli inspect` prints of an ONNX file: opsets, inputs and outputs with their
//! (symbolic) shapes, operators, convolutions with their weights' types, the quantization
//! parameters of every QuantizeLinear, and MACs.

use crate::proto::tensor_proto::DataType;
use crate::proto::tensor_shape_proto::dimension;
use crate::proto::{type_proto, ModelProto, TensorProto, ValueInfoProto};
use crate::{OnnxError, Result};
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// One convolution: its shape and how its weights are stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvSummary {
    pub name: String,
    pub out_channels: usize,
    pub in_channels: usize,
    pub kernel: usize,
    /// `float32`, or `int8 per-channel` when a DequantizeLinear feeds the weights.
    pub weights: String,
}

/// The summary of an ONNX model.
#[derive(Clone, Debug, PartialEq)]
pub struct OnnxSummary {
    pub ir_version: i64,
    /// `(domain, version)`; the default domain is "ai.onnx".
    pub opsets: Vec<(String, i64)>,
    pub producer: String,
    /// `(name, element type, dimensions)`; a symbolic dimension prints as its name.
    pub inputs: Vec<(String, String, Vec<String>)>,
    pub outputs: Vec<(String, String, Vec<String>)>,
    /// Operator type and how many nodes run it.
    pub operators: BTreeMap<String, usize>,
    pub convs: Vec<ConvSummary>,
    /// `(tensor, scale, zero point, its type)` of every QuantizeLinear with scalar
    /// parameters.
    pub quantized: Vec<(String, f32, i64, String)>,
    /// Multiply-accumulates per input pixel: every SESR conv runs at the input resolution.
    pub macs_per_input_pixel: u64,
}

fn element_type(code: i32) -> String {
    DataType::try_from(code)
        .map(|t| t.as_str_name().to_lowercase())
        .unwrap_or_else(|_| format!("type {code}"))
}

fn value_summary(value: &ValueInfoProto) -> (String, String, Vec<String>) {
    let name = value.name.clone().unwrap_or_default();
    match value.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(tensor)) => {
            let dims = tensor
                .shape
                .iter()
                .flat_map(|s| &s.dim)
                .map(|d| match &d.value {
                    Some(dimension::Value::DimValue(n)) => n.to_string(),
                    Some(dimension::Value::DimParam(p)) => p.clone(),
                    None => "?".into(),
                })
                .collect();
            (name, element_type(tensor.elem_type.unwrap_or(0)), dims)
        }
        _ => (name, "not a tensor".into(), vec![]),
    }
}

/// A scalar initializer's value as f64 (float, int8, uint8, int32 stored raw or typed).
fn scalar(tensor: &TensorProto) -> Option<f64> {
    let raw = tensor.raw_data.as_deref().unwrap_or_default();
    match DataType::try_from(tensor.data_type?).ok()? {
        DataType::Float => match (tensor.float_data.first(), raw.get(..4)) {
            (Some(&v), _) => Some(f64::from(v)),
            (None, Some(b)) => Some(f64::from(f32::from_le_bytes(b.try_into().ok()?))),
            _ => None,
        },
        DataType::Int8 => match (tensor.int32_data.first(), raw.first()) {
            (Some(&v), _) => Some(f64::from(v)),
            (None, Some(&b)) => Some(f64::from(b as i8)),
            _ => None,
        },
        DataType::Uint8 => match (tensor.int32_data.first(), raw.first()) {
            (Some(&v), _) => Some(f64::from(v)),
            (None, Some(&b)) => Some(f64::from(b)),
            _ => None,
        },
        _ => None,
    }
}

/// Decodes and summarizes an ONNX model.
pub fn summarize(bytes: &[u8]) -> Result<OnnxSummary> {
    let model = ModelProto::decode(bytes).map_err(|e| OnnxError::NotOnnx(e.to_string()))?;
    let graph = match (&model.graph, model.ir_version) {
        (Some(graph), Some(_)) if !graph.node.is_empty() => graph,
        _ => {
            return Err(OnnxError::NotOnnx(
                "no IR version or no graph with nodes".into(),
            ))
        }
    };
    let initializers: HashMap<&str, &TensorProto> = graph
        .initializer
        .iter()
        .filter_map(|t| Some((t.name.as_deref()?, t)))
        .collect();
    let producers: HashMap<&str, &crate::proto::NodeProto> = graph
        .node
        .iter()
        .flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n)))
        .collect();
    let mut operators = BTreeMap::new();
    let mut convs = vec![];
    let mut quantized = vec![];
    for node in &graph.node {
        let op = node.op_type.clone().unwrap_or_default();
        *operators.entry(op.clone()).or_insert(0) += 1;
        let input = |i: usize| node.input.get(i).map(String::as_str).unwrap_or_default();
        match op.as_str() {
            "Conv" => {
                let (weights, tensor) = match initializers.get(input(1)) {
                    Some(t) => ("float32", Some(*t)),
                    None => {
                        let dq = producers
                            .get(input(1))
                            .filter(|n| n.op_type.as_deref() == Some("DequantizeLinear"));
                        let tensor = dq.and_then(|n| initializers.get(n.input[0].as_str()));
                        ("int8 per-channel", tensor.copied())
                    }
                };
                if let Some(dims) = tensor.map(|t| &t.dims).filter(|d| d.len() == 4) {
                    convs.push(ConvSummary {
                        name: node.name.clone().unwrap_or_default(),
                        out_channels: dims[0] as usize,
                        in_channels: dims[1] as usize,
                        kernel: dims[2] as usize,
                        weights: weights.into(),
                    });
                }
            }
            "QuantizeLinear" => {
                let value = |i: usize| initializers.get(input(i)).and_then(|t| scalar(t));
                let kind = initializers
                    .get(input(2))
                    .map(|t| element_type(t.data_type.unwrap_or(0)));
                if let (Some(scale), Some(zero), Some(kind)) = (value(1), value(2), kind) {
                    quantized.push((
                        node.name.clone().unwrap_or_default(),
                        scale as f32,
                        zero as i64,
                        kind,
                    ));
                }
            }
            _ => {}
        }
    }
    let macs_per_input_pixel = convs
        .iter()
        .map(|c| (c.out_channels * c.in_channels * c.kernel * c.kernel) as u64)
        .sum();
    Ok(OnnxSummary {
        ir_version: model.ir_version.unwrap_or_default(),
        opsets: model
            .opset_import
            .iter()
            .map(|o| {
                let domain = o.domain.clone().filter(|d| !d.is_empty());
                (
                    domain.unwrap_or_else(|| "ai.onnx".into()),
                    o.version.unwrap_or_default(),
                )
            })
            .collect(),
        producer: format!(
            "{} {}",
            model.producer_name.clone().unwrap_or_default(),
            model.producer_version.clone().unwrap_or_default()
        )
        .trim()
        .to_string(),
        inputs: graph.input.iter().map(value_summary).collect(),
        outputs: graph.output.iter().map(value_summary).collect(),
        operators,
        convs,
        quantized,
        macs_per_input_pixel,
    })
}

impl fmt::Display for OnnxSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opsets: Vec<String> = self
            .opsets
            .iter()
            .map(|(d, v)| format!("{d} {v}"))
            .collect();
        writeln!(
            f,
            "ONNX IR {}, opset {}, by {}",
            self.ir_version,
            opsets.join(", "),
            self.producer
        )?;
        for (kind, values) in [("input", &self.inputs), ("output", &self.outputs)] {
            for (name, element, dims) in values {
                writeln!(f, "{kind} {name}: {element} [{}]", dims.join(", "))?;
            }
        }
        let ops: Vec<String> = self
            .operators
            .iter()
            .map(|(op, n)| format!("{op} x{n}"))
            .collect();
        writeln!(f, "operators: {}", ops.join(", "))?;
        for c in &self.convs {
            writeln!(
                f,
                "conv {}: {} -> {}, {}x{}, {} weights",
                c.name, c.in_channels, c.out_channels, c.kernel, c.kernel, c.weights
            )?;
        }
        for (name, scale, zero, kind) in &self.quantized {
            writeln!(
                f,
                "quantize {name}: {kind}, scale {scale:e}, zero point {zero}"
            )?;
        }
        let at_1080p = self.macs_per_input_pixel as f64 * 1080.0 * 1920.0 / 1e9;
        write!(
            f,
            "MACs: {} per input pixel, {at_1080p:.2} G for a 1080x1920 input",
            self.macs_per_input_pixel
        )
    }
}
