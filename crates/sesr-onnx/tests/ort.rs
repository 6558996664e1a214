//! The int8 ONNX files of the shipped models in real ONNX Runtime (PyPI `onnxruntime`,
//! installed into `.venv` by `cargo xtask setup`): they pass `onnx.checker` with full
//! checking, ORT fuses them into integer convolutions, their outputs equal the project's own
//! int8 network (sesr-runtime, which equals the TFLite simulation) within one step, and they
//! score within 0.15 dB of the float32 model on the CC0 validation photos. Also: what
//! `summarize` reads back, and files that are not ONNX.

use anyhow::Result;
use sesr_data::plane::PlaneF32;
use sesr_data::{UpscaleError, UpscaleY};
use sesr_net::{CollapsedModel, Int8Network};
use sesr_onnx::{int8_model, summarize, OnnxError};
use sesr_runtime::int8::Int8Sesr;
use sesr_runtime::Upscaler;
use sesr_testkit::ort::run_ort_bytes as run_ort;
use sesr_testkit::repo_root;
use sesr_tflite::Model;
use std::path::Path;

/// An ONNX model run in ONNX Runtime, as an engine for the evaluation protocol.
struct Ort {
    model: Vec<u8>,
    scale: usize,
}

impl UpscaleY for Ort {
    fn scale(&self) -> usize {
        self.scale
    }

    fn engine(&self) -> String {
        "ONNX Runtime".into()
    }

    fn upscale_y(&self, y: &PlaneF32) -> Result<PlaneF32, UpscaleError> {
        let (data, _) = run_ort(&self.model, y, false)?;
        Ok(
            PlaneF32::from_vec(self.scale * y.width, self.scale * y.height, data)
                .ok_or("ONNX Runtime's output has the wrong size")?,
        )
    }
}

/// A real photo's luminance, `width` x `height` from the top-left corner.
fn photo(name: &str, width: usize, height: usize) -> Result<PlaneF32> {
    let image = sesr_data::load_image(repo_root().join("assets/images/valid").join(name))?;
    let y = image.to_y();
    Ok(PlaneF32::from_fn(width, height, |x, row| y.get(x, row)))
}

fn shipped_int8(preset: &str, scale: usize) -> Result<(Vec<u8>, Int8Network)> {
    let model = sesr_zoo::find(preset.parse()?, scale)?;
    let bytes = model.int8_tflite;
    let network = sesr_tflite::read_int8(&Model::parse(bytes)?)?.network;
    Ok((bytes.to_vec(), network))
}

#[test]
fn int8_qdq_equals_the_int8_network_within_one_step() -> Result<()> {
    for (preset, scale, (w, h)) in [("m5", 2, (83, 61)), ("m3", 4, (64, 40))] {
        let (tflite, network) = shipped_int8(preset, scale)?;
        let onnx = int8_model(&network)?;
        let runtime = Int8Sesr::from_model(&Model::parse(&tflite)?, Path::new(preset))?;
        let plane = photo("rocket.jpg", w, h)?;
        let (values, report) = run_ort(&onnx, &plane, true)?;
        assert_eq!(report["checked"], true);
        assert_eq!(
            report["shape"],
            serde_json::json!([1, 1, h * scale, w * scale])
        );
        let ops = report["optimized_ops"].to_string();
        assert!(
            ops.contains("QLinearConv"),
            "ORT did not fuse integer convs: {ops}"
        );

        let input: Vec<i8> = plane
            .data
            .iter()
            .map(|&v| network.input.quantize(v))
            .collect();
        let expected = runtime.run_int8(&input, w, h, 2)?;
        let params = network.output;
        let got: Vec<i32> = values
            .iter()
            .map(|&v| (v / params.scale).round() as i32 + params.zero_point)
            .collect();
        // ORT requantizes in float (round half to even) where TFLite uses fixed-point
        // multipliers, so single steps differ; the bar is one step on 99.9% of outputs.
        let diffs: Vec<i32> = got
            .iter()
            .zip(&expected)
            .map(|(&g, &e)| (g - i32::from(e)).abs())
            .collect();
        let share = |ok: fn(i32) -> bool| {
            diffs.iter().filter(|&&d| ok(d)).count() as f64 / diffs.len() as f64
        };
        let (within_one, exact) = (share(|d| d <= 1), share(|d| d == 0));
        eprintln!(
            "{preset} x{scale}: {:.4}% within one step, {:.2}% equal, largest difference {}",
            within_one * 100.0,
            exact * 100.0,
            diffs.iter().max().unwrap()
        );
        assert!(
            within_one >= 0.999,
            "{preset} x{scale}: {within_one} within one step"
        );
    }
    Ok(())
}

