//! A validating TFLite reader: any `.tflite` file (ours or one made by TensorFlow's converter)
//! into plain owned structs, checked once, at the root.
//!
//! [`Model::parse`] first runs `flatbuffers`' verifier over every table, vector and string the
//! reader will touch (offsets inside the file, alignment, UTF-8, nesting depth, table count),
//! then decodes with bounds-checked reads, then checks the model itself: every buffer, tensor
//! and operator-code index in range, shapes non-negative, quantization parameters consistent
//! with their tensor, and every non-empty buffer exactly as long as its tensor's shape times
//! its element size. A truncated, corrupt or hostile file gives an error, never a panic; every
//! allocation is bounded by the file's length (vector lengths are checked against the bytes
//! that remain before anything is allocated, and shapes are multiplied in 128 bits).
//!
//! Fields this crate does not use (metadata, signatures, sparsity details, the second options
//! union) are skipped without being decoded.

use std::path::Path;

use flatbuffers::{ForwardsUOffset, Vector, Verifiable, Verifier, VerifierOptions};

use crate::error::{Result, TfliteError};
use crate::schema::{
    options_tag, vt, Activation, BuiltinOp, OperatorOptions, Padding, Quantization, TensorType,
    FILE_IDENTIFIER,
};

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
    bytes: Vec<u8>,
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
    /// Reads and validates a `.tflite` file.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| TfliteError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&bytes)
    }

    /// Validates and decodes the bytes of a `.tflite` file.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        verify(bytes)?;
        let root = Table::at(bytes, read_u32(bytes, 0)? as usize)?;
        let model = decode_model(bytes, root)?;
        model.check()?;
        Ok(model)
    }

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

    /// Checks the decoded model: indices in range, shapes and buffers consistent.
    fn check(&self) -> Result<()> {
        let bad = |what: String| Err(TfliteError::Malformed(what));
        if self.subgraphs.is_empty() {
            return bad("the model has no subgraph".into());
        }
        if self.buffers.first().is_some_and(|b| b.len != 0) {
            return bad("buffer 0 must be the empty sentinel".into());
        }
        for (s, graph) in self.subgraphs.iter().enumerate() {
            let n = graph.tensors.len();
            let in_range = |i: i32| i >= 0 && (i as usize) < n;
            for (i, t) in graph.tensors.iter().enumerate() {
                let here = || format!("subgraph {s} tensor {i} ({})", t.name);
                if let Some(d) = t.shape.iter().find(|&&d| d < 0) {
                    return bad(format!(
                        "{}: negative dimension {d} in {:?}",
                        here(),
                        t.shape
                    ));
                }
                let Some(buffer) = self.buffers.get(t.buffer as usize) else {
                    return bad(format!(
                        "{}: buffer {} out of range ({} buffers)",
                        here(),
                        t.buffer,
                        self.buffers.len()
                    ));
                };
                if buffer.len > 0 && !t.is_sparse {
                    if let Some(size) = t.dtype.element_size() {
                        let expected = t.element_count().saturating_mul(size as u128);
                        if expected != buffer.len as u128 {
                            return bad(format!(
                                "{}: shape {:?} of {} needs {expected} bytes, its buffer {} \
                                 holds {}",
                                here(),
                                t.shape,
                                t.dtype,
                                t.buffer,
                                buffer.len
                            ));
                        }
                    }
                }
                if let Some(q) = &t.quantization {
                    if !q.zero_point.is_empty() && q.zero_point.len() != q.scale.len() {
                        return bad(format!(
                            "{}: {} scales but {} zero points",
                            here(),
                            q.scale.len(),
                            q.zero_point.len()
                        ));
                    }
                    if q.scale.len() > 1 {
                        let axis = q.quantized_dimension;
                        let dim = usize::try_from(axis).ok().and_then(|a| t.shape.get(a));
                        if dim.is_none_or(|&d| d as usize != q.scale.len()) {
                            return bad(format!(
                                "{}: {} per-channel scales along axis {axis} of shape {:?}",
                                here(),
                                q.scale.len(),
                                t.shape
                            ));
                        }
                    }
                }
            }
            for (which, list) in [("input", &graph.inputs), ("output", &graph.outputs)] {
                if let Some(&i) = list.iter().find(|&&i| !in_range(i)) {
                    return bad(format!(
                        "subgraph {s} {which} tensor {i} out of range ({n} tensors)"
                    ));
                }
            }
            for (k, op) in graph.operators.iter().enumerate() {
                if op.opcode_index as usize >= self.operator_codes.len() {
                    return bad(format!(
                        "subgraph {s} operator {k}: operator code {} out of range ({} codes)",
                        op.opcode_index,
                        self.operator_codes.len()
                    ));
                }
                let optional_ok = |i: i32| i == -1 || in_range(i);
                if let Some(&i) = op.inputs.iter().find(|&&i| !optional_ok(i)) {
                    return bad(format!(
                        "subgraph {s} operator {k}: input tensor {i} out of range ({n} tensors)"
                    ));
                }
                if let Some(&i) = op.outputs.iter().find(|&&i| !in_range(i)) {
                    return bad(format!(
                        "subgraph {s} operator {k}: output tensor {i} out of range ({n} tensors)"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A readable summary: operator codes, tensors (shape, type, buffer, quantization),
/// operators with their options, and the MACs of one run.
pub fn inspect(model: &Model) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = write_summary(&mut s, model);
    s
}

impl std::fmt::Display for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_summary(f, self)
    }
}

fn write_quantization(out: &mut impl std::fmt::Write, q: &Quantization) -> std::fmt::Result {
    let list = |v: &[f32]| -> String {
        if v.len() <= 4 {
            format!("{v:?}")
        } else {
            let (lo, hi) = v
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
                    (lo.min(x), hi.max(x))
                });
            format!("{} values in [{lo:e}, {hi:e}]", v.len())
        }
    };
    match q.scale.len() {
        0 => write!(out, "quant: none")?,
        1 => write!(
            out,
            "quant: scale {:e} zero_point {}",
            q.scale[0],
            q.zero_point.first().copied().unwrap_or(0)
        )?,
        n => {
            let zp = if q.zero_point.iter().all(|&z| z == 0) {
                "all 0".to_string()
            } else {
                format!("{:?}", q.zero_point)
            };
            write!(
                out,
                "quant: per-channel axis {} ({n}), scales {}, zero_points {zp}",
                q.quantized_dimension,
                list(&q.scale)
            )?
        }
    }
    if !q.min.is_empty() || !q.max.is_empty() {
        write!(out, ", min {} max {}", list(&q.min), list(&q.max))?;
    }
    Ok(())
}

fn write_summary(out: &mut impl std::fmt::Write, model: &Model) -> std::fmt::Result {
    writeln!(
        out,
        "TFLite model, schema version {}: {:?}",
        model.version,
        model.description.as_deref().unwrap_or("")
    )?;
    writeln!(out, "operator codes:")?;
    for (i, code) in model.operator_codes.iter().enumerate() {
        match &code.custom_code {
            Some(name) => writeln!(out, "  {i:>3}  CUSTOM {name:?} v{}", code.version)?,
            None => writeln!(out, "  {i:>3}  {} v{}", code.op, code.version)?,
        }
    }
    for (s, graph) in model.subgraphs.iter().enumerate() {
        writeln!(
            out,
            "subgraph {s} {:?}: {} tensors, {} operators, inputs {:?}, outputs {:?}",
            graph.name.as_deref().unwrap_or(""),
            graph.tensors.len(),
            graph.operators.len(),
            graph.inputs,
            graph.outputs
        )?;
        writeln!(out, "tensors:")?;
        let width = graph
            .tensors
            .iter()
            .map(|t| t.name.len())
            .max()
            .unwrap_or(0);
        for (i, t) in graph.tensors.iter().enumerate() {
            write!(
                out,
                "  {i:>4}  {:<width$}  {:<7}  {:?}",
                t.name,
                t.dtype.to_string(),
                t.shape
            )?;
            let data = model.buffers.get(t.buffer as usize).map_or(0, |b| b.len);
            if data > 0 {
                write!(out, "  buffer {} ({data} bytes)", t.buffer)?;
            }
            if t.is_variable {
                write!(out, "  variable")?;
            }
            if t.is_sparse {
                write!(out, "  sparse")?;
            }
            if let Some(q) = &t.quantization {
                write!(out, "  ")?;
                write_quantization(out, q)?;
            }
            writeln!(out)?;
        }
        writeln!(out, "operators:")?;
        for (k, op) in graph.operators.iter().enumerate() {
            let (name, version) = match model.operator_codes.get(op.opcode_index as usize) {
                Some(OperatorCode {
                    custom_code: Some(name),
                    version,
                    ..
                }) => (format!("CUSTOM {name}"), *version),
                Some(code) => (code.op.to_string(), code.version),
                None => (format!("<bad opcode {}>", op.opcode_index), 0),
            };
            write!(
                out,
                "  {k:>4}  {name:<16} v{version}  {:?} -> {:?}",
                op.inputs, op.outputs
            )?;
            let options = op.options.to_string();
            if !options.is_empty() {
                write!(out, "  {options}")?;
            }
            writeln!(out)?;
        }
    }
    let macs = model.macs();
    let (value, unit) = match macs {
        m if m >= 1_000_000_000 => (m as f64 / 1e9, "G"),
        m if m >= 1_000_000 => (m as f64 / 1e6, "M"),
        m => (m as f64 / 1e3, "K"),
    };
    writeln!(
        out,
        "MACs: {macs} ({value:.2} {unit}) per run of subgraph 0"
    )
}

// ---------------------------------------------------------------------------------------
// Verification: the tables the reader decodes, described to `flatbuffers::Verifier` the way
// generated code describes them. Each marker type stands for one schema table.

type VecOf<'a, T> = ForwardsUOffset<Vector<'a, ForwardsUOffset<T>>>;
type Scalars<'a, T> = ForwardsUOffset<Vector<'a, T>>;
type Str<'a> = ForwardsUOffset<&'a str>;

struct ModelTable;
struct OperatorCodeTable;
struct SubGraphTable;
struct TensorTable;
struct QuantizationTable;
struct OperatorTable;
struct BufferTable;
struct Conv2DOptionsTable;
struct DepthwiseConv2DOptionsTable;
struct ActivationOptionsTable;
struct ConcatenationOptionsTable;
struct DepthToSpaceOptionsTable;

impl Verifiable for ModelTable {
    fn run_verifier(
        v: &mut Verifier,
        pos: usize,
    ) -> std::result::Result<(), flatbuffers::InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<u32>("version", vt::model::VERSION, false)?
            .visit_field::<VecOf<OperatorCodeTable>>(
                "operator_codes",
                vt::model::OPERATOR_CODES,
                false,
            )?
            .visit_field::<VecOf<SubGraphTable>>("subgraphs", vt::model::SUBGRAPHS, false)?
            .visit_field::<Str>("description", vt::model::DESCRIPTION, false)?
            .visit_field::<VecOf<BufferTable>>("buffers", vt::model::BUFFERS, false)?
            .finish();
        Ok(())
    }
}

