//! A small TFLite writer over the `flatbuffers` crate's low-level builder.
//!
//! [`ModelBuilder`] owns what the model shares: the operator codes (one entry per builtin
//! operator, at the highest version any use of it needs) and the constant buffers (buffer 0 is
//! the empty sentinel that tensors without data point at). [`SubgraphBuilder`] collects
//! tensors and operators by index; tensors are checked when added (element count within
//! TFLite's `int32` sizes, constant data of the right length) and operators when their inputs
//! and outputs are given, so [`ModelBuilder::finish`] cannot produce a dangling index.
//!
//! Constant data is laid out 16-byte aligned from the start of the file, as the schema asks
//! (`force_align: 16`), so a runtime may use it in place.

use flatbuffers::{FlatBufferBuilder, WIPOffset};

use crate::error::{Result, TfliteError};
use crate::schema::{
    options_tag, vt, BuiltinOp, OperatorOptions, Quantization, TensorType, FILE_IDENTIFIER,
    SCHEMA_VERSION,
};

/// The largest element count of one tensor: TFLite stores sizes as `int32`.
pub const MAX_TENSOR_ELEMENTS: u128 = i32::MAX as u128;

/// Flatbuffers cannot address more than 2 GiB; keep clear of it.
const MAX_MODEL_BYTES: usize = (1 << 31) - (1 << 20);

/// Element count of `shape`, checked against TFLite's limits.
pub(crate) fn element_count(name: &str, shape: &[i32]) -> Result<usize> {
    let mut count: u128 = 1;
    for &dim in shape {
        if dim < 0 {
            return Err(TfliteError::InvalidGraph(format!(
                "tensor {name} has a negative dimension in {shape:?}"
            )));
        }
        count = count.saturating_mul(dim as u128);
    }
    if count > MAX_TENSOR_ELEMENTS {
        return Err(TfliteError::TooLarge {
            tensor: name.to_string(),
            elements: count,
            limit: MAX_TENSOR_ELEMENTS,
        });
    }
    Ok(count as usize)
}

/// Converts a size to a TFLite dimension, or says which tensor is too large.
pub(crate) fn dim(name: &str, size: usize) -> Result<i32> {
    i32::try_from(size).map_err(|_| TfliteError::TooLarge {
        tensor: name.to_string(),
        elements: size as u128,
        limit: MAX_TENSOR_ELEMENTS,
    })
}

/// What the model shares between subgraphs: operator codes and constant buffers.
#[derive(Debug)]
pub struct ModelBuilder {
    description: String,
    /// `(operator, version)`, one entry per operator.
    opcodes: Vec<(BuiltinOp, i32)>,
    /// Buffer 0 is always the empty sentinel.
    buffers: Vec<Vec<u8>>,
    buffer_bytes: usize,
}

impl ModelBuilder {
    /// An empty model whose `description` field will read `description`.
    pub fn new(description: &str) -> Self {
        Self {
            description: description.to_string(),
            opcodes: Vec::new(),
            buffers: vec![Vec::new()],
            buffer_bytes: 0,
        }
    }

    /// The index of `op` in the operator codes, added on first use. An operator used at
    /// several versions is recorded once, at the highest: a kernel of version `v` also runs
    /// the features of earlier versions.
    pub fn opcode(&mut self, op: BuiltinOp, version: i32) -> u32 {
        let index = match self.opcodes.iter().position(|&(known, _)| known == op) {
            Some(index) => {
                let entry = &mut self.opcodes[index].1;
                *entry = (*entry).max(version);
                index
            }
            None => {
                self.opcodes.push((op, version));
                self.opcodes.len() - 1
            }
        };
        index as u32
    }

    /// Stores constant data and returns its buffer index (0, the sentinel, for no data).
    pub fn buffer(&mut self, data: Vec<u8>) -> Result<u32> {
        if data.is_empty() {
            return Ok(0);
        }
        self.buffer_bytes = self.buffer_bytes.saturating_add(data.len());
        if self.buffer_bytes > MAX_MODEL_BYTES {
            return Err(TfliteError::InvalidGraph(format!(
                "constant data of {} bytes exceeds the 2 GiB a flatbuffer can hold",
                self.buffer_bytes
            )));
        }
        self.buffers.push(data);
        Ok((self.buffers.len() - 1) as u32)
    }

