//! `cargo xtask`: the project's task runner. It builds without libtorch so that it can
//! install libtorch first; the real work happens in the crates it calls through cargo.

mod downstream;
mod model_card;
mod setup;
mod test;
mod train_all;
mod train_zoo;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  setup      create .venv with PyPI's torch 2.13.0 (what tch 0.26 links) unless LIBTORCH is set
  test       setup, then run every test of the workspace and the README's library example
  downstream build and run the README's library example in a crate outside the workspace
  train-all  the whole pipeline: x2, x4 from x2, QAT, TFLite export, summary (--help for flags)
  train-zoo  train the shipped models of sesr-zoo from scratch and write their card (--help)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::run().map(|libtorch| setup::print_library_env(&libtorch)),
        Some("test") => test::run(&args[1..]),
        Some("downstream") => downstream::run(),
        Some("train-all") => train_all::run(&args[1..]),
        Some("train-zoo") => train_zoo::run(&args[1..]),
        Some("-h" | "--help") | None => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(anyhow::anyhow!("unknown task `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
