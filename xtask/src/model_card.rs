//! `docs/models.md`, the model card, written from `crates/sesr-zoo/models/card.json` (which
//! `cargo xtask train-zoo` measures), so the card says what the files score.

use anyhow::{Context, Result};
use serde_json::Value;
use std::fmt::Write;

/// The paper's PSNR (dB) for a preset, scale and set, where a figure could be checked against
/// a citable source here; every other cell stays empty.
fn paper_psnr(preset: &str, scale: u64, set: &str) -> Option<f64> {
    match (preset, scale, set) {
        // x2 Set14 of every preset: the paper's "PSNR vs. MACs" figure, as published in the
        // original repository (ARM-software/sesr, SESR_results.png, commit 25cb3c9), read off
        // its points to 0.01 dB; M5's 32.84 is also the paper's Table 1 figure.
        ("m3", 2, "Set14") => Some(32.70),
        ("m5", 2, "Set14") => Some(32.84),
        ("m7", 2, "Set14") => Some(32.91),
        ("m11", 2, "Set14") => Some(33.03),
        ("xl", 2, "Set14") => Some(33.24),
        _ => None,
    }
}

fn db(v: &Value) -> String {
    v.as_f64().map_or("".into(), |x| format!("{x:.2}"))
}

fn ssim(v: &Value) -> String {
    v.as_f64().map_or("".into(), |x| format!("{x:.4}"))
}

