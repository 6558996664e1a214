//! `cargo xtask train-all`: the whole pipeline in one command.
//!
//! Stages, each a `sesr-cli` run: x2 FP32 training; x4 FP32 initialised from x2; QAT
//! fine-tuning of both; evaluation on the validation images; float32 and int8 TFLite export of
//! both (1080p input); LiteRT latency; a summary table (markdown and JSON) with pictures
//! (training curves, crops bicubic | float32 | int8 | ground truth). A finished stage
//! leaves `stages/<name>.done`, so running the command again resumes after the last finished
//! stage; an interrupted training stage resumes inside its run (`--resume`).

use crate::setup;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The flags of `cargo xtask train-all`.
#[derive(clap::Parser)]
pub struct Options {
    /// Training images: a DIV2K folder or a folder of HR images (default: the CC0 photos in
    /// assets/images/train)
    #[arg(
        long,
        value_name = "DIR",
        default_value_os_t = setup::repo_root().join("assets/images/train"),
        hide_default_value = true
    )]
    data: PathBuf,
    /// Held-out HR images (default: DIV2K's validation split DIR/DIV2K_valid_HR when --data
    /// DIR holds one, else assets/images/valid)
    #[arg(long, value_name = "DIR")]
    valid: Option<PathBuf>,
    /// Pipeline folder (default: runs/train-all in the repository)
    #[arg(
        long,
        value_name = "DIR",
        default_value_os_t = setup::repo_root().join("runs/train-all"),
        hide_default_value = true
    )]
    out: PathBuf,
    /// The paper's schedule (300 epochs per stage, reference learning rate) instead of the
    /// short default that finishes in minutes on a CPU
    #[arg(long)]
    full: bool,
    /// m3, m5, m7, m11 or xl
    #[arg(long, value_name = "NAME", default_value = "m5")]
    preset: String,
    /// Epochs of every training stage
    #[arg(long, value_name = "N", value_parser = positive_integer)]
    epochs: Option<usize>,
    /// cpu or cuda
    #[arg(long, value_name = "DEVICE", default_value = "cpu")]
    device: String,
    /// Data-parallel training stages: N ranks on this machine under mpirun, each with a share
    /// of every batch (and GPU cuda:RANK with --device cuda)
    #[arg(long, value_name = "N", value_parser = positive_integer)]
    nproc_per_node: Option<usize>,
}

/// `--epochs` and `--nproc-per-node`: 0 would train nothing, or on no rank.
fn positive_integer(value: &str) -> Result<usize, String> {
    value
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| "expected a positive integer".into())
}

impl Options {
    /// The validation folder (`--valid`, or its default), after checking that both image
    /// folders hold something.
    fn checked_valid(&self) -> Result<PathBuf> {
        let div2k_valid = self.data.join("DIV2K_valid_HR");
        let valid = self.valid.clone().unwrap_or_else(|| {
            if div2k_valid.is_dir() {
                div2k_valid
            } else {
                setup::repo_root().join("assets/images/valid")
            }
        });
        // Fail before any training: a missing or empty folder is the commonest mistake.
        for (flag, dir) in [("--data", &self.data), ("--valid", &valid)] {
            let entries = std::fs::read_dir(dir)
                .with_context(|| format!("{flag} {}: cannot read the folder", dir.display()))?;
            if entries.filter_map(|e| e.ok()).next().is_none() {
                bail!(
                    "{flag} {}: the folder is empty; point it at images (or a DIV2K folder)",
                    dir.display()
                );
            }
        }
        Ok(valid)
    }
}

/// One training stage's settings.
struct TrainStage {
    name: &'static str,
    scale: usize,
    qat: bool,
    /// The stage whose best checkpoint starts this one.
    init_from: Option<&'static str>,
    short_epochs: usize,
}

