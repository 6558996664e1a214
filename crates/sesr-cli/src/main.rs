//! sesr-cli: the command-line front end. Each subcommand lives in its own module and stays
//! thin: parsing flags, calling the library crates, printing results. No subcommand module
//! imports another; what several share (architecture flags, model arguments and engines)
//! lives in `model_args` and `models`.
//!
//! Features: `train` (libtorch: `train`, `collapse`, the torch engine, calibration, training
//! checkpoints) and `mpi` (data-parallel ranks over Open MPI), both on by default. Without
//! them sesr-cli needs nothing but the Rust toolchain to build, and the subcommands that need
//! them say which feature to build with.

#[cfg(feature = "train")]
mod collapse;
mod compare;
#[cfg(feature = "mpi")]
mod distributed;
mod eval;
mod export;
mod info;
mod inspect;
mod model_args;
mod models;
mod npu;
mod paths;
mod plot;
#[cfg(feature = "train")]
mod train;
mod upscale;
mod video;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "sesr-cli",
    version,
    about = "SESR super-resolution: account, train, evaluate, upscale images and video, export, plot"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print parameters and MACs of a SESR architecture, as the paper counts them.
    Info(info::InfoArgs),
    /// Train SESR on DIV2K or a folder of images (x4 can start from an x2 checkpoint).
    #[cfg(feature = "train")]
    Train(Box<train::TrainArgs>),
    /// Train SESR (needs a sesr-cli built with the `train` feature: libtorch).
    #[cfg(not(feature = "train"))]
    Train(NeedsTrain),
    /// PSNR and SSIM on Y of a checkpoint against bicubic, on folders of HR images.
    Eval(eval::EvalArgs),
    /// Write a training checkpoint as a collapsed one (what sesr-runtime and libraries load).
    #[cfg(feature = "train")]
    Collapse(collapse::CollapseArgs),
    /// Collapse a training checkpoint (needs a sesr-cli built with the `train` feature).
    #[cfg(not(feature = "train"))]
    Collapse(NeedsTrain),
    /// Write a checkpoint as a TFLite or ONNX model (float32, or int8 from quantization-aware
    /// training or calibration).
    Export(export::ExportArgs),
    /// Print a .tflite or .onnx file's operators, tensors, quantization parameters and MACs.
    Inspect(inspect::InspectArgs),
    /// Arm Ethos-U NPU estimates of an int8 .tflite by Arm's compiler, Vela: time, memory,
    /// traffic, and the operators it leaves to the CPU.
    Npu(npu::NpuArgs),
    /// Upscale an image or a folder of images with a checkpoint (Y by SESR, colour by bicubic).
    Upscale(upscale::UpscaleArgs),
    /// Upscale a YUV4MPEG2 video stream (a file or a pipe from and to ffmpeg), frame by frame.
    Video(video::VideoArgs),
    /// Draw training loss and validation PSNR of training runs as a PNG.
    Plot(plot::PlotArgs),
    /// Crops of an image by bicubic and by models, beside the ground truth, as a PNG.
    Compare(compare::CompareArgs),
}

/// The arguments of a subcommand this build does not have, taken whole.
#[cfg(not(feature = "train"))]
#[derive(clap::Args)]
#[command(disable_help_flag = true)]
struct NeedsTrain {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _args: Vec<std::ffi::OsString>,
}

#[cfg(not(feature = "train"))]
fn needs_train(command: &str) -> anyhow::Result<()> {
    anyhow::bail!(
        "`sesr-cli {command}` runs on libtorch: {}",
        models::NEEDS_TRAIN
    )
}

fn main() -> ExitCode {
    #[cfg(feature = "failpoints")]
    let _fail_points = fail::FailScenario::setup();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => info::run(&args),
        #[cfg(feature = "train")]
        Command::Train(args) => train::run(&args),
        #[cfg(not(feature = "train"))]
        Command::Train(_) => needs_train("train"),
        Command::Eval(args) => eval::run(&args),
        Command::Upscale(args) => upscale::run(&args),
        Command::Export(args) => export::run(&args),
        #[cfg(feature = "train")]
        Command::Collapse(args) => collapse::run(&args),
        #[cfg(not(feature = "train"))]
        Command::Collapse(_) => needs_train("collapse"),
        Command::Inspect(args) => inspect::run(&args),
        Command::Npu(args) => npu::run(&args),
        Command::Plot(args) => plot::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::Video(args) => video::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The consumer of a piped video quit: stop quietly, as a process killed by SIGPIPE.
        Err(err)
            if matches!(
                err.downcast_ref(),
                Some(sesr_video::VideoError::OutputClosed)
            ) =>
        {
            ExitCode::from(video::OUTPUT_CLOSED_STATUS)
        }
        Err(err) => {
            eprintln!("error: {}", describe(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, like anyhow's `{:#}`, but without repeating a cause
/// that the message before it already ends with (our library errors print their io source).
fn describe(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.ends_with(&cause) {
            text += ": ";
            text += &cause;
        }
    }
    text
}
