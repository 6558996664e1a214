//! `cargo xtask test`: sets libtorch up, runs the whole workspace's tests, then builds and runs
//! the README's library example outside the workspace (`downstream`).

use crate::{downstream, setup};
use anyhow::Result;

pub fn run(extra_args: &[String]) -> Result<()> {
    setup::run()?;
    setup::run_checked(
        setup::cargo()
            .current_dir(setup::repo_root())
            // The fail points let the kill-and-resume tests stop a run inside an atomic write.
            .args(["test", "--workspace", "--features", "sesr-cli/failpoints"])
            .args(extra_args),
    )?;
    downstream::run()
}
