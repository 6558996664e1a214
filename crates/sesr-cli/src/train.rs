//! `sesr-cli train`: the reference's training flags, plus data, output, device and resume.

use crate::export::{export_checkpoint, Format};
use crate::model_args::ModelArgs;
use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sesr_core::trainer::{run_name, Progress, TrainConfig, Trainer};
use sesr_core::{QuantConfig, SesrConfig, TrainingMode};
use sesr_data::{load_pairs, ImagePair, LoadOptions, SamplerConfig, Source, Split};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tch::Device;

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Training images: a DIV2K folder (official layout) or a folder of HR images.
    #[arg(long)]
    data: PathBuf,
    /// LR images paired with --data by file name (for your own degradations).
    #[arg(long)]
    data_lr: Option<PathBuf>,
    /// Validation HR images; defaults to DIV2K's validation split when --data is DIV2K.
    #[arg(long)]
    valid: Option<PathBuf>,
    /// Folder that receives the run directory.
    #[arg(long, default_value = "runs")]
    out: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// `collapsed` (collapse every step, the paper's fast training) or `expanded`.
    #[arg(long, default_value = "collapsed")]
    linear_block_type: String,
    #[arg(long, default_value_t = 300)]
    epochs: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 2e-4)]
    learning_rate: f64,
    /// Prefix of the run directory name, as in the reference.
    #[arg(long, default_value = "SESR")]
    model_name: String,
    /// Stop each epoch after this many steps (short runs).
    #[arg(long)]
    steps_per_epoch: Option<usize>,
    /// Patches sampled per image per epoch (reference: 64).
    #[arg(long, default_value_t = 64)]
    patches_per_image: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// cpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Threads for libtorch (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Continue the run in the run directory after its last finished epoch.
    #[arg(long)]
    resume: bool,
    /// Start from this training checkpoint (x4 from x2 copies all but the output block).
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Skip unreadable, too-small or unpaired images with a warning instead of failing.
    #[arg(long)]
    skip_bad: bool,
    /// Quantize weights to 8 bits during training.
    #[arg(long)]
    quant_w: bool,
    /// Quantize activations to 8 bits during training.
    #[arg(long)]
    quant_a: bool,
    /// At the end, export the best checkpoint as float32 .tflite (and int8 after QAT with
    /// --quant-w --quant-a) into the run folder, as `sesr-cli export` would.
    #[arg(long)]
    gen_tflite: bool,
    /// TFLite input height.
    #[arg(long, default_value_t = 1080)]
    tflite_height: usize,
    /// TFLite input width.
    #[arg(long, default_value_t = 1920)]
    tflite_width: usize,
}

pub fn parse_device(name: &str) -> Result<Device> {
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
        "cuda" => {
            bail!("--device cuda: no CUDA GPU is available to libtorch here; use --device cpu")
        }
        other => bail!("--device {other}: choose cpu or cuda"),
    }
}

fn load(source: &Source, scale: usize, opts: &LoadOptions, what: &str) -> Result<Vec<ImagePair>> {
    let report =
        load_pairs(source, scale, opts).with_context(|| format!("loading the {what} images"))?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if report.pairs.is_empty() {
        bail!("no usable {what} images in {}", source.root().display());
    }
    Ok(report.pairs)
}

fn sources(args: &TrainArgs) -> Result<(Source, Source)> {
    let train = match &args.data_lr {
        Some(lr) => Source::Paired {
            hr: args.data.clone(),
            lr: lr.clone(),
        },
        None => Source::detect(&args.data, Split::Train)
            .with_context(|| format!("--data {}", args.data.display()))?,
    };
    let valid = match (&args.valid, &train) {
        (Some(dir), _) => Source::detect(dir, Split::Valid)
            .with_context(|| format!("--valid {}", dir.display()))?,
        (None, Source::Div2k { root, .. }) => Source::Div2k {
            root: root.clone(),
            split: Split::Valid,
        },
        (None, _) => bail!(
            "--valid DIR is required when --data is not a DIV2K folder: pass held-out HR images"
        ),
    };
    Ok((train, valid))
}

