//! The shipped models (`sesr-zoo`) through sesr-runtime: each loads with one call, scores on the
//! CC0 validation photos what its card (`models/card.json`, rendered as docs/models.md) says,
//! and its int8 `.tflite` computes in LiteRT what it computes here.

use anyhow::{Context, Result};
use serde_json::Value;
use sesr_eval::{evaluate_image, list_hr_images};
use sesr_runtime::int8::Int8Sesr;
use sesr_runtime::Upscaler;
use sesr_testkit::litert::{run_litert, Resolver};
use sesr_testkit::photos::mirrored_photo;
use sesr_testkit::{i8_bytes, i8_from_bytes, repo_root};
use sesr_tflite::Model;
use std::path::Path;

fn card() -> Result<Value> {
    Ok(serde_json::from_str(sesr_zoo::CARD_JSON)?)
}

/// The card's entry of a shipped model.
fn card_entry(card: &Value, name: &str) -> Result<Value> {
    card["models"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["name"] == name)
        .cloned()
        .with_context(|| format!("card.json has no entry for the shipped model {name}"))
}

/// Mean PSNR (dB, 8-bit Y, standard protocol) of `upscaler` on the CC0 validation photos.
fn cc0_valid_psnr(upscaler: &Upscaler) -> Result<f64> {
    let files = list_hr_images(&repo_root().join("assets/images/valid"))?;
    let mut sum = 0.0;
    for file in &files {
        sum += evaluate_image(file, upscaler)?.sesr.psnr;
    }
    Ok(sum / files.len() as f64)
}

#[test]
fn every_shipped_model_scores_what_its_card_says() -> Result<()> {
    let card = card()?;
    let shipped = sesr_zoo::all();
    let listed = card["models"].as_array().map_or(0, Vec::len);
    assert_eq!(
        listed,
        shipped.len(),
        "card.json lists {listed} models, sesr-zoo ships {}",
        shipped.len()
    );
    for model in shipped {
        let entry = card_entry(&card, &model.name())?;
        for (form, upscaler) in [
            (
                "float32",
                Upscaler::pretrained(model.preset.name(), model.scale)?,
            ),
            (
                "int8_tflite",
                Upscaler::pretrained_int8(model.preset.name(), model.scale)?,
            ),
        ] {
            let want = entry[form]["cc0-valid"]["psnr"]
                .as_f64()
                .with_context(|| format!("{}: card has no cc0-valid {form} PSNR", model.name()))?;
            let got = cc0_valid_psnr(&upscaler)?;
            println!("{} {form}: {got:.4} dB (card {want:.4})", model.name());
            assert!(
                (got - want).abs() <= 0.01,
                "{} {form}: {got:.4} dB on the CC0 validation photos, the card says {want:.4}",
                model.name()
            );
        }
    }
    Ok(())
}

#[test]
fn litert_runs_every_shipped_int8_file_as_we_do() -> Result<()> {
    for model in sesr_zoo::all() {
        let file = Model::parse(model.int8_tflite)?;
        let net = Int8Sesr::from_model(&file, Path::new(&model.name()))?;
        let read = sesr_tflite::read_int8(&file)?;
        let (h, w) = (read.height, read.width);
        assert_eq!((h, w), (1080, 1920), "{}: export size", model.name());
        let image = mirrored_photo("chelsea.png", h, w)?;
        let input: Vec<i8> = image
            .data
            .iter()
            .map(|&v| net.network().input.quantize(v))
            .collect();
        let ours = net.run_int8(&input, w, h, 2)?;
        let litert = i8_from_bytes(
            &run_litert(
                model.int8_tflite,
                Some(&i8_bytes(&input)),
                Resolver::Auto,
                0,
            )?
            .output,
        );
        assert_eq!(ours.len(), litert.len());
        let diffs: Vec<i32> = ours
            .iter()
            .zip(&litert)
            .map(|(a, b)| (*a as i32 - *b as i32).abs())
            .collect();
        let within_one = diffs.iter().filter(|&&d| d <= 1).count() as f64 / diffs.len() as f64;
        let max_diff = diffs.iter().copied().max().unwrap_or(0);
        println!(
            "{}: {:.4}% of LiteRT's outputs within one step, largest difference {max_diff}",
            model.name(),
            100.0 * within_one
        );
        // LiteRT's optimized kernels round some requantizations one step off the reference
        // kernels (which sesr-runtime matches exactly); the steps compound with depth, so the
        // deepest network (M11 x4: 13 convs, then two depth-to-space) drifts most.
        assert!(
            within_one >= 0.998 && max_diff <= 4,
            "{}: {:.4}% within one step, largest difference {max_diff}",
            model.name(),
            100.0 * within_one
        );
    }
    Ok(())
}

#[test]
fn unknown_or_unshipped_models_are_clear_errors() {
    let err = Upscaler::pretrained("m6", 2).unwrap_err().to_string();
    assert!(err.contains("unknown preset `m6`"), "{err}");
    let err = Upscaler::pretrained_int8("m5", 3).unwrap_err().to_string();
    assert!(err.contains("x3 is not among the shipped models"), "{err}");
}

#[test]
fn the_byte_path_equals_the_float_path_rounded() -> Result<()> {
    // A real photo's luma at an odd size, through an int8 and a float32 model of each scale.
    let photo = mirrored_photo("rocket.jpg", 61, 83)?.quantize_u8();
    for scale in [2, 4] {
        for upscaler in [
            Upscaler::pretrained_int8("m5", scale)?,
            Upscaler::pretrained("m3", scale)?,
        ] {
            let upscaler = upscaler.with_threads(2)?;
            let bytes = upscaler.upscale_y_u8(&photo)?;
            let floats = upscaler.upscale_y(&photo.to_f32())?.quantize_u8();
            assert_eq!(bytes, floats, "x{scale} {:?}", upscaler.precision());
        }
    }
    let empty = sesr_data::plane::PlaneU8::new(0, 5);
    let err = Upscaler::pretrained_int8("m5", 2)?
        .upscale_y_u8(&empty)
        .unwrap_err();
    assert!(err.to_string().contains("0x5"), "{err}");
    Ok(())
}
