//! The training loop: epochs over a [`sesr_data::Loader`], validation every epoch, metrics as
//! JSON lines, atomic checkpoints and exact resumption.
//!
//! A run folder ([`sesr_model::run`]) holds:
//! - `config.json`: the [`TrainConfig`], written first; [`Trainer::resume`] rebuilds everything
//!   from it;
//! - `metrics.jsonl`: one [`EpochMetrics`] line per finished epoch (loss, PSNR); the same bytes
//!   for the same seed and data;
//! - `timings.jsonl`: one [`EpochTimings`] line per finished epoch (speed, memory);
//! - `last.safetensors` / `best.safetensors` (+ `.json` sidecars): training checkpoints after the
//!   latest epoch and at the best validation PSNR (standard protocol);
//! - `resume.safetensors`: weights, Adam state and counters in one file, so one atomic rename
//!   commits a finished epoch. A killed run loses at most the epoch in progress.
//!
//! The data sampler is a pure function of `(seed, epoch)` and training draws no other random
//! numbers, so a resumed run continues exactly as an uninterrupted one would.

use crate::distributed::{broadcast_tensors, sum_gradients, Collective};
use crate::{Result, TrainError};
use serde::{Deserialize, Serialize};
use sesr_core::checkpoint::{self, write_atomic};
use sesr_core::infer::{plane_to_tensor, tensor_to_plane};
use sesr_core::optim::{Adam, AdamConfig};
use sesr_core::train::train_step;
use sesr_core::{CollapsedSesr, QuantConfig, Sesr, SesrConfig, TrainingMode};
use sesr_data::metrics::{psnr_float, psnr_y8};
use sesr_data::sampler::{assemble_batch, LoaderOptions, PatchSampler, Shard};
use sesr_data::{ImagePair, Loader, SamplerConfig};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tch::{Device, Tensor};

/// Everything that defines a training run; saved as `config.json` in the run directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub model: SesrConfig,
    pub mode: TrainingMode,
    /// Quantization-aware training (8-bit weights and/or activations).
    #[serde(default)]
    pub quant: QuantConfig,
    pub epochs: usize,
    pub learning_rate: f64,
    pub sampler: SamplerConfig,
    /// Limits each epoch to this many steps (short runs); `None` runs whole epochs.
    pub steps_per_epoch: Option<usize>,
    /// Checkpoint whose weights start the run (x4 from x2: all but the output block).
    pub init_from: Option<PathBuf>,
    /// Processes of a data-parallel run sharing each batch (1: a single process).
    #[serde(default = "one_rank")]
    pub ranks: usize,
}

fn one_rank() -> usize {
    1
}

impl TrainConfig {
    /// The settings (top-level fields of `config.json`) in which `other` differs from this run,
    /// the number of epochs aside: a resumed run must be the same run, only longer or shorter.
    pub fn differing_settings(&self, other: &TrainConfig) -> Vec<String> {
        let settings = |c: &TrainConfig| {
            serde_json::to_value(TrainConfig {
                epochs: 0,
                ..c.clone()
            })
            .expect("a training configuration always serialises")
        };
        let (mine, theirs) = (settings(self), settings(other));
        mine.as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| theirs.get(k.as_str()) != Some(v))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// What the loop reports while it runs, for a progress display.
#[derive(Debug)]
pub enum Progress<'a> {
    EpochStart {
        epoch: usize,
        epochs: usize,
        steps: usize,
    },
    Step {
        step_in_epoch: usize,
        loss: f64,
    },
    EpochEnd {
        metrics: &'a EpochMetrics,
        timings: &'a EpochTimings,
    },
}

/// Mean validation figures over whole images, each run at batch 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Validation {
    pub psnr_reference: f64,
    pub psnr_y8: f64,
}

pub use sesr_model::metrics::{EpochMetrics, EpochTimings};
use sesr_model::run::RunDir;

fn io_error<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> TrainError + 'a {
    move |source| TrainError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The model a run starts from: weights drawn from the run's seed, then `--init-from`.
