//! `sesr-cli compare`: crops of one image upscaled by bicubic and by several models, next to
//! the ground truth, as a PNG.
//!
//! The low-resolution input is made from the HR image as `eval` makes it for colour (8-bit
//! MATLAB bicubic per channel); each model upscales Y, colour goes by bicubic. Every model runs
//! on sesr-runtime: float32 checkpoints and int8 `.tflite` exports alike. Titles carry each
//! result's PSNR on the whole image (8-bit Y, `scale` pixels shaved per border).

use crate::models::{model_ref, native};
use crate::paths::{check_input, check_output_file};
use anyhow::{bail, Context, Result};
use clap::Args;
use sesr_data::io::LoadedImage;
use sesr_data::protocol::{bicubic_upscale, make_lr_u8, score};
use sesr_model::checkpoint::sidecar_path;
use sesr_model::ModelRef;
use sesr_report::{detailed_window, side_by_side, Panel};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The high-resolution (ground-truth) image.
    #[arg(long, value_name = "HR.png")]
    image: PathBuf,
    /// A model to show, as `LABEL=PATH` (a checkpoint, an int8 .tflite, or a shipped model's
    /// name such as m5-x2-int8); repeat for several, all of the same scale. Shown left to right after bicubic.
    #[arg(long = "model", required = true, value_name = "LABEL=PATH")]
    models: Vec<String>,
    /// The PNG to write.
    #[arg(long, value_name = "CROPS.png")]
    output: PathBuf,
    /// Side of the crop in HR pixels (the most detailed region of the image is chosen).
    #[arg(long, allow_negative_numbers = true, default_value_t = 96)]
    crop: usize,
    /// Nearest-neighbour zoom of the crops, so pixels stay visible.
    #[arg(long, allow_negative_numbers = true, default_value_t = 3)]
    zoom: usize,
}

pub fn run(args: &CompareArgs) -> Result<()> {
    if args.crop == 0 || args.zoom == 0 || args.zoom > 16 {
        bail!(
            "--crop {} --zoom {}: the crop needs at least 1 pixel and the zoom 1 to 16",
            args.crop,
            args.zoom
        );
    }
    if !args
        .output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        bail!(
            "--output {}: the crops are written as .png",
            args.output.display()
        );
    }
    check_input("--image", &args.image)?;
    let specs = args
        .models
        .iter()
        .map(
            |spec| match spec.split_once('=').filter(|(l, _)| !l.is_empty()) {
                Some((label, path)) => Ok((label, Path::new(path))),
                None => bail!(
                    "--model {spec}: expected LABEL=PATH, e.g. --model \"SESR int8=model.tflite\""
                ),
            },
        )
        .collect::<Result<Vec<_>>>()?;
    let references = specs
        .iter()
        .map(|(_, path)| model_ref("--model", path))
        .collect::<Result<Vec<_>>>()?;
    // The output is checked before any model runs: never one of the inputs.
    let sidecars: Vec<PathBuf> = references
        .iter()
        .filter_map(|reference| match reference {
            ModelRef::Checkpoint { path, .. } => Some(sidecar_path(path)),
            _ => None,
        })
        .collect();
    let mut inputs = vec![("--image", args.image.as_path())];
    for reference in &references {
        match reference {
            ModelRef::Checkpoint { path, .. } | ModelRef::Tflite(path) | ModelRef::Onnx(path) => {
                inputs.push(("--model", path))
            }
            ModelRef::Shipped { .. } => {}
        }
    }
    inputs.extend(sidecars.iter().map(|s| ("--model's sidecar", s.as_path())));
    check_output_file("--output", &args.output, "crops.png", &inputs)?;
    let models = specs
        .iter()
        .zip(&references)
        .map(|((label, _), reference)| Ok((label.to_string(), native("--model", reference)?)))
        .collect::<Result<Vec<_>>>()?;
    let scale = models[0].1.scale();
    if let Some((label, m)) = models.iter().find(|(_, m)| m.scale() != scale) {
        bail!(
            "--model {label} is x{} but {} is x{scale}; compare models of one scale",
            m.scale(),
            models[0].0
        );
    }
    let image = sesr_data::load_image_u8(&args.image)
        .with_context(|| format!("--image {}", args.image.display()))?;
    // The low-resolution input needs 2x2 pixels, after the crop to a multiple of the scale.
    let least = 2 * scale;
    if image.width() < least || image.height() < least {
        bail!(
            "--image {} is {}x{} pixels: comparing at x{scale} (the scale of the --model \
             models) needs an image of at least {least}x{least}",
            args.image.display(),
            image.width(),
            image.height()
        );
    }
    let hr8 = image.modcrop(scale);
    let lr = make_lr_u8(&hr8, scale).to_f32();
    let hr = hr8.to_f32();
    let hr_y = hr.to_y();
    let titled = |name: &str, image: LoadedImage| {
        let psnr = score(&image.to_y(), &hr_y, scale).psnr;
        Panel {
            title: format!("{name}  {psnr:.2} dB"),
            image,
        }
    };
    let mut panels = vec![titled("bicubic", bicubic_upscale(&lr, scale))];
    for (label, upscaler) in &models {
        let sr = upscaler
            .upscale_image(&lr)
            .with_context(|| format!("--model {label}"))?;
        panels.push(titled(label, sr));
    }
    panels.push(Panel {
        title: "ground truth".into(),
        image: hr,
    });
    let window = detailed_window(&hr_y, args.crop);
    side_by_side(&panels, window, args.zoom, &args.output)?;
    println!(
        "crops ({}x{} at ({}, {}), x{} zoom) written to {}",
        window.width,
        window.height,
        window.x,
        window.y,
        args.zoom,
        args.output.display()
    );
    Ok(())
}
