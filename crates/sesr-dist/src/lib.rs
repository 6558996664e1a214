//! Data-parallel runs of SESR training over MPI (Open MPI, through rsmpi): which rank this
//! process is, the two collectives training needs (sums of `f32` or `f64` buffers, broadcast
//! of `f32` buffers from rank 0), a watchdog that stops a rank whose peers stopped answering, and the
//! `mpirun` command that starts local ranks. No tensors here: `sesr-cli` hands the buffers of
//! `sesr_train::distributed` to it.
//!
//! Why MPI: it carries CPU buffers natively, `mpirun` and Slurm's `srun` launch it on one
//! machine or many, Debian ships it (`openmpi-bin`, `libopenmpi-dev`), and a failed rank ends
//! the whole job. SESR's gradients are small (1.3 MB for M5), so CUDA runs stage them
//! through host memory at a cost far below a training step. docs/distributed.md says more.

use mpi::collective::{CommunicatorCollectives, Root, SystemOperation};
use mpi::environment::{Threading, Universe};
use mpi::topology::{Communicator, SimpleCommunicator};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum DistError {
    #[error("cannot start MPI: {0}")]
    Init(String),
    #[error(
        "starting ranks needs Open MPI's `mpirun` on PATH (Debian: apt install openmpi-bin \
         libopenmpi-dev; `cargo xtask setup` installs them)"
    )]
    NoMpirun,
}

pub type Result<T> = std::result::Result<T, DistError>;

/// Environment variables an MPI launcher sets in every rank it starts (Open MPI's `mpirun`,
/// Slurm's `srun` with PMIx or PMI-2).
const LAUNCHER_VARIABLES: [&str; 3] = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"];

/// Whether an MPI launcher started this process as one rank of a run.
pub fn launched_by_mpi() -> bool {
    LAUNCHER_VARIABLES
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

/// What a rank is waiting for, and since when; read by the watchdog.
type Pending = Arc<Mutex<Option<(Instant, &'static str)>>>;

/// This process's place in a data-parallel run.
pub struct Mpi {
    // Dropping the universe finalises MPI: keep it for the life of the run.
    _universe: Universe,
    world: SimpleCommunicator,
    local_rank: usize,
    local_ranks: usize,
    pending: Pending,
}

impl Mpi {
    /// Joins the run the launcher started. A collective that waits longer than `timeout` for
    /// the other ranks (one died, hangs, or never connected) ends this process with an error
    /// naming its rank and the operation; the launcher then stops the rest.
    pub fn join(timeout: Duration) -> Result<Mpi> {
        // Only the main thread calls MPI; loader and kernel threads never do.
        let (universe, _) = mpi::initialize_with_threading(Threading::Funneled)
            .ok_or_else(|| DistError::Init("MPI was already initialised".into()))?;
        let world = universe.world();
        let local = world.split_shared(world.rank());
        let pending: Pending = Arc::new(Mutex::new(None));
        let rank = world.rank();
        let watched = Arc::clone(&pending);
        std::thread::Builder::new()
            .name("sesr-dist-watchdog".into())
            .spawn(move || watchdog(rank, timeout, &watched))
            .map_err(|e| DistError::Init(format!("cannot start the watchdog thread: {e}")))?;
        Ok(Mpi {
            _universe: universe,
            local_rank: local.rank() as usize,
            local_ranks: local.size() as usize,
            world,
            pending,
        })
    }

    /// This process's rank, `0..ranks()`.
    pub fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    /// Number of ranks in the run.
    pub fn ranks(&self) -> usize {
        self.world.size() as usize
    }

    /// Rank among the ranks of this machine (which GPU to use).
    pub fn local_rank(&self) -> usize {
        self.local_rank
    }

    /// Number of ranks on this machine (how to share its cores).
    pub fn local_ranks(&self) -> usize {
        self.local_ranks
    }

    /// Element-wise sum over all ranks, in place; `what` names it if the watchdog fires.
    pub fn sum<T: mpi::datatype::Equivalence + Copy>(&self, what: &'static str, values: &mut [T]) {
        self.watched(what, || {
            let send = values.to_vec();
            self.world
                .all_reduce_into(&send[..], values, SystemOperation::sum());
        });
    }

    /// Rank 0's `values` on every rank.
    pub fn broadcast(&self, values: &mut [f32]) {
        self.watched("receiving rank 0's state", || {
            self.world.process_at_rank(0).broadcast_into(values);
        });
    }

    /// Ends every rank of the run (after this rank failed, so that none waits forever).
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    fn watched(&self, what: &'static str, call: impl FnOnce()) {
        *self.pending.lock().expect("watchdog lock") = Some((Instant::now(), what));
        call();
        *self.pending.lock().expect("watchdog lock") = None;
    }
}

fn watchdog(rank: i32, timeout: Duration, pending: &Pending) {
    loop {
        std::thread::sleep(Duration::from_millis(200).min(timeout));
        let stuck = pending
            .lock()
            .ok()
            .and_then(|p| *p)
            .filter(|(since, _)| since.elapsed() >= timeout);
        if let Some((_, what)) = stuck {
            eprintln!(
                "error: rank {rank}: no answer from the other ranks for {} s while {what}: a \
                 rank died, hangs or cannot connect; stopping (the run's timeout sets the wait)",
                timeout.as_secs()
            );
            std::process::exit(3);
        }
    }
}

/// The `mpirun` command that starts `ranks` copies of a program on this machine, each told
/// its rank by Open MPI's environment; add the program and its arguments.
pub fn mpirun(ranks: usize) -> Result<Command> {
    let mpirun = find_on_path("mpirun").ok_or(DistError::NoMpirun)?;
    let mut command = Command::new(mpirun);
    // No core binding (each rank sizes its own thread pool) and no slot count check (a
    // container's CPU count need not match the cores Open MPI sees).
    command.args([
        "-np",
        &ranks.to_string(),
        "--bind-to",
        "none",
        "--oversubscribe",
    ]);
    // Containers often run as root; Open MPI refuses that unless told.
    command
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    Ok(command)
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}