    /// Serialises the model with `subgraph` as its main (and only) subgraph.
    pub fn finish(self, subgraph: &SubgraphBuilder) -> Result<Vec<u8>> {
        let metadata_estimate = 256 * (subgraph.tensors.len() + subgraph.operators.len() + 4);
        if self.buffer_bytes.saturating_add(metadata_estimate) > MAX_MODEL_BYTES {
            return Err(TfliteError::InvalidGraph(
                "the model would exceed the 2 GiB a flatbuffer can hold".into(),
            ));
        }
        let mut fbb =
            FlatBufferBuilder::with_capacity(self.buffer_bytes + metadata_estimate + 1024);

        // Buffers first, each data vector 16-byte aligned from the end of the file; the end
        // padding below makes that the alignment from the start as well.
        let mut buffers = Vec::with_capacity(self.buffers.len());
        for data in &self.buffers {
            let data = (!data.is_empty()).then(|| {
                let used = fbb.unfinished_data().len();
                for _ in 0..(16 - (used + data.len()) % 16) % 16 {
                    fbb.push(0u8);
                }
                fbb.create_vector(data)
            });
            let start = fbb.start_table();
            if let Some(data) = data {
                fbb.push_slot_always(vt::buffer::DATA, data);
            }
            buffers.push(fbb.end_table(start));
        }

        let mut opcodes = Vec::with_capacity(self.opcodes.len());
        for &(op, version) in &self.opcodes {
            let start = fbb.start_table();
            fbb.push_slot_always(vt::operator_code::BUILTIN_CODE, op.0);
            fbb.push_slot(vt::operator_code::VERSION, version, 1);
            fbb.push_slot_always(
                vt::operator_code::DEPRECATED_BUILTIN_CODE,
                op.0.clamp(0, 127) as i8,
            );
            opcodes.push(fbb.end_table(start));
        }

        let subgraph = subgraph.serialise(&mut fbb)?;

        let opcodes = fbb.create_vector(&opcodes);
        let subgraphs = fbb.create_vector(&[subgraph]);
        let description = fbb.create_string(&self.description);
        let buffers = fbb.create_vector(&buffers);
        let start = fbb.start_table();
        fbb.push_slot_always(vt::model::VERSION, SCHEMA_VERSION);
        fbb.push_slot_always(vt::model::OPERATOR_CODES, opcodes);
        fbb.push_slot_always(vt::model::SUBGRAPHS, subgraphs);
        fbb.push_slot_always(vt::model::DESCRIPTION, description);
        fbb.push_slot_always(vt::model::BUFFERS, buffers);
        let model = fbb.end_table(start);

        // `finish` adds the root offset and the identifier (8 bytes) after padding to the
        // largest alignment used (at most 8), so this makes the file length a multiple of 16.
        let used = fbb.unfinished_data().len();
        for _ in 0..(16 - (used + 8) % 16) % 16 {
            fbb.push(0u8);
        }
        fbb.finish(model, Some(FILE_IDENTIFIER));
        let bytes = fbb.finished_data().to_vec();
        debug_assert_eq!(bytes.len() % 16, 0);
        Ok(bytes)
    }
}

/// One tensor of a subgraph, as written.
#[derive(Clone, Debug)]
struct TensorDef {
    name: String,
    shape: Vec<i32>,
    dtype: TensorType,
    buffer: u32,
    quantization: Option<Quantization>,
}

/// One operator of a subgraph, as written.
#[derive(Clone, Debug)]
struct OperatorDef {
    opcode: u32,
    options: OperatorOptions,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
}

/// Tensors, operators (in execution order) and the subgraph's inputs and outputs.
#[derive(Clone, Debug)]
pub struct SubgraphBuilder {
    name: String,
    tensors: Vec<TensorDef>,
    operators: Vec<OperatorDef>,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
}