impl Verifiable for OperatorCodeTable {
    fn run_verifier(
        v: &mut Verifier,
        pos: usize,
    ) -> std::result::Result<(), flatbuffers::InvalidFlatbuffer> {
        use vt::operator_code as f;
        v.visit_table(pos)?
            .visit_field::<i8>("deprecated_builtin_code", f::DEPRECATED_BUILTIN_CODE, false)?
            .visit_field::<Str>("custom_code", f::CUSTOM_CODE, false)?
            .visit_field::<i32>("version", f::VERSION, false)?
            .visit_field::<i32>("builtin_code", f::BUILTIN_CODE, false)?
            .finish();
        Ok(())
    }
}

impl Verifiable for SubGraphTable {
    fn run_verifier(
        v: &mut Verifier,
        pos: usize,
    ) -> std::result::Result<(), flatbuffers::InvalidFlatbuffer> {
        use vt::subgraph as f;
        v.visit_table(pos)?
            .visit_field::<VecOf<TensorTable>>("tensors", f::TENSORS, false)?
            .visit_field::<Scalars<i32>>("inputs", f::INPUTS, false)?
            .visit_field::<Scalars<i32>>("outputs", f::OUTPUTS, false)?
            .visit_field::<VecOf<OperatorTable>>("operators", f::OPERATORS, false)?
            .visit_field::<Str>("name", f::NAME, false)?
            .finish();
        Ok(())
    }
}

