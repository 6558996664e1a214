//! SESR as ONNX, the network of `sesr_net`'s crate doc node for node, in NCHW:
//!
//! ```text
//! t = x + (-0.5); f0 = Conv5x5(t); h = f0; m times: h = PRelu|Relu(Conv3x3(h))
//! r = h + f0; o = Conv5x5(r) + x; y = Clip(o, 0, 1); y = DepthToSpace(y, 2, DCR) (twice at x4)
//! ```
//!
//! float32 ([`float32_model`]) takes any input size: height and width are symbolic. int8
//! ([`int8_model`]) is the same graph in QDQ form: every activation goes through
//! QuantizeLinear / DequantizeLinear with the int8 network's own scale, as uint8 with the
//! zero point moved by 128 (the same grid; ONNX Runtime's x86 kernels want uint8
//! activations); weights are int8 with per-channel scales (DequantizeLinear, axis 0), biases
//! int32 at input scale x weight scale. ONNX Runtime fuses each DequantizeLinear -> Conv ->
//! QuantizeLinear into an integer convolution (QLinearConv). Input and output are float
//! (quantized and dequantized inside), any size. The int8 clip is the saturation of the
//! output's QuantizeLinear.

use crate::builder::{attribute_int, attribute_ints, attribute_string, Dim, GraphBuilder};
use crate::{OnnxError, Result};
use sesr_net::{ConvWeights, Float32Network, Int8Network, QuantParams};

const INPUT: &str = "lr";
const OUTPUT: &str = "sr";
const INPUT_DIMS: [Dim; 4] = [
    Dim::Fixed(1),
    Dim::Fixed(1),
    Dim::Named("height"),
    Dim::Named("width"),
];
const OUTPUT_DIMS: [Dim; 4] = [
    Dim::Fixed(1),
    Dim::Fixed(1),
    Dim::Named("out_height"),
    Dim::Named("out_width"),
];

fn conv_attributes(kernel: usize) -> Vec<crate::proto::AttributeProto> {
    let k = kernel as i64;
    let p = k / 2;
    vec![
        attribute_ints("kernel_shape", &[k, k]),
        attribute_ints("pads", &[p, p, p, p]),
        attribute_ints("strides", &[1, 1]),
    ]
}

/// Depth-to-space by 2, once at x2 and twice at x4, as the training graph does (TensorFlow's
/// channel order: DCR).
fn depth_to_space(b: &mut GraphBuilder, input: &str, scale: usize) -> Result<()> {
    let steps = match scale {
        2 => 1,
        4 => 2,
        _ => {
            return Err(OnnxError::Unsupported(format!(
                "scale {scale}; SESR upscales x2 or x4"
            )))
        }
    };
    let mut x = input.to_string();
    for step in 1..=steps {
        let name = if step == steps {
            OUTPUT.to_string()
        } else {
            format!("depth_to_space_{step}")
        };
        let attributes = vec![
            attribute_int("blocksize", 2),
            attribute_string("mode", "DCR"),
        ];
        x = b.node("DepthToSpace", &name, &[&x], attributes);
    }
    Ok(())
}

fn doc(kind: &str, scale: usize, m: usize, f: usize) -> String {
    format!("SESR m={m} f={f} x{scale}, {kind}; input lr: luminance (Y) in [0, 1], NCHW")
}

/// A float32 ONNX model of `graph`, for any input size.
pub fn float32_model(graph: &Float32Network) -> Result<Vec<u8>> {
    graph.validate()?;
    let mut b = GraphBuilder::default();
    let shift = b.float("minus_half", &[], &[-0.5]);
    let mut x = b.node("Add", "shifted", &[INPUT, &shift], vec![]);
    let conv = |b: &mut GraphBuilder, name: &str, input: &str, w: &ConvWeights| {
        let dims = [w.out_channels, w.in_channels, w.kernel, w.kernel];
        let weight = b.float(&format!("{name}.weight"), &dims, &w.weight);
        let bias = b.float(&format!("{name}.bias"), &[w.out_channels], &w.bias);
        b.node(
            "Conv",
            name,
            &[input, &weight, &bias],
            conv_attributes(w.kernel),
        )
    };
    let m = graph.m();
    let f0 = conv(&mut b, "input_conv", &x, &graph.convs[0]);
    x = f0.clone();
    for i in 0..m {
        let y = conv(&mut b, &format!("block_{i}.conv"), &x, &graph.convs[i + 1]);
        x = match graph.prelu.get(i) {
            Some(slopes) => {
                let slope = b.float(&format!("block_{i}.slope"), &[slopes.len(), 1, 1], slopes);
                b.node("PRelu", &format!("block_{i}.prelu"), &[&y, &slope], vec![])
            }
            None => b.node("Relu", &format!("block_{i}.relu"), &[&y], vec![]),
        };
    }
    let r = b.node("Add", "residual", &[&x, &f0], vec![]);
    let o = conv(&mut b, "output_conv", &r, &graph.convs[m + 1]);
    let o = b.node("Add", "input_skip", &[&o, INPUT], vec![]);
    let (zero, one) = (b.float("zero", &[], &[0.0]), b.float("one", &[], &[1.0]));
    let y = b.node("Clip", "clip", &[&o, &zero, &one], vec![]);
    depth_to_space(&mut b, &y, graph.scale)?;
    let doc = doc("float32", graph.scale, m, graph.features());
    Ok(b.finish("sesr", (INPUT, &INPUT_DIMS), (OUTPUT, &OUTPUT_DIMS), doc))
}

