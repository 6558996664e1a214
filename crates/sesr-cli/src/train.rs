//! `sesr-cli train`: the reference's training flags, plus data, output, device and resume.

#[cfg(feature = "mpi")]
use crate::distributed::{self, MpiCollective};
use crate::model_args::ModelArgs;
use crate::models::{model_ref, torch_device, DeviceArg};
use crate::paths::{check_input, check_output_folder};
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sesr_core::{CollapsedSesr, CoreError, QuantConfig};
use sesr_data::{load_pairs, DataError, ImagePair, LoadOptions, SamplerConfig, Source, Split};
#[cfg(feature = "mpi")]
use sesr_dist::Mpi;
use sesr_export::{check_tflite_size, export, ExportFormat, ExportSource, Target};
use sesr_model::run::{run_name, RunDir};
use sesr_model::{CheckpointKind, ModelRef, ShippedForm, ShippedName};
use sesr_tflite::InputSize;
use sesr_train::{Progress, TrainConfig, TrainError, Trainer};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
#[cfg(feature = "mpi")]
use std::time::Duration;
use tch::Device;

/// The MPI state of a rank; never built without the `mpi` feature.
#[cfg(not(feature = "mpi"))]
enum Mpi {}

#[cfg(not(feature = "mpi"))]
impl Mpi {
    fn rank(&self) -> usize {
        match *self {}
    }
    fn ranks(&self) -> usize {
        match *self {}
    }
    fn local_rank(&self) -> usize {
        match *self {}
    }
    fn local_ranks(&self) -> usize {
        match *self {}
    }
}

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
    #[arg(long, allow_negative_numbers = true, default_value_t = 300)]
    epochs: usize,
    #[arg(long, allow_negative_numbers = true, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 2e-4, allow_negative_numbers = true)]
    learning_rate: f64,
    /// Prefix of the run directory name, as in the reference.
    #[arg(long, default_value = "SESR")]
    model_name: String,
    /// Stop each epoch after this many steps (short runs).
    #[arg(long, allow_negative_numbers = true)]
    steps_per_epoch: Option<usize>,
    /// Patches sampled per image per epoch (reference: 64).
    #[arg(long, allow_negative_numbers = true, default_value_t = 64)]
    patches_per_image: usize,
    #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
    seed: u64,
    /// cpu or cuda.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
    /// Threads for libtorch (default: all cores).
    #[arg(long, allow_negative_numbers = true)]
    threads: Option<usize>,
    /// Continue the run in the run directory after its last finished epoch.
    #[arg(long)]
    resume: bool,
    /// Start from this float32 model: a training checkpoint (x4 from x2 copies all but the
    /// output block), a collapsed float32 checkpoint or a shipped name (m11-x2); a smaller
    /// model (fewer blocks, or f 16 into 32) grows into this one, computing the same function.
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
    #[arg(long, allow_negative_numbers = true, default_value_t = 1080)]
    tflite_height: usize,
    /// TFLite input width.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1920)]
    tflite_width: usize,
    /// Data-parallel: start this many ranks on this machine under Open MPI's `mpirun`, each
    /// with a share of every batch (and of the cores, or GPU `cuda:LOCAL_RANK`). Ranks started
    /// by `mpirun` or `srun` directly need no flag.
    #[arg(long, allow_negative_numbers = true)]
    nproc_per_node: Option<usize>,
    /// Data-parallel: seconds a rank waits for the others before it stops the run.
    #[arg(long, allow_negative_numbers = true, default_value_t = 60)]
    dist_timeout: u64,
}