impl Verifiable for TensorTable {
    fn run_verifier(
        v: &mut Verifier,
        pos: usize,
    ) -> std::result::Result<(), flatbuffers::InvalidFlatbuffer> {
        use vt::tensor as f;
        v.visit_table(pos)?
            .visit_field::<Scalars<i32>>("shape", f::SHAPE, false)?
            .visit_field::<i8>("type", f::TYPE, false)?
            .visit_field::<u32>("buffer", f::BUFFER, false)?
            .visit_field::<Str>("name", f::NAME, false)?
            .visit_field::<ForwardsUOffset<QuantizationTable>>(
                "quantization",
                f::QUANTIZATION,
                false,
            )?
            .visit_field::<bool>("is_variable", f::IS_VARIABLE, false)?
            .finish();
        Ok(())
    }
}

impl Verifiable for QuantizationTable {
    fn run_verifier(
        v: &mut Verifier,
        pos: usize,
    ) -> std::result::Result<(), flatbuffers::InvalidFlatbuffer> {
        use vt::quantization as f;
        v.visit_table(pos)?
            .visit_field::<Scalars<f32>>("min", f::MIN, false)?
            .visit_field::<Scalars<f32>>("max", f::MAX, false)?
            .visit_field::<Scalars<f32>>("scale", f::SCALE, false)?
            .visit_field::<Scalars<i64>>("zero_point", f::ZERO_POINT, false)?
            .visit_field::<u8>("details_type", f::DETAILS_TYPE, false)?
            .visit_field::<i32>("quantized_dimension", f::QUANTIZED_DIMENSION, false)?
            .finish();
        Ok(())
    }
}

