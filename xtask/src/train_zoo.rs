//! `cargo xtask train-zoo`: trains the models `sesr-zoo` ships, from scratch, and writes their
//! model card.
//!
//! Per preset, each a `sesr-cli` run: x2 FP32 (from scratch, or grown from the next smaller
//! preset's x2 model: M7 from M5, M11 from M7), x4 FP32 from x2, a short low-rate anneal of
//! each, QAT of both from their annealed models, then the shipped files (collapsed float32,
//! collapsed QAT, int8 `.tflite` at 1080x1920) into `<out>/models`.
//! A finished stage leaves `stages/<preset>-<stage>.done`; an interrupted training stage
//! resumes inside its run (`--resume`), so running the command again continues where it
//! stopped. The data are every CC0 photo of `assets/images` (training and validation folders
//! together); every stage keeps its last checkpoint, so no choice looks at any test set.
//! `card` then scores every model in `<out>/models` (CC0 validation photos, and Set5/Set14
//! when `--benchmarks` names them) into `card.json` and `models.md`; `--install` copies the
//! models and the card into `crates/sesr-zoo/models` and `docs/models.md`.

use crate::setup;
use crate::train_all::{params_and_macs, run_dir, run_sesr_cli, run_training, write_file};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use sesr_model::reference::SHIPPED_SCALES;
use sesr_model::run;
use sesr_model::{ShippedForm, ShippedName};
use std::path::{Path, PathBuf};

/// A shipped file's name in `crates/sesr-zoo/models` (`sesr-model` names them; `sesr-zoo`
/// finds them by the same names).
fn zoo_file(preset: &str, scale: usize, form: ShippedForm) -> String {
    let preset = preset
        .parse()
        .expect("the recipes name the paper's presets");
    ShippedName::new(preset, scale, form).file_name()
}

/// Training threads: the shipped files are reproduced byte for byte with the same count on
/// the same kind of CPU (gradients are summed per thread).
const THREADS: &str = "2";
const SEED: &str = "0";
const PATCHES_PER_IMAGE: &str = "128";
/// Small batches win on these few photos: more steps for the same pixels, and per-step costs
/// that shrink almost as fast as the batch (see [`SCHEDULE_CHOICE`]).
const BATCH_SIZE: &str = "8";
const FP32_LEARNING_RATE: &str = "5e-4";
const QAT_LEARNING_RATE: &str = "1e-4";
/// The anneal that ends each float32 model: a tenth of its epochs more, at a tenth of the rate.
/// A constant rate leaves the weights jittering about a minimum (the CC0 score moves by
/// ±0.02 dB from one epoch to the next); a short run at a lower rate settles them. x4 starts
/// from the x2 model before its anneal: it trains at the full rate again, which would undo it.
const ANNEAL_LEARNING_RATE: &str = "5e-5";
const ANNEAL_EPOCHS_DIVISOR: usize = 10;
/// How the schedule was chosen, for the card: on CC0 photos only (8 training, 3 held out).
const SCHEDULE_CHOICE: &str = "chosen on the CC0 photos alone, 8 for training and 3 held out: \
    SESR-M5 x2 after 300 epochs (9,600 steps) scored 33.88 dB on the held-out photos at a \
    constant 5e-4, 33.85 dB with a cosine decay to zero, and 32.91 dB at epoch 24 of a run at \
    1e-3 (stopped); from a 300-epoch run (33.90 dB), 30 epochs more scored 33.93 dB at 5e-5 \
    (33.92-33.94 over the last ten) against 33.89 dB at 5e-4 (33.86-33.92), hence the anneal; \
    QAT of that annealed model for 20 epochs gave 33.41 dB as int8 .tflite (card protocol) at \
    1e-4 and 33.40 at 2e-5, and 10 epochs more 33.42 at either 1e-4 or 1e-5, so QAT keeps 1e-4 \
    without an anneal; putting the final sum on the 8-bit pixel grid [0, 1] when the QAT model \
    is collapsed, instead of on its learned range, raised that int8 score to 33.417 dB (a QAT \
    run with the grid fixed throughout gave 33.415); M11 from scratch trailed M5 at every \
    epoch up to 300 (33.897 dB there), while M11 grown from the 300-epoch M5 scored 33.932 dB \
    50 epochs later and 33.942 after 100, hence M7 and M11 grow from the next smaller preset \
    (M5 grown from a 300-epoch M3 only matched M5 from scratch, 33.90 dB after 200 epochs, so \
    M5 trains from scratch); smaller batches at the same 5e-4 then trained better both per \
    epoch and per second: after 150 epochs SESR-M5 x2 scored 33.80 dB at batch 32, 33.84 at 16 \
    and 33.90 at 8 (an epoch took 1.08, 1.22 and 1.36 s), batch 8 matching in 150 epochs what \
    batch 32 reached in 300 (33.88), and its anneal (15 epochs) gave 33.92-33.94, so the zoo \
    trains at batch 8 with 0.8 times the epochs it had at batch 32, to keep its time; the zoo \
    then trains on all 11 photos for longer, and M11 gets 50 QAT epochs instead of 20: with 20 \
    its x2 int8 .tflite lost 0.163 dB to its float32 model on the CC0 photos, the most in the \
    zoo, while its QAT validation score was still rising (34.233 dB at epoch 10, 34.262 at \
    20; 34.305 at 50)";

