//! Verification before decoding: the file identifier, then `flatbuffers`' verifier over every
//! table, vector and string the reader will touch, described the way generated code describes
//! them (one marker type per schema table).

use flatbuffers::{
    ForwardsUOffset, InvalidFlatbuffer, Vector, Verifiable, Verifier, VerifierOptions,
};

use crate::error::{Result, TfliteError};
use crate::schema::{options_tag, vt, FILE_IDENTIFIER};

type VecOf<'a, T> = ForwardsUOffset<Vector<'a, ForwardsUOffset<T>>>;
type Scalars<'a, T> = ForwardsUOffset<Vector<'a, T>>;
type Str<'a> = ForwardsUOffset<&'a str>;
type VerifyResult = std::result::Result<(), InvalidFlatbuffer>;

/// The largest flatbuffer: offsets are 32-bit and signed where they point back.
pub(super) const MAX_BYTES: u64 = 1 << 31;

/// Checks the file identifier in the first 8 bytes (or more) of a file.
pub(super) fn identifier(bytes: &[u8]) -> Result<()> {
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
    Ok(())
}

/// Checks the identifier and runs the verifier from the root, with limits scaled to the file.
pub(super) fn verify(bytes: &[u8]) -> Result<()> {
    identifier(bytes)?;
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

/// Declares the marker type of a schema table whose fields (`"name": Type = VOFFSET`, the
/// offset a constant of `vt::<module>`) are all optional and verified in the order given.
macro_rules! verified_table {
    ($marker:ident: vt::$fields:ident { $($name:literal: $ty:ty = $voffset:ident),+ $(,)? }) => {
        struct $marker;

        impl Verifiable for $marker {
            fn run_verifier(v: &mut Verifier, pos: usize) -> VerifyResult {
                use vt::$fields as f;
                v.visit_table(pos)?
                    $(.visit_field::<$ty>($name, f::$voffset, false)?)+
                    .finish();
                Ok(())
            }
        }
    };
}

verified_table!(ModelTable: vt::model {
    "version": u32 = VERSION,
    "operator_codes": VecOf<OperatorCodeTable> = OPERATOR_CODES,
    "subgraphs": VecOf<SubGraphTable> = SUBGRAPHS,
    "description": Str = DESCRIPTION,
    "buffers": VecOf<BufferTable> = BUFFERS,
});

verified_table!(OperatorCodeTable: vt::operator_code {
    "deprecated_builtin_code": i8 = DEPRECATED_BUILTIN_CODE,
    "custom_code": Str = CUSTOM_CODE,
    "version": i32 = VERSION,
    "builtin_code": i32 = BUILTIN_CODE,
});

verified_table!(SubGraphTable: vt::subgraph {
    "tensors": VecOf<TensorTable> = TENSORS,
    "inputs": Scalars<i32> = INPUTS,
    "outputs": Scalars<i32> = OUTPUTS,
    "operators": VecOf<OperatorTable> = OPERATORS,
    "name": Str = NAME,
});

verified_table!(TensorTable: vt::tensor {
    "shape": Scalars<i32> = SHAPE,
    "type": i8 = TYPE,
    "buffer": u32 = BUFFER,
    "name": Str = NAME,
    "quantization": ForwardsUOffset<QuantizationTable> = QUANTIZATION,
    "is_variable": bool = IS_VARIABLE,
});

verified_table!(QuantizationTable: vt::quantization {
    "min": Scalars<f32> = MIN,
    "max": Scalars<f32> = MAX,
    "scale": Scalars<f32> = SCALE,
    "zero_point": Scalars<i64> = ZERO_POINT,
    "details_type": u8 = DETAILS_TYPE,
    "quantized_dimension": i32 = QUANTIZED_DIMENSION,
});

verified_table!(BufferTable: vt::buffer {
    "data": Scalars<u8> = DATA,
    "offset": u64 = OFFSET,
    "size": u64 = SIZE,
});

verified_table!(Conv2DOptionsTable: vt::conv2d {
    "padding": i8 = PADDING,
    "stride_w": i32 = STRIDE_W,
    "stride_h": i32 = STRIDE_H,
    "fused_activation_function": i8 = ACTIVATION,
    "dilation_w_factor": i32 = DILATION_W,
    "dilation_h_factor": i32 = DILATION_H,
});

verified_table!(DepthwiseConv2DOptionsTable: vt::depthwise_conv2d {
    "padding": i8 = PADDING,
    "stride_w": i32 = STRIDE_W,
    "stride_h": i32 = STRIDE_H,
    "depth_multiplier": i32 = DEPTH_MULTIPLIER,
    "fused_activation_function": i8 = ACTIVATION,
    "dilation_w_factor": i32 = DILATION_W,
    "dilation_h_factor": i32 = DILATION_H,
});

verified_table!(ActivationOptionsTable: vt::elementwise {
    "fused_activation_function": i8 = ACTIVATION,
});

verified_table!(ConcatenationOptionsTable: vt::concatenation {
    "axis": i32 = AXIS,
    "fused_activation_function": i8 = ACTIVATION,
});

verified_table!(DepthToSpaceOptionsTable: vt::depth_to_space {
    "block_size": i32 = BLOCK_SIZE,
});

/// The operator table, by hand: its options are a union.
struct OperatorTable;

impl Verifiable for OperatorTable {
    fn run_verifier(v: &mut Verifier, pos: usize) -> VerifyResult {
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
                verify_builtin_options,
            )?
            .visit_field::<Scalars<u8>>("custom_options", f::CUSTOM_OPTIONS, false)?
            .finish();
        Ok(())
    }
}

/// The options table of union tag `tag`, for the options the reader decodes.
fn verify_builtin_options(tag: u8, v: &mut Verifier, pos: usize) -> VerifyResult {
    type T<X> = ForwardsUOffset<X>;
    match tag {
        options_tag::CONV_2D => {
            v.verify_union_variant::<T<Conv2DOptionsTable>>("Conv2DOptions", pos)
        }
        options_tag::DEPTHWISE_CONV_2D => {
            v.verify_union_variant::<T<DepthwiseConv2DOptionsTable>>("DepthwiseConv2DOptions", pos)
        }
        options_tag::ADD | options_tag::SUB | options_tag::MUL => {
            v.verify_union_variant::<T<ActivationOptionsTable>>("ActivationOptions", pos)
        }
        options_tag::CONCATENATION => {
            v.verify_union_variant::<T<ConcatenationOptionsTable>>("ConcatenationOptions", pos)
        }
        options_tag::DEPTH_TO_SPACE | options_tag::SPACE_TO_DEPTH => {
            v.verify_union_variant::<T<DepthToSpaceOptionsTable>>("DepthToSpaceOptions", pos)
        }
        // Not decoded, so not read.
        _ => Ok(()),
    }
}