impl Verifiable for OperatorTable {
    fn run_verifier(
        v: &mut Verifier,
        pos: usize,
    ) -> std::result::Result<(), flatbuffers::InvalidFlatbuffer> {
        use vt::operator as f;
        v.visit_table(pos)?
            .visit_field::<u32>("opcode_index", f::OPCODE_INDEX, false)?
            .visit_field::<Scalars<i32>>("inputs", f::INPUTS, false)?
            .visit_field::<Scalars<i32>>("outputs", f::OUTPUTS, false)?
            .visit_union::<u8, _>(
                "builtin_options_type",
                f::BUILTIN_OPTIONS_TYPE,
                "builtin_options",
                f::BUILTIN_OPTIONS,
                false,
                |tag, v, pos| {
                    type T<X> = ForwardsUOffset<X>;
                    match tag {
                        options_tag::CONV_2D => {
                            v.verify_union_variant::<T<Conv2DOptionsTable>>("Conv2DOptions", pos)
                        }
                        options_tag::DEPTHWISE_CONV_2D => v
                            .verify_union_variant::<T<DepthwiseConv2DOptionsTable>>(
                                "DepthwiseConv2DOptions",
                                pos,
                            ),
                        options_tag::ADD | options_tag::SUB | options_tag::MUL => v
                            .verify_union_variant::<T<ActivationOptionsTable>>(
                                "ActivationOptions",
                                pos,
                            ),
                        options_tag::CONCATENATION => v
                            .verify_union_variant::<T<ConcatenationOptionsTable>>(
                                "ConcatenationOptions",
                                pos,
                            ),
                        options_tag::DEPTH_TO_SPACE | options_tag::SPACE_TO_DEPTH => v
                            .verify_union_variant::<T<DepthToSpaceOptionsTable>>(
                                "DepthToSpaceOptions",
                                pos,
                            ),
                        // Not decoded, so not read.
                        _ => Ok(()),
                    }
                },
            )?
            .visit_field::<Scalars<u8>>("custom_options", f::CUSTOM_OPTIONS, false)?
            .finish();
        Ok(())
    }
}

