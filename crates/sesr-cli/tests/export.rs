//! `sesr-cli export`: the exported files run in the real TFLite runtime (LiteRT) and compute
//! what the project's own models compute.

mod common;

use common::{asset, sesr_cli};
use sesr_core::infer::{plane_to_tensor, tensor_to_plane};
use sesr_core::CollapsedSesr;
use sesr_data::plane::PlaneF32;
use sesr_data::{imresize, load_y, psnr_y8};
use sesr_net::{ActivationRanges, ConvWeights, Float32Network, Int8Network, Range};
use sesr_testkit::litert::{run_litert, Resolver};
use sesr_tflite::read::Model;
use std::path::Path;
use tch::{Device, Kind, Tensor};

const H: usize = 40;
const W: usize = 56;

/// Runs `model` in LiteRT (2 threads, default XNNPACK delegate) on raw input bytes.
fn litert(model: &Path, input: &[u8]) -> Vec<u8> {
    let bytes = std::fs::read(model).unwrap();
    run_litert(&bytes, Some(input), Resolver::Auto, 0)
        .unwrap()
        .output
}

/// A `W x H` crop of a real photo's Y and the `scale`-times larger HR crop it was made from.
fn photo(scale: usize) -> (PlaneF32, PlaneF32) {
    let y = load_y(asset("valid/chelsea.png")).unwrap();
    let hr = y.crop(100, 60, W * scale, H * scale);
    (imresize(&hr, W, H), hr)
}

fn quant_params(model: &Path, input: bool) -> (f32, i64) {
    let model = Model::read(model).unwrap();
    let graph = &model.subgraphs[0];
    let index = if input {
        graph.inputs[0]
    } else {
        graph.outputs[0]
    } as usize;
    let q = graph.tensors[index]
        .quantization
        .clone()
        .expect("int8 tensors are quantized");
    (q.scale[0], q.zero_point[0])
}

fn export(checkpoint: &Path, format: &str, out: &Path, calibration: Option<&Path>) {
    let (h, w) = (H.to_string(), W.to_string());
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "export".as_ref(),
        "--checkpoint".as_ref(),
        checkpoint.as_os_str(),
        "--format".as_ref(),
        format.as_ref(),
        "--tflite-height".as_ref(),
        h.as_ref(),
        "--tflite-width".as_ref(),
        w.as_ref(),
        "--output".as_ref(),
        out.as_os_str(),
    ];
    if let Some(images) = calibration {
        args.extend(["--calibration".as_ref(), images.as_os_str()]);
    }
    let (ok, stdout, stderr) = sesr_cli(&args);
    assert!(ok, "{stderr}");
    assert!(stdout.contains(&format!("input 1x{H}x{W}x1")), "{stdout}");
}