impl SubgraphBuilder {
    /// An empty subgraph called `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            tensors: Vec::new(),
            operators: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
        }
    }

    fn push_tensor(&mut self, tensor: TensorDef) -> Result<i32> {
        element_count(&tensor.name, &tensor.shape)?;
        if let Some(q) = &tensor.quantization {
            if q.scale.len() != q.zero_point.len() || q.scale.is_empty() {
                return Err(TfliteError::InvalidGraph(format!(
                    "tensor {} has {} scales and {} zero points",
                    tensor.name,
                    q.scale.len(),
                    q.zero_point.len()
                )));
            }
        }
        self.tensors.push(tensor);
        Ok((self.tensors.len() - 1) as i32)
    }

    /// A tensor computed at run time (an input, an output or an intermediate activation).
    pub fn activation(
        &mut self,
        name: &str,
        shape: &[i32],
        dtype: TensorType,
        quantization: Option<Quantization>,
    ) -> Result<i32> {
        self.push_tensor(TensorDef {
            name: name.to_string(),
            shape: shape.to_vec(),
            dtype,
            buffer: 0,
            quantization,
        })
    }

    /// A constant tensor holding `data` (little-endian, row-major), stored in `model`.
    pub fn constant(
        &mut self,
        model: &mut ModelBuilder,
        name: &str,
        shape: &[i32],
        dtype: TensorType,
        data: Vec<u8>,
        quantization: Option<Quantization>,
    ) -> Result<i32> {
        let count = element_count(name, shape)?;
        let element = dtype.element_size().ok_or_else(|| {
            TfliteError::InvalidGraph(format!("constant {name} has a variable-size type {dtype}"))
        })?;
        if data.len() != count * element {
            return Err(TfliteError::InvalidGraph(format!(
                "constant {name} of shape {shape:?} and type {dtype} needs {} bytes, got {}",
                count * element,
                data.len()
            )));
        }
        let buffer = model.buffer(data)?;
        self.push_tensor(TensorDef {
            name: name.to_string(),
            shape: shape.to_vec(),
            dtype,
            buffer,
            quantization,
        })
    }

    /// A float32 constant.
    pub fn constant_f32(
        &mut self,
        model: &mut ModelBuilder,
        name: &str,
        shape: &[i32],
        values: &[f32],
    ) -> Result<i32> {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.constant(model, name, shape, TensorType::FLOAT32, data, None)
    }

    fn check_tensor(&self, index: i32) -> Result<()> {
        if index < 0 || index as usize >= self.tensors.len() {
            return Err(TfliteError::InvalidGraph(format!(
                "tensor index {index} out of range (subgraph has {} tensors)",
                self.tensors.len()
            )));
        }
        Ok(())
    }

    /// Appends an operator (operators run in the order they are added).
    pub fn operator(
        &mut self,
        model: &mut ModelBuilder,
        op: BuiltinOp,
        version: i32,
        options: OperatorOptions,
        inputs: &[i32],
        outputs: &[i32],
    ) -> Result<()> {
        for &index in inputs.iter().chain(outputs) {
            self.check_tensor(index)?;
        }
        if matches!(options, OperatorOptions::Other { .. }) {
            return Err(TfliteError::InvalidGraph(format!(
                "cannot write undecoded options for {op}"
            )));
        }
        let opcode = model.opcode(op, version);
        self.operators.push(OperatorDef {
            opcode,
            options,
            inputs: inputs.to_vec(),
            outputs: outputs.to_vec(),
        });
        Ok(())
    }

    /// Sets the subgraph's input and output tensors.
    pub fn set_io(&mut self, inputs: &[i32], outputs: &[i32]) -> Result<()> {
        for &index in inputs.iter().chain(outputs) {
            self.check_tensor(index)?;
        }
        self.inputs = inputs.to_vec();
        self.outputs = outputs.to_vec();
        Ok(())
    }

    fn serialise<'fbb>(
        &self,
        fbb: &mut FlatBufferBuilder<'fbb>,
    ) -> Result<WIPOffset<flatbuffers::TableFinishedWIPOffset>> {
        let mut tensors = Vec::with_capacity(self.tensors.len());
        for tensor in &self.tensors {
            let quantization = tensor
                .quantization
                .as_ref()
                .map(|q| write_quantization(fbb, q));
            let shape = fbb.create_vector(&tensor.shape);
            let name = fbb.create_string(&tensor.name);
            let start = fbb.start_table();
            fbb.push_slot_always(vt::tensor::SHAPE, shape);
            fbb.push_slot(vt::tensor::TYPE, tensor.dtype.0, 0);
            fbb.push_slot(vt::tensor::BUFFER, tensor.buffer, 0);
            fbb.push_slot_always(vt::tensor::NAME, name);
            if let Some(q) = quantization {
                fbb.push_slot_always(vt::tensor::QUANTIZATION, q);
            }
            tensors.push(fbb.end_table(start));
        }

        let mut operators = Vec::with_capacity(self.operators.len());
        for op in &self.operators {
            let options = write_options(fbb, &op.options);
            let inputs = fbb.create_vector(&op.inputs);
            let outputs = fbb.create_vector(&op.outputs);
            let start = fbb.start_table();
            fbb.push_slot(vt::operator::OPCODE_INDEX, op.opcode, 0);
            fbb.push_slot_always(vt::operator::INPUTS, inputs);
            fbb.push_slot_always(vt::operator::OUTPUTS, outputs);
            if let Some((tag, table)) = options {
                fbb.push_slot_always(vt::operator::BUILTIN_OPTIONS_TYPE, tag);
                fbb.push_slot_always(vt::operator::BUILTIN_OPTIONS, table);
            }
            operators.push(fbb.end_table(start));
        }

        let tensors = fbb.create_vector(&tensors);
        let inputs = fbb.create_vector(&self.inputs);
        let outputs = fbb.create_vector(&self.outputs);
        let operators = fbb.create_vector(&operators);
        let name = fbb.create_string(&self.name);
        let start = fbb.start_table();
        fbb.push_slot_always(vt::subgraph::TENSORS, tensors);
        fbb.push_slot_always(vt::subgraph::INPUTS, inputs);
        fbb.push_slot_always(vt::subgraph::OUTPUTS, outputs);
        fbb.push_slot_always(vt::subgraph::OPERATORS, operators);
        fbb.push_slot_always(vt::subgraph::NAME, name);
        Ok(fbb.end_table(start))
    }
}

