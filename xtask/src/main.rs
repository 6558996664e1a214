//! `cargo xtask`: the project's task runner. It builds without libtorch so that it can
//! install libtorch first; the real work happens in the crates it calls through cargo.

mod downstream;
mod model_card;
mod npu_card;
mod setup;
mod test;
mod train_all;
mod train_zoo;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    bin_name = "cargo xtask",
    about = "The project's tasks",
    disable_version_flag = true
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Create .venv with PyPI's torch 2.13.0 (what tch 0.26 links) unless LIBTORCH is set
    Setup,
    /// Setup, then run every test of the workspace and the README's library example
    Test {
        /// Passed on to `cargo test` after the workspace's own flags, as given
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "CARGO_TEST_ARGS"
        )]
        cargo_test_args: Vec<String>,
    },
    /// Build and run the README's library example in a crate outside the workspace
    Downstream,
    /// The whole pipeline: x2, x4 from x2, QAT, TFLite export, summary
    TrainAll(train_all::Options),
    /// Train the shipped models of sesr-zoo from scratch and write their card
    TrainZoo(train_zoo::Zoo),
    /// Measure the shipped models on Arm's Ethos-U NPUs with Vela and update their card
    NpuCard,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let result = match Cli::parse_from(&argv).task {
        Task::Setup => setup::run().map(|libtorch| setup::print_library_env(&libtorch)),
        Task::Test { cargo_test_args } => test::run(&as_typed(&argv, cargo_test_args)),
        Task::Downstream => downstream::run(),
        Task::TrainAll(options) => train_all::run(options),
        Task::TrainZoo(zoo) => train_zoo::run(zoo),
        Task::NpuCard => npu_card::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask test`'s arguments as typed: clap takes a leading `--` for its own separator and
/// drops it, but `cargo xtask test -- --nocapture` means `cargo test ... -- --nocapture`.
fn as_typed(argv: &[String], mut cargo_test_args: Vec<String>) -> Vec<String> {
    if argv.get(2).is_some_and(|first| first == "--") {
        cargo_test_args.insert(0, "--".into());
    }
    cargo_test_args
}

#[cfg(test)]
mod tests {
    use super::{Cli, Parser, Task};

    fn forwarded(args: &[&str]) -> Vec<String> {
        let argv: Vec<String> = ["xtask", "test"]
            .iter()
            .chain(args)
            .map(|a| a.to_string())
            .collect();
        match Cli::try_parse_from(&argv).unwrap().task {
            Task::Test { cargo_test_args } => super::as_typed(&argv, cargo_test_args),
            _ => panic!("not the test task"),
        }
    }

    #[test]
    fn test_forwards_its_arguments_to_cargo_test_as_given() {
        for args in [
            &[][..],
            &["--release"],
            &["-p", "sesr-core", "--", "--nocapture"],
            &["--", "--nocapture"],
            &["--", "--"],
            &["collapse", "--", "--ignored"],
            &["--release", "--", "--nocapture"],
        ] {
            assert_eq!(forwarded(args), args, "{args:?}");
        }
    }

    #[test]
    fn clap_accepts_the_command_definition() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