fn float32_matches(checkpoint: &Path, dir: &Path) {
    let model = CollapsedSesr::from_checkpoint(checkpoint, Device::Cpu).unwrap();
    let scale = model.config().scale;
    let file = dir.join(format!("x{scale}_float32.tflite"));
    export(checkpoint, "float32", &file, None);
    let (lr, _) = photo(scale);
    let bytes: Vec<u8> = lr.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    let out = litert(&file, &bytes);
    let got: Vec<f32> = out
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let expected = tensor_to_plane(
        &model
            .forward(&plane_to_tensor(&lr, Device::Cpu).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(got.len(), expected.data.len());
    let err = got
        .iter()
        .zip(&expected.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        err <= 1e-4,
        "x{scale} float32: LiteRT vs tch max abs error {err}"
    );
}

/// int8 LiteRT output against sesr-tflite's integer simulation and against the QAT model.
fn int8_matches(checkpoint: &Path, dir: &Path, calibration: Option<&Path>) {
    let model = CollapsedSesr::from_checkpoint(checkpoint, Device::Cpu).unwrap();
    let scale = model.config().scale;
    let file = dir.join(format!("x{scale}_int8_{}.tflite", calibration.is_some()));
    export(checkpoint, "int8", &file, calibration);
    let (lr, hr) = photo(scale);
    let (in_scale, in_zp) = quant_params(&file, true);
    let input: Vec<i8> = lr
        .data
        .iter()
        .map(|v| ((v / in_scale).round() as i64 + in_zp).clamp(-128, 127) as i8)
        .collect();
    let out = litert(&file, &input.iter().map(|v| *v as u8).collect::<Vec<_>>());
    let got: Vec<i8> = out.iter().map(|b| *b as i8).collect();

    let graph = sesr_cli_graph(&model);
    let ranges = expected_ranges(&model, calibration);
    let simulated = Int8Network::quantize(&graph, &ranges)
        .unwrap()
        .simulate(&input, H, W)
        .unwrap();
    let close = got
        .iter()
        .zip(&simulated)
        .filter(|(a, b)| (**a as i32 - **b as i32).abs() <= 1)
        .count();
    let exact = got.iter().zip(&simulated).filter(|(a, b)| a == b).count();
    println!(
        "x{scale} int8: {exact}/{} pixels equal to the simulation, {close} within 1 LSB",
        got.len()
    );
    assert!(
        close as f64 >= 0.999 * got.len() as f64,
        "only {close} of {} within 1 LSB",
        got.len()
    );

    let (out_scale, out_zp) = quant_params(&file, false);
    let int8 = PlaneF32 {
        width: W * scale,
        height: H * scale,
        data: got
            .iter()
            .map(|q| (*q as i64 - out_zp) as f32 * out_scale)
            .collect(),
    };
    let fake_quant = tensor_to_plane(
        &model
            .forward(&plane_to_tensor(&lr, Device::Cpu).unwrap())
            .unwrap(),
    )
    .unwrap();
    let (psnr_int8, psnr_qat) = (psnr_y8(&int8, &hr, scale), psnr_y8(&fake_quant, &hr, scale));
    // QAT: the int8 file must keep the fake-quant model's quality (0.3 dB); post-training
    // calibration is compared with the float model it came from, with more slack.
    let (what, tolerance) = if calibration.is_some() {
        ("float (PTQ)", 0.5)
    } else {
        ("QAT fake-quant", 0.3)
    };
    println!("x{scale}: PSNR int8 LiteRT {psnr_int8:.3} dB, {what} {psnr_qat:.3} dB");
    assert!(
        (psnr_int8 - psnr_qat).abs() <= tolerance,
        "int8 {psnr_int8:.3} vs QAT {psnr_qat:.3} dB"
    );
}

// The network rebuilt here from the collapsed model's tensors, independently of the library's
// conversion (`CollapsedSesr::to_model`) that the CLI uses.
fn sesr_cli_graph(model: &CollapsedSesr) -> Float32Network {
    let to_vec = |t: &Tensor| Vec::<f32>::try_from(&t.to_kind(Kind::Float).flatten(0, -1)).unwrap();
    Float32Network {
        scale: model.config().scale,
        convs: model
            .convs()
            .iter()
            .map(|c| ConvWeights {
                out_channels: c.weight.size()[0] as usize,
                in_channels: c.weight.size()[1] as usize,
                kernel: c.weight.size()[2] as usize,
                weight: to_vec(&c.weight),
                bias: to_vec(&c.bias),
            })
            .collect(),
        prelu: match model.quant().uses_relu() {
            true => vec![],
            false => model.prelu().iter().map(to_vec).collect(),
        },
    }
}

/// The writer's ranges, rebuilt independently of the CLI: from the QAT model's nudged ranges,
/// or (`calibration`) from the float model's ranges over the folder's images, input and final
/// sum `[0, 1]`.
fn expected_ranges(model: &CollapsedSesr, calibration: Option<&Path>) -> ActivationRanges {
    let (points, block_convs, input) = match calibration {
        Some(images) => {
            let mut files: Vec<_> = std::fs::read_dir(images)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            let inputs: Vec<Tensor> = files
                .iter()
                .map(|f| plane_to_tensor(&load_y(f).unwrap(), Device::Cpu).unwrap())
                .collect();
            let mut observed = model.observe_ranges(&inputs).unwrap();
            // The final sum goes on the 8-bit pixel grid.
            let m = model.config().m;
            observed.points[m + 4] = (0.0, 1.0);
            (observed.points, observed.block_convs, (0.0, 1.0))
        }
        None => {
            let points = model.activation_ranges();
            let input = points[0];
            (points, vec![], input)
        }
    };
    let m = model.config().m;
    let range = |(lo, hi): (f64, f64)| Range::new(lo as f32, hi as f32);
    ActivationRanges {
        input: range(input),
        shifted_input: range((input.0 - 0.5, input.1 - 0.5)),
        input_conv: range(points[1]),
        block_convs: block_convs.into_iter().map(range).collect(),
        blocks: (0..m).map(|i| range(points[2 + i])).collect(),
        residual_sum: range(points[m + 2]),
        output_conv: range(points[m + 3]),
        final_sum: range(points[m + 4]),
    }
}

#[test]
fn trained_x2_and_x4_models_export_and_run_in_litert() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let (train, valid) = (
        asset("train").display().to_string(),
        asset("valid").display().to_string(),
    );
    let run = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--data",
            &train,
            "--valid",
            &valid,
            "--out",
            &out,
            "--preset",
            "m3",
            "--feature-size",
            "32",
            "--steps-per-epoch",
            "8",
            "--batch-size",
            "8",
            "--learning-rate",
            "5e-4",
        ];
        args.extend_from_slice(extra);
        let (ok, _, stderr) = sesr_cli(&args);
        assert!(ok, "{stderr}");
    };
    let checkpoint = |scale: usize, kind: &str| {
        dir.path().join(format!(
            "SESR_m3_f16_x{scale}_fs32_collapsedTraining_{kind}/last.safetensors"
        ))
    };
    // The pipeline in small: x2, x4 from x2, QAT of both from their FP32 weights.
    run(&["--epochs", "3"]);
    let x2 = checkpoint(2, "FP32");
    run(&[
        "--epochs",
        "2",
        "--scale",
        "4",
        "--init-from",
        x2.to_str().unwrap(),
    ]);
    let x4 = checkpoint(4, "FP32");
    run(&[
        "--epochs",
        "2",
        "--quant-w",
        "--quant-a",
        "--init-from",
        x2.to_str().unwrap(),
    ]);
    run(&[
        "--epochs",
        "2",
        "--scale",
        "4",
        "--quant-w",
        "--quant-a",
        "--init-from",
        x4.to_str().unwrap(),
    ]);

    for scale in [2, 4] {
        float32_matches(&checkpoint(scale, "FP32"), dir.path());
        int8_matches(&checkpoint(scale, "QAT"), dir.path(), None);
        // Post-training quantization of the FP32 model (PReLU kept), calibrated on photos.
        int8_matches(
            &checkpoint(scale, "FP32"),
            dir.path(),
            Some(&asset("train")),
        );
    }

    // The default input is 1080p: the file is valid and says so.
    let (ok, stdout, stderr) = sesr_cli(&[
        "export",
        "--checkpoint",
        x2.to_str().unwrap(),
        "--format",
        "float32",
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("input 1x1080x1920x1 -> output 1x2160x3840x1"),
        "{stdout}"
    );
    let default_file = x2.with_file_name("last_float32_1080x1920.tflite");
    let model = Model::read(&default_file).unwrap();
    let input = &model.subgraphs[0].tensors[model.subgraphs[0].inputs[0] as usize];
    assert_eq!(input.shape, vec![1, 1080, 1920, 1]);

    // Bad input.
    let x2_str = x2.to_str().unwrap();
    // Issue #11: one flat 5x5 grey image used to calibrate a broken int8 model silently.
    let flat = dir.path().join("flat");
    std::fs::create_dir_all(&flat).unwrap();
    image::GrayImage::from_pixel(5, 5, image::Luma([128]))
        .save(flat.join("grey.png"))
        .unwrap();
    let flat_str = flat.to_str().unwrap();
    let flat_out = dir.path().join("flat_int8.tflite");
    let flat_out_str = flat_out.to_str().unwrap();
    for (args, message) in [
        (
            vec![
                "export",
                "--checkpoint",
                x2_str,
                "--format",
                "int8",
                "--calibration",
                flat_str,
                "--output",
                flat_out_str,
            ],
            "fewer than one 64x64 training patch",
        ),
        (
            vec!["export", "--checkpoint", x2_str, "--format", "int8"],
            "--quant-w --quant-a",
        ),
        (
            vec!["export", "--checkpoint", x2_str, "--format", "fp16"],
            "invalid value 'fp16'",
        ),
        (
            vec![
                "export",
                "--checkpoint",
                x2_str,
                "--format",
                "float32",
                "--tflite-height",
                "0",
            ],
            "must be at least 1",
        ),
        (
            vec![
                "export",
                "--checkpoint",
                "missing.safetensors",
                "--format",
                "float32",
            ],
            "missing.safetensors: no such file",
        ),
        (
            vec![
                "export",
                "--checkpoint",
                x2_str,
                "--format",
                "float32",
                "--tflite-height",
                "100000",
                "--tflite-width",
                "100000",
            ],
            "100000x100000",
        ),
    ] {
        let (ok, _, stderr) = sesr_cli(&args);
        assert!(
            !ok && stderr.contains(message),
            "{args:?}: `{stderr}` lacks `{message}`"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(!flat_out.exists(), "a degenerate calibration wrote a model");
}

#[test]
fn inspect_describes_an_exported_file_and_rejects_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("m.safetensors");
    sesr_core::Sesr::new(
        sesr_core::SesrConfig::new(2, 8, 16, 2).unwrap(),
        sesr_core::TrainingMode::Collapsed,
        Device::Cpu,
    )
    .unwrap()
    .save(&checkpoint)
    .unwrap();
    let file = dir.path().join("m.tflite");
    export(&checkpoint, "float32", &file, None);
    let (ok, stdout, stderr) =
        sesr_cli(&["inspect".as_ref(), file.as_os_str()] as &[&std::ffi::OsStr]);
    assert!(ok, "{stderr}");
    for needle in ["CONV_2D", "DEPTH_TO_SPACE", "PRELU", "[1, 40, 56, 1]"] {
        assert!(
            stdout.contains(needle),
            "inspect output lacks {needle}:\n{stdout}"
        );
    }
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 3]).unwrap();
    let (ok, _, stderr) = sesr_cli(&["inspect".as_ref(), file.as_os_str()] as &[&std::ffi::OsStr]);
    assert!(
        !ok && stderr.contains("m.tflite") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

/// Post-training int8 files (calibrated on libtorch) are byte for byte those cf41f9f wrote,
/// before the network moved into `sesr-net` (the other flavours are pinned in sesr-export's
/// `tests/golden.rs`): `sesr-cli export --checkpoint m3_x2.safetensors --format int8
/// --calibration assets/images/valid --tflite-height 64 --tflite-width 64` and `--format
/// onnx-int8`, then `sha256sum`, with cf41f9f's binary on a copy of the shipped checkpoint.
#[test]
fn calibrated_int8_files_are_unchanged() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let valid = asset("valid");
    for (format, size, name, digest) in [
        (
            "int8",
            Some("64"),
            "m3_ptq.tflite",
            "f78e83b836ac97e5179360f5acca9de2a710418fb36dea4a8df0007e91df9f1c",
        ),
        (
            "onnx-int8",
            None,
            "m3_ptq.onnx",
            "67290bc7aa1e509067c245eefb4b9422b44b50bd0926a1d711cea61bae3aa52e",
        ),
    ] {
        let out = dir.path().join(name);
        let mut args = vec![
            "export",
            "--checkpoint",
            "m3",
            "--format",
            format,
            "--calibration",
            valid.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ];
        if let Some(side) = size {
            args.extend(["--tflite-height", side, "--tflite-width", side]);
        }
        let (ok, _, stderr) = sesr_cli(&args);
        assert!(ok, "{stderr}");
        let written: String = Sha256::digest(std::fs::read(&out).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(written, digest, "{format}: the file changed");
    }
}
