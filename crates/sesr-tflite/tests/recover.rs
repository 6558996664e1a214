//! The integer network recovered from our int8 files: the same integers from every layout and
//! every export size, equal to the quantized weights, and clear errors for files that are
//! not an int8 SESR graph.

use anyhow::Result;
use sesr_net::quant::{quantize_weights_per_channel, QuantParams};
use sesr_net::{Float32Network, Int8Network};
use sesr_testkit::photos::chelsea_y;
use sesr_testkit::random_network;
use sesr_testkit::reference::forward;
use sesr_tflite::read::Model;
use sesr_tflite::{read_int8, write_float32, write_int8_with, InputSize, Int8File, Layout};

fn network(scale: usize, prelu: bool) -> Float32Network {
    random_network(scale, 3, 8, prelu, 41)
}

/// The int8 network with ranges calibrated on a 24x32 crop of a real photo (the ranges do not
/// depend on any export size).
fn quantized(scale: usize, prelu: bool) -> Result<Int8Network> {
    let float = network(scale, prelu);
    let x = chelsea_y(120, 160, 24, 32)?;
    let ranges = forward(&float, &x, 24, 32).ranges;
    Ok(Int8Network::quantize(&float, &ranges)?)
}

fn recover(q: &Int8Network, (h, w): (usize, usize), layout: Layout) -> Result<Int8File> {
    let bytes = write_int8_with(q, InputSize::new(h, w), layout)?;
    Ok(read_int8(&Model::parse(&bytes)?)?)
}

#[test]
fn every_layout_and_size_gives_back_the_written_network() -> Result<()> {
    for (scale, prelu) in [(2, false), (4, false), (2, true), (4, true)] {
        let q = quantized(scale, prelu)?;
        for (h, w) in [(24, 32), (10, 14), (9, 13)] {
            for layout in [Layout::Plain, Layout::Fast] {
                let file = recover(&q, (h, w), layout)?;
                assert_eq!((file.height, file.width), (h, w));
                // Odd sizes cannot be packed.
                let packed = layout == Layout::Fast && h % 2 == 0 && w % 2 == 0;
                let want = if packed { Layout::Fast } else { Layout::Plain };
                assert_eq!(file.layout, want, "{h}x{w} {layout:?}");
                assert_eq!(file.network, q, "x{scale} prelu {prelu} {h}x{w} {layout:?}");
            }
        }
    }
    Ok(())
}

#[test]
fn recovered_integers_are_the_quantized_weights() -> Result<()> {
    let scale = 2;
    let q = quantized(scale, false)?;
    let n = recover(&q, (24, 32), Layout::Fast)?.network;
    let graph = network(2, false);
    assert_eq!(n.m(), 3);
    assert_eq!(n.features(), 8);
    assert_eq!(n.input, q.input);
    assert_eq!(n.output, q.output);
    assert_eq!(n.shift_constant, -128);
    assert_eq!(
        n.shift_constant_params,
        QuantParams {
            scale: 1.0 / 256.0,
            zero_point: 0
        }
    );
    for (i, (conv, weights)) in n.convs.iter().zip(&graph.convs).enumerate() {
        let (values, scales) = quantize_weights_per_channel(&weights.weight, weights.out_channels);
        let ohwi: Vec<i8> = {
            let mut q = vec![0; values.len()];
            let (o, c, k) = (weights.out_channels, weights.in_channels, weights.kernel);
            for oc in 0..o {
                for ic in 0..c {
                    for ky in 0..k {
                        for kx in 0..k {
                            q[((oc * k + ky) * k + kx) * c + ic] =
                                values[((oc * c + ic) * k + ky) * k + kx];
                        }
                    }
                }
            }
            q
        };
        assert_eq!(conv.weight, ohwi, "conv {i}");
        assert_eq!(conv.weight_scales, scales, "conv {i}");
        assert_eq!(conv.kernel, weights.kernel, "conv {i}");
        assert_eq!(conv.relu, i >= 1 && i <= n.m(), "conv {i}");
        assert_eq!(conv.multipliers().len(), weights.out_channels);
    }
    // Chained parameters: each conv reads what the previous one wrote.
    for i in 1..=n.m() {
        assert_eq!(n.convs[i].input, n.convs[i - 1].output);
    }
    assert_eq!(n.convs[0].input, n.shifted);
    assert_eq!(n.convs[n.m() + 1].input, n.residual);
    Ok(())
}

