//! sesr-cli: the command-line front end. Each subcommand lives in its own module and stays
//! thin: parsing flags, calling the library crates, printing results. No subcommand module
//! imports another; what several share (architecture flags, loading a `--checkpoint`) lives
//! in `model_args` and `models`.

mod collapse;
mod compare;
mod distributed;
mod eval;
mod export;
mod info;
mod inspect;
mod model_args;
mod models;
mod plot;
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
    Train(Box<train::TrainArgs>),
    /// PSNR and SSIM on Y of a checkpoint against bicubic, on folders of HR images.
    Eval(eval::EvalArgs),
    /// Write a training checkpoint as a collapsed one (what sesr-runtime and libraries load).
    Collapse(collapse::CollapseArgs),
    /// Write a checkpoint as a TFLite or ONNX model (float32, or int8 from quantization-aware
    /// training or calibration).
    Export(export::ExportArgs),
    /// Print a .tflite or .onnx file's operators, tensors, quantization parameters and MACs.
    Inspect(inspect::InspectArgs),
    /// Upscale an image or a folder of images with a checkpoint (Y by SESR, colour by bicubic).
    Upscale(upscale::UpscaleArgs),
    /// Upscale a YUV4MPEG2 video stream (a file or a pipe from and to ffmpeg), frame by frame.
    Video(video::VideoArgs),
    /// Draw training loss and validation PSNR of training runs as a PNG.
    Plot(plot::PlotArgs),
    /// Crops of an image by bicubic and by models, beside the ground truth, as a PNG.
    Compare(compare::CompareArgs),
}

fn main() -> ExitCode {
    #[cfg(feature = "failpoints")]
    let _fail_points = fail::FailScenario::setup();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info(args) => info::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Upscale(args) => upscale::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Collapse(args) => collapse::run(&args),
        Command::Inspect(args) => inspect::run(&args),
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
