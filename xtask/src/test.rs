//! `cargo xtask test`: sets libtorch up, then runs the whole workspace's tests.

use crate::setup;
use anyhow::Result;

pub fn run(extra_args: &[String]) -> Result<()> {
    setup::run()?;
    setup::run_checked(
        setup::cargo()
            .current_dir(setup::repo_root())
            .args(["test", "--workspace"])
            .args(extra_args),
    )
}
