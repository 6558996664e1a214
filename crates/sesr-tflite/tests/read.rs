//! The reader on our own files (everything written comes back), on a file re-serialised by
//! flatc's generated code the way TensorFlow's converter lays files out, and `inspect`.

use std::process::Command;

use anyhow::{ensure, Result};
use sesr_net::{Float32Network, Int8Network};
use sesr_testkit::litert::python;
use sesr_testkit::reference::forward;
use sesr_testkit::{f32_from_bytes, random_network};
use sesr_tflite::read::{Model, Tensor};
use sesr_tflite::schema::{Activation, BuiltinOp, OperatorOptions, Padding, TensorType};
use sesr_tflite::{inspect, write_float32, write_int8, InputSize};

const H: usize = 6;
const W: usize = 7;
const M: usize = 2;
const F: usize = 4;

const SIZE: InputSize = InputSize::new(H, W);

fn graph(scale: usize, prelu: bool) -> Float32Network {
    random_network(scale, M, F, prelu, 7)
}

/// The int8 network of `network` with the ranges it shows on the `h` x `w` plane `x`.
fn quantized(network: &Float32Network, x: &[f32], (h, w): (usize, usize)) -> Result<Int8Network> {
    Ok(Int8Network::quantize(
        network,
        &forward(network, x, h, w).ranges,
    )?)
}

fn ops(model: &Model) -> Vec<BuiltinOp> {
    model.subgraphs[0]
        .operators
        .iter()
        .map(|op| model.op(op).unwrap())
        .collect()
}

fn tensor<'a>(model: &'a Model, name: &str) -> &'a Tensor {
    model.subgraphs[0]
        .tensors
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tensor {name}"))
}

