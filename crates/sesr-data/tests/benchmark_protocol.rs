//! The bicubic baseline of the standard SR protocol must reproduce the published figures.
//!
//! Published bicubic numbers (Y channel, border = scale), as tabulated by SRCNN/VDSR and quoted
//! since (also in `shared/data/README.md`): x2 Set5 33.66 dB / 0.9299, Set14 30.24 / 0.8688;
//! x4 Set5 28.42 / 0.8104, Set14 26.00 / 0.7027. They were produced with MATLAB by
//! `imresize` on the float Y plane (our `Protocol::YFloat`).

mod common;

use std::path::Path;

use sesr_data::io::{load_image_u8, Image};
use sesr_data::protocol::{bicubic_baseline, load_benchmark, score, EvalImage, Protocol};
use sesr_data::resize::{imresize_by, Factor};

const CASES: [(&str, usize, f64, f64); 4] = [
    ("Set5", 2, 33.66, 0.9299),
    ("Set14", 2, 30.24, 0.8688),
    ("Set5", 4, 28.42, 0.8104),
    ("Set14", 4, 26.00, 0.7027),
];

fn mean_scores(set: &Path, scale: usize, protocol: Protocol) -> anyhow::Result<(f64, f64)> {
    let images = load_benchmark(set)?;
    assert!(images.len() == 5 || images.len() == 14);
    let (mut p, mut s) = (0.0, 0.0);
    for img in &images {
        let b = bicubic_baseline(&img.hr, scale, protocol)?;
        let sc = score(&b.bicubic_y, &b.hr_y, scale);
        p += sc.psnr;
        s += sc.ssim;
    }
    let n = images.len() as f64;
    Ok((p / n, s / n))
}

#[test]
fn yfloat_bicubic_reproduces_published_numbers() -> anyhow::Result<()> {
    let Some(dir) = common::benchmarks_dir() else {
        return Ok(());
    };
    let mut failures = Vec::new();
    for (set, scale, want_psnr, want_ssim) in CASES {
        let (psnr, ssim) = mean_scores(&dir.join(set), scale, Protocol::YFloat)?;
        eprintln!(
            "YFloat {set} x{scale}: PSNR {psnr:.3} (published {want_psnr:.2}), \
             SSIM {ssim:.4} (published {want_ssim})"
        );
        if (psnr - want_psnr).abs() > 0.02 || (ssim - want_ssim).abs() > 0.002 {
            failures.push(format!("{set} x{scale}: {psnr:.3}/{ssim:.4}"));
        }
    }
    assert!(
        failures.is_empty(),
        "off the published figures: {failures:?}"
    );
    Ok(())
}

#[test]
fn rgb8_bicubic_is_close_and_slightly_lower() -> anyhow::Result<()> {
    // Rounding the LR RGB image to 8 bits adds noise: a few hundredths of a dB below YFloat.
    let Some(dir) = common::benchmarks_dir() else {
        return Ok(());
    };
    for (set, scale, want_psnr, want_ssim) in CASES {
        let (psnr, ssim) = mean_scores(&dir.join(set), scale, Protocol::Rgb8)?;
        eprintln!("Rgb8 {set} x{scale}: PSNR {psnr:.3}, SSIM {ssim:.4}");
        assert!(
            psnr < want_psnr + 0.01 && psnr > want_psnr - 0.1,
            "{set} x{scale}: {psnr}"
        );
        assert!((ssim - want_ssim).abs() < 0.003, "{set} x{scale}: {ssim}");
    }
    Ok(())
}

#[test]
fn eval_image_scores_bicubic_like_the_baseline() -> anyhow::Result<()> {
    // Feeding EvalImage's studio-swing input through bicubic gives the baseline's scores,
    // also for the gray bridge.png (input mapped to 16..235, output mapped back).
    let Some(dir) = common::benchmarks_dir() else {
        return Ok(());
    };
    for name in ["Set14/bridge.png", "Set5/bird.png"] {
        let hr = load_image_u8(dir.join(name))?;
        let e = EvalImage::new(name, &hr, 2, Protocol::YFloat)?;
        let sr = imresize_by(&e.lr_y, Factor::Up(2));
        let b = bicubic_baseline(&hr, 2, Protocol::YFloat)?;
        let want = score(&b.bicubic_y, &b.hr_y, 2);
        let got = e.score(&sr);
        assert!(
            (got.psnr - want.psnr).abs() < 1e-3,
            "{name}: {got:?} vs {want:?}"
        );
        assert!(
            (got.ssim - want.ssim).abs() < 1e-4,
            "{name}: {got:?} vs {want:?}"
        );
        // The network input is on the studio-swing scale.
        let (lo, hi) = e
            .lr_y
            .data
            .iter()
            .fold((1f32, 0f32), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(
            lo > 10.0 / 255.0 && hi < 240.0 / 255.0,
            "{name}: {lo}..{hi}"
        );
    }
    // Published bicubic x2 for bridge is 26.58 dB (SRCNN table): gray values scored as is.
    let hr = load_image_u8(dir.join("Set14/bridge.png"))?;
    assert!(matches!(hr, Image::Gray(_)));
    let b = bicubic_baseline(&hr, 2, Protocol::YFloat)?;
    let psnr = score(&b.bicubic_y, &b.hr_y, 2).psnr;
    assert!((psnr - 26.58).abs() < 0.01, "bridge x2 {psnr}");
    Ok(())
}