const TRAIN_STAGES: [TrainStage; 4] = [
    TrainStage {
        name: "x2-fp32",
        scale: 2,
        qat: false,
        init_from: None,
        short_epochs: 40,
    },
    TrainStage {
        name: "x4-fp32",
        scale: 4,
        qat: false,
        init_from: Some("x2-fp32"),
        short_epochs: 20,
    },
    TrainStage {
        name: "x2-qat",
        scale: 2,
        qat: true,
        init_from: Some("x2-fp32"),
        short_epochs: 8,
    },
    TrainStage {
        name: "x4-qat",
        scale: 4,
        qat: true,
        init_from: Some("x4-fp32"),
        short_epochs: 8,
    },
];

struct Pipeline {
    opts: Options,
    /// `--valid` or its default.
    valid: PathBuf,
    cli: PathBuf,
}

impl Pipeline {
    fn sesr_cli(&self, args: &[String]) -> Result<String> {
        run_sesr_cli(&self.cli, args)
    }

    /// The run directory a stage's training wrote (the one folder under its `--out`).
    fn run_dir(&self, stage: &str) -> Result<PathBuf> {
        run_dir(&self.opts.out.join(stage))
    }

    fn best(&self, stage: &str) -> Result<PathBuf> {
        Ok(self.run_dir(stage)?.join(sesr_model::run::BEST))
    }

    fn train(&self, stage: &TrainStage) -> Result<()> {
        let o = &self.opts;
        let epochs = o
            .epochs
            .unwrap_or(if o.full { 300 } else { stage.short_epochs });
        let mut args: Vec<String> = ["train", "--data"].map(String::from).to_vec();
        args.push(o.data.display().to_string());
        args.extend(["--valid".into(), self.valid.display().to_string()]);
        args.extend(["--out".into(), o.out.join(stage.name).display().to_string()]);
        args.extend([
            "--preset".into(),
            o.preset.clone(),
            "--scale".into(),
            stage.scale.to_string(),
        ]);
        args.extend([
            "--epochs".into(),
            epochs.to_string(),
            "--device".into(),
            o.device.clone(),
        ]);
        if !o.full {
            // Short schedule: larger epochs over the few shipped photos, the paper's rate for
            // FP32 and a gentler one for fine-tuning.
            let lr = if stage.qat { "1e-4" } else { "5e-4" };
            args.extend([
                "--patches-per-image".into(),
                "128".into(),
                "--learning-rate".into(),
                lr.into(),
            ]);
        }
        if stage.qat {
            args.extend(["--quant-w".into(), "--quant-a".into()]);
        }
        if let Some(ranks) = o.nproc_per_node {
            args.extend(["--nproc-per-node".into(), ranks.to_string()]);
        }
        if let Some(from) = stage.init_from {
            args.extend(["--init-from".into(), self.best(from)?.display().to_string()]);
        }
        run_training(&self.cli, &o.out.join(stage.name), args)
    }

    fn export_path(&self, scale: usize, format: &str) -> PathBuf {
        self.opts.out.join("export").join(format!(
            "sesr_{}_x{scale}_{format}_1080x1920.tflite",
            self.opts.preset
        ))
    }

    fn export(&self) -> Result<()> {
        for scale in [2, 4] {
            for (format, stage) in [
                ("float32", format!("x{scale}-fp32")),
                ("int8", format!("x{scale}-qat")),
            ] {
                let args = [
                    "export".into(),
                    "--checkpoint".into(),
                    self.best(&stage)?.display().to_string(),
                    "--format".into(),
                    format.into(),
                    "--output".into(),
                    self.export_path(scale, format).display().to_string(),
                ];
                print!("{}", self.sesr_cli(&args)?);
            }
        }
        Ok(())
    }