/// One preset's schedule: epochs of each stage (one epoch: 128 patches of each photo, 176
/// steps of 8). M7, M11 and XL start from the smaller preset's trained x2 model (XL widened from
/// M11's, with few epochs of its own), so that the whole zoo trains in under two hours on a
/// 2-core CPU; the learning rate
/// stays constant, as in the paper, until the anneal ([`SCHEDULE_CHOICE`]).
struct Recipe {
    preset: &'static str,
    /// The smaller preset whose x2 float32 model this one's x2 training starts from, grown to
    /// this depth and width with the same function (`Sesr::init_from`); None: scratch.
    grown_from: Option<&'static str>,
    /// Which of the smaller preset's x2 models it grows from.
    growth: Growth,
    x2_epochs: usize,
    x4_epochs: usize,
    qat_epochs: usize,
}

/// Which x2 float32 model of the smaller preset a grown one starts from.
#[derive(Clone, Copy, PartialEq)]
enum Growth {
    /// Its training checkpoint in this run, before its anneal.
    Checkpoint,
    /// Its shipped model (annealed, collapsed): the one this run writes when it trains the
    /// smaller preset, else the installed one, so that this preset retrains alone.
    Shipped,
}

const RECIPES: [Recipe; 5] = [
    Recipe {
        preset: "m3",
        grown_from: None,
        growth: Growth::Checkpoint,
        x2_epochs: 400,
        x4_epochs: 80,
        qat_epochs: 20,
    },
    Recipe {
        preset: "m5",
        grown_from: None,
        growth: Growth::Checkpoint,
        x2_epochs: 400,
        x4_epochs: 80,
        qat_epochs: 20,
    },
    Recipe {
        preset: "m7",
        grown_from: Some("m5"),
        growth: Growth::Checkpoint,
        x2_epochs: 120,
        x4_epochs: 80,
        qat_epochs: 20,
    },
    Recipe {
        preset: "m11",
        grown_from: Some("m7"),
        growth: Growth::Checkpoint,
        x2_epochs: 120,
        x4_epochs: 80,
        qat_epochs: 50,
    },
    Recipe {
        preset: "xl",
        grown_from: Some("m11"),
        growth: Growth::Shipped,
        x2_epochs: 48,
        x4_epochs: 24,
        qat_epochs: 10,
    },
];