fn starting_model(config: &TrainConfig, device: Device) -> Result<Sesr> {
    let model = Sesr::with_quant(config.model, config.mode, config.quant, device)?;
    model.initialize(config.sampler.seed);
    if let Some(init) = &config.init_from {
        model.init_from(init)?;
    }
    Ok(model)
}

/// Upscales every validation image with the collapsed model and averages both PSNRs.
pub fn validate(model: &CollapsedSesr, pairs: &[ImagePair]) -> Result<Validation> {
    let [reference, standard, n] = psnr_sums(model, pairs.iter())?;
    Ok(Validation {
        psnr_reference: reference / n.max(1.0),
        psnr_y8: standard / n.max(1.0),
    })
}

/// Sums of both PSNRs over `pairs`, and their count.
fn psnr_sums<'a>(
    model: &CollapsedSesr,
    pairs: impl Iterator<Item = &'a ImagePair>,
) -> Result<[f64; 3]> {
    let scale = model.config().scale;
    let device = model.device();
    let mut sums = [0.0; 3];
    for pair in pairs {
        let input = plane_to_tensor(&pair.lr.to_f32(), device)?;
        let sr = tensor_to_plane(&model.forward(&input)?)?;
        let hr = pair.hr.to_f32();
        sums[0] += psnr_float(&sr, &hr);
        sums[1] += psnr_y8(&sr, &hr, scale);
        sums[2] += 1.0;
    }
    Ok(sums)
}

/// Peak resident set size of this process in MiB, from `/proc/self/status` (0 if unknown).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Rewrites a JSON-lines record file with only the records of epochs `1..=epoch`.
fn keep_records_up_to(path: &Path, epoch: usize) -> Result<()> {
    #[derive(Deserialize)]
    struct Epoch {
        epoch: usize,
    }
    let kept: String = std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|line| serde_json::from_str::<Epoch>(line).is_ok_and(|r| r.epoch <= epoch))
        .map(|line| format!("{line}\n"))
        .collect();
    write_atomic(path, |tmp| {
        std::fs::write(tmp, kept).map_err(io_error("write", tmp))
    })
}

/// Appends one JSON line to `path` and syncs it.
fn append_record(path: &Path, record: &impl Serialize) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(io_error("open", path))?;
    let line = serde_json::to_string(record).expect("records serialise");
    writeln!(file, "{line}")
        .and_then(|_| file.sync_data())
        .map_err(io_error("append to", path))
}

/// A training run bound to its directory.
pub struct Trainer {
    config: TrainConfig,
    run: RunDir,
    model: Sesr,
    optimizer: Adam,
    /// Epochs already finished.
    epoch: usize,
    best_psnr: f64,
    /// The other ranks of a data-parallel run; `None` for a single process.
    collective: Option<Box<dyn Collective>>,
}

impl Trainer {
    /// Starts a new run in `run_dir`, refusing to overwrite one that already has progress.
    pub fn create(config: TrainConfig, run_dir: &Path, device: Device) -> Result<Self> {
        config.model.validate()?;
        if config.sampler.scale != config.model.scale {
            return Err(TrainError::InvalidConfig(format!(
                "sampler scale {} differs from model scale {}",
                config.sampler.scale, config.model.scale
            )));
        }
        let run = RunDir::new(run_dir);
        if run.has_progress() {
            return Err(TrainError::RunExists {
                dir: run_dir.to_path_buf(),
            });
        }
        sesr_model::atomic::remove_stale_temporaries(run_dir)?;
        let model = starting_model(&config, device)?;
        let optimizer = Adam::new(
            AdamConfig {
                learning_rate: config.learning_rate,
                ..AdamConfig::reference()
            },
            model.named_tensors(),
        );
        let json = serde_json::to_vec_pretty(&config).expect("train config serialises");
        write_atomic(&run.config(), |tmp| {
            std::fs::write(tmp, &json).map_err(io_error("write", tmp))
        })?;
        for path in [run.metrics(), run.timings()] {
            std::fs::write(&path, b"").map_err(io_error("create", &path))?;
        }
        Ok(Trainer {
            config,
            run,
            model,
            optimizer,
            epoch: 0,
            best_psnr: f64::NEG_INFINITY,
            collective: None,
        })
    }