impl Verifiable for BufferTable {
    fn run_verifier(
        v: &mut Verifier,
        pos: usize,
    ) -> std::result::Result<(), flatbuffers::InvalidFlatbuffer> {
        use vt::buffer as f;
        v.visit_table(pos)?
            .visit_field::<Scalars<u8>>("data", f::DATA, false)?
            .visit_field::<u64>("offset", f::OFFSET, false)?
            .visit_field::<u64>("size", f::SIZE, false)?
            .finish();
        Ok(())
    }
}

impl Verifiable for Conv2DOptionsTable {
    fn run_verifier(
        v: &mut Verifier,
        pos: usize,
    ) -> std::result::Result<(), flatbuffers::InvalidFlatbuffer> {
        use vt::conv2d as f;
        v.visit_table(pos)?
            .visit_field::<i8>("padding", f::PADDING, false)?
            .visit_field::<i32>("stride_w", f::STRIDE_W, false)?
            .visit_field::<i32>("stride_h", f::STRIDE_H, false)?
            .visit_field::<i8>("fused_activation_function", f::ACTIVATION, false)?
            .visit_field::<i32>("dilation_w_factor", f::DILATION_W, false)?
            .visit_field::<i32>("dilation_h_factor", f::DILATION_H, false)?
            .finish();
        Ok(())
    }
}

impl Verifiable for DepthwiseConv2DOptionsTable {
    fn run_verifier(
        v: &mut Verifier,
        pos: usize,
    ) -> std::result::Result<(), flatbuffers::InvalidFlatbuffer> {
        use vt::depthwise_conv2d as f;
        v.visit_table(pos)?
            .visit_field::<i8>("padding", f::PADDING, false)?
            .visit_field::<i32>("stride_w", f::STRIDE_W, false)?
            .visit_field::<i32>("stride_h", f::STRIDE_H, false)?
            .visit_field::<i32>("depth_multiplier", f::DEPTH_MULTIPLIER, false)?
            .visit_field::<i8>("fused_activation_function", f::ACTIVATION, false)?
            .visit_field::<i32>("dilation_w_factor", f::DILATION_W, false)?
            .visit_field::<i32>("dilation_h_factor", f::DILATION_H, false)?
            .finish();
        Ok(())
    }
}

impl Verifiable for ActivationOptionsTable {
    fn run_verifier(
        v: &mut Verifier,
        pos: usize,
    ) -> std::result::Result<(), flatbuffers::InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<i8>(
                "fused_activation_function",
                vt::elementwise::ACTIVATION,
                false,
            )?
            .finish();
        Ok(())
    }
}

impl Verifiable for ConcatenationOptionsTable {
    fn run_verifier(
        v: &mut Verifier,
        pos: usize,
    ) -> std::result::Result<(), flatbuffers::InvalidFlatbuffer> {
        use vt::concatenation as f;
        v.visit_table(pos)?
            .visit_field::<i32>("axis", f::AXIS, false)?
            .visit_field::<i8>("fused_activation_function", f::ACTIVATION, false)?
            .finish();
        Ok(())
    }
}