    /// Scores a model (checkpoint or int8 .tflite) on the validation images; the JSON report
    /// goes to `eval/<name>.json`.
    fn eval(&self, model: &Path, name: &str) -> Result<Value> {
        let json_path = self.opts.out.join("eval").join(format!("{name}.json"));
        let args = [
            "eval".into(),
            "--checkpoint".into(),
            model.display().to_string(),
            "--data".into(),
            self.valid.display().to_string(),
            "--json".into(),
            json_path.display().to_string(),
        ];
        print!("{}", self.sesr_cli(&args)?);
        let text = std::fs::read_to_string(&json_path)?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Median LiteRT latency (2 threads) of a file, in ms, on a zero input.
    fn latency_ms(&self, model: &Path, bytes_per_input: usize) -> Result<f64> {
        let input = self.opts.out.join("export/zeros.bin");
        std::fs::write(&input, vec![0u8; 1080 * 1920 * bytes_per_input])?;
        let script = setup::repo_root().join("crates/sesr-testkit/python/litert_run.py");
        let out = Command::new(setup::venv_python())
            .arg(script)
            .arg(model)
            .arg("--input")
            .arg(&input)
            .args(["--threads", "2", "--time", "5"])
            .output()?;
        if !out.status.success() {
            bail!(
                "LiteRT could not run {}: {}",
                model.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let _ = std::fs::remove_file(&input);
        let report: Value = serde_json::from_slice(&out.stdout)?;
        let mut times: Vec<f64> = report["times_ms"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .collect();
        times.sort_by(f64::total_cmp);
        times
            .get(times.len() / 2)
            .copied()
            .context("LiteRT reported no times")
    }

    fn info(&self, scale: usize) -> Result<(u64, u64)> {
        params_and_macs(&self.cli, &self.opts.preset, scale)
    }

    /// The first validation image in name order: the one the crops show.
    fn crop_image(&self) -> Result<PathBuf> {
        let mut images: Vec<PathBuf> = std::fs::read_dir(&self.valid)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                    ["png", "jpg", "jpeg", "bmp"].contains(&e.to_ascii_lowercase().as_str())
                })
            })
            .collect();
        images.sort();
        images
            .into_iter()
            .next()
            .with_context(|| format!("{}: no validation image to crop", self.valid.display()))
    }

    /// The pictures: training curves of every stage, and crops (bicubic | float32 | int8 |
    /// ground truth) per scale. Returns the file names, relative to the run folder.
    fn pictures(&self) -> Result<Vec<(String, String)>> {
        let out = &self.opts.out;
        let mut args: Vec<String> = vec!["plot".into(), "--output".into()];
        args.push(out.join("training_curves.png").display().to_string());
        for stage in &TRAIN_STAGES {
            args.push(format!(
                "{}={}",
                stage.name,
                self.run_dir(stage.name)?.display()
            ));
        }
        print!("{}", self.sesr_cli(&args)?);
        let mut pictures = vec![(
            "Training loss and validation PSNR per stage".to_string(),
            "training_curves.png".to_string(),
        )];
        let image = self.crop_image()?;
        for scale in [2, 4] {
            let file = format!("crops_x{scale}.png");
            let args = [
                "compare".into(),
                "--image".into(),
                image.display().to_string(),
                "--model".into(),
                format!(
                    "SESR float32={}",
                    self.best(&format!("x{scale}-fp32"))?.display()
                ),
                "--model".into(),
                format!("SESR int8={}", self.export_path(scale, "int8").display()),
                "--output".into(),
                out.join(&file).display().to_string(),
            ];
            print!("{}", self.sesr_cli(&args)?);
            let name = image.file_name().unwrap_or_default().to_string_lossy();
            pictures.push((format!("x{scale} crops of `{name}`"), file));
        }
        Ok(pictures)
    }

