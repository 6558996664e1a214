//! `Upscaler::load` on the files users give it: collapsed checkpoints (written here as
//! sesr-core writes them, without libtorch), broken ones, TFLite files; and the RGB helper.

mod common;

use common::{max_abs_diff, photo_y, random_graph, write_checkpoint};
use sesr_data::io::Image;
use sesr_net::{ActivationRanges, Int8Network, NetError, Range};
use sesr_runtime::{Precision, RuntimeError, Upscaler};
use sesr_tflite::{write_float32, write_int8, InputSize, TfliteError};
use std::path::Path;

fn load_error(path: &Path) -> String {
    Upscaler::load(path).unwrap_err().to_string()
}

#[test]
fn a_collapsed_checkpoint_runs_as_its_weights_do() {
    let tmp = tempfile::tempdir().unwrap();
    let lr = photo_y("coins.png").crop(40, 30, 83, 61);
    for (seed, (m, f, scale, prelu)) in [(5, 16, 2, true), (11, 32, 4, true), (3, 16, 4, false)]
        .into_iter()
        .enumerate()
    {
        let graph = random_graph(m, f, scale, prelu, 200 + seed as u64);
        let path = write_checkpoint(tmp.path(), &format!("model{seed}"), &graph, None);
        let loaded = Upscaler::load(&path).unwrap();
        assert_eq!(loaded.scale(), scale);
        assert_eq!(loaded.precision(), Precision::Float32);
        let want = Upscaler::from_network(&graph)
            .unwrap()
            .upscale_y(&lr)
            .unwrap();
        assert!(loaded.upscale_y(&lr).unwrap() == want, "case {seed}");
    }
    // A QAT checkpoint (weights and activations quantized) runs its float weights with ReLU,
    // as sesr-core decides; its stored slopes are ignored.
    let relu = random_graph(2, 16, 2, false, 210);
    let mut with_slopes = relu.clone();
    with_slopes.prelu = vec![vec![0.25; 16]; 2];
    let sidecar = r#"{"format_version": 1, "kind": "collapsed",
        "quant": {"weights": true, "activations": true},
        "config": {"m": 2, "int_features": 16, "feature_size": 64, "scale": 2}}"#;
    let path = write_checkpoint(tmp.path(), "qat", &with_slopes, Some(sidecar));
    let want = Upscaler::from_network(&relu)
        .unwrap()
        .upscale_y(&lr)
        .unwrap();
    assert!(Upscaler::load(&path).unwrap().upscale_y(&lr).unwrap() == want);
}

#[test]
fn checkpoints_it_cannot_run_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let graph = random_graph(2, 16, 2, true, 300);

    let e = load_error(&t.join("nothing.safetensors"));
    assert!(e.contains("nothing.safetensors: no such file"), "{e}");

    let lonely = write_checkpoint(t, "lonely", &graph, None);
    std::fs::remove_file(lonely.with_extension("json")).unwrap();
    let e = load_error(&lonely);
    assert!(e.contains("sidecar") && e.contains("lonely.json"), "{e}");

    let training = r#"{"format_version": 1, "kind": "training", "mode": "collapsed",
        "quant": {"weights": false, "activations": false},
        "config": {"m": 2, "int_features": 16, "feature_size": 256, "scale": 2}}"#;
    let e = load_error(&write_checkpoint(t, "training", &graph, Some(training)));
    assert!(e.contains("is a training checkpoint"), "{e}");
    assert!(e.contains("sesr-cli collapse"), "{e}");

    let future = r#"{"format_version": 2, "kind": "collapsed",
        "config": {"m": 2, "int_features": 16, "feature_size": 256, "scale": 2}}"#;
    let e = load_error(&write_checkpoint(t, "future", &graph, Some(future)));
    assert!(
        e.contains("format version 2, this build reads version 1"),
        "{e}"
    );

    let e = load_error(&write_checkpoint(t, "garbled", &graph, Some("{ not json")));
    assert!(
        e.contains("garbled.json: is not a SESR checkpoint sidecar"),
        "{e}"
    );

    // The sidecar says f = 8 but the weights are f = 16; m = 3 but two blocks are stored.
    let narrow = r#"{"format_version": 1, "kind": "collapsed",
        "config": {"m": 2, "int_features": 8, "feature_size": 256, "scale": 2}}"#;
    let e = load_error(&write_checkpoint(t, "narrow", &graph, Some(narrow)));
    assert!(
        e.contains("`input_block.weight` has shape [16, 1, 5, 5]") && e.contains("[8, 1, 5, 5]"),
        "{e}"
    );
    let deeper = r#"{"format_version": 1, "kind": "collapsed",
        "config": {"m": 3, "int_features": 16, "feature_size": 256, "scale": 2}}"#;
    let e = load_error(&write_checkpoint(t, "deeper", &graph, Some(deeper)));
    assert!(e.contains("has no tensor `blocks.2.weight`"), "{e}");
    // Issue #11: a sidecar edited to describe fewer blocks than the weights hold.
    let shallower = r#"{"format_version": 1, "kind": "collapsed",
        "config": {"m": 1, "int_features": 16, "feature_size": 256, "scale": 2}}"#;
    let e = load_error(&write_checkpoint(t, "shallower", &graph, Some(shallower)));
    assert!(
        e.contains("shallower.safetensors") && e.contains("holds tensor `blocks.1."),
        "{e}"
    );
    let x3 = r#"{"format_version": 1, "kind": "collapsed",
        "config": {"m": 2, "int_features": 16, "feature_size": 256, "scale": 3}}"#;
    let e = load_error(&write_checkpoint(t, "x3", &graph, Some(x3)));
    assert!(e.contains("describes no runnable SESR"), "{e}");

    let junk = t.join("junk.safetensors");
    std::fs::write(&junk, b"not a safetensors file").unwrap();
    std::fs::write(
        junk.with_extension("json"),
        std::fs::read(t.join("narrow.json")).unwrap(),
    )
    .unwrap();
    let e = load_error(&junk);
    assert!(
        e.contains("junk.safetensors: is not a safetensors file"),
        "{e}"
    );

    let e = load_error(&t.join("model.onnx"));
    assert!(e.contains("neither a .safetensors checkpoint"), "{e}");
}