impl Verifiable for DepthToSpaceOptionsTable {
    fn run_verifier(
        v: &mut Verifier,
        pos: usize,
    ) -> std::result::Result<(), flatbuffers::InvalidFlatbuffer> {
        v.visit_table(pos)?
            .visit_field::<i32>("block_size", vt::depth_to_space::BLOCK_SIZE, false)?
            .finish();
        Ok(())
    }
}

/// Checks the identifier and runs the verifier from the root, with limits scaled to the file.
fn verify(bytes: &[u8]) -> Result<()> {
    if bytes.len() < 8 {
        return Err(TfliteError::NotTflite(format!(
            "{} bytes is too short for a flatbuffer",
            bytes.len()
        )));
    }
    if &bytes[4..8] != FILE_IDENTIFIER.as_bytes() {
        return Err(TfliteError::NotTflite(format!(
            "file identifier is {:?}, expected {FILE_IDENTIFIER:?}",
            String::from_utf8_lossy(&bytes[4..8])
        )));
    }
    let options = VerifierOptions {
        max_depth: 32,
        // Every table takes at least 4 bytes; shared vtables are visited once per table.
        max_tables: bytes.len() / 4 + 1,
        max_apparent_size: bytes.len().saturating_mul(64).min(1 << 31),
        ignore_missing_null_terminator: false,
    };
    let mut verifier = Verifier::new(&options, bytes);
    <ForwardsUOffset<ModelTable>>::run_verifier(&mut verifier, 0)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Decoding with bounds-checked reads (the verifier has run, so these never fail on a verified
// file; they still return errors rather than trust it).

fn corrupt(what: &str, pos: usize) -> TfliteError {
    TfliteError::Malformed(format!("{what} at byte {pos} lies outside the file"))
}

fn read_array<const N: usize>(buf: &[u8], pos: usize) -> Result<[u8; N]> {
    buf.get(pos..pos.checked_add(N).ok_or_else(|| corrupt("a field", pos))?)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| corrupt("a field", pos))
}

fn read_u32(buf: &[u8], pos: usize) -> Result<u32> {
    read_array::<4>(buf, pos).map(u32::from_le_bytes)
}

/// A table: its position and its vtable.
#[derive(Clone, Copy)]
struct Table<'a> {
    buf: &'a [u8],
    pos: usize,
    vtable: usize,
    vtable_len: usize,
}

/// A vector: where its elements start and how many there are.
#[derive(Clone, Copy)]
struct VectorRef<'a> {
    buf: &'a [u8],
    start: usize,
    len: usize,
}

impl<'a> Table<'a> {
    fn at(buf: &'a [u8], pos: usize) -> Result<Self> {
        let soffset = i32::from_le_bytes(read_array::<4>(buf, pos)?);
        let vtable =
            usize::try_from(pos as i64 - soffset as i64).map_err(|_| corrupt("a vtable", pos))?;
        let vtable_len = u16::from_le_bytes(read_array::<2>(buf, vtable)?) as usize;
        Ok(Self {
            buf,
            pos,
            vtable,
            vtable_len,
        })
    }

    /// Absolute position of a present field.
    fn field(&self, voffset: u16) -> Result<Option<usize>> {
        if voffset as usize + 2 > self.vtable_len {
            return Ok(None);
        }
        let offset = u16::from_le_bytes(read_array::<2>(self.buf, self.vtable + voffset as usize)?);
        Ok((offset != 0).then_some(self.pos + offset as usize))
    }

    fn scalar<const N: usize, T>(
        &self,
        voffset: u16,
        default: T,
        decode: fn([u8; N]) -> T,
    ) -> Result<T> {
        match self.field(voffset)? {
            Some(pos) => Ok(decode(read_array::<N>(self.buf, pos)?)),
            None => Ok(default),
        }
    }

    fn i8(&self, voffset: u16, default: i8) -> Result<i8> {
        self.scalar::<1, _>(voffset, default, i8::from_le_bytes)
    }