/// QuantizeLinear then DequantizeLinear of `input` with `params`, named `name`; returns the
/// dequantized tensor.
fn qdq(b: &mut GraphBuilder, name: &str, input: &str, params: QuantParams) -> String {
    let scale = b.float(&format!("{name}.scale"), &[], &[params.scale]);
    // uint8 activations (zero point + 128, the same grid): ONNX Runtime's x86 integer kernels
    // take uint8 activations with int8 weights.
    let zero = b.uint8(
        &format!("{name}.zero_point"),
        &[],
        &[(params.zero_point + 128) as u8],
    );
    let q = b.node(
        "QuantizeLinear",
        &format!("{name}.q"),
        &[input, &scale, &zero],
        vec![],
    );
    b.node(
        "DequantizeLinear",
        &format!("{name}.dq"),
        &[&q, &scale, &zero],
        vec![],
    )
}

/// An int8 ONNX model (QDQ) of an int8 network: the same int8 weights, biases and activation
/// parameters as every other file of it (the int8 `.tflite`).
pub fn int8_model(net: &Int8Network) -> Result<Vec<u8>> {
    net.validate()?;
    let params = [net.input, net.shifted, net.residual, net.output]
        .into_iter()
        .chain(net.convs.iter().flat_map(|c| [c.input, c.output]))
        .chain(
            net.prelu
                .iter()
                .flat_map(|p| [p.input, p.output, p.alpha_params]),
        );
    for p in params {
        let usable = p.scale.is_finite() && p.scale > 0.0 && (-128..=127).contains(&p.zero_point);
        if !usable {
            return Err(OnnxError::Unsupported(format!(
                "activation parameters {p:?}: int8 needs a positive scale and a zero point in \
                 -128..=127"
            )));
        }
    }
    let mut b = GraphBuilder::default();
    let x = qdq(&mut b, "input", INPUT, net.input);
    let shift_scale = b.float("shift.scale", &[], &[net.shift_constant_params.scale]);
    let shift_zero = b.int8(
        "shift.zero_point",
        &[],
        &[net.shift_constant_params.zero_point as i8],
    );
    let shift_q = b.int8("shift.value", &[], &[net.shift_constant]);
    let shift = b.node(
        "DequantizeLinear",
        "shift",
        &[&shift_q, &shift_scale, &shift_zero],
        vec![],
    );
    let t = b.node("Add", "shifted", &[&x, &shift], vec![]);
    let t = qdq(&mut b, "shifted", &t, net.shifted);
    let m = net.m();
    let conv = |b: &mut GraphBuilder, name: &str, input: &str, index: usize| {
        let c = &net.convs[index];
        let (o, i, k) = (c.out_channels, c.in_channels, c.kernel);
        let weight = b.int8(&format!("{name}.weight"), &[o, i, k, k], &c.weight_oihw());
        let weight_scale = b.float(&format!("{name}.weight_scale"), &[o], &c.weight_scales);
        let weight_zero = b.int8(&format!("{name}.weight_zero_point"), &[o], &vec![0; o]);
        let weight = b.node(
            "DequantizeLinear",
            &format!("{name}.weight_dq"),
            &[&weight, &weight_scale, &weight_zero],
            vec![attribute_int("axis", 0)],
        );
        let bias_scales: Vec<f32> = c.weight_scales.iter().map(|s| c.input.scale * s).collect();
        let bias = b.int32(&format!("{name}.bias"), &[o], &c.bias);
        let bias_scale = b.float(&format!("{name}.bias_scale"), &[o], &bias_scales);
        let bias_zero = b.int32(&format!("{name}.bias_zero_point"), &[o], &vec![0; o]);
        let bias = b.node(
            "DequantizeLinear",
            &format!("{name}.bias_dq"),
            &[&bias, &bias_scale, &bias_zero],
            vec![attribute_int("axis", 0)],
        );
        let mut y = b.node("Conv", name, &[input, &weight, &bias], conv_attributes(k));
        if c.relu {
            y = b.node("Relu", &format!("{name}.relu"), &[&y], vec![]);
        }
        qdq(b, &format!("{name}.output"), &y, c.output)
    };
    let f0 = conv(&mut b, "input_conv", &t, 0);
    let mut h = f0.clone();
    for i in 0..m {
        let name = format!("block_{i}");
        h = conv(&mut b, &format!("{name}.conv"), &h, i + 1);
        if let Some(prelu) = net.prelu.get(i) {
            let f = prelu.alpha.len();
            let alpha = b.int8(&format!("{name}.slope"), &[f, 1, 1], &prelu.alpha);
            let alpha_scale = b.float(
                &format!("{name}.slope_scale"),
                &[],
                &[prelu.alpha_params.scale],
            );
            let alpha_zero = b.int8(
                &format!("{name}.slope_zero_point"),
                &[],
                &[prelu.alpha_params.zero_point as i8],
            );
            let alpha = b.node(
                "DequantizeLinear",
                &format!("{name}.slope_dq"),
                &[&alpha, &alpha_scale, &alpha_zero],
                vec![],
            );
            let y = b.node("PRelu", &format!("{name}.prelu"), &[&h, &alpha], vec![]);
            h = qdq(&mut b, &format!("{name}.prelu_output"), &y, prelu.output);
        }
    }
    let r = b.node("Add", "residual", &[&h, &f0], vec![]);
    let r = qdq(&mut b, "residual", &r, net.residual);
    let o = conv(&mut b, "output_conv", &r, m + 1);
    let y = b.node("Add", "input_skip", &[&o, &x], vec![]);
    let y = qdq(&mut b, "output", &y, net.output);
    depth_to_space(&mut b, &y, net.scale)?;
    let doc = doc("int8 QDQ", net.scale, m, net.features());
    Ok(b.finish(
        "sesr_int8",
        (INPUT, &INPUT_DIMS),
        (OUTPUT, &OUTPUT_DIMS),
        doc,
    ))
}