/// A PReLU file (post-training calibration): block convs without activation, each followed
/// by a PRELU whose slopes are the quantized slopes and whose parameters chain the layers.
#[test]
fn prelu_models_recover_their_slopes() -> Result<()> {
    let graph = network(2, true);
    for layout in [Layout::Plain, Layout::Fast] {
        let q = quantized(2, true)?;
        let n = recover(&q, (24, 32), layout)?.network;
        assert_eq!(n.prelu.len(), n.m());
        for (i, p) in n.prelu.iter().enumerate() {
            let (alpha, scales) = quantize_weights_per_channel(&graph.prelu[i], 1);
            assert_eq!(p.alpha, alpha, "PReLU {i}");
            assert_eq!(
                p.alpha_params,
                QuantParams {
                    scale: scales[0],
                    zero_point: 0
                }
            );
            assert!(!n.convs[i + 1].relu, "block {i}");
            assert_eq!(p.input, n.convs[i + 1].output);
            if i + 1 < n.m() {
                assert_eq!(n.convs[i + 2].input, p.output);
            }
            assert_eq!(n.layer_output(i + 1), p.output);
        }
        assert_eq!(n.convs[1].input, n.layer_output(0));
        assert_ne!(n.prelu[0].input, n.prelu[0].output);
    }
    Ok(())
}

#[test]
fn float_models_are_refused() -> Result<()> {
    let float = random_network(2, 2, 4, false, 3);
    let float = Model::parse(&write_float32(&float, InputSize::new(8, 8))?)?;
    let err = read_int8(&float).unwrap_err().to_string();
    assert!(err.contains("FLOAT32, expected INT8"), "{err}");
    Ok(())
}

/// A packed weight that should be zero (a tap outside the 5x5 kernel) or a duplicate that
/// disagrees makes the file something other than a packed SESR graph.
#[test]
fn tampered_packed_weights_are_refused() -> Result<()> {
    let q = quantized(2, false)?;
    let bytes = write_int8_with(&q, InputSize::new(8, 8), Layout::Fast)?;
    let model = Model::parse(&bytes)?;
    let sg = &model.subgraphs[0];
    let weight = sg
        .tensors
        .iter()
        .position(|t| t.name == "output_conv/weight")
        .expect("the output conv's weight");
    let buffer = model.buffers[sg.tensors[weight].buffer as usize];
    // OHWI [16, 3, 3, 4f]: output channel 0 is block position (0, 0), whose tap (dy, dx) =
    // (2, 0) on phase row ii = 1 would be kernel row 2 dy + ii = 5, outside the 5x5 kernel:
    // zero in the file (input channel (ii * 2 + jj) f + c = 2f for jj = c = 0).
    let f = 8;
    let mut tampered = bytes.clone();
    assert_eq!(tampered[buffer.offset + 6 * 4 * f + 2 * f], 0);
    tampered[buffer.offset + 6 * 4 * f + 2 * f] = 7;
    let err = read_int8(&Model::parse(&tampered)?)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("output conv is not the phase packing"),
        "{err}"
    );
    // The untouched file is accepted.
    read_int8(&model)?;
    Ok(())
}

/// A model of another structure (here one RELU, as a converter could write for any network)
/// is refused with the operator at fault named.
#[test]
fn other_graphs_are_refused() -> Result<()> {
    use sesr_tflite::schema::{BuiltinOp, OperatorOptions, Quantization, TensorType};
    use sesr_tflite::write::{ModelBuilder, SubgraphBuilder};

    let mut model = ModelBuilder::new("not SESR");
    let mut sg = SubgraphBuilder::new("main");
    let q = || Some(Quantization::per_tensor(1.0 / 255.0, -128));
    let x = sg.activation("x", &[1, 8, 8, 1], TensorType::INT8, q())?;
    let y = sg.activation("y", &[1, 8, 8, 1], TensorType::INT8, q())?;
    sg.operator(
        &mut model,
        BuiltinOp::RELU,
        1,
        OperatorOptions::None,
        &[x],
        &[y],
    )?;
    sg.set_io(&[x], &[y])?;
    let bytes = model.finish(&sg)?;
    let err = read_int8(&Model::parse(&bytes)?).unwrap_err().to_string();
    assert!(err.contains("operator 0 is RELU"), "{err}");
    assert!(err.contains("not an int8 SESR model"), "{err}");
    Ok(())
}
