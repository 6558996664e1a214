//! Data-parallel `train`: starting local ranks under `mpirun` (`--nproc-per-node`), and the
//! bridge from `sesr-dist`'s MPI ranks to the trainer's [`Collective`].

use anyhow::{bail, Context, Result};
use sesr_dist::Mpi;
use sesr_train::distributed::Collective;
use std::ffi::OsString;
use std::rc::Rc;

/// A rank of an MPI run, as the trainer sees it.
pub struct MpiCollective(pub Rc<Mpi>);

impl Collective for MpiCollective {
    fn rank(&self) -> usize {
        self.0.rank()
    }

    fn ranks(&self) -> usize {
        self.0.ranks()
    }

    fn sum(&self, values: &mut [f32]) -> sesr_train::Result<()> {
        self.0.sum("summing gradients", values);
        Ok(())
    }

    fn sum_f64(&self, values: &mut [f64]) -> sesr_train::Result<()> {
        self.0.sum("summing validation figures", values);
        Ok(())
    }

    fn broadcast(&self, values: &mut [f32]) -> sesr_train::Result<()> {
        self.0.broadcast(values);
        Ok(())
    }
}

/// Runs this same command as `ranks` processes under `mpirun`, without `--nproc-per-node`,
/// and waits for them; each rank finds its place in Open MPI's environment.
pub fn launch_local_ranks(ranks: usize) -> Result<()> {
    let program = std::env::current_exe().context("cannot find the sesr-cli executable")?;
    let mut args: Vec<OsString> = vec![];
    let mut given = std::env::args_os().skip(1);
    while let Some(arg) = given.next() {
        if arg == "--nproc-per-node" {
            given.next();
        } else if !arg.to_string_lossy().starts_with("--nproc-per-node=") {
            args.push(arg);
        }
    }
    let mut mpirun = sesr_dist::mpirun(ranks).context("--nproc-per-node")?;
    let status = mpirun
        .arg(&program)
        .args(&args)
        .status()
        .context("cannot run mpirun")?;
    if !status.success() {
        bail!("the {ranks} ranks of the run stopped ({status}); the messages above say which rank failed and why");
    }
    Ok(())
}