    fn summary(&self) -> Result<()> {
        let mut rows = vec![];
        for scale in [2, 4] {
            let fp32 = self.eval(
                &self.best(&format!("x{scale}-fp32"))?,
                &format!("x{scale}-fp32"),
            )?;
            let qat = self.eval(
                &self.best(&format!("x{scale}-qat"))?,
                &format!("x{scale}-qat"),
            )?;
            let int8 = self.eval(
                &self.export_path(scale, "int8"),
                &format!("x{scale}-int8-tflite"),
            )?;
            let (params, macs) = self.info(scale)?;
            let float_file = self.export_path(scale, "float32");
            let int8_file = self.export_path(scale, "int8");
            let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            rows.push(json!({
                "scale": scale,
                "psnr_fp32": fp32["datasets"][0]["sesr"]["psnr"],
                "ssim_fp32": fp32["datasets"][0]["sesr"]["ssim"],
                "psnr_int8_qat": qat["datasets"][0]["sesr"]["psnr"],
                "ssim_int8_qat": qat["datasets"][0]["sesr"]["ssim"],
                "psnr_int8_tflite": int8["datasets"][0]["sesr"]["psnr"],
                "ssim_int8_tflite": int8["datasets"][0]["sesr"]["ssim"],
                "psnr_bicubic": fp32["datasets"][0]["bicubic"]["psnr"],
                "params": params,
                "macs_1080p": macs,
                "float32_bytes": size(&float_file),
                "int8_bytes": size(&int8_file),
                "litert_float32_ms": self.latency_ms(&float_file, 4)?,
                "litert_int8_ms": self.latency_ms(&int8_file, 1)?,
            }));
        }
        let f = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.2}"));
        let mut md = format!(
            "# SESR-{} pipeline summary\n\nValidation images: `{}` (PSNR on 8-bit Y, border = scale). \
             INT8 QAT: the quantization-aware model with its fake quantization; INT8 .tflite: the exported int8 file, \
             run by sesr-runtime (LiteRT's integers, within one step). Latency: LiteRT, 2 threads, \
             1080x1920 input, median of 5 runs.\n\n\
             | scale | bicubic dB | FP32 dB | INT8 QAT dB | INT8 .tflite dB | params | MACs (1080p) | float32 .tflite | int8 .tflite | LiteRT float32 | LiteRT int8 |\n\
             |---|---|---|---|---|---|---|---|---|---|---|\n",
            self.opts.preset.to_uppercase(),
            self.valid.display()
        );
        for r in &rows {
            md += &format!(
                "| x{} | {} | {} | {} | {} | {} | {:.2} G | {} KiB | {} KiB | {} ms | {} ms |\n",
                r["scale"],
                f(&r["psnr_bicubic"]),
                f(&r["psnr_fp32"]),
                f(&r["psnr_int8_qat"]),
                f(&r["psnr_int8_tflite"]),
                r["params"],
                r["macs_1080p"].as_f64().unwrap_or(0.0) / 1e9,
                r["float32_bytes"].as_u64().unwrap_or(0) / 1024,
                r["int8_bytes"].as_u64().unwrap_or(0) / 1024,
                f(&r["litert_float32_ms"]),
                f(&r["litert_int8_ms"]),
            );
        }
        let pictures = self.pictures()?;
        for (caption, file) in &pictures {
            md += &format!("\n## {caption}\n\n![{caption}]({file})\n");
        }
        let out = &self.opts.out;
        write_file(&out.join("summary.md"), md.as_bytes())?;
        write_file(
            &out.join("summary.json"),
            serde_json::to_vec_pretty(&json!({
                "preset": self.opts.preset,
                "rows": rows,
                "pictures": pictures.iter().map(|(_, file)| file).collect::<Vec<_>>(),
            }))?
            .as_slice(),
        )?;
        println!(
            "\n{md}\nwritten: {} and summary.json",
            out.join("summary.md").display()
        );
        Ok(())
    }
}