impl Recipe {
    fn anneal_epochs(&self, scale: usize) -> usize {
        let epochs = if scale == 2 {
            self.x2_epochs
        } else {
            self.x4_epochs
        };
        (epochs / ANNEAL_EPOCHS_DIVISOR).max(1)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum StageKind {
    Fp32,
    Anneal,
    Qat,
}

/// A training stage of a preset.
struct Stage {
    name: &'static str,
    scale: usize,
    kind: StageKind,
    init_from: Option<&'static str>,
}

const STAGES: [Stage; 6] = [
    Stage {
        name: "x2-fp32",
        scale: 2,
        kind: StageKind::Fp32,
        init_from: None,
    },
    Stage {
        name: "x4-fp32",
        scale: 4,
        kind: StageKind::Fp32,
        init_from: Some("x2-fp32"),
    },
    Stage {
        name: "x2-anneal",
        scale: 2,
        kind: StageKind::Anneal,
        init_from: Some("x2-fp32"),
    },
    Stage {
        name: "x4-anneal",
        scale: 4,
        kind: StageKind::Anneal,
        init_from: Some("x4-fp32"),
    },
    Stage {
        name: "x2-qat",
        scale: 2,
        kind: StageKind::Qat,
        init_from: Some("x2-anneal"),
    },
    Stage {
        name: "x4-qat",
        scale: 4,
        kind: StageKind::Qat,
        init_from: Some("x4-anneal"),
    },
];

/// The flags of `cargo xtask train-zoo`, and the sesr-cli it runs.
#[derive(clap::Parser)]
pub struct Zoo {
    /// Working folder (default: runs/train-zoo in the repository); the models land in
    /// DIR/models
    #[arg(
        long,
        value_name = "DIR",
        default_value_os_t = setup::repo_root().join("runs/train-zoo"),
        hide_default_value = true
    )]
    out: PathBuf,
    /// Presets to train, comma-separated; the card and --install keep the shipped files of the
    /// others; presets grown from a listed one (m7 from m5, m11 from m7, xl from m11) must be
    /// listed too
    // The full path keeps clap from reading the Vec as a repeated flag: one value is the list.
    #[arg(
        long = "presets",
        value_name = "LIST",
        default_value = "m3,m5,m7,m11,xl",
        value_parser = parse_presets
    )]
    recipes: std::vec::Vec<&'static Recipe>,
    /// A folder holding Set5/ and Set14/ (HR images) for the card's benchmark columns; never
    /// shipped, read only to score
    #[arg(long, value_name = "DIR", value_parser = parse_benchmarks)]
    benchmarks: Option<PathBuf>,
    /// Copy DIR/models into crates/sesr-zoo/models and the card to docs/models.md
    #[arg(long)]
    install: bool,
    #[arg(skip = setup::repo_root().join("target/release/sesr-cli"))]
    cli: PathBuf,
}

/// `--presets`: the recipes of the listed presets, in the zoo's order whatever the list's (a
/// grown preset needs its source first).
fn parse_presets(list: &str) -> Result<Vec<&'static Recipe>, String> {
    let names: Vec<String> = list
        .split(',')
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    if let Some(name) = names
        .iter()
        .find(|n| RECIPES.iter().all(|r| r.preset != *n))
    {
        return Err(format!("no preset `{name}` (m3, m5, m7, m11, xl)"));
    }
    // A preset grown from a retrained one must be retrained too: the shipped files kept for
    // it would no longer follow from its source.
    let mut retrained: Vec<&str> = vec![];
    let mut missing: Vec<&str> = vec![];
    for recipe in &RECIPES {
        let listed = names.iter().any(|n| n == recipe.preset);
        let source_retrained = recipe
            .grown_from
            .is_some_and(|source| retrained.contains(&source));
        if listed || source_retrained {
            retrained.push(recipe.preset);
        }
        if source_retrained && !listed {
            missing.push(recipe.preset);
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "{} grow from a preset in the list, so their shipped files would no longer follow \
             from it; add {} to --presets",
            missing.join(", "),
            missing.join(",")
        ));
    }
    Ok(RECIPES
        .iter()
        .filter(|r| names.iter().any(|n| n == r.preset))
        .collect())
}