fn write_quantization(
    fbb: &mut FlatBufferBuilder<'_>,
    q: &Quantization,
) -> WIPOffset<flatbuffers::TableFinishedWIPOffset> {
    let min = (!q.min.is_empty()).then(|| fbb.create_vector(&q.min));
    let max = (!q.max.is_empty()).then(|| fbb.create_vector(&q.max));
    let scale = fbb.create_vector(&q.scale);
    let zero_point = fbb.create_vector(&q.zero_point);
    let start = fbb.start_table();
    if let Some(min) = min {
        fbb.push_slot_always(vt::quantization::MIN, min);
    }
    if let Some(max) = max {
        fbb.push_slot_always(vt::quantization::MAX, max);
    }
    fbb.push_slot_always(vt::quantization::SCALE, scale);
    fbb.push_slot_always(vt::quantization::ZERO_POINT, zero_point);
    fbb.push_slot(
        vt::quantization::QUANTIZED_DIMENSION,
        q.quantized_dimension,
        0,
    );
    fbb.end_table(start)
}

/// Writes an options table; `None` when the operator has none.
fn write_options(
    fbb: &mut FlatBufferBuilder<'_>,
    options: &OperatorOptions,
) -> Option<(u8, WIPOffset<flatbuffers::UnionWIPOffset>)> {
    let (tag, table) = match *options {
        OperatorOptions::None | OperatorOptions::Other { .. } => return None,
        OperatorOptions::Conv2D {
            padding,
            stride_w,
            stride_h,
            activation,
            dilation_w,
            dilation_h,
        } => {
            let start = fbb.start_table();
            fbb.push_slot(vt::conv2d::PADDING, padding.code(), 0);
            fbb.push_slot(vt::conv2d::STRIDE_W, stride_w, 0);
            fbb.push_slot(vt::conv2d::STRIDE_H, stride_h, 0);
            fbb.push_slot(vt::conv2d::ACTIVATION, activation.0, 0);
            fbb.push_slot(vt::conv2d::DILATION_W, dilation_w, 1);
            fbb.push_slot(vt::conv2d::DILATION_H, dilation_h, 1);
            (options_tag::CONV_2D, fbb.end_table(start))
        }
        OperatorOptions::DepthwiseConv2D {
            padding,
            stride_w,
            stride_h,
            depth_multiplier,
            activation,
            dilation_w,
            dilation_h,
        } => {
            let start = fbb.start_table();
            fbb.push_slot(vt::depthwise_conv2d::PADDING, padding.code(), 0);
            fbb.push_slot(vt::depthwise_conv2d::STRIDE_W, stride_w, 0);
            fbb.push_slot(vt::depthwise_conv2d::STRIDE_H, stride_h, 0);
            fbb.push_slot(vt::depthwise_conv2d::DEPTH_MULTIPLIER, depth_multiplier, 0);
            fbb.push_slot(vt::depthwise_conv2d::ACTIVATION, activation.0, 0);
            fbb.push_slot(vt::depthwise_conv2d::DILATION_W, dilation_w, 1);
            fbb.push_slot(vt::depthwise_conv2d::DILATION_H, dilation_h, 1);
            (options_tag::DEPTHWISE_CONV_2D, fbb.end_table(start))
        }
        OperatorOptions::Add { activation }
        | OperatorOptions::Sub { activation }
        | OperatorOptions::Mul { activation } => {
            let tag = match options {
                OperatorOptions::Add { .. } => options_tag::ADD,
                OperatorOptions::Sub { .. } => options_tag::SUB,
                _ => options_tag::MUL,
            };
            let start = fbb.start_table();
            fbb.push_slot(vt::elementwise::ACTIVATION, activation.0, 0);
            (tag, fbb.end_table(start))
        }
        OperatorOptions::Concatenation { axis, activation } => {
            let start = fbb.start_table();
            fbb.push_slot(vt::concatenation::AXIS, axis, 0);
            fbb.push_slot(vt::concatenation::ACTIVATION, activation.0, 0);
            (options_tag::CONCATENATION, fbb.end_table(start))
        }
        OperatorOptions::MaximumMinimum => {
            let start = fbb.start_table();
            (options_tag::MAXIMUM_MINIMUM, fbb.end_table(start))
        }
        OperatorOptions::TransposeConv {
            padding,
            stride_w,
            stride_h,
        } => {
            let start = fbb.start_table();
            fbb.push_slot(vt::transpose_conv::PADDING, padding.code(), 0);
            fbb.push_slot(vt::transpose_conv::STRIDE_W, stride_w, 0);
            fbb.push_slot(vt::transpose_conv::STRIDE_H, stride_h, 0);
            (options_tag::TRANSPOSE_CONV, fbb.end_table(start))
        }
        OperatorOptions::Reshape { ref new_shape } => {
            let shape = fbb.create_vector(new_shape);
            let start = fbb.start_table();
            fbb.push_slot_always(vt::reshape::NEW_SHAPE, shape);
            (options_tag::RESHAPE, fbb.end_table(start))
        }
        OperatorOptions::Transpose => {
            let start = fbb.start_table();
            (options_tag::TRANSPOSE, fbb.end_table(start))
        }
        OperatorOptions::DepthToSpace { block_size }
        | OperatorOptions::SpaceToDepth { block_size } => {
            let tag = match options {
                OperatorOptions::DepthToSpace { .. } => options_tag::DEPTH_TO_SPACE,
                _ => options_tag::SPACE_TO_DEPTH,
            };
            let start = fbb.start_table();
            fbb.push_slot(vt::depth_to_space::BLOCK_SIZE, block_size, 0);
            (tag, fbb.end_table(start))
        }
    };
    Some((tag, table.as_union_value()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Activation;

    #[test]
    fn operator_codes_are_shared_at_the_highest_version() {
        let mut m = ModelBuilder::new("");
        assert_eq!(m.opcode(BuiltinOp::ADD, 1), 0);
        assert_eq!(m.opcode(BuiltinOp::CONV_2D, 3), 1);
        assert_eq!(m.opcode(BuiltinOp::ADD, 2), 0);
        assert_eq!(m.opcode(BuiltinOp::ADD, 1), 0);
        assert_eq!(
            m.opcodes,
            vec![(BuiltinOp::ADD, 2), (BuiltinOp::CONV_2D, 3)]
        );
    }

    #[test]
    fn buffer_zero_stays_the_empty_sentinel() {
        let mut m = ModelBuilder::new("");
        assert_eq!(m.buffer(Vec::new()).unwrap(), 0);
        assert_eq!(m.buffer(vec![1, 2]).unwrap(), 1);
        assert_eq!(m.buffer(vec![3]).unwrap(), 2);
        assert!(m.buffers[0].is_empty());
    }

    #[test]
    fn bad_tensors_and_indices_are_refused() {
        let mut m = ModelBuilder::new("");
        let mut g = SubgraphBuilder::new("g");
        assert!(g
            .constant_f32(&mut m, "c", &[2, 2], &[1.0, 2.0, 3.0])
            .is_err());
        assert!(g
            .activation("big", &[65536, 65536], TensorType::INT8, None)
            .is_err());
        assert!(g.activation("neg", &[-1], TensorType::INT8, None).is_err());
        let a = g
            .activation("a", &[1, 2], TensorType::FLOAT32, None)
            .unwrap();
        let add = OperatorOptions::Add {
            activation: Activation::NONE,
        };
        assert!(g
            .operator(&mut m, BuiltinOp::ADD, 1, add.clone(), &[a, 5], &[a])
            .is_err());
        assert!(g
            .operator(
                &mut m,
                BuiltinOp::ADD,
                1,
                OperatorOptions::Other { tag: 3 },
                &[a],
                &[a]
            )
            .is_err());
        assert!(g.set_io(&[a], &[1]).is_err());
        let q = Quantization {
            scale: vec![1.0, 2.0],
            zero_point: vec![0],
            ..Quantization::default()
        };
        assert!(g.activation("q", &[2], TensorType::INT8, Some(q)).is_err());
    }
}
