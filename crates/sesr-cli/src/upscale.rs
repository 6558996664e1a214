//! `sesr-cli upscale`: upscale an image or a folder of images with a checkpoint.

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct UpscaleArgs {}

pub fn run(_args: &UpscaleArgs) -> Result<()> {
    bail!("`sesr-cli upscale` is not implemented yet")
}