/// `--benchmarks`: a folder with both benchmark sets inside.
fn parse_benchmarks(dir: &str) -> Result<PathBuf, String> {
    let dir = PathBuf::from(dir);
    for set in ["Set5", "Set14"] {
        if !dir.join(set).is_dir() {
            return Err(format!(
                "no {set}/ folder inside; give the folder that holds Set5/ and Set14/"
            ));
        }
    }
    Ok(dir)
}

impl Zoo {
    fn sesr_cli(&self, args: &[String]) -> Result<String> {
        run_sesr_cli(&self.cli, args)
    }

    fn data(&self) -> PathBuf {
        self.out.join("data")
    }

    fn models(&self) -> PathBuf {
        self.out.join("models")
    }

    /// The training data: every CC0 photo the project ships, copied into one folder.
    fn gather_data(&self) -> Result<Vec<String>> {
        let root = setup::repo_root();
        std::fs::create_dir_all(self.data())?;
        let mut names = vec![];
        for split in ["train", "valid"] {
            let dir = root.join("assets/images").join(split);
            for entry in
                std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
            {
                let path = entry?.path();
                let name = path.file_name().unwrap_or_default().to_owned();
                let target = self.data().join(&name);
                if !target.exists() {
                    std::fs::copy(&path, &target).with_context(|| {
                        format!("cannot copy {} to {}", path.display(), target.display())
                    })?;
                }
                names.push(name.to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn stage_out(&self, preset: &str, stage: &str) -> PathBuf {
        self.out.join(preset).join(stage)
    }

    fn run_dir(&self, preset: &str, stage: &str) -> Result<PathBuf> {
        run_dir(&self.stage_out(preset, stage))
    }

    fn last(&self, preset: &str, stage: &str) -> Result<PathBuf> {
        Ok(self.run_dir(preset, stage)?.join(run::LAST))
    }

    /// The x2 float32 model of `smaller` that a grown preset starts from.
    fn grown_from(&self, smaller: &str, growth: Growth) -> Result<PathBuf> {
        if growth == Growth::Shipped {
            let file = zoo_file(smaller, 2, ShippedForm::Float32);
            return match self.recipes.iter().any(|r| r.preset == smaller) {
                true => Ok(self.models().join(file)),
                false => Ok(shipped_dir().join(file)),
            };
        }
        let marker = self.stage_marker(smaller, STAGES[0].name);
        if !marker.exists() {
            bail!(
                "this preset grows from {smaller}'s x2 float32 model, which is not trained yet \
                 in {}; include {smaller} in --presets (it trains first)",
                self.out.display()
            );
        }
        self.last(smaller, STAGES[0].name)
    }

    fn stage_marker(&self, preset: &str, stage: &str) -> PathBuf {
        self.out
            .join("stages")
            .join(format!("{preset}-{stage}.done"))
    }

    fn train(&self, recipe: &Recipe, stage: &Stage) -> Result<()> {
        let root = setup::repo_root();
        let (epochs, lr) = match (stage.kind, stage.scale) {
            (StageKind::Qat, _) => (recipe.qat_epochs, QAT_LEARNING_RATE),
            (StageKind::Anneal, scale) => (recipe.anneal_epochs(scale), ANNEAL_LEARNING_RATE),
            (StageKind::Fp32, 2) => (recipe.x2_epochs, FP32_LEARNING_RATE),
            (StageKind::Fp32, _) => (recipe.x4_epochs, FP32_LEARNING_RATE),
        };
        let mut args: Vec<String> = vec![
            "train".into(),
            "--data".into(),
            self.data().display().to_string(),
            "--valid".into(),
            root.join("assets/images/valid").display().to_string(),
            "--out".into(),
            self.out
                .join(recipe.preset)
                .join(stage.name)
                .display()
                .to_string(),
            "--preset".into(),
            recipe.preset.into(),
            "--scale".into(),
            stage.scale.to_string(),
            "--epochs".into(),
            epochs.to_string(),
            "--patches-per-image".into(),
            PATCHES_PER_IMAGE.into(),
            "--batch-size".into(),
            BATCH_SIZE.into(),
            "--learning-rate".into(),
            lr.into(),
            "--seed".into(),
            SEED.into(),
            "--threads".into(),
            THREADS.into(),
        ];
        if stage.kind == StageKind::Qat {
            args.extend(["--quant-w".into(), "--quant-a".into()]);
        }
        let init = match (stage.init_from, recipe.grown_from) {
            (Some(from), _) => Some(self.last(recipe.preset, from)?),
            (None, Some(smaller)) => Some(self.grown_from(smaller, recipe.growth)?),
            (None, None) => None,
        };
        if let Some(init) = init {
            args.extend(["--init-from".into(), init.display().to_string()]);
        }
        run_training(&self.cli, &self.stage_out(recipe.preset, stage.name), args)
    }

    /// The shipped files of a preset: collapsed float32 and QAT checkpoints, int8 `.tflite`.
    fn files(&self, recipe: &Recipe) -> Result<()> {
        std::fs::create_dir_all(self.models())?;
        for scale in SHIPPED_SCALES {
            let file = |form| self.models().join(zoo_file(recipe.preset, scale, form));
            let float32 = file(ShippedForm::Float32);
            let qat = file(ShippedForm::Qat);
            for (stage, output) in [("anneal", &float32), ("qat", &qat)] {
                let checkpoint = self.last(recipe.preset, &format!("x{scale}-{stage}"))?;
                print!(
                    "{}",
                    self.sesr_cli(&[
                        "collapse".into(),
                        "--checkpoint".into(),
                        checkpoint.display().to_string(),
                        "--output".into(),
                        output.display().to_string(),
                    ])?
                );
            }
            let int8 = file(ShippedForm::Int8);
            print!(
                "{}",
                self.sesr_cli(&[
                    "export".into(),
                    "--checkpoint".into(),
                    qat.display().to_string(),
                    "--format".into(),
                    "int8".into(),
                    "--output".into(),
                    int8.display().to_string(),
                ])?
            );
        }
        Ok(())
    }

    /// Minutes the preset's training stages took, from their `timings.jsonl`; for a preset not
    /// trained in `--out` (its shipped files were adopted), the minutes the shipped card records.
    fn training_minutes(&self, preset: &str) -> Result<Value> {
        let trained_here = self.recipes.iter().any(|r| r.preset == preset)
            || self.stage_marker(preset, STAGES[0].name).exists();
        if !trained_here {
            let card = shipped_dir().join("card.json");
            let shipped: Value = serde_json::from_str(&std::fs::read_to_string(&card)?)?;
            return shipped["models"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| m["preset"] == preset)
                .map(|m| m["training_minutes"].clone())
                .with_context(|| format!("{} has no minutes for {preset}", card.display()));
        }
        let mut minutes = serde_json::Map::new();
        for stage in &STAGES {
            let file = self.run_dir(preset, stage.name)?.join(run::TIMINGS);
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let seconds: f64 = text
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter_map(|v| v["epoch_seconds"].as_f64())
                .sum();
            minutes.insert(
                stage.name.into(),
                json!((seconds / 60.0 * 10.0).round() / 10.0),
            );
        }
        Ok(Value::Object(minutes))
    }

    /// `sesr-cli eval` of one model on the card's image sets: `(set name, report)` per set.
    fn scores(&self, model: &Path, sets: &[(String, PathBuf)]) -> Result<Value> {
        let json_path = self.out.join("eval.json");
        let mut args: Vec<String> = vec![
            "eval".into(),
            "--checkpoint".into(),
            model.display().to_string(),
            "--json".into(),
            json_path.display().to_string(),
        ];
        for (_, dir) in sets {
            args.extend(["--data".into(), dir.display().to_string()]);
        }
        self.sesr_cli(&args)?;
        let report: Value = serde_json::from_str(&std::fs::read_to_string(&json_path)?)?;
        let mut scores = serde_json::Map::new();
        for ((name, _), dataset) in sets
            .iter()
            .zip(report["datasets"].as_array().into_iter().flatten())
        {
            scores.insert(
                name.clone(),
                json!({
                    "psnr": dataset["sesr"]["psnr"],
                    "ssim": dataset["sesr"]["ssim"],
                    "bicubic_psnr": dataset["bicubic"]["psnr"],
                    "bicubic_ssim": dataset["bicubic"]["ssim"],
                }),
            );
        }
        Ok(Value::Object(scores))
    }

    /// Scores every model in `<out>/models` and writes `card.json` beside them and
    /// `models.md` into `<out>`.
    fn card(&self, data: &[String]) -> Result<()> {
        let root = setup::repo_root();
        let mut sets = vec![("cc0-valid".to_string(), root.join("assets/images/valid"))];
        if let Some(dir) = &self.benchmarks {
            sets.push(("Set5".into(), dir.join("Set5")));
            sets.push(("Set14".into(), dir.join("Set14")));
        }
        let mut models = vec![];
        for recipe in &RECIPES {
            for scale in SHIPPED_SCALES {
                let file = |form| self.models().join(zoo_file(recipe.preset, scale, form));
                if !file(ShippedForm::Float32).is_file() {
                    continue;
                }
                println!("xtask: scoring {} x{scale}", recipe.preset);
                let (params, macs) = params_and_macs(&self.cli, recipe.preset, scale)?;
                let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                models.push(json!({
                    "name": format!("{}-x{scale}", recipe.preset),
                    "preset": recipe.preset,
                    "scale": scale,
                    "params": params,
                    "macs_1080p": macs,
                    "bytes": {
                        "float32": size(file(ShippedForm::Float32)),
                        "qat": size(file(ShippedForm::Qat)),
                        "int8_tflite": size(file(ShippedForm::Int8)),
                    },
                    "grown_from": recipe.grown_from,
                    "training_minutes": self.training_minutes(recipe.preset)?,
                    "epochs": {
                        "x2_fp32": recipe.x2_epochs,
                        "x4_fp32": recipe.x4_epochs,
                        "x2_anneal": recipe.anneal_epochs(2),
                        "x4_anneal": recipe.anneal_epochs(4),
                        "qat": recipe.qat_epochs,
                    },
                    "float32": self.scores(&file(ShippedForm::Float32), &sets)?,
                    "qat": self.scores(&file(ShippedForm::Qat), &sets)?,
                    "int8_tflite": self.scores(&file(ShippedForm::Int8), &sets)?,
                }));
            }
        }
        let card = json!({
            "training_images": data,
            "recipe": {
                "patches_per_image": PATCHES_PER_IMAGE.parse::<u64>()?,
                "batch_size": BATCH_SIZE.parse::<u64>()?,
                "seed": SEED.parse::<u64>()?,
                "threads": THREADS.parse::<u64>()?,
                "fp32_learning_rate": FP32_LEARNING_RATE.parse::<f64>()?,
                "qat_learning_rate": QAT_LEARNING_RATE.parse::<f64>()?,
                "anneal_learning_rate": ANNEAL_LEARNING_RATE.parse::<f64>()?,
                "checkpoint": "last",
                "choice": SCHEDULE_CHOICE,
            },
            "cpu": cpu_name(),
            "models": models,
            "npu": crate::npu_card::estimates(&self.models())?,
        });
        let licences = std::fs::read_to_string(root.join("assets/README.md"))?;
        write_file(
            &self.models().join("TRAINING_DATA.md"),
            format!(
                "The models in this folder were trained on every photo of the project's \
                 `assets/images` (both folders). Their sources and licences, from \
                 `assets/README.md`:\n\n{}",
                licences.trim_start_matches("# Shipped assets\n\n")
            )
            .as_bytes(),
        )?;
        write_file(
            &self.models().join("card.json"),
            &serde_json::to_vec_pretty(&card)?,
        )?;
        write_file(
            &self.out.join("models.md"),
            crate::model_card::render(&card)?.as_bytes(),
        )?;
        Ok(())
    }

    /// Copies the shipped files of every preset that `--presets` left out and `--out` has no
    /// files of, so that the card and `--install` still cover the whole zoo.
    fn adopt_shipped(&self) -> Result<()> {
        std::fs::create_dir_all(self.models())?;
        for recipe in &RECIPES {
            let preset = recipe.preset;
            let has_files = self
                .models()
                .join(zoo_file(preset, 2, ShippedForm::Float32))
                .exists();
            if has_files || self.recipes.iter().any(|r| r.preset == preset) {
                continue;
            }
            for entry in std::fs::read_dir(shipped_dir())? {
                let path = entry?.path();
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                // Every file of the preset: its shipped files and their sidecars.
                let of_preset = SHIPPED_SCALES.iter().any(|&scale| {
                    ShippedForm::ALL.iter().any(|&form| {
                        let file = zoo_file(preset, scale, form);
                        let stem = Path::new(&file).file_stem().unwrap_or_default();
                        Path::new(&*name).file_stem() == Some(stem)
                    })
                });
                if of_preset {
                    std::fs::copy(&path, self.models().join(&*name))?;
                }
            }
            println!("xtask: {preset} not in --presets: its shipped files are kept");
        }
        Ok(())
    }

    fn install(&self) -> Result<()> {
        let target = shipped_dir();
        for entry in std::fs::read_dir(self.models())? {
            let path = entry?.path();
            let name = path.file_name().unwrap_or_default();
            std::fs::copy(&path, target.join(name)).with_context(|| {
                format!("cannot copy {} into {}", path.display(), target.display())
            })?;
        }
        let card = setup::repo_root().join("docs/models.md");
        std::fs::copy(self.out.join("models.md"), card)?;
        println!("xtask: installed {} and docs/models.md", target.display());
        Ok(())
    }
}

/// Where `sesr-zoo` keeps the shipped models and their card.
fn shipped_dir() -> PathBuf {
    setup::repo_root().join("crates/sesr-zoo/models")
}

/// The CPU's model name (`lscpu`), recorded with the training times.
fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|name| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

pub fn run(zoo: Zoo) -> Result<()> {
    setup::run()?;
    println!("xtask: building sesr-cli (release)");
    setup::run_checked(setup::cargo().current_dir(setup::repo_root()).args([
        "build",
        "--release",
        "-p",
        "sesr-cli",
    ]))?;
    let stages_dir = zoo.out.join("stages");
    std::fs::create_dir_all(&stages_dir)?;
    let data = zoo.gather_data()?;
    for recipe in &zoo.recipes {
        let names = STAGES.iter().map(|s| s.name).chain(["files"]);
        for name in names {
            let marker = zoo.stage_marker(recipe.preset, name);
            if marker.exists() {
                println!("xtask: {} `{name}` already done", recipe.preset);
                continue;
            }
            println!("\nxtask: {} `{name}`", recipe.preset);
            let result = match STAGES.iter().find(|s| s.name == name) {
                Some(stage) => zoo.train(recipe, stage),
                None => zoo.files(recipe),
            };
            result.with_context(|| {
                format!(
                    "{} `{name}` failed; fix the cause and run `cargo xtask train-zoo` again to \
                     resume here",
                    recipe.preset
                )
            })?;
            write_file(&marker, b"")?;
        }
    }
    zoo.adopt_shipped()?;
    println!("\nxtask: card");
    zoo.card(&data)?;
    if zoo.install {
        zoo.install()?;
    }
    println!(
        "\nxtask: zoo complete: {} and {}",
        zoo.models().display(),
        zoo.out.join("models.md").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Zoo;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Zoo, clap::Error> {
        Zoo::try_parse_from(["train-zoo"].iter().chain(args))
    }

    #[test]
    fn presets_train_in_the_zoos_order_and_unknown_ones_are_errors() {
        let order = |zoo: Zoo| zoo.recipes.iter().map(|r| r.preset).collect::<Vec<_>>();
        assert_eq!(order(parse(&[]).unwrap()), ["m3", "m5", "m7", "m11", "xl"]);
        assert_eq!(
            order(parse(&["--presets", "XL, M11, m7"]).unwrap()),
            ["m7", "m11", "xl"]
        );
        let err = parse(&["--presets", "m5,m9"]).err().unwrap().to_string();
        assert!(err.contains("no preset `m9`"), "{err}");
    }

    #[test]
    fn a_grown_preset_waits_for_its_source() {
        let dir = tempfile::tempdir().unwrap();
        let zoo = parse(&["--out", dir.path().to_str().unwrap()]).unwrap();
        let err = zoo
            .grown_from("m5", super::Growth::Checkpoint)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("include m5 in --presets"), "{err}");
        // Once m5's x2 stage is done, m7 starts from its last checkpoint.
        let run = dir
            .path()
            .join("m5/x2-fp32/SESR_m5_f16_x2_fs256_collapsedTraining_FP32");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::create_dir_all(dir.path().join("stages")).unwrap();
        std::fs::write(zoo.stage_marker("m5", "x2-fp32"), b"").unwrap();
        assert_eq!(
            zoo.grown_from("m5", super::Growth::Checkpoint).unwrap(),
            run.join(sesr_model::run::LAST)
        );
        // XL grows from M11's shipped x2 model: this run's when it trains M11, else the
        // installed one.
        let shipped = super::Growth::Shipped;
        assert_eq!(
            zoo.grown_from("m11", shipped).unwrap(),
            zoo.models().join("m11_x2.safetensors")
        );
        let alone = parse(&["--out", dir.path().to_str().unwrap(), "--presets", "xl"]).unwrap();
        assert_eq!(
            alone.grown_from("m11", shipped).unwrap(),
            super::shipped_dir().join("m11_x2.safetensors")
        );
    }

    #[test]
    fn presets_left_out_keep_their_shipped_files_and_minutes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_str().unwrap();
        let zoo = parse(&["--presets", "m7,m11,xl", "--out", out]).unwrap();
        zoo.adopt_shipped().unwrap();
        let shipped = super::shipped_dir();
        for name in ["m5_x2.safetensors", "m5_x4_qat.json", "m3_x4_int8.tflite"] {
            let copied = std::fs::read(zoo.models().join(name)).unwrap();
            assert_eq!(copied, std::fs::read(shipped.join(name)).unwrap(), "{name}");
        }
        // The presets being trained are not adopted: their files come from training.
        assert!(!zoo.models().join("m7_x2.safetensors").exists());
        assert!(!zoo.models().join("card.json").exists());
        let card: serde_json::Value =
            serde_json::from_slice(&std::fs::read(shipped.join("card.json")).unwrap()).unwrap();
        let m5 = card["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["preset"] == "m5")
            .unwrap();
        assert_eq!(zoo.training_minutes("m5").unwrap(), m5["training_minutes"]);
        // m7 was to be trained here, so its minutes must come from this folder's runs.
        assert!(zoo.training_minutes("m7").is_err());
    }

    #[test]
    fn presets_grown_from_a_listed_preset_must_be_listed() {
        for (list, missing) in [
            ("m5", "m7, m11, xl"),
            ("m3,m7", "m11, xl"),
            ("m5,m11", "m7, xl"),
            ("m11", "xl"),
        ] {
            let message = parse(&["--presets", list]).err().unwrap().to_string();
            assert!(
                message.contains(&format!("{missing} grow from")),
                "{list}: {message}"
            );
        }
        for list in ["m3", "m5,m7,m11,xl", "xl", "xl,m7,m11"] {
            assert!(parse(&["--presets", list]).is_ok(), "{list}");
        }
    }
}
