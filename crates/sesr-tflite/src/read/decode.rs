//! Decoding a verified file into the model types, field by field, with the schema's defaults;
//! fields the crate does not use are never read.

use super::model::{BufferInfo, Model, Operator, OperatorCode, SubGraph, Tensor};
use super::table::{read_u32, Table};
use crate::error::{Result, TfliteError};
use crate::schema::{
    options_tag, vt, Activation, BuiltinOp, OperatorOptions, Padding, Quantization, TensorType,
};

/// Decodes the model whose root table offset starts the file.
pub(super) fn decode(bytes: &[u8]) -> Result<Model> {
    let root = Table::at(bytes, read_u32(bytes, 0)? as usize)?;
    decode_model(bytes, root)
}

fn decode_model(buf: &[u8], root: Table<'_>) -> Result<Model> {
    use vt::model as f;
    let operator_codes = root
        .tables(f::OPERATOR_CODES)?
        .into_iter()
        .map(decode_operator_code)
        .collect::<Result<_>>()?;
    let subgraphs = root
        .tables(f::SUBGRAPHS)?
        .into_iter()
        .map(decode_subgraph)
        .collect::<Result<_>>()?;
    let buffers = root
        .tables(f::BUFFERS)?
        .into_iter()
        .enumerate()
        .map(|(i, t)| decode_buffer(buf, i, t))
        .collect::<Result<_>>()?;
    Ok(Model {
        version: root.u32(f::VERSION)?,
        description: root.string(f::DESCRIPTION)?,
        operator_codes,
        subgraphs,
        buffers,
        bytes: buf.to_vec(),
    })
}

fn decode_operator_code(t: Table<'_>) -> Result<OperatorCode> {
    use vt::operator_code as f;
    let deprecated_builtin_code = t.i8(f::DEPRECATED_BUILTIN_CODE, 0)?;
    let builtin_code = t.i32(f::BUILTIN_CODE, 0)?;
    Ok(OperatorCode {
        // The runtime's rule: the larger of the two codes (old files only have the first,
        // new ones put 127 there for codes that do not fit a byte).
        op: BuiltinOp(builtin_code.max(deprecated_builtin_code as i32)),
        deprecated_builtin_code,
        builtin_code,
        custom_code: t.string(f::CUSTOM_CODE)?,
        version: t.i32(f::VERSION, 1)?,
    })
}

fn decode_subgraph(t: Table<'_>) -> Result<SubGraph> {
    use vt::subgraph as f;
    Ok(SubGraph {
        name: t.string(f::NAME)?,
        tensors: t
            .tables(f::TENSORS)?
            .into_iter()
            .map(decode_tensor)
            .collect::<Result<_>>()?,
        inputs: t.scalars::<4, _>(f::INPUTS, i32::from_le_bytes)?,
        outputs: t.scalars::<4, _>(f::OUTPUTS, i32::from_le_bytes)?,
        operators: t
            .tables(f::OPERATORS)?
            .into_iter()
            .map(decode_operator)
            .collect::<Result<_>>()?,
    })
}

fn decode_tensor(t: Table<'_>) -> Result<Tensor> {
    use vt::tensor as f;
    let quantization = match t.table(f::QUANTIZATION)? {
        Some(q) => decode_quantization(q)?,
        None => None,
    };
    Ok(Tensor {
        name: t.string(f::NAME)?.unwrap_or_default(),
        shape: t.scalars::<4, _>(f::SHAPE, i32::from_le_bytes)?,
        dtype: TensorType(t.i8(f::TYPE, 0)?),
        buffer: t.u32(f::BUFFER)?,
        quantization,
        is_variable: t.u8(f::IS_VARIABLE)? != 0,
        is_sparse: t.field(f::SPARSITY)?.is_some(),
    })
}

/// A tensor's quantization table; `None` for the empty table the converter writes for
/// unquantized tensors.
fn decode_quantization(q: Table<'_>) -> Result<Option<Quantization>> {
    use vt::quantization as f;
    let quantization = Quantization {
        scale: q.scalars::<4, _>(f::SCALE, f32::from_le_bytes)?,
        zero_point: q.scalars::<8, _>(f::ZERO_POINT, i64::from_le_bytes)?,
        quantized_dimension: q.i32(f::QUANTIZED_DIMENSION, 0)?,
        min: q.scalars::<4, _>(f::MIN, f32::from_le_bytes)?,
        max: q.scalars::<4, _>(f::MAX, f32::from_le_bytes)?,
    };
    let empty = quantization.scale.is_empty()
        && quantization.zero_point.is_empty()
        && quantization.min.is_empty()
        && quantization.max.is_empty();
    Ok((!empty || q.u8(f::DETAILS_TYPE)? != 0).then_some(quantization))
}