#[test]
fn tflite_files_load_the_int8_path() {
    let tmp = tempfile::tempdir().unwrap();
    let graph = random_graph(2, 16, 2, false, 400);
    let size = InputSize::new(16, 16);
    let wide = Range::new(-4.0, 4.0);
    let ranges = ActivationRanges {
        input: Range::new(0.0, 1.0),
        shifted_input: Range::new(-0.5, 0.5),
        input_conv: wide,
        block_convs: vec![],
        blocks: vec![Range::new(0.0, 4.0); 2],
        residual_sum: wide,
        output_conv: wide,
        final_sum: Range::new(0.0, 1.0),
    };
    let int8 = tmp.path().join("model_int8.tflite");
    let network = Int8Network::quantize(&graph, &ranges).unwrap();
    std::fs::write(&int8, write_int8(&network, size).unwrap()).unwrap();
    let up = Upscaler::load(&int8).unwrap().with_threads(2).unwrap();
    assert_eq!((up.precision(), up.scale()), (Precision::Int8, 2));
    // Any image size, not only the 16x16 the file was written for.
    let lr = photo_y("chelsea.png").crop(10, 20, 37, 29);
    let sr = up.upscale_y(&lr).unwrap();
    assert_eq!(sr.size(), (74, 58));
    assert!(sr.data.iter().all(|v| (0.0..=1.0).contains(v)));
    // Bad planes get the same checks as on the float32 path.
    let empty = sesr_data::plane::PlaneF32::new(0, 3);
    assert!(up
        .upscale_y(&empty)
        .unwrap_err()
        .to_string()
        .contains("empty"));

    // A float32 TFLite file is refused by name (its packed convs are not unpacked here; the
    // float path loads the checkpoint it was exported from).
    let float = tmp.path().join("model_float32.tflite");
    std::fs::write(&float, write_float32(&graph, size).unwrap()).unwrap();
    let e = load_error(&float);
    assert!(e.contains("model_float32.tflite"), "{e}");
    assert!(e.contains("is a float32 TFLite model"), "{e}");
    // Not a TFLite file at all, and no file.
    let junk = tmp.path().join("junk.tflite");
    std::fs::write(&junk, b"TFL3 but not really").unwrap();
    let e = load_error(&junk);
    assert!(e.starts_with(&format!("{}: ", junk.display())), "{e}");
    let e = load_error(&tmp.path().join("missing.tflite"));
    assert!(e.contains("missing.tflite"), "{e}");
}

#[test]
fn upscale_image_takes_y_through_sesr_and_keeps_gray_gray() {
    let graph = random_graph(2, 16, 2, true, 500);
    let up = Upscaler::from_network(&graph).unwrap();
    let load = |name: &str| sesr_data::load_image(sesr_testkit::photos::asset(name)).unwrap();
    let rgb = load("valid/chelsea.png").map_planes(|p| p.crop(100, 80, 41, 33));
    let sr = up.upscale_image(&rgb).unwrap();
    assert!(matches!(sr, Image::Rgb(_)));
    assert_eq!((sr.width(), sr.height()), (82, 66));
    // The Y of the result is SESR's Y (colour conversion round trip aside).
    let want_y = up.upscale_y(&rgb.to_y()).unwrap();
    assert!(max_abs_diff(&sr.to_y(), &want_y) < 1e-4);
    let gray = load("valid/coins.png").map_planes(|p| p.crop(0, 0, 30, 20));
    let sr = up.upscale_image(&gray).unwrap();
    assert!(matches!(sr, Image::Gray(_)));
    assert_eq!((sr.width(), sr.height()), (60, 40));
}

#[test]
fn errors_of_sesr_tflite_and_sesr_net_stay_typed() {
    let tmp = tempfile::tempdir().unwrap();
    // Not a TFLite file: sesr-tflite's error, with the file's name.
    let junk = tmp.path().join("junk.tflite");
    std::fs::write(&junk, b"not a flatbuffer at all").unwrap();
    match Upscaler::load(&junk).unwrap_err() {
        RuntimeError::TfliteFile { path, source } => {
            assert_eq!(path, junk);
            assert!(matches!(source, TfliteError::NotTflite(_)), "{source:?}");
        }
        other => panic!("{other:?}"),
    }
    // A model cut short after its header: the flatbuffer no longer verifies.
    let cut = tmp.path().join("cut.tflite");
    let mut graph = random_graph(2, 16, 2, false, 600);
    let mut bytes = write_float32(&graph, InputSize::new(16, 16)).unwrap();
    bytes.truncate(64);
    std::fs::write(&cut, bytes).unwrap();
    let e = Upscaler::load(&cut).unwrap_err();
    assert!(
        matches!(&e, RuntimeError::TfliteFile { path, .. } if path == &cut),
        "{e:?}"
    );
    assert!(std::error::Error::source(&e).is_some(), "{e:?}");
    // A network in memory that sesr-net's check refuses.
    graph.scale = 3;
    let e = Upscaler::from_network(&graph).unwrap_err();
    assert!(
        matches!(e, RuntimeError::Net(NetError::InvalidNetwork(_))),
        "{e:?}"
    );
}