    /// A rank other than 0 of a data-parallel run: the model and optimizer of `config`, no
    /// run directory (rank 0 writes every file). [`Trainer::join`] then gives it rank 0's state.
    pub fn follower(config: TrainConfig, device: Device) -> Result<Self> {
        config.model.validate()?;
        let model = Sesr::with_quant(config.model, config.mode, config.quant, device)?;
        let optimizer = Adam::new(
            AdamConfig {
                learning_rate: config.learning_rate,
                ..AdamConfig::reference()
            },
            model.named_tensors(),
        );
        Ok(Trainer {
            config,
            run: RunDir::new(PathBuf::new()),
            model,
            optimizer,
            epoch: 0,
            best_psnr: f64::NEG_INFINITY,
            collective: None,
        })
    }

    /// Joins a data-parallel run: every rank takes rank 0's weights, optimizer state and
    /// counters (rank 0 created or resumed the run), then trains its share of each batch.
    pub fn join(mut self, collective: Box<dyn Collective>) -> Result<Self> {
        if collective.ranks() != self.config.ranks {
            return Err(TrainError::InvalidConfig(format!(
                "the run is configured for {} ranks but {} processes joined",
                self.config.ranks,
                collective.ranks()
            )));
        }
        let mut tensors: Vec<Tensor> = self
            .model
            .named_tensors()
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        tensors.extend(self.optimizer.state_tensors().into_iter().map(|(_, t)| t));
        broadcast_tensors(collective.as_ref(), &tensors)?;
        let mut counters = [self.epoch as f32, self.optimizer.steps() as f32];
        collective.broadcast(&mut counters)?;
        let state = self.optimizer.state_tensors().into_iter().collect();
        self.optimizer.load_state(&state, counters[1] as u64)?;
        self.epoch = counters[0] as usize;
        self.collective = Some(collective);
        Ok(self)
    }

    /// This process's rank (0 for a single process).
    pub fn rank(&self) -> usize {
        self.collective.as_ref().map_or(0, |c| c.rank())
    }