/// The run directory a training stage wrote: the one folder under the stage's `--out`.
pub(crate) fn run_dir(stage_out: &Path) -> Result<PathBuf> {
    std::fs::read_dir(stage_out)
        .with_context(|| format!("{}: the stage has no output yet", stage_out.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.is_dir())
        .with_context(|| format!("{}: the stage wrote no run directory", stage_out.display()))
}

/// Runs `sesr-cli train` with `args` (whose `--out` is `stage_out`), adding `--resume` when an
/// earlier attempt left a run there; its output goes to the terminal.
pub(crate) fn run_training(cli: &Path, stage_out: &Path, mut args: Vec<String>) -> Result<()> {
    if run_dir(stage_out).is_ok_and(|d| sesr_model::run::RunDir::new(d).has_progress()) {
        args.push("--resume".into());
    }
    let status = Command::new(cli).args(&args).status()?;
    if !status.success() {
        bail!("sesr-cli {} exited with {status}", args.join(" "));
    }
    Ok(())
}

/// Runs `sesr-cli` to the end; its stdout, or an error that holds it.
pub(crate) fn run_sesr_cli(cli: &Path, args: &[String]) -> Result<String> {
    let out = Command::new(cli)
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", cli.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("sesr-cli {} failed:\n{stdout}", args.join(" "));
    }
    Ok(stdout)
}

/// Parameters (collapsed conv weights) and inference MACs at a 1080x1920 input, from
/// `sesr-cli info`.
pub(crate) fn params_and_macs(cli: &Path, preset: &str, scale: usize) -> Result<(u64, u64)> {
    let args = [
        "info",
        "--preset",
        preset,
        "--scale",
        &scale.to_string(),
        "--lr-size",
        "1080x1920",
    ]
    .map(String::from);
    let text = run_sesr_cli(cli, &args)?;
    let number = |label: &str| -> Result<u64> {
        let line = text
            .lines()
            .find(|l| l.starts_with(label))
            .with_context(|| format!("sesr-cli info printed no `{label}`"))?;
        let inner = line
            .rsplit('(')
            .next()
            .unwrap_or_default()
            .trim_end_matches(')');
        Ok(inner.parse()?)
    };
    Ok((
        number("parameters, collapsed conv weights")?,
        number("inference MACs")?,
    ))
}

/// Writes `bytes` atomically (sesr-model's rule for every file the project writes).
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    sesr_model::atomic::write_file_atomic(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

pub fn run(opts: Options) -> Result<()> {
    let valid = opts.checked_valid()?;
    setup::run()?;
    println!("xtask: building sesr-cli (release)");
    setup::run_checked(setup::cargo().current_dir(setup::repo_root()).args([
        "build",
        "--release",
        "-p",
        "sesr-cli",
    ]))?;
    let cli = setup::repo_root().join("target/release/sesr-cli");
    let pipeline = Pipeline { opts, valid, cli };
    let stages_dir = pipeline.opts.out.join("stages");
    for dir in ["stages", "export", "eval"] {
        std::fs::create_dir_all(pipeline.opts.out.join(dir))?;
    }
    let names: Vec<&str> = TRAIN_STAGES
        .iter()
        .map(|s| s.name)
        .chain(["export", "summary"])
        .collect();
    for (i, name) in names.iter().enumerate() {
        let marker = stages_dir.join(format!("{name}.done"));
        if marker.exists() {
            println!(
                "xtask: stage {}/{} `{name}` already done",
                i + 1,
                names.len()
            );
            continue;
        }
        println!("\nxtask: stage {}/{} `{name}`", i + 1, names.len());
        let result = match *name {
            "export" => pipeline.export(),
            "summary" => pipeline.summary(),
            train => pipeline.train(
                TRAIN_STAGES
                    .iter()
                    .find(|s| s.name == train)
                    .expect("a training stage"),
            ),
        };
        result.with_context(|| format!("stage `{name}` failed; fix the cause and run `cargo xtask train-all` again to resume here"))?;
        std::fs::write(&marker, b"")?;
    }
    let summary = pipeline.opts.out.join("summary.md");
    println!("\nxtask: pipeline complete; summary: {}", summary.display());
    Ok(())
}