pub fn run(args: &TrainArgs) -> Result<()> {
    if args.tflite_height == 0 || args.tflite_width == 0 {
        bail!("--tflite-height and --tflite-width must be positive");
    }
    if args.epochs == 0
        || args.batch_size == 0
        || args.patches_per_image == 0
        || args.steps_per_epoch == Some(0)
    {
        bail!(
            "--epochs, --batch-size, --patches-per-image and --steps-per-epoch must be at least 1"
        );
    }
    if !(args.learning_rate.is_finite() && args.learning_rate > 0.0) {
        bail!(
            "--learning-rate must be a positive number, got {}",
            args.learning_rate
        );
    }
    let device = parse_device(&args.device)?;
    if let Some(threads) = args.threads {
        if threads == 0 {
            bail!("--threads must be at least 1");
        }
        tch::set_num_threads(threads as i32);
    }
    let model = args.model.config()?;
    if args.gen_tflite {
        check_tflite_size(&model, args.tflite_height, args.tflite_width)?;
    }
    let mode: TrainingMode = args.linear_block_type.parse()?;
    let sampler = SamplerConfig {
        seed: args.seed,
        patches_per_image: args.patches_per_image,
        batch_size: args.batch_size,
        ..SamplerConfig::for_scale(model.scale, args.seed)
    };
    let quant = QuantConfig {
        weights: args.quant_w,
        activations: args.quant_a,
    };
    let config = TrainConfig {
        model,
        mode,
        quant,
        epochs: args.epochs,
        learning_rate: args.learning_rate,
        sampler,
        steps_per_epoch: args.steps_per_epoch,
        init_from: args.init_from.clone(),
    };
    let run_dir = args
        .out
        .join(run_name(&args.model_name, &model, mode, quant.any()));

    // Data problems surface before any training starts.
    let (train_source, valid_source) = sources(args)?;
    let train_opts = LoadOptions {
        skip_bad: args.skip_bad,
        ..LoadOptions::for_scale(model.scale)
    };
    let valid_opts = LoadOptions {
        skip_bad: args.skip_bad,
        min_hr_size: 8 * model.scale,
        threads: None,
    };
    let train = load(&train_source, model.scale, &train_opts, "training")?;
    let valid = load(&valid_source, model.scale, &valid_opts, "validation")?;
    println!(
        "data: {} training images, {} validation images",
        train.len(),
        valid.len()
    );

    let mut trainer = if args.resume {
        let trainer = Trainer::resume(&run_dir, Some(args.epochs), device)?;
        check_same_run(trainer.config(), &config, &run_dir)?;
        println!(
            "resuming {} after epoch {}",
            run_dir.display(),
            trainer.epochs_done()
        );
        trainer
    } else {
        let trainer = Trainer::create(config, &run_dir, device)?;
        if let Some(init) = &args.init_from {
            println!("initialised from {}", init.display());
        }
        println!("run directory: {}", run_dir.display());
        trainer
    };
    let mut bar: Option<ProgressBar> = None;
    let (mut loss_avg, mut seen) = (0.0, 0usize);
    trainer.run(Arc::new(train), &valid, |event| match event {
        Progress::EpochStart { epoch, epochs, steps } => {
            let pb = ProgressBar::new(steps as u64);
            pb.set_style(
                ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} {per_sec} ETA {eta}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            pb.set_prefix(format!("{epoch}/{epochs}"));
            (loss_avg, seen) = (0.0, 0);
            bar = Some(pb);
        }
        Progress::Step { loss, .. } => {
            seen += 1;
            loss_avg += (loss - loss_avg) / seen as f64;
            if let Some(pb) = &bar {
                pb.set_message(format!("loss {loss_avg:.5}"));
                pb.inc(1);
            }
        }
        Progress::EpochEnd(m) => {
            if let Some(pb) = bar.take() {
                pb.finish_and_clear();
            }
            println!(
                "epoch {:>3}: loss {:.5}  valid PSNR {:.3} dB (reference: float Y, whole image) {:.3} dB (8-bit Y, border {})  {:.2} steps/s  {:.0} MiB peak",
                m.epoch, m.train_loss, m.valid_psnr_reference, m.valid_psnr_y8, model.scale, m.steps_per_second, m.peak_rss_mib
            );
        }
    })?;
    println!("done: {}", run_dir.display());
    if args.gen_tflite {
        let best = run_dir.join("best.safetensors");
        let size = (args.tflite_height, args.tflite_width);
        export_checkpoint(&best, Format::Float32, None, size, None)?;
        if quant.weights && quant.activations {
            export_checkpoint(&best, Format::Int8, None, size, None)?;
        }
    }
    Ok(())
}

/// Refuses a `--gen-tflite` input size the export would refuse, before training starts.
fn check_tflite_size(model: &SesrConfig, height: usize, width: usize) -> Result<()> {
    let (f, s) = (model.int_features, model.scale);
    let conv = |o: usize, i: usize, k: usize| sesr_tflite::ConvWeights {
        out_channels: o,
        in_channels: i,
        kernel: k,
        weight: vec![0.0; o * i * k * k],
        bias: vec![0.0; o],
    };
    let graph = sesr_tflite::SesrGraph {
        scale: s,
        height,
        width,
        convs: std::iter::once(conv(f, 1, 5))
            .chain((0..model.m).map(|_| conv(f, f, 3)))
            .chain(std::iter::once(conv(s * s, f, 5)))
            .collect(),
        prelu: vec![],
    };
    graph.validate().with_context(|| {
        format!("--gen-tflite with --tflite-height {height} --tflite-width {width}")
    })
}

/// A resumed run must be the same run: only the number of epochs may change.
fn check_same_run(saved: &TrainConfig, requested: &TrainConfig, run_dir: &Path) -> Result<()> {
    let normalise = |c: &TrainConfig| TrainConfig {
        epochs: 0,
        ..c.clone()
    };
    if normalise(saved) != normalise(requested) {
        let saved = serde_json::to_value(normalise(saved))?;
        let requested = serde_json::to_value(normalise(requested))?;
        let differing: Vec<&String> = saved
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| requested.get(k.as_str()) != Some(v))
            .map(|(k, _)| k)
            .collect();
        bail!(
            "--resume: {} was started with different settings ({}); repeat the original flags or start a new run",
            run_dir.display(),
            differing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}