    /// Reopens the run in `run_dir` after its last finished epoch. `epochs` may extend the run.
    pub fn resume(run_dir: &Path, epochs: Option<usize>, device: Device) -> Result<Self> {
        // A run killed while writing left `<file>.tmp<pid>` beside the file it replaced.
        sesr_model::atomic::remove_stale_temporaries(run_dir)?;
        let run = RunDir::new(run_dir);
        let config_path = run.config();
        let not_a_run = |reason: String| TrainError::NotARun {
            dir: run_dir.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(&config_path)
            .map_err(|e| not_a_run(format!("cannot read {}: {e}", config_path.display())))?;
        let mut config: TrainConfig = serde_json::from_str(&text).map_err(|e| {
            not_a_run(format!(
                "{} is not a training configuration: {e}",
                config_path.display()
            ))
        })?;
        if let Some(epochs) = epochs {
            config.epochs = epochs;
        }
        let model = Sesr::with_quant(config.model, config.mode, config.quant, device)?;
        let mut optimizer = Adam::new(
            AdamConfig {
                learning_rate: config.learning_rate,
                ..AdamConfig::reference()
            },
            model.named_tensors(),
        );
        let resume_path = run.resume();
        let (epoch, best_psnr) = if resume_path.exists() {
            let tensors = checkpoint::read_tensors(&resume_path)?;
            let slots = model
                .named_tensors()
                .into_iter()
                .map(|(n, t)| (format!("model.{n}"), t))
                .collect();
            checkpoint::copy_into(&resume_path, &tensors, &slots, |_| true)?;
            let counter = |name: &str| -> Result<f64> {
                tensors
                    .get(name)
                    .map(|t| t.double_value(&[]))
                    .ok_or_else(|| {
                        not_a_run(format!("{} has no `{name}` counter", resume_path.display()))
                    })
            };
            let optim_state = tensors
                .iter()
                .filter_map(|(n, t)| {
                    n.strip_prefix("optim.")
                        .map(|n| (n.to_string(), t.shallow_clone()))
                })
                .collect();
            optimizer.load_state(&optim_state, counter("adam_step")? as u64)?;
            (counter("epoch")? as usize, counter("best_psnr")?)
        } else {
            // Killed before its first epoch was committed: start again exactly as `create`
            // did (same seeded weights, same `--init-from`).
            let start = starting_model(&config, device)?;
            checkpoint::copy_into(
                &config_path,
                &start.var_store().variables(),
                &model.var_store().variables(),
                |_| true,
            )?;
            (0, f64::NEG_INFINITY)
        };
        // Records of epochs after the saved state were never committed: they will be redone.
        for path in [run.metrics(), run.timings()] {
            keep_records_up_to(&path, epoch)?;
        }
        Ok(Trainer {
            config,
            run,
            model,
            optimizer,
            epoch,
            best_psnr,
            collective: None,
        })
    }

    pub fn model(&self) -> &Sesr {
        &self.model
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Epochs finished so far.
    pub fn epochs_done(&self) -> usize {
        self.epoch
    }

    /// Runs the remaining epochs, validating and checkpointing after each.
    pub fn run(
        &mut self,
        train: Arc<Vec<ImagePair>>,
        valid: &[ImagePair],
        mut report: impl FnMut(Progress),
    ) -> Result<Vec<EpochMetrics>> {
        let mut all = vec![];
        if self.collective.is_some() && self.optimizer.steps() == 0 && self.config.quant.any() {
            self.set_quant_ranges_from_first_batch(&train)?;
        }
        while self.epoch < self.config.epochs {
            all.push(self.run_epoch(train.clone(), valid, &mut report)?);
        }
        Ok(all)
    }

    fn run_epoch(
        &mut self,
        train: Arc<Vec<ImagePair>>,
        valid: &[ImagePair],
        report: &mut impl FnMut(Progress),
    ) -> Result<EpochMetrics> {
        let started = Instant::now();
        let shard = self.collective.as_ref().map_or(Shard::WHOLE, |c| Shard {
            rank: c.rank(),
            ranks: c.ranks(),
        });
        let loader = Loader::spawn_shard(
            train,
            self.config.sampler,
            self.epoch as u64,
            self.config.steps_per_epoch,
            LoaderOptions::default(),
            shard,
        )?;
        let steps = loader.total_batches();
        report(Progress::EpochStart {
            epoch: self.epoch + 1,
            epochs: self.config.epochs,
            steps,
        });
        let device = self.model.device();
        let (mut loss_sum, mut count) = (0.0, 0usize);
        for (i, batch) in loader.enumerate() {
            #[cfg(feature = "failpoints")]
            fail::fail_point!("train-step");
            let (n, l, h) = (batch.n as i64, batch.lr_size as i64, batch.hr_size as i64);
            let lr = Tensor::from_slice(&batch.lr)
                .view([n, 1, l, l])
                .to_device(device);
            let hr = Tensor::from_slice(&batch.hr)
                .view([n, 1, h, h])
                .to_device(device);
            let loss = match &self.collective {
                None => train_step(&self.model, &mut self.optimizer, &lr, &hr)?,
                Some(collective) => {
                    self.optimizer.zero_grad();
                    let local = if batch.n > 0 {
                        self.model.loss_backward(&lr, &hr)?
                    } else {
                        0.0
                    };
                    let params: Vec<Tensor> = self
                        .model
                        .named_tensors()
                        .into_iter()
                        .map(|(_, t)| t)
                        .collect();
                    let loss = sum_gradients(collective.as_ref(), &params, batch.n, local)?;
                    self.optimizer.step();
                    loss
                }
            };
            if !loss.is_finite() {
                return Err(TrainError::LossDiverged {
                    loss,
                    epoch: self.epoch + 1,
                    step: i + 1,
                });
            }
            loss_sum += loss;
            count += 1;
            report(Progress::Step {
                step_in_epoch: i + 1,
                loss,
            });
        }
        let train_seconds = started.elapsed().as_secs_f64();
        self.epoch += 1;
        let validation = self.validate_shared(valid)?;
        let metrics = EpochMetrics {
            epoch: self.epoch,
            step: self.optimizer.steps(),
            train_loss: loss_sum / count.max(1) as f64,
            valid_psnr_reference: validation.psnr_reference,
            valid_psnr_y8: validation.psnr_y8,
        };
        if self.rank() != 0 {
            // Rank 0 writes the run's files; the others only train and validate.
            return Ok(metrics);
        }
        self.commit_epoch(&metrics)?;
        let timings = EpochTimings {
            epoch: self.epoch,
            steps_per_second: count as f64 / train_seconds,
            epoch_seconds: started.elapsed().as_secs_f64(),
            peak_rss_mib: peak_rss_mib(),
        };
        // Written after the commit: a lost line costs a figure, never a redone epoch.
        append_record(&self.run.timings(), &timings)?;
        report(Progress::EpochEnd {
            metrics: &metrics,
            timings: &timings,
        });
        Ok(metrics)
    }

    /// QAT sets each range from the first batch it sees. A single process sees the whole first
    /// batch, a rank only its share: so every rank runs the whole first batch forward once,
    /// without gradients, and all start with the ranges a single process would set.
    fn set_quant_ranges_from_first_batch(&self, train: &[ImagePair]) -> Result<()> {
        let sampler = PatchSampler::for_pairs(train, self.config.sampler)?;
        let plan = sampler.plan_epoch(0);
        let first = &plan[..self.config.sampler.batch_size.min(plan.len())];
        let batch = assemble_batch(train, first, &self.config.sampler)?;
        let (n, l) = (batch.n as i64, batch.lr_size as i64);
        let lr = Tensor::from_slice(&batch.lr)
            .view([n, 1, l, l])
            .to_device(self.model.device());
        let _ranges_now_set = tch::no_grad(|| self.model.forward(&lr))?;
        Ok(())
    }

    /// [`validate`]; in a data-parallel run each rank takes every `ranks`-th image and the
    /// ranks sum their figures.
    fn validate_shared(&self, valid: &[ImagePair]) -> Result<Validation> {
        let model = self.model.collapse()?;
        let Some(collective) = &self.collective else {
            return validate(&model, valid);
        };
        let mine = valid
            .iter()
            .skip(collective.rank())
            .step_by(collective.ranks());
        let mut sums = psnr_sums(&model, mine)?;
        collective.sum_f64(&mut sums)?;
        Ok(Validation {
            psnr_reference: sums[0] / sums[2].max(1.0),
            psnr_y8: sums[1] / sums[2].max(1.0),
        })
    }

    /// Writes the epoch's files; the rename of `resume.safetensors` is the commit point.
    fn commit_epoch(&mut self, metrics: &EpochMetrics) -> Result<()> {
        append_record(&self.run.metrics(), metrics)?;
        self.model.save(&self.run.last())?;
        if metrics.valid_psnr_y8 > self.best_psnr {
            self.best_psnr = metrics.valid_psnr_y8;
            self.model.save(&self.run.best())?;
        }
        let scalar = |v: f64| Tensor::from_slice(&[v]).view([]);
        let mut tensors: Vec<(String, Tensor)> = self
            .model
            .named_tensors()
            .into_iter()
            .map(|(n, t)| (format!("model.{n}"), t))
            .collect();
        tensors.extend(
            self.optimizer
                .state_tensors()
                .into_iter()
                .map(|(n, t)| (format!("optim.{n}"), t)),
        );
        tensors.push(("epoch".into(), scalar(self.epoch as f64)));
        tensors.push(("adam_step".into(), scalar(self.optimizer.steps() as f64)));
        tensors.push(("best_psnr".into(), scalar(self.best_psnr)));
        Ok(checkpoint::write_safetensors(&self.run.resume(), &tensors)?)
    }
}