fn decode_operator(t: Table<'_>) -> Result<Operator> {
    use vt::operator as f;
    let tag = t.u8(f::BUILTIN_OPTIONS_TYPE)?;
    let options = match t.table(f::BUILTIN_OPTIONS)? {
        None => OperatorOptions::None,
        Some(o) => decode_options(tag, o)?,
    };
    Ok(Operator {
        opcode_index: t.u32(f::OPCODE_INDEX)?,
        inputs: t.scalars::<4, _>(f::INPUTS, i32::from_le_bytes)?,
        outputs: t.scalars::<4, _>(f::OUTPUTS, i32::from_le_bytes)?,
        options,
        has_custom_options: t.field(f::CUSTOM_OPTIONS)?.is_some(),
    })
}

fn padding(code: i8) -> Result<Padding> {
    Padding::from_code(code)
        .ok_or_else(|| TfliteError::Malformed(format!("unknown padding code {code}")))
}

fn decode_options(tag: u8, o: Table<'_>) -> Result<OperatorOptions> {
    let activation = |voffset| o.i8(voffset, 0).map(Activation);
    Ok(match tag {
        options_tag::NONE => OperatorOptions::None,
        options_tag::CONV_2D => {
            use vt::conv2d as f;
            OperatorOptions::Conv2D {
                padding: padding(o.i8(f::PADDING, 0)?)?,
                stride_w: o.i32(f::STRIDE_W, 0)?,
                stride_h: o.i32(f::STRIDE_H, 0)?,
                activation: activation(f::ACTIVATION)?,
                dilation_w: o.i32(f::DILATION_W, 1)?,
                dilation_h: o.i32(f::DILATION_H, 1)?,
            }
        }
        options_tag::DEPTHWISE_CONV_2D => {
            use vt::depthwise_conv2d as f;
            OperatorOptions::DepthwiseConv2D {
                padding: padding(o.i8(f::PADDING, 0)?)?,
                stride_w: o.i32(f::STRIDE_W, 0)?,
                stride_h: o.i32(f::STRIDE_H, 0)?,
                depth_multiplier: o.i32(f::DEPTH_MULTIPLIER, 0)?,
                activation: activation(f::ACTIVATION)?,
                dilation_w: o.i32(f::DILATION_W, 1)?,
                dilation_h: o.i32(f::DILATION_H, 1)?,
            }
        }
        options_tag::ADD => OperatorOptions::Add {
            activation: activation(vt::elementwise::ACTIVATION)?,
        },
        options_tag::SUB => OperatorOptions::Sub {
            activation: activation(vt::elementwise::ACTIVATION)?,
        },
        options_tag::MUL => OperatorOptions::Mul {
            activation: activation(vt::elementwise::ACTIVATION)?,
        },
        options_tag::CONCATENATION => OperatorOptions::Concatenation {
            axis: o.i32(vt::concatenation::AXIS, 0)?,
            activation: activation(vt::concatenation::ACTIVATION)?,
        },
        options_tag::MAXIMUM_MINIMUM => OperatorOptions::MaximumMinimum,
        options_tag::DEPTH_TO_SPACE => OperatorOptions::DepthToSpace {
            block_size: o.i32(vt::depth_to_space::BLOCK_SIZE, 0)?,
        },
        options_tag::SPACE_TO_DEPTH => OperatorOptions::SpaceToDepth {
            block_size: o.i32(vt::depth_to_space::BLOCK_SIZE, 0)?,
        },
        options_tag::TRANSPOSE_CONV => {
            use vt::transpose_conv as f;
            OperatorOptions::TransposeConv {
                padding: padding(o.i8(f::PADDING, 0)?)?,
                stride_w: o.i32(f::STRIDE_W, 0)?,
                stride_h: o.i32(f::STRIDE_H, 0)?,
            }
        }
        options_tag::TRANSPOSE => OperatorOptions::Transpose,
        options_tag::RESHAPE => OperatorOptions::Reshape {
            new_shape: o.scalars::<4, _>(vt::reshape::NEW_SHAPE, i32::from_le_bytes)?,
        },
        tag => OperatorOptions::Other { tag },
    })
}

fn decode_buffer(buf: &[u8], index: usize, t: Table<'_>) -> Result<BufferInfo> {
    use vt::buffer as f;
    if let Some(v) = t.vector(f::DATA, 1)? {
        if v.len > 0 {
            return Ok(BufferInfo {
                offset: v.start,
                len: v.len,
            });
        }
    }
    // Models over 2 GB keep data after the flatbuffer: `offset` (> 1) and `size`.
    let (offset, size) = (t.u64(f::OFFSET)?, t.u64(f::SIZE)?);
    if offset > 1 {
        let end = offset.checked_add(size).filter(|&e| e <= buf.len() as u64);
        if end.is_none() {
            return Err(TfliteError::Malformed(format!(
                "buffer {index}: {size} bytes at file offset {offset} lie outside the {}-byte \
                 file",
                buf.len()
            )));
        }
        return Ok(BufferInfo {
            offset: offset as usize,
            len: size as usize,
        });
    }
    Ok(BufferInfo { offset: 0, len: 0 })
}