pub fn render(card: &Value) -> Result<String> {
    let models = card["models"]
        .as_array()
        .context("card.json has no models")?;
    let recipe = &card["recipe"];
    let images: Vec<&str> = card["training_images"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut md = String::new();
    writeln!(
        md,
        "# Shipped SESR models\n\n\
         <!-- Written by `cargo xtask train-zoo --install` from crates/sesr-zoo/models/card.json; \
         do not edit by hand. -->\n\n\
         The project ships trained SESR models inside `sesr-zoo` (a few hundred KB per preset), \
         so upscaling works without training first:\n\n\
         ```sh\n\
         cargo run --release -p sesr-cli -- upscale --input photo.jpg --output photo_x2.png             # SESR-M5 x2, float32\n\
         cargo run --release -p sesr-cli -- upscale --checkpoint m5-x4-int8 --input photo.jpg --output photo_x4.png\n\
         ```\n\n\
         `--checkpoint` takes a file or a shipped model's name, `PRESET[-xSCALE][-qat|-int8]` \
         (`eval` and `compare` too); a library calls `sesr_runtime::Upscaler::pretrained(\"m5\", 2)` \
         or `pretrained_int8`. Each model comes in three forms, in `crates/sesr-zoo/models/`: \
         `<preset>_x<scale>.safetensors` (+ `.json`), the collapsed float32 network; \
         `<preset>_x<scale>_qat.safetensors`, the collapsed network after quantization-aware \
         training with its learned 8-bit ranges; `<preset>_x<scale>_int8.tflite`, its int8 \
         TFLite export (1080x1920 input). The QAT and int8 files quantize the network's final \
         sum on the 8-bit pixel grid (scale 1/255, zero point -128 in the `.tflite`), so an \
         int8 output value q is the Y pixel q + 128.\n"
    )?;
    writeln!(
        md,
        "## What they were trained on, and how\n\n\
         **Data.** The {} freely licensed (CC0 / public-domain) photos in `assets/images` \
         (training and validation folders together; licences in `assets/README.md`): {}. \
         The paper trained on DIV2K's 800 photos; these models saw about 1% of that, so expect \
         them below the paper's figures, and retrain on DIV2K for paper-level quality:\n\n\
         ```sh\n\
         cargo xtask train-all --data /path/to/DIV2K --full --preset m5   # x2, x4, QAT, export\n\
         ```\n\n\
         **Schedule** (`cargo xtask train-zoo`, which reproduces every file here and resumes \
         where it stopped): per preset, x2 float32 from scratch (M3, M5) or grown from the x2 \
         model of the next smaller preset (M7 from M5 and M11 from M7 before their anneal, the \
         trained layers kept and the new 3x3 blocks starting as identities; XL from M11's \
         shipped x2 model, widened from 16 to 32 channels with the new channels unread at \
         first; so training starts from the smaller model's function), x4 float32 from x2, each \
         ended by an anneal (a tenth of its epochs more at a tenth of the rate), then QAT (8-bit \
         weights and activations) of each from its annealed float32 model. Batch {}, {} random \
         64x64 LR patches per photo per epoch, Adam (AMSGrad) at a constant {} (float32), {} \
         (anneal) and {} (QAT), seed {}, {} training threads. Every stage keeps its last \
         checkpoint: nothing was chosen by a score, and Set5 / Set14 were used only to fill \
         this card. The schedule was {}. Training times below are for `{}`.\n",
        images.len(),
        images.join(", "),
        recipe["batch_size"],
        recipe["patches_per_image"],
        recipe["fp32_learning_rate"],
        recipe["anneal_learning_rate"],
        recipe["qat_learning_rate"],
        recipe["seed"],
        recipe["threads"],
        recipe["choice"].as_str().unwrap_or("not recorded"),
        card["cpu"].as_str().unwrap_or("unknown CPU"),
    )?;
    writeln!(
        md,
        "## Sizes and costs\n\n\
         An x4 model starts from the x2 model of its preset, and a grown preset's x2 model \
         from the x2 model of the preset it grew from, so their training times add up.\n\n\
         | model | parameters | MACs, 1080p input | float32 file | QAT file | int8 .tflite | epochs, float32 + anneal / QAT | training minutes, float32 + anneal / QAT |\n\
         |---|---|---|---|---|---|---|---|"
    )?;
    for m in models {
        let kib = |v: &Value| format!("{:.1} KiB", v.as_f64().unwrap_or(0.0) / 1024.0);
        let scale = m["scale"].as_u64().unwrap_or(2);
        let t = &m["training_minutes"];
        writeln!(
            md,
            "| {} | {} | {:.2} G | {} | {} | {} | {} + {} / {} | {} + {} / {} |",
            m["name"].as_str().unwrap_or_default(),
            m["params"],
            m["macs_1080p"].as_f64().unwrap_or(0.0) / 1e9,
            kib(&m["bytes"]["float32"]),
            kib(&m["bytes"]["qat"]),
            kib(&m["bytes"]["int8_tflite"]),
            m["epochs"][format!("x{scale}_fp32")],
            m["epochs"][format!("x{scale}_anneal")],
            match m["grown_from"].as_str() {
                Some(smaller) if scale == 2 =>
                    format!("{} (grown from {smaller})", m["epochs"]["qat"]),
                _ => m["epochs"]["qat"].to_string(),
            },
            t[format!("x{scale}-fp32")],
            t[format!("x{scale}-anneal")],
            t[format!("x{scale}-qat")],
        )?;
    }
    // Each preset's minutes (all its stages) appear on its x2 and x4 rows; count them once.
    let per_preset: Vec<(&str, f64)> = models
        .iter()
        .filter(|m| m["scale"].as_u64() == Some(2))
        .map(|m| {
            let minutes = m["training_minutes"]
                .as_object()
                .map_or(0.0, |t| t.values().filter_map(Value::as_f64).sum());
            (m["preset"].as_str().unwrap_or_default(), minutes)
        })
        .collect();
    let total: f64 = per_preset.iter().map(|(_, minutes)| minutes).sum();
    writeln!(
        md,
        "\nThe whole zoo trained in {total:.0} minutes ({:.2} hours; {}).",
        total / 60.0,
        per_preset
            .iter()
            .map(|(preset, minutes)| format!("{preset} {minutes:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(
        md,
        "\n## Quality\n\n\
         PSNR (dB) / SSIM on 8-bit Y (ITU-R BT.601), `scale` pixels cropped at each border, LR \
         made by MATLAB-style bicubic: the standard protocol (`sesr-cli eval`). `float32`: the \
         collapsed model; `QAT`: the quantization-aware model with its fake quantization \
         (libtorch); `int8 .tflite`: the exported file itself, run by sesr-runtime (bit-exact to \
         TFLite's reference kernels); for scale, the original TensorFlow code's own 8-bit \
         SESR-M5 loses about 0.20 dB (about 35.20 dB float32 and 35.00 dB int8 on DIV2K, \
         by its README). `cc0-valid` is the three photos of `assets/images/valid`, \
         which are also among the training photos, so it checks the files, not generalisation. \
         The paper column holds the figures checked against a citable source here: x2 Set14 \
         for every preset, from the paper's PSNR-vs-MACs figure as the original repository \
         publishes it (ARM-software/sesr, `SESR_results.png`); the other cells are left empty."
    )?;
    let sets: Vec<&str> = ["Set5", "Set14", "cc0-valid"]
        .into_iter()
        .filter(|set| models.iter().any(|m| !m["float32"][*set].is_null()))
        .collect();
    // The largest int8 loss on the benchmarks, from the figures themselves.
    let int8_loss = models
        .iter()
        .flat_map(|m| {
            sets.iter()
                .filter(|set| **set != "cc0-valid")
                .filter_map(move |set| {
                    let psnr = |form: &str| m[form][*set]["psnr"].as_f64();
                    Some((
                        psnr("float32")? - psnr("int8_tflite")?,
                        m["name"].as_str()?,
                        *set,
                    ))
                })
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((loss, name, set)) = int8_loss {
        writeln!(
            md,
            "The largest loss of an int8 `.tflite` against its float32 model on the benchmarks \
             is {loss:.3} dB ({name}, {set}).",
        )?;
    }
    writeln!(md)?;
    for scale in [2u64, 4] {
        writeln!(
            md,
            "### x{scale}\n\n\
             | model | set | bicubic | float32 | QAT | int8 .tflite | paper (float32, DIV2K) |\n\
             |---|---|---|---|---|---|---|"
        )?;
        for m in models.iter().filter(|m| m["scale"].as_u64() == Some(scale)) {
            let preset = m["preset"].as_str().unwrap_or_default();
            for &set in &sets {
                let cell = |form: &str, key: &str| {
                    let s = &m[form][set];
                    format!(
                        "{} / {}",
                        db(&s[format!("{key}psnr")]),
                        ssim(&s[format!("{key}ssim")])
                    )
                };
                writeln!(
                    md,
                    "| {} | {set} | {} | {} | {} | {} | {} |",
                    m["name"].as_str().unwrap_or_default(),
                    cell("float32", "bicubic_"),
                    cell("float32", ""),
                    cell("qat", ""),
                    cell("int8_tflite", ""),
                    paper_psnr(preset, scale, set).map_or(String::new(), |p| format!("{p:.2}")),
                )?;
            }
        }
        writeln!(md)?;
    }
    let benchmarks: Vec<&str> = sets.into_iter().filter(|s| *s != "cc0-valid").collect();
    which_one_to_use(&mut md, models, &benchmarks)?;
    if !card["npu"].is_null() {
        npu_section(&mut md, &card["npu"])?;
    }
    Ok(md)
}

/// The NPU table: Vela's figures (`cargo xtask npu-card`) for the CPU layout and the NPU file
/// of every model on each reported configuration, and the U85 file run in tiles.
fn npu_section(md: &mut String, npu: &Value) -> Result<()> {
    let configs = npu["configs"]
        .as_object()
        .context("card.json: npu has no configs")?;
    let models = npu["models"]
        .as_array()
        .context("card.json: npu has no models")?;
    let frame = |i: usize| npu["frame"][i].as_u64().unwrap_or_default();
    writeln!(
        md,
        "\n## On Arm Ethos-U NPUs\n\n\
         Estimated milliseconds per {}x{} frame by Arm's Ethos-U compiler, Vela {} (`cargo \
         xtask npu-card`; `sesr-cli npu FILE` gives the same figures for any file), with its \
         default system configuration per accelerator: {}. \
         *CPU layout* is the shipped `_int8.tflite` (what `sesr-cli export --format int8` \
         writes, LiteRT's fastest): Vela leaves its SPACE_TO_DEPTH and DEPTH_TO_SPACE \
         operators to the host CPU, whose time, and that of moving the 1080p tensors between \
         NPU and CPU, is not in the figure. *NPU file* is `--target ethos-u55`, `ethos-u65` or \
         `ethos-u85`: every operator on the NPU, the same integers. Each NPU cell says what \
         bounds it (compute: the NPU's cycles are at least 90% of Vela's total; else DRAM \
         traffic), with the DRAM traffic per frame. The U85 is DRAM-bound on whole 1080p \
         frames, and Vela estimates narrower inputs much faster there: the last column is its \
         NPU file exported for the fastest number of full-height strips of the frame, run \
         once per strip (table below).\n",
        frame(0),
        frame(1),
        npu["vela"].as_str().unwrap_or("?"),
        configs
            .iter()
            .map(|(name, c)| format!(
                "{name} {} ({})",
                c["system_config"].as_str().unwrap_or("?"),
                c["memory_mode"].as_str().unwrap_or("?")
            ))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    let names: Vec<&str> = configs.keys().map(String::as_str).collect();
    write!(md, "| model |")?;
    for name in &names {
        write!(md, " {name}: CPU layout | NPU file |")?;
    }
    writeln!(md, " ethos-u85-2048: NPU file in strips |")?;
    writeln!(md, "|---|{}---|", "---|---|".repeat(names.len()))?;
    let on_cpu = |f: &Value| f["cpu_operators"].as_array().map_or(0, Vec::len);
    let ms = |f: &Value| f["ms"].as_f64().unwrap_or(f64::NAN);
    let frame_ms = |s: &Value| s["frame_ms"].as_f64().unwrap_or(f64::INFINITY);
    let strips = |m: &Value| m["u85_strips"].as_array().cloned().unwrap_or_default();
    for m in models {
        write!(md, "| {} |", m["name"].as_str().unwrap_or_default())?;
        for name in &names {
            let Some(c) = m["configs"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["config"] == *name))
            else {
                write!(md, " | |")?;
                continue;
            };
            let (cpu, npu) = (&c["cpu_layout"], &c["npu"]);
            write!(
                md,
                " {:.0} ms, {} ops on CPU | {:.0} ms, {} on CPU; {}",
                ms(cpu),
                on_cpu(cpu),
                ms(npu),
                on_cpu(npu),
                npu["bound"].as_str().unwrap_or("?")
            )?;
            match npu["dram_mb"].as_f64() {
                Some(mb) if mb > 0.0 => write!(md, " ({mb:.0} MB) |")?,
                _ => write!(md, " |")?,
            }
        }
        match strips(m)
            .iter()
            .min_by(|a, b| frame_ms(a).total_cmp(&frame_ms(b)))
        {
            Some(s) => writeln!(
                md,
                " {:.0} ms ({} strips of {}x{}) |",
                frame_ms(s),
                s["strips"],
                frame(0),
                s["width"]
            )?,
            None => writeln!(md, " |")?,
        }
    }
    let counts: Vec<u64> = models
        .first()
        .map(|m| {
            strips(m)
                .iter()
                .filter_map(|s| s["strips"].as_u64())
                .collect()
        })
        .unwrap_or_default();
    writeln!(
        md,
        "\nThe U85 NPU file per frame, whole and in full-height vertical strips (ms per frame; \
         the strip's width; each strip carries the model's halo, 4 + m LR pixels, on its inner \
         sides, so the strips' outputs tile the frame's exactly; `sesr-cli npu FILE --frame \
         1080x1920` gives the per-frame figures of a file exported at a strip's size):\n"
    )?;
    write!(md, "| model | halo | whole frame |")?;
    for count in &counts {
        write!(md, " {count} strips |")?;
    }
    writeln!(md, "\n|---|---|---|{}", "---|".repeat(counts.len()))?;
    for m in models {
        let whole = m["configs"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["config"] == "ethos-u85-2048"))
            .map_or(f64::NAN, |c| ms(&c["npu"]));
        write!(
            md,
            "| {} | {} | {whole:.0} ms |",
            m["name"].as_str().unwrap_or_default(),
            m["halo"]
        )?;
        for count in &counts {
            match strips(m)
                .iter()
                .find(|s| s["strips"].as_u64() == Some(*count))
            {
                Some(s) => write!(md, " {:.0} ms; {} |", frame_ms(s), s["width"])?,
                None => write!(md, " |")?,
            }
        }
        writeln!(md)?;
    }
    Ok(())
}

/// sesr-cli's preset when none is named.
const DEFAULT_PRESET: &str = "m5";

/// A model's PSNR on a set, in one form (`float32`, `qat`, `int8_tflite`).
fn psnr(model: &Value, form: &str, set: &str) -> Option<f64> {
    model[form][set]["psnr"].as_f64()
}

/// One benchmark set at one scale: the presets by PSNR in a form, best first.
fn ranking<'a>(models: &'a [Value], scale: u64, set: &str, form: &str) -> Vec<(&'a str, f64)> {
    let mut ranked: Vec<(&str, f64)> = models
        .iter()
        .filter(|m| m["scale"].as_u64() == Some(scale))
        .filter_map(|m| Some((m["preset"].as_str()?, psnr(m, form, set)?)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked
}

/// `M11 (3 of 4 rows), M7 (1 of 4 rows)`: how often each preset comes first, most often first.
fn winners(firsts: &[&str]) -> String {
    let mut counts: Vec<(&str, usize)> = vec![];
    for preset in firsts {
        match counts.iter_mut().find(|(p, _)| p == preset) {
            Some((_, n)) => *n += 1,
            None => counts.push((preset, 1)),
        }
    }
    counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    counts
        .iter()
        .map(|(preset, n)| format!("{} ({n} of {} rows)", preset.to_uppercase(), firsts.len()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The advice, with every ranking and figure in it computed from the card's scores, sizes and
/// times, so that it follows the models when they are retrained.
fn which_one_to_use(md: &mut String, models: &[Value], benchmarks: &[&str]) -> Result<()> {
    writeln!(md, "## Which one to use\n")?;
    if benchmarks.is_empty() {
        writeln!(
            md,
            "This card has no benchmark scores (`cargo xtask train-zoo --benchmarks`), and the \
             `cc0-valid` photos are among the training photos, so nothing here ranks the models."
        )?;
        return Ok(());
    }
    writeln!(
        md,
        "Each benchmark row ranks the presets by PSNR, best first, with each one's distance to \
         the best in dB.\n\n\
         | scale | set | float32 | int8 .tflite |\n\
         |---|---|---|---|"
    )?;
    let ranked = |ranking: &[(&str, f64)]| {
        let best = ranking.first().map_or(0.0, |(_, psnr)| *psnr);
        ranking
            .iter()
            .enumerate()
            .map(|(i, (preset, psnr))| match i {
                0 => preset.to_uppercase(),
                _ => format!("{} ({:.3})", preset.to_uppercase(), psnr - best),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (mut float32_firsts, mut int8_firsts) = (vec![], vec![]);
    // The default preset against each row's best float32 model: dB behind, share of its MACs.
    let mut default_gaps: Vec<(f64, f64)> = vec![];
    for scale in [2u64, 4] {
        for &set in benchmarks {
            let float32 = ranking(models, scale, set, "float32");
            let int8 = ranking(models, scale, set, "int8_tflite");
            let (Some(&(best, best_psnr)), Some(&(int8_best, _))) = (float32.first(), int8.first())
            else {
                continue;
            };
            writeln!(
                md,
                "| x{scale} | {set} | {} | {} |",
                ranked(&float32),
                ranked(&int8)
            )?;
            float32_firsts.push(best);
            int8_firsts.push(int8_best);
            let macs = |preset: &str| {
                models
                    .iter()
                    .find(|m| m["preset"] == preset && m["scale"].as_u64() == Some(scale))
                    .and_then(|m| m["macs_1080p"].as_f64())
            };
            if let (Some(&(_, default_psnr)), Some(default_macs), Some(best_macs)) = (
                float32.iter().find(|(p, _)| *p == DEFAULT_PRESET),
                macs(DEFAULT_PRESET),
                macs(best),
            ) {
                default_gaps.push((best_psnr - default_psnr, default_macs / best_macs));
            }
        }
    }
    write!(
        md,
        "\nFor quality from the zoo, take the best float32 model of a row: {}; as int8 \
         `.tflite`, {}.",
        winners(&float32_firsts),
        winners(&int8_firsts)
    )?;
    if !default_gaps.is_empty() {
        let behind = default_gaps.iter().map(|g| g.0).fold(0.0, f64::max);
        let shares: Vec<f64> = default_gaps.iter().map(|g| 100.0 * g.1).collect();
        let least = shares.iter().copied().fold(f64::INFINITY, f64::min);
        let most = shares.iter().copied().fold(0.0, f64::max);
        let shares = if most - least < 0.5 {
            format!("{least:.0}%")
        } else {
            format!("{least:.0}% to {most:.0}%")
        };
        write!(
            md,
            " {}, the default, trails the best float32 model of each row by at most {behind:.3} \
             dB, with {shares} of its MACs.",
            DEFAULT_PRESET.to_uppercase()
        )?;
    }
    let grown: Vec<String> = models
        .iter()
        .filter(|m| m["scale"].as_u64() == Some(2))
        .filter_map(|m| {
            Some(format!(
                "{} from {}",
                m["preset"].as_str()?.to_uppercase(),
                m["grown_from"].as_str()?.to_uppercase()
            ))
        })
        .collect();
    if !grown.is_empty() {
        write!(
            md,
            " The deeper models grew from smaller ones ({}; see the schedule for why).",
            grown.join(", ")
        )?;
    }
    if let Some(note) = largest_model_note(models, &float32_firsts) {
        write!(md, " {note}")?;
    }
    writeln!(md)?;
    Ok(())
}

/// Why the largest model trails, when no row puts it first: grown from a smaller preset, what
/// it gained over that one on the photos it trained on and on the benchmarks; else, that it
/// trained for fewer epochs than the default because its epochs cost more.
fn largest_model_note(models: &[Value], float32_firsts: &[&str]) -> Option<String> {
    let x2: Vec<&Value> = models
        .iter()
        .filter(|m| m["scale"].as_u64() == Some(2))
        .collect();
    let macs = |m: &Value| m["macs_1080p"].as_f64();
    let largest = *x2
        .iter()
        .max_by(|a, b| macs(a).unwrap_or(0.0).total_cmp(&macs(b).unwrap_or(0.0)))?;
    let default = *x2.iter().find(|m| m["preset"] == DEFAULT_PRESET)?;
    let preset = largest["preset"].as_str()?;
    let epochs = |m: &Value| m["epochs"]["x2_fp32"].as_f64();
    let minutes_per_epoch =
        |m: &Value| Some(m["training_minutes"]["x2-fp32"].as_f64()? / epochs(m)?);
    if preset == DEFAULT_PRESET || float32_firsts.contains(&preset) {
        return None;
    }
    if let Some(source) = largest["grown_from"].as_str() {
        let source_model = *x2.iter().find(|m| m["preset"] == source)?;
        let gain =
            |set: &str| Some(psnr(largest, "float32", set)? - psnr(source_model, "float32", set)?);
        let benchmarks: Vec<String> = ["Set5", "Set14"]
            .iter()
            .filter_map(|set| Some(format!("{:+.3} dB on {set}", gain(set)?)))
            .collect();
        let (big, small) = (preset.to_uppercase(), source.to_uppercase());
        return Some(format!(
            "{big}, the largest model ({:.1} times {}'s MACs), grew from {small} and is first in \
             no row: at x2 it scores {:+.3} dB against {small} on the CC0 photos it trained on \
             but {}: on 11 training photos its extra width fits them more than it generalises. Train {big} on DIV2K before relying on it.",
            macs(largest)? / macs(default)?,
            DEFAULT_PRESET.to_uppercase(),
            gain("cc0-valid")?,
            benchmarks.join(" and "),
        ));
    }
    if epochs(largest)? >= epochs(default)? {
        return None;
    }
    let slower = minutes_per_epoch(largest)? / minutes_per_epoch(default)?;
    let (big, default_name) = (preset.to_uppercase(), DEFAULT_PRESET.to_uppercase());
    Some(format!(
        "{big}, the largest model ({:.1} times {default_name}'s MACs), is first in no row: each \
         of its x2 float32 epochs took {slower:.1} times one of {default_name}'s, so it trained \
         for {} + {} x2 epochs against {default_name}'s {} + {}. Train {big} longer, or on \
         DIV2K, before relying on it.",
        macs(largest)? / macs(default)?,
        largest["epochs"]["x2_fp32"],
        largest["epochs"]["x2_anneal"],
        default["epochs"]["x2_fp32"],
        default["epochs"]["x2_anneal"],
    ))
}

#[cfg(test)]
mod tests {
    use crate::setup::repo_root;

    /// docs/models.md is what the shipped card.json renders to: the card cannot drift from the
    /// figures measured on the shipped files. `UPDATE_EXPECT=1` rewrites it instead, for a
    /// change of the renderer (new figures come from `cargo xtask train-zoo --install`).
    #[test]
    fn docs_models_md_is_the_rendered_card() {
        let root = repo_root();
        let card = std::fs::read_to_string(root.join("crates/sesr-zoo/models/card.json")).unwrap();
        let card: serde_json::Value = serde_json::from_str(&card).unwrap();
        let rendered = super::render(&card).unwrap();
        let path = root.join("docs/models.md");
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            std::fs::write(&path, &rendered).unwrap();
        }
        let docs = std::fs::read_to_string(&path).unwrap();
        assert!(
            docs == rendered,
            "docs/models.md differs from crates/sesr-zoo/models/card.json; run `cargo xtask \
             train-zoo --install` (or copy its models.md) instead of editing it, or, after \
             changing the renderer, `UPDATE_EXPECT=1 cargo test -p xtask docs_models_md`"
        );
    }
}
