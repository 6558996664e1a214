//! `sesr-cli eval`: PSNR and SSIM of a checkpoint against bicubic on folders of HR images.

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct EvalArgs {}

pub fn run(_args: &EvalArgs) -> Result<()> {
    bail!("`sesr-cli eval` is not implemented yet")
}