    fn u8(&self, voffset: u16) -> Result<u8> {
        self.scalar::<1, _>(voffset, 0, u8::from_le_bytes)
    }

    fn i32(&self, voffset: u16, default: i32) -> Result<i32> {
        self.scalar::<4, _>(voffset, default, i32::from_le_bytes)
    }

    fn u32(&self, voffset: u16) -> Result<u32> {
        self.scalar::<4, _>(voffset, 0, u32::from_le_bytes)
    }

    fn u64(&self, voffset: u16) -> Result<u64> {
        self.scalar::<8, _>(voffset, 0, u64::from_le_bytes)
    }

    /// Follows the offset stored in a field.
    fn indirect(&self, voffset: u16) -> Result<Option<usize>> {
        let Some(pos) = self.field(voffset)? else {
            return Ok(None);
        };
        let target = pos
            .checked_add(read_u32(self.buf, pos)? as usize)
            .filter(|&t| t < self.buf.len())
            .ok_or_else(|| corrupt("an offset target", pos))?;
        Ok(Some(target))
    }

    fn table(&self, voffset: u16) -> Result<Option<Table<'a>>> {
        self.indirect(voffset)?
            .map(|pos| Table::at(self.buf, pos))
            .transpose()
    }

    /// A vector of `element`-byte items, its length checked against the file.
    fn vector(&self, voffset: u16, element: usize) -> Result<Option<VectorRef<'a>>> {
        let Some(pos) = self.indirect(voffset)? else {
            return Ok(None);
        };
        let len = read_u32(self.buf, pos)? as usize;
        let start = pos + 4;
        let end = len
            .checked_mul(element)
            .and_then(|n| n.checked_add(start))
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| corrupt("a vector", pos))?;
        debug_assert!(end >= start);
        Ok(Some(VectorRef {
            buf: self.buf,
            start,
            len,
        }))
    }

    fn string(&self, voffset: u16) -> Result<Option<String>> {
        let Some(v) = self.vector(voffset, 1)? else {
            return Ok(None);
        };
        let bytes = &v.buf[v.start..v.start + v.len];
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| TfliteError::Malformed(format!("string at byte {} is not UTF-8", v.start)))
    }

    fn scalars<const N: usize, T>(&self, voffset: u16, decode: fn([u8; N]) -> T) -> Result<Vec<T>> {
        let Some(v) = self.vector(voffset, N)? else {
            return Ok(Vec::new());
        };
        (0..v.len)
            .map(|i| read_array::<N>(v.buf, v.start + i * N).map(decode))
            .collect()
    }

    fn tables(&self, voffset: u16) -> Result<Vec<Table<'a>>> {
        let Some(v) = self.vector(voffset, 4)? else {
            return Ok(Vec::new());
        };
        (0..v.len)
            .map(|i| {
                let pos = v.start + 4 * i;
                let target = pos
                    .checked_add(read_u32(v.buf, pos)? as usize)
                    .ok_or_else(|| corrupt("a table offset", pos))?;
                Table::at(v.buf, target)
            })
            .collect()
    }
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
        Some(q) => {
            use vt::quantization as g;
            let quantization = Quantization {
                scale: q.scalars::<4, _>(g::SCALE, f32::from_le_bytes)?,
                zero_point: q.scalars::<8, _>(g::ZERO_POINT, i64::from_le_bytes)?,
                quantized_dimension: q.i32(g::QUANTIZED_DIMENSION, 0)?,
                min: q.scalars::<4, _>(g::MIN, f32::from_le_bytes)?,
                max: q.scalars::<4, _>(g::MAX, f32::from_le_bytes)?,
            };
            // The converter writes an empty table for unquantized tensors.
            let empty = quantization.scale.is_empty()
                && quantization.zero_point.is_empty()
                && quantization.min.is_empty()
                && quantization.max.is_empty();
            (!empty || q.u8(g::DETAILS_TYPE)? != 0).then_some(quantization)
        }
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