#[test]
fn int8_onnx_scores_within_0_15_db_of_float32() -> Result<()> {
    let files = sesr_eval::list_hr_images(&repo_root().join("assets/images/valid"))?;
    let (_, network) = shipped_int8("m5", 2)?;
    let ort = Ort {
        model: int8_model(&network)?,
        scale: 2,
    };
    let float32 = Upscaler::pretrained("m5", 2)?;
    let (mut ort_sum, mut float_sum) = (0.0, 0.0);
    for file in &files {
        ort_sum += sesr_eval::evaluate_image(file, &ort)?.sesr.psnr;
        float_sum += sesr_eval::evaluate_image(file, &float32)?.sesr.psnr;
    }
    let (ort, float) = (ort_sum / files.len() as f64, float_sum / files.len() as f64);
    eprintln!("CC0 valid: ONNX int8 in ORT {ort:.3} dB, float32 {float:.3} dB");
    assert!(float - ort < 0.15, "int8 {ort} against float32 {float}");
    Ok(())
}

#[test]
fn summaries_name_ops_shapes_parameters_and_macs() -> Result<()> {
    let (_, network) = shipped_int8("m5", 2)?;
    let summary = summarize(&int8_model(&network)?)?;
    assert_eq!(summary.opsets, vec![("ai.onnx".to_string(), 13)]);
    let dims = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        summary.inputs,
        vec![(
            "lr".into(),
            "float".into(),
            dims(&["1", "1", "height", "width"])
        )]
    );
    assert_eq!(summary.convs.len(), 7);
    assert!(summary
        .convs
        .iter()
        .all(|c| c.weights == "int8 per-channel"));
    assert_eq!(summary.operators["DepthToSpace"], 1);
    // 5x5 1->16, five 3x3 16->16, 5x5 16->4.
    assert_eq!(
        summary.macs_per_input_pixel,
        25 * 16 + 5 * 9 * 256 + 25 * 64
    );
    let input = summary.quantized.iter().find(|q| q.0 == "input.q").unwrap();
    // uint8 activations: the int8 zero point moved by 128, the same grid.
    assert_eq!(
        (input.1, input.2, input.3.as_str()),
        (
            network.input.scale,
            i64::from(network.input.zero_point) + 128,
            "uint8"
        )
    );
    let text = summary.to_string();
    assert!(
        text.contains("MACs: 13520 per input pixel, 28.04 G for a 1080x1920 input"),
        "{text}"
    );
    Ok(())
}

#[test]
fn files_that_are_not_onnx_are_clear_errors() -> Result<()> {
    let png = std::fs::read(repo_root().join("assets/images/valid/coins.png"))?;
    let (tflite, _) = shipped_int8("m3", 2)?;
    for bytes in [&b""[..], b"not a model", &png, &tflite] {
        let err = summarize(bytes).unwrap_err();
        assert!(matches!(err, OnnxError::NotOnnx(_)), "{err}");
        assert!(err.to_string().starts_with("not an ONNX model"));
    }
    Ok(())
}

#[test]
fn networks_it_cannot_write_are_clear_errors() -> Result<()> {
    let (_, mut network) = shipped_int8("m3", 2)?;
    network.residual.scale = 0.0;
    let err = int8_model(&network).unwrap_err().to_string();
    assert!(err.contains("positive scale"), "{err}");
    network.residual.scale = 1e-3;
    network.scale = 3;
    let err = int8_model(&network).unwrap_err().to_string();
    assert!(err.contains("scale must be 2 or 4, got 3"), "{err}");

    let graph =
        CollapsedModel::read(&repo_root().join("crates/sesr-zoo/models/m3_x2.safetensors"))?
            .network;
    let mut bad = graph.clone();
    bad.convs[1].weight.pop();
    let err = sesr_onnx::float32_model(&bad).unwrap_err().to_string();
    assert!(err.contains("weight has"), "{err}");
    bad = graph;
    bad.convs[0].bias[3] = f32::NAN;
    let err = sesr_onnx::float32_model(&bad).unwrap_err().to_string();
    assert!(err.contains("not all finite"), "{err}");
    Ok(())
}
