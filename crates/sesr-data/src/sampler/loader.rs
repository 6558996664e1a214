//! The background loader: an epoch's batches assembled on worker threads, yielded in order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};

use super::batch::{assemble_batch, Batch};
use super::plan::{PatchSampler, SamplerConfig};
use crate::error::{DataError, Result};
use crate::pair::ImagePair;

/// Worker threads and queue depth of a [`Loader`]. They change speed, never content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderOptions {
    /// Threads assembling batches.
    pub workers: usize,
    /// Finished batches each worker may queue ahead.
    pub prefetch: usize,
}

impl Default for LoaderOptions {
    /// Up to 4 workers (fewer on smaller machines), 2 batches queued per worker.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            workers: cores.clamp(1, 4),
            prefetch: 2,
        }
    }
}

/// This process's share of every batch in a data-parallel run of `ranks` processes: rank `r`
/// takes patches `[r * n / ranks, (r + 1) * n / ranks)` of each `n`-patch batch, so the ranks'
/// shares are disjoint, cover the batch, and depend only on seed, epoch and rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub rank: usize,
    pub ranks: usize,
}

impl Shard {
    /// The whole batch: a single-process run.
    pub const WHOLE: Shard = Shard { rank: 0, ranks: 1 };

    /// The range of a `len`-patch batch this shard takes.
    pub fn range(&self, len: usize) -> std::ops::Range<usize> {
        len * self.rank / self.ranks..len * (self.rank + 1) / self.ranks
    }
}

/// Batches of one epoch, assembled on background threads.
///
/// Batch `i` always holds patches `i * batch_size ..` of [`PatchSampler::plan_epoch`], whatever
/// the number of threads: worker `w` builds batches `w, w + W, w + 2W, ...` into its own bounded
/// channel and the iterator reads the channels round-robin. The last batch of the epoch keeps
/// the remaining patches even when fewer than `batch_size` (it is dropped only when empty).
/// Dropping the loader early stops the workers and joins them.
pub struct Loader {
    receivers: Vec<Receiver<Result<Batch>>>,
    handles: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    next: usize,
    total: usize,
}

impl Loader {
    /// Starts loading epoch `epoch` with [`LoaderOptions::default`]; `steps_limit` caps the
    /// number of batches.
    pub fn spawn(
        pairs: Arc<Vec<ImagePair>>,
        config: SamplerConfig,
        epoch: u64,
        steps_limit: Option<usize>,
    ) -> Result<Self> {
        Self::spawn_with(pairs, config, epoch, steps_limit, LoaderOptions::default())
    }

    /// Starts loading epoch `epoch` with explicit thread options.
    pub fn spawn_with(
        pairs: Arc<Vec<ImagePair>>,
        config: SamplerConfig,
        epoch: u64,
        steps_limit: Option<usize>,
        options: LoaderOptions,
    ) -> Result<Self> {
        Self::spawn_shard(pairs, config, epoch, steps_limit, options, Shard::WHOLE)
    }

    /// Starts loading `shard`'s part of every batch of epoch `epoch` (a data-parallel rank).
    /// Every rank yields the same number of batches; the last one's share may be empty.
    pub fn spawn_shard(
        pairs: Arc<Vec<ImagePair>>,
        config: SamplerConfig,
        epoch: u64,
        steps_limit: Option<usize>,
        options: LoaderOptions,
        shard: Shard,
    ) -> Result<Self> {
        if shard.ranks == 0 || shard.rank >= shard.ranks {
            return Err(DataError::InvalidConfig {
                what: "data-parallel shard",
                reason: format!("rank {} of {} ranks", shard.rank, shard.ranks),
            });
        }
        let sampler = PatchSampler::for_pairs(&pairs, config)?;
        let plan = Arc::new(sampler.plan_epoch(epoch));
        let mut total = sampler.batches_per_epoch();
        if let Some(limit) = steps_limit {
            total = total.min(limit);
        }
        let workers = options.workers.max(1).min(total.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx) = sync_channel(options.prefetch.max(1));
            let pairs = Arc::clone(&pairs);
            let plan = Arc::clone(&plan);
            let stop = Arc::clone(&stop);
            let handle = std::thread::Builder::new()
                .name(format!("sesr-loader-{w}"))
                .spawn(move || {
                    let bs = config.batch_size;
                    for b in (w..total).step_by(workers) {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let batch = &plan[b * bs..((b + 1) * bs).min(plan.len())];
                        let specs = &batch[shard.range(batch.len())];
                        let batch = assemble_batch(&pairs, specs, &config);
                        if tx.send(batch).is_err() {
                            break;
                        }
                    }
                })
                .map_err(|e| DataError::InvalidConfig {
                    what: "loader threads",
                    reason: format!("cannot start a worker thread: {e}"),
                })?;
            receivers.push(rx);
            handles.push(handle);
        }
        Ok(Self {
            receivers,
            handles,
            stop,
            next: 0,
            total,
        })
    }

    /// Number of batches this loader yields in total.
    pub fn total_batches(&self) -> usize {
        self.total
    }
}

/// # Panics
/// `next` panics only if a worker failed, which cannot happen for pairs that passed
/// [`PatchSampler::for_pairs`] at spawn time (the pairs are shared read-only).
impl Iterator for Loader {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        if self.next >= self.total {
            return None;
        }
        let rx = &self.receivers[self.next % self.receivers.len()];
        match rx.recv() {
            Ok(Ok(batch)) => {
                self.next += 1;
                Some(batch)
            }
            // The sampler validated every image, so a failing batch means the pairs changed
            // under us: a bug, not bad input.
            Ok(Err(e)) => panic!("loader batch {} failed: {e}", self.next),
            Err(_) => panic!("loader worker for batch {} stopped unexpectedly", self.next),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.total - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Loader {}

impl Drop for Loader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the receivers makes any blocked `send` fail, so workers exit promptly.
        self.receivers.clear();
        for h in self.handles.drain(..) {
            // A worker panic has already been reported on stderr; don't double-panic in drop.
            let _ = h.join();
        }
    }
}