fn load(
    source: &Source,
    scale: usize,
    opts: &LoadOptions,
    what: &str,
    leader: bool,
) -> Result<Vec<ImagePair>> {
    let report = load_pairs(source, scale, opts)
        .map_err(|e| match e {
            DataError::Decode { .. } | DataError::TooSmall { .. } => {
                anyhow!("{e} (--skip-bad skips such files with a warning)")
            }
            DataError::NoUsableImages {
                path,
                skipped,
                warnings,
            } => {
                for warning in warnings.iter().filter(|_| leader) {
                    eprintln!("warning: {warning}");
                }
                let first = warnings
                    .first()
                    .map(|w| format!("; the first: {}", w.trim_start_matches("skipped: ")))
                    .unwrap_or_default();
                anyhow!(
                    "no usable images in {}: --skip-bad skipped all {skipped} files{first}",
                    path.display()
                )
            }
            other => other.into(),
        })
        .with_context(|| format!("loading the {what} images"))?;
    for warning in report.warnings.iter().filter(|_| leader) {
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

/// Rejects flag values no run can use, before anything is loaded.
fn check_args(args: &TrainArgs) -> Result<()> {
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
    if args.threads == Some(0) {
        bail!("--threads must be at least 1");
    }
    if args.nproc_per_node == Some(0) || args.dist_timeout == 0 {
        bail!("--nproc-per-node and --dist-timeout must be at least 1");
    }
    let name_is_a_folder_name = !args.model_name.is_empty()
        && !args.model_name.starts_with('.')
        && args
            .model_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !name_is_a_folder_name {
        bail!(
            "--model-name {}: the run folder's name prefix must be a plain name (letters, \
             digits, `_`, `-`, `.`; not starting with `.`), so the run stays inside --out",
            args.model_name
        );
    }
    check_input("--data", &args.data)?;
    for (flag, dir) in [("--data-lr", &args.data_lr), ("--valid", &args.valid)] {
        if let Some(dir) = dir {
            check_input(flag, dir)?;
        }
    }
    check_output_folder("--out", &args.out)?;
    if let Some(init) = &args.init_from {
        check_init_from(init)?;
    }
    Ok(())
}

/// What `--init-from` takes, for its messages.
const INIT_FROM_TAKES: &str = "--init-from takes a float32 model to start from: a run \
                               folder's best.safetensors or last.safetensors, a collapsed \
                               float32 checkpoint, or a shipped name such as m5-x2";

/// `--init-from` names a float32 model: said in its words before any data is loaded, whatever
/// it names instead (nothing, an int8 or QAT model, an export).
fn check_init_from(init: &Path) -> Result<()> {
    let text = init.to_string_lossy();
    if std::fs::symlink_metadata(init).is_err() {
        return match ShippedName::parse(&text) {
            Some(Ok(name)) if name.form == ShippedForm::Float32 => Ok(()),
            Some(Ok(name)) => bail!(
                "--init-from {text}: the shipped model is {}; start from its float32 form {} \
                 (QAT then runs from a float32 model)",
                match name.form {
                    ShippedForm::Int8 => "an int8 .tflite, which holds no training weights",
                    _ => "quantization-aware",
                },
                name.with_form(ShippedForm::Float32)
            ),
            Some(Err(e)) => bail!("--init-from {text}: {e}"),
            None => bail!(
                "--init-from {}: no such file; {INIT_FROM_TAKES}",
                init.display()
            ),
        };
    }
    let model = ModelRef::file_accepting(
        init,
        "a float32 model (a run folder's best.safetensors or last.safetensors, or a collapsed \
         float32 checkpoint)",
    )
    .map_err(|e| anyhow!("--init-from {e}"))?;
    match model {
        ModelRef::Checkpoint { meta, .. } => match meta.kind {
            CheckpointKind::Collapsed { quant } if quant.any() => bail!(
                "--init-from {}: holds a collapsed quantization-aware model, whose weights \
                 belong to its 8-bit grid; {INIT_FROM_TAKES}",
                init.display()
            ),
            _ => Ok(()),
        },
        other => bail!(
            "--init-from {}: is an exported model ({}), which holds no training weights; \
             {INIT_FROM_TAKES}",
            init.display(),
            match other {
                ModelRef::Onnx(_) => "ONNX",
                _ => "TFLite",
            }
        ),
    }
}

/// The file `--init-from` names; a shipped model is first written into `--out` (atomically),
/// where the run's folder sits beside the model it started from.
fn init_from_file(args: &TrainArgs) -> Result<Option<PathBuf>> {
    let Some(init) = &args.init_from else {
        return Ok(None);
    };
    if std::fs::symlink_metadata(init).is_ok() {
        return Ok(Some(init.clone()));
    }
    let text = init.to_string_lossy();
    let Some(Ok(name)) = ShippedName::parse(&text) else {
        bail!("--init-from {text}: no such file; {INIT_FROM_TAKES}");
    };
    let file = args.out.join(name.file_name());
    CollapsedSesr::from_ref(&ModelRef::parse(&text)?, Device::Cpu)
        .and_then(|model| model.save(&file))
        .with_context(|| format!("--init-from {text}: writing it to {}", file.display()))?;
    Ok(Some(file))
}

/// The run the flags describe.
fn train_config(args: &TrainArgs) -> Result<TrainConfig> {
    let model = args.model.config()?;
    if args.gen_tflite {
        check_tflite_size(
            &model,
            InputSize::new(args.tflite_height, args.tflite_width),
        )
        .with_context(|| {
            format!(
                "--gen-tflite with --tflite-height {} --tflite-width {}",
                args.tflite_height, args.tflite_width
            )
        })?;
    }
    let sampler = SamplerConfig {
        seed: args.seed,
        patches_per_image: args.patches_per_image,
        batch_size: args.batch_size,
        ..SamplerConfig::for_scale(model.scale, args.seed)
    };
    Ok(TrainConfig {
        model,
        mode: args.linear_block_type.parse()?,
        quant: QuantConfig {
            weights: args.quant_w,
            activations: args.quant_a,
        },
        epochs: args.epochs,
        learning_rate: args.learning_rate,
        sampler,
        steps_per_epoch: args.steps_per_epoch,
        init_from: init_from_file(args)?,
        ranks: 1,
    })
}

/// The training and validation pairs; data problems surface before any training starts.
fn load_data(
    args: &TrainArgs,
    scale: usize,
    leader: bool,
) -> Result<(Vec<ImagePair>, Vec<ImagePair>)> {
    let (train_source, valid_source) = sources(args)?;
    let train_opts = LoadOptions {
        skip_bad: args.skip_bad,
        ..LoadOptions::for_scale(scale)
    };
    let valid_opts = LoadOptions {
        skip_bad: args.skip_bad,
        min_hr_size: 8 * scale,
        threads: None,
    };
    let train = load(&train_source, scale, &train_opts, "training", leader)?;
    let valid = load(&valid_source, scale, &valid_opts, "validation", leader)?;
    if leader {
        println!(
            "data: {} training images, {} validation images",
            train.len(),
            valid.len()
        );
    }
    Ok((train, valid))
}

/// A new run in `run_dir`, or the one there with `--resume`.
fn open_trainer(
    args: &TrainArgs,
    config: TrainConfig,
    run_dir: &Path,
    device: Device,
) -> Result<Trainer> {
    if !args.resume {
        let trainer = Trainer::create(config, run_dir, device).map_err(flagged)?;
        if let Some(init) = &args.init_from {
            println!("initialised from {}", init.display());
        }
        println!("run directory: {}", run_dir.display());
        return Ok(trainer);
    }
    let trainer = Trainer::resume(run_dir, Some(args.epochs), device).map_err(|e| match e {
        TrainError::NotARun { .. } => anyhow!("--resume: {e}"),
        other => flagged(other),
    })?;
    let differing = trainer.config().differing_settings(&config);
    if differing.iter().any(|s| s == "ranks") {
        let ranks = trainer.config().ranks;
        bail!(
            "--resume: {} was trained by {ranks} process(es) and this run has {}; resume it \
             with the same number (--nproc-per-node {ranks}, or mpirun -np {ranks})",
            run_dir.display(),
            config.ranks
        );
    }
    if !differing.is_empty() {
        bail!(
            "--resume: {} was started with different settings ({}); repeat the original flags \
             or start a new run",
            run_dir.display(),
            differing.join(", ")
        );
    }
    println!(
        "resuming {} after epoch {}",
        run_dir.display(),
        trainer.epochs_done()
    );
    Ok(trainer)
}

/// The progress bar of each epoch and the line printed when it ends.
#[derive(Default)]
struct EpochPrinter {
    bar: Option<ProgressBar>,
    loss_avg: f64,
    seen: usize,
}

impl EpochPrinter {
    fn show(&mut self, event: Progress, scale: usize) {
        match event {
            Progress::EpochStart {
                epoch,
                epochs,
                steps,
            } => {
                let bar = ProgressBar::new(steps as u64);
                bar.set_style(
                    ProgressStyle::with_template(
                        "epoch {prefix} [{bar:30}] {pos}/{len} {msg} {per_sec} ETA {eta}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(format!("{epoch}/{epochs}"));
                (self.loss_avg, self.seen) = (0.0, 0);
                self.bar = Some(bar);
            }
            Progress::Step { loss, .. } => {
                self.seen += 1;
                self.loss_avg += (loss - self.loss_avg) / self.seen as f64;
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("loss {:.5}", self.loss_avg));
                    bar.inc(1);
                }
            }
            Progress::EpochEnd {
                metrics: m,
                timings: t,
            } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                println!(
                    "epoch {:>3}: loss {:.5}  valid PSNR {:.3} dB (reference: float Y, whole image) {:.3} dB (8-bit Y, border {scale})  {:.2} steps/s  {:.0} MiB peak",
                    m.epoch, m.train_loss, m.valid_psnr_reference, m.valid_psnr_y8, t.steps_per_second, t.peak_rss_mib
                );
            }
        }
    }
}

#[cfg(not(feature = "mpi"))]
pub fn run(args: &TrainArgs) -> Result<()> {
    check_args(args)?;
    if args.nproc_per_node.is_some() || std::env::var("OMPI_COMM_WORLD_SIZE").is_ok() {
        bail!(
            "data-parallel ranks run over Open MPI: build sesr-cli with the `mpi` feature (the \
             default)"
        );
    }
    run_rank(args, None)
}

#[cfg(feature = "mpi")]
pub fn run(args: &TrainArgs) -> Result<()> {
    check_args(args)?;
    let torchrun_world = std::env::var("WORLD_SIZE").ok().filter(|n| n != "1");
    if let (Some(n), false) = (torchrun_world, sesr_dist::launched_by_mpi()) {
        bail!(
            "WORLD_SIZE={n} is set (a torchrun-style launch), but sesr-cli's ranks find each \
             other through MPI: start them with --nproc-per-node {n}, mpirun -np {n} or srun \
             (docs/distributed.md)"
        );
    }
    if !sesr_dist::launched_by_mpi() {
        return match args.nproc_per_node {
            Some(ranks) => distributed::launch_local_ranks(ranks),
            None => run_rank(args, None),
        };
    }
    let mpi = Rc::new(Mpi::join(Duration::from_secs(args.dist_timeout))?);
    match run_rank(args, Some(&mpi)) {
        Err(e) if mpi.ranks() > 1 => {
            // The other ranks would wait for this one forever: end them all.
            eprintln!("error: rank {}: {e:#}", mpi.rank());
            mpi.abort(1)
        }
        result => result,
    }
}

/// One process's part of the run: all of it, or one rank's when `mpi` is given.
fn run_rank(args: &TrainArgs, mpi: Option<&Rc<Mpi>>) -> Result<()> {
    let leader = mpi.is_none_or(|m| m.rank() == 0);
    let device = match (torch_device(args.device)?, mpi) {
        (Device::Cuda(_), Some(m)) => {
            let gpus = tch::Cuda::device_count() as usize;
            if m.local_rank() >= gpus {
                bail!(
                    "--device cuda: local rank {} has no GPU of its own ({gpus} on this \
                     machine); start at most {gpus} ranks per machine",
                    m.local_rank()
                );
            }
            Device::Cuda(m.local_rank())
        }
        (device, _) => device,
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = args
        .threads
        .or(mpi.map(|m| (cores / m.local_ranks()).max(1)));
    if let Some(threads) = threads {
        tch::set_num_threads(threads as i32);
    }
    let config = TrainConfig {
        ranks: mpi.map_or(1, |m| m.ranks()),
        ..train_config(args)?
    };
    let (scale, quant) = (config.model.scale, config.quant);
    let run = RunDir::new(args.out.join(run_name(
        &args.model_name,
        &config.model,
        config.mode,
        quant.any(),
    )));
    let run_dir = run.path();
    // A run to resume is found before the data is loaded.
    if args.resume && leader && !run.config().exists() {
        return Err(no_run_to_resume(args, run_dir));
    }
    let (train, valid) = load_data(args, scale, leader)?;
    let mut trainer = if leader {
        open_trainer(args, config, run_dir, device)?
    } else {
        Trainer::follower(config, device)?
    };
    #[cfg(feature = "mpi")]
    if let Some(mpi) = mpi {
        trainer = trainer.join(Box::new(MpiCollective(Rc::clone(mpi))))?;
        if leader {
            println!(
                "data-parallel: {} ranks, {} per machine, {} threads each",
                mpi.ranks(),
                mpi.local_ranks(),
                tch::get_num_threads()
            );
        }
    }
    let mut printer = EpochPrinter::default();
    trainer
        .run(Arc::new(train), &valid, |event| {
            if leader {
                printer.show(event, scale)
            }
        })
        .map_err(flagged)?;
    if !leader {
        return Ok(());
    }
    println!("done: {}", run_dir.display());
    if args.gen_tflite {
        let best = model_ref("the best checkpoint", &run.best())?;
        let source = ExportSource::Float(CollapsedSesr::from_ref(&best, Device::Cpu)?.to_model()?);
        let size = InputSize::new(args.tflite_height, args.tflite_width);
        let mut formats = vec![ExportFormat::Float32];
        if quant.uses_relu() {
            formats.push(ExportFormat::Int8);
        }
        for format in formats {
            let exported = export(&best, &source, (format, Target::Cpu), None, size, None)?;
            println!("{exported}");
        }
    }
    Ok(())
}

/// A training run's error in the words of the flags that set what went wrong.
fn flagged(error: TrainError) -> anyhow::Error {
    match error {
        TrainError::RunExists { .. } => {
            anyhow!("{error}: pass --resume to continue it, or choose another --out")
        }
        TrainError::LossDiverged { .. } => anyhow!("{error} (--learning-rate)"),
        TrainError::Core(CoreError::Mismatch { .. }) => {
            anyhow!("--init-from: {error} (--preset, --m, --int-features, --feature-size, --scale)")
        }
        other => other.into(),
    }
}

/// `--resume` where the flags name no run: which flags name the folder, and the runs in
/// `--out` with the flags that resume each.
fn no_run_to_resume(args: &TrainArgs, run_dir: &Path) -> anyhow::Error {
    let name = run_dir.file_name().unwrap_or_default().to_string_lossy();
    let out = args.out.display();
    let mut runs: Vec<(String, Option<String>)> = std::fs::read_dir(&args.out)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| RunDir::new(entry.path()).config().is_file())
        .map(|entry| {
            let folder = entry.file_name().to_string_lossy().into_owned();
            let flags = std::fs::read_to_string(RunDir::new(entry.path()).config())
                .ok()
                .and_then(|text| serde_json::from_str::<TrainConfig>(&text).ok())
                .and_then(|config| resume_flags(&folder, &config));
            (folder, flags)
        })
        .collect();
    runs.sort();
    const SHOWN: usize = 10;
    let listed: Vec<String> = runs
        .iter()
        .take(SHOWN)
        .map(|(folder, flags)| match flags {
            Some(flags) => format!("{folder} ({flags})"),
            None => folder.clone(),
        })
        .collect();
    let existing = match runs.len() {
        0 => format!("{out} holds no run to resume"),
        n if n > SHOWN => format!(
            "runs in {out}: {}, and {} more",
            listed.join(", "),
            n - SHOWN
        ),
        _ => format!("runs in {out}: {}", listed.join(", ")),
    };
    anyhow!(
        "--resume: there is no run {name} in {out}. The run folder's name comes from \
         --model-name, the architecture flags (--preset, --m, --int-features, --feature-size, \
         --scale), --linear-block-type and --quant-w/--quant-a: repeat those of the run to \
         resume, or drop --resume to start this one. {existing}"
    )
}

/// The flags that name the run folder `folder` of `config`, e.g. `--m 3 --int-features 16
/// --feature-size 16 --scale 2 --quant-w --quant-a`; `None` if the name does not follow.
fn resume_flags(folder: &str, config: &TrainConfig) -> Option<String> {
    // The model name is what precedes the name the configuration gives with an empty one.
    let tail = run_name("", &config.model, config.mode, config.quant.any());
    let model_name = folder.strip_suffix(tail.as_str())?;
    let c = &config.model;
    let mut flags = vec![];
    if model_name != "SESR" {
        flags.push(format!("--model-name {model_name}"));
    }
    flags.push(format!(
        "--m {} --int-features {} --feature-size {} --scale {}",
        c.m, c.int_features, c.feature_size, c.scale
    ));
    if config.mode != sesr_model::TrainingMode::Collapsed {
        flags.push(format!("--linear-block-type {}", config.mode.name()));
    }
    if config.quant.weights {
        flags.push("--quant-w".into());
    }
    if config.quant.activations {
        flags.push("--quant-a".into());
    }
    Some(flags.join(" "))
}