fn tensor_index(model: &Model, name: &str) -> usize {
    model.subgraphs[0]
        .tensors
        .iter()
        .position(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tensor {name}"))
}

/// MACs of the SESR convolutions, counted by hand: 5x5 1->f, m 3x3 f->f, 5x5 f->s^2.
fn expected_macs(scale: usize) -> u128 {
    (H * W * (25 * F + M * 9 * F * F + 25 * F * scale * scale)) as u128
}

#[test]
fn float_model_round_trips() -> Result<()> {
    use BuiltinOp as Op;
    let g = graph(2, true);
    let bytes = write_float32(&g, SIZE)?;
    let model = Model::parse(&bytes)?;
    assert_eq!(model.version, 3);
    assert!(model
        .description
        .as_deref()
        .unwrap()
        .starts_with("SESR-M2 f4 x2 float32, PReLU, input 6x7"));
    assert_eq!(
        ops(&model),
        [
            Op::ADD,
            Op::CONV_2D,
            Op::CONV_2D,
            Op::PRELU,
            Op::CONV_2D,
            Op::PRELU,
            Op::ADD,
            Op::CONV_2D,
            Op::ADD,
            Op::RELU_N1_TO_1,
            Op::DEPTH_TO_SPACE
        ]
    );
    // One code per operator, all at version 1, both code fields filled.
    assert_eq!(model.operator_codes.len(), 5);
    for code in &model.operator_codes {
        assert_eq!(code.version, 1);
        assert_eq!(code.builtin_code, code.op.0);
        assert_eq!(code.deprecated_builtin_code as i32, code.op.0);
    }
    let sg = &model.subgraphs[0];
    assert_eq!(sg.inputs.len(), 1);
    let input = &sg.tensors[sg.inputs[0] as usize];
    let output = &sg.tensors[sg.outputs[0] as usize];
    assert_eq!(
        (input.name.as_str(), input.shape.as_slice()),
        ("input", &[1, 6, 7, 1][..])
    );
    assert_eq!(
        (output.name.as_str(), output.shape.as_slice()),
        ("output", &[1, 12, 14, 1][..])
    );
    assert_eq!(input.dtype, TensorType::FLOAT32);
    assert!(input.quantization.is_none());
    assert_eq!(tensor(&model, "block_1").shape, [1, 6, 7, 4]);
    assert_eq!(tensor(&model, "output_conv").shape, [1, 6, 7, 4]);

    // Buffer 0 is the empty sentinel; constant data is 16-byte aligned in the file.
    assert_eq!(model.buffers[0].len, 0);
    for b in model.buffers.iter().skip(1) {
        assert!(b.len > 0 && b.offset % 16 == 0, "{b:?}");
    }
    assert_eq!(bytes.len() % 16, 0);

    // Weights come back in OHWI: element [o][y][x][i] is PyTorch's [o][i][y][x].
    for (name, conv) in [
        ("block_0/weight", &g.convs[1]),
        ("output_conv/weight", &g.convs[3]),
    ] {
        let t = tensor(&model, name);
        let k = conv.kernel;
        assert_eq!(
            t.shape,
            [conv.out_channels as i32, k as i32, k as i32, F as i32]
        );
        let data = f32_from_bytes(model.tensor_data(0, tensor_index(&model, name)).unwrap());
        for o in 0..conv.out_channels {
            for y in 0..k {
                for x in 0..k {
                    for i in 0..F {
                        assert_eq!(
                            data[((o * k + y) * k + x) * F + i],
                            conv.weight[((o * F + i) * k + y) * k + x]
                        );
                    }
                }
            }
        }
    }
    let bias = f32_from_bytes(
        model
            .tensor_data(0, tensor_index(&model, "input_conv/bias"))
            .unwrap(),
    );
    assert_eq!(bias, g.convs[0].bias);
    let alpha = tensor(&model, "block_1/prelu_alpha");
    assert_eq!(alpha.shape, [1, 1, 4]);
    let minus_half = model
        .tensor_data(0, tensor_index(&model, "minus_half"))
        .unwrap();
    assert_eq!(f32_from_bytes(minus_half), [-0.5]);

    let conv_options = &sg.operators[1].options;
    assert_eq!(
        *conv_options,
        OperatorOptions::conv2d(Padding::Same, Activation::NONE)
    );
    assert_eq!(
        sg.operators[8].options,
        OperatorOptions::Add {
            activation: Activation::RELU
        }
    );
    assert_eq!(
        sg.operators[10].options,
        OperatorOptions::DepthToSpace { block_size: 2 }
    );
    assert_eq!(model.macs(), expected_macs(2));
    Ok(())
}

#[test]
fn x4_applies_depth_to_space_twice() -> Result<()> {
    let model = Model::parse(&write_float32(&graph(4, false), SIZE)?)?;
    let ops = ops(&model);
    assert_eq!(
        ops.iter()
            .filter(|&&o| o == BuiltinOp::DEPTH_TO_SPACE)
            .count(),
        2
    );
    assert!(!ops.contains(&BuiltinOp::PRELU));
    assert_eq!(tensor(&model, "depth_to_space_0").shape, [1, 12, 14, 4]);
    assert_eq!(tensor(&model, "output").shape, [1, 24, 28, 1]);
    // ReLU is fused into the block convolutions.
    let sg = &model.subgraphs[0];
    assert_eq!(
        sg.operators[2].options,
        OperatorOptions::conv2d(Padding::Same, Activation::RELU)
    );
    assert_eq!(model.macs(), expected_macs(4));
    Ok(())
}

#[test]
fn int8_model_round_trips() -> Result<()> {
    use BuiltinOp as Op;
    let g = graph(2, false);
    let x: Vec<f32> = (0..H * W).map(|i| (i % 11) as f32 / 10.0).collect();
    let q = quantized(&g, &x, (H, W))?;
    let model = Model::parse(&write_int8(&q, SIZE)?)?;
    assert_eq!(
        ops(&model),
        [
            Op::ADD,
            Op::CONV_2D,
            Op::CONV_2D,
            Op::CONV_2D,
            Op::ADD,
            Op::CONV_2D,
            Op::ADD,
            Op::DEPTH_TO_SPACE
        ]
    );
    let version = |op: BuiltinOp| {
        model
            .operator_codes
            .iter()
            .find(|c| c.op == op)
            .map(|c| c.version)
    };
    assert_eq!(version(Op::CONV_2D), Some(3));
    assert_eq!(version(Op::ADD), Some(2));
    assert_eq!(version(Op::DEPTH_TO_SPACE), Some(2));

    let per_tensor = |t: &Tensor| {
        let q = t.quantization.as_ref().unwrap();
        assert_eq!((q.scale.len(), q.zero_point.len()), (1, 1), "{}", t.name);
        (q.scale[0], q.zero_point[0])
    };
    let input = tensor(&model, "input");
    assert_eq!(input.dtype, TensorType::INT8);
    let ip = q.input;
    assert_eq!(per_tensor(input), (ip.scale, ip.zero_point as i64));
    let op = q.output;
    for name in ["final_sum", "output"] {
        assert_eq!(
            per_tensor(tensor(&model, name)),
            (op.scale, op.zero_point as i64)
        );
    }
    // A [0, 1] output grid: the clip lives in the final ADD's saturation.
    assert_eq!((op.scale, op.zero_point), (1.0 / 255.0, -128));

    // Weights: int8, symmetric per output channel (axis 0), narrow range; biases: int32 with
    // scale input_scale * weight_scale.
    let sg = &model.subgraphs[0];
    for conv in sg
        .operators
        .iter()
        .filter(|o| model.op(o) == Some(Op::CONV_2D))
    {
        let [inp, w, b] = [0, 1, 2].map(|i| &sg.tensors[conv.inputs[i] as usize]);
        assert_eq!((w.dtype, b.dtype), (TensorType::INT8, TensorType::INT32));
        let wq = w.quantization.as_ref().unwrap();
        let bq = b.quantization.as_ref().unwrap();
        let channels = w.shape[0] as usize;
        assert_eq!((wq.scale.len(), wq.quantized_dimension), (channels, 0));
        assert!(wq.zero_point.iter().chain(&bq.zero_point).all(|&z| z == 0));
        let input_scale = per_tensor(inp).0;
        for c in 0..channels {
            assert_eq!(bq.scale[c], input_scale * wq.scale[c]);
        }
        let data = model.tensor_data(0, conv.inputs[1] as usize).unwrap();
        let per_channel = data.len() / channels;
        for run in data.chunks(per_channel) {
            let max = run.iter().map(|&v| (v as i8).unsigned_abs()).max().unwrap();
            assert_eq!(max, 127, "each channel uses the full narrow range");
            assert!(run.iter().all(|&v| v as i8 != -128));
        }
    }
    let minus_half = tensor(&model, "minus_half");
    assert_eq!(per_tensor(minus_half), (1.0 / 256.0, 0));
    assert_eq!(
        model.tensor_data(0, tensor_index(&model, "minus_half")),
        Some(&[0x80u8][..])
    );
    Ok(())
}

#[test]
fn inspect_shows_ops_tensors_quantization_and_macs() -> Result<()> {
    let g = graph(2, false);
    let x: Vec<f32> = (0..H * W).map(|i| (i % 5) as f32 / 4.0).collect();
    let model = Model::parse(&write_int8(&quantized(&g, &x, (H, W))?, SIZE)?)?;
    let text = inspect(&model);
    assert_eq!(text, model.to_string());
    let lines: Vec<&str> = text.lines().collect();
    let has = |needle: &[&str]| lines.iter().any(|l| needle.iter().all(|n| l.contains(n)));
    assert!(text.starts_with("TFLite model, schema version 3: \"SESR-M2 f4 x2 int8, ReLU"));
    assert!(has(&["CONV_2D v3"]), "{text}");
    assert!(has(&["DEPTH_TO_SPACE v2"]), "{text}");
    assert!(
        has(&[
            "input ",
            "INT8",
            "[1, 6, 7, 1]",
            "quant: scale 3.921569e-3 zero_point -128"
        ]),
        "{text}"
    );
    assert!(has(&["output ", "INT8", "[1, 12, 14, 1]"]), "{text}");
    assert!(
        has(&[
            "input_conv/weight",
            "INT8",
            "[4, 5, 5, 1]",
            "buffer",
            "(100 bytes)",
            "per-channel axis 0 (4)",
            "zero_points all 0"
        ]),
        "{text}"
    );
    assert!(
        has(&["input_conv/bias", "INT32", "[4]", "(16 bytes)"]),
        "{text}"
    );
    assert!(
        has(&[
            "CONV_2D",
            "v3",
            "padding Same, stride 1x1, dilation 1x1, activation RELU"
        ]),
        "{text}"
    );
    assert!(has(&["DEPTH_TO_SPACE", "block size 2"]), "{text}");
    assert!(has(&[&format!("MACs: {}", expected_macs(2))]), "{text}");
    Ok(())
}

/// A file packed by flatc's generated Python code (LiteRT's own schema module) with only
/// one-byte operator codes, a metadata buffer and a signature, like a converter's output.
#[test]
fn reads_a_file_laid_out_by_generated_code() -> Result<()> {
    let g = graph(4, true);
    let ours = write_float32(&g, SIZE)?;
    let dir = tempfile::tempdir()?;
    let (src, dst) = (
        dir.path().join("ours.tflite"),
        dir.path().join("theirs.tflite"),
    );
    std::fs::write(&src, &ours)?;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tflite_repack.py");
    let out = Command::new(python()?)
        .arg(script)
        .arg(&src)
        .arg(&dst)
        .output()?;
    ensure!(
        out.status.success(),
        "repack failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = Model::read(&dst)?;
    let ours = Model::parse(&ours)?;
    assert_eq!(theirs.subgraphs, ours.subgraphs);
    assert_eq!(ops(&theirs), ops(&ours));
    for code in &theirs.operator_codes {
        assert_eq!(code.builtin_code, 0, "only the one-byte code is set");
    }
    assert_eq!(theirs.buffers.len(), ours.buffers.len() + 1);
    for (i, _) in ours.buffers.iter().enumerate() {
        assert_eq!(theirs.buffer_data(i), ours.buffer_data(i));
    }
    assert_eq!(theirs.macs(), ours.macs());
    Ok(())
}

#[test]
fn read_reports_missing_files_by_path() {
    let err = Model::read("/nonexistent/model.tflite".as_ref()).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/model.tflite"),
        "{err}"
    );
}

/// On an even-sized input the outer convolutions are phase-packed (see `sesr_tflite::graph`).
#[test]
fn fast_layout_packs_the_outer_convolutions() -> Result<()> {
    use BuiltinOp as Op;
    let g = random_network(2, M, F, false, 7);
    let size = InputSize::new(6, 8);
    let model = Model::parse(&write_float32(&g, size)?)?;
    assert!(model
        .description
        .as_deref()
        .unwrap()
        .contains("input 6x8, input and output convs phase-packed"));
    assert_eq!(
        ops(&model),
        [
            Op::SPACE_TO_DEPTH,
            Op::ADD,
            Op::CONV_2D,
            Op::DEPTH_TO_SPACE,
            Op::CONV_2D,
            Op::CONV_2D,
            Op::ADD,
            Op::SPACE_TO_DEPTH,
            Op::CONV_2D,
            Op::CONV_2D,
            Op::ADD,
            Op::RELU_N1_TO_1,
            Op::DEPTH_TO_SPACE
        ]
    );
    let shape = |name: &str| tensor(&model, name).shape.clone();
    assert_eq!(shape("input_space_to_depth"), [1, 3, 4, 4]);
    assert_eq!(shape("input_conv_packed"), [1, 3, 4, 16]);
    assert_eq!(shape("input_conv/weight"), [16, 3, 3, 4]);
    assert_eq!(shape("input_conv"), [1, 6, 8, 4]);
    assert_eq!(shape("residual_space_to_depth"), [1, 3, 4, 16]);
    assert_eq!(shape("output_conv/weight"), [16, 3, 3, 16]);
    assert_eq!(shape("input_spread/weight"), [16, 1, 1, 4]);
    assert_eq!(shape("final_sum"), [1, 3, 4, 16]);
    assert_eq!(shape("output"), [1, 12, 16, 1]);
    let sg = &model.subgraphs[0];
    assert_eq!(
        sg.operators.last().unwrap().options,
        OperatorOptions::DepthToSpace { block_size: 4 }
    );
    assert_eq!(
        sg.operators[0].options,
        OperatorOptions::SpaceToDepth { block_size: 2 }
    );
    // MACs as executed: the packed convolutions carry zero taps.
    let (hh, wh) = (3u128, 4u128);
    let packed = hh * wh * (16 * 9 * 4 + 16 * 9 * 16 + 16 * 4) + 48 * (M * 9 * F * F) as u128;
    assert_eq!(model.macs(), packed);

    // The plain layout, on request, is the reference graph.
    let plain = Model::parse(&sesr_tflite::write_float32_with(
        &g,
        size,
        sesr_tflite::Layout::Plain,
    )?)?;
    assert!(!ops(&plain).contains(&Op::SPACE_TO_DEPTH));

    // At x4 only the input conv is packed (the output conv already has 16 channels).
    let g4 = random_network(4, M, F, false, 7);
    let x: Vec<f32> = (0..48).map(|i| (i % 9) as f32 / 8.0).collect();
    let model = Model::parse(&write_int8(&quantized(&g4, &x, (6, 8))?, size)?)?;
    let ops4 = ops(&model);
    assert_eq!(ops4.iter().filter(|&&o| o == Op::SPACE_TO_DEPTH).count(), 1);
    assert_eq!(ops4.iter().filter(|&&o| o == Op::DEPTH_TO_SPACE).count(), 3);
    assert_eq!(tensor(&model, "output_conv/weight").shape, [16, 5, 5, 4]);
    let s2d = model
        .operator_codes
        .iter()
        .find(|c| c.op == Op::SPACE_TO_DEPTH)
        .unwrap();
    assert_eq!(s2d.version, 2);
    Ok(())
}
