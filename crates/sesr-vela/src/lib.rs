//! sesr-vela: Arm's Ethos-U NPU compiler, Vela (PyPI `ethos-u-vela`), run on a `.tflite`.
//!
//! SESR was designed for mobile NPUs; Arm's Ethos-U55, U65 and U85 run int8 TFLite models
//! that Vela compiles. Vela places each operator on the NPU or leaves it to the host CPU (with
//! its reason), and estimates the NPU's time, cycles, memory and traffic. [`Vela::estimate`]
//! runs it on one file for one accelerator configuration and reads its summary into an
//! [`Estimate`]; nothing is estimated here, every figure is Vela's.
//!
//! ```no_run
//! # fn main() -> sesr_vela::Result<()> {
//! let vela = sesr_vela::Vela::find()?;
//! let estimate = vela.estimate("m5_x2_int8_ethos-u55_1080x1920.tflite".as_ref(), "ethos-u55-256")?;
//! println!("{:.1} ms, {} operators on the CPU", estimate.inference_ms(), estimate.cpu_operators.len());
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

/// The accelerator configurations Vela 5 knows (`--accelerator-config`).
pub const CONFIGS: [&str; 11] = [
    "ethos-u55-32",
    "ethos-u55-64",
    "ethos-u55-128",
    "ethos-u55-256",
    "ethos-u65-256",
    "ethos-u65-512",
    "ethos-u85-128",
    "ethos-u85-256",
    "ethos-u85-512",
    "ethos-u85-1024",
    "ethos-u85-2048",
];

/// The configurations the project reports: the largest of each family.
pub const REPORTED: [&str; 3] = ["ethos-u55-256", "ethos-u65-512", "ethos-u85-2048"];

/// What goes wrong running Vela or reading its summary.
#[derive(Debug, thiserror::Error)]
pub enum VelaError {
    /// No `vela` program was found.
    #[error(
        "Vela (Arm's Ethos-U compiler) was not found{searched}; install it with `pip install \
         ethos-u-vela==5.2.0` (in this repository `cargo xtask setup` installs it into \
         .venv), or point the VELA environment variable at the program"
    )]
    NotInstalled { searched: String },
    /// A configuration Vela does not have.
    #[error("unknown Ethos-U configuration `{0}`; Vela knows {known}", known = CONFIGS.join(", "))]
    UnknownConfig(String),
    /// Vela ran and failed.
    #[error("Vela failed on {} ({status}): {output}", model.display())]
    Failed {
        model: PathBuf,
        status: String,
        output: String,
    },
    /// Vela's output did not have what its summary always has.
    #[error("Vela's summary of {} has no {what}; is this Vela 5? Its output:\n{output}", model.display())]
    Summary {
        model: PathBuf,
        what: String,
        output: String,
    },
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T, E = VelaError> = std::result::Result<T, E>;

/// An operator Vela left to the host CPU, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuOperator {
    /// The TFLite operator (`DEPTH_TO_SPACE`).
    pub operator: String,
    /// The tensor it writes.
    pub output: String,
    /// Vela's reason (`Unsupported opType`).
    pub reason: String,
}

/// Vela's figures for one model on one configuration (the CSV summary and the operator
/// placement it prints).
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// `Ethos_U55_256`.
    pub accelerator: String,
    /// The system configuration Vela used (its default for the accelerator).
    pub system_config: String,
    /// The memory mode Vela used.
    pub memory_mode: String,
    /// NPU clock, Hz.
    pub clock_hz: f64,
    /// Seconds per inference (the NPU's part; operators on the CPU are not counted).
    pub inference_seconds: f64,
    /// Cycles the NPU computes.
    pub npu_cycles: f64,
    /// Cycles in all, memory access included: `npu_cycles` is the share compute bounds.
    pub total_cycles: f64,
    /// SRAM used, KiB.
    pub sram_kib: f64,
    /// DRAM traffic per inference, bytes (feature maps and weights, read and written).
    pub dram_bytes: f64,
    /// Off-chip flash traffic per inference, bytes.
    pub off_chip_flash_bytes: f64,
    /// Multiply-accumulates per inference as Vela counts them.
    pub macs: f64,
    /// Operators on the NPU.
    pub npu_operators: usize,
    /// Operators left to the host CPU, with Vela's reasons.
    pub cpu_operators: Vec<CpuOperator>,
}

impl Estimate {
    /// Milliseconds per inference.
    pub fn inference_ms(&self) -> f64 {
        self.inference_seconds * 1e3
    }

    /// What bounds the estimate: `"compute"` when the NPU's cycles are most of the total,
    /// else the memory traffic.
    pub fn bound(&self) -> &'static str {
        if self.npu_cycles >= 0.9 * self.total_cycles {
            "compute"
        } else if self.dram_bytes > 0.0 {
            "DRAM"
        } else {
            "memory"
        }
    }
}

/// How many inferences of a model exported at `tile` (height, width) cover a `frame` (height,
/// width), when each tile needs `halo` pixels of context around the pixels it contributes
/// (SESR's receptive radius): a tile that spans the frame needs none, an edge tile needs it
/// on its inner side only, an inner tile on both. `None` when the tile is too small to
/// contribute anything (`tile <= 2 halo` on an axis the frame exceeds).
pub fn tiles_per_frame(frame: (u64, u64), tile: (u64, u64), halo: u64) -> Option<u64> {
    let along = |frame: u64, side: u64| -> Option<u64> {
        if side >= frame {
            return Some(1);
        }
        let inner = side.checked_sub(2 * halo).filter(|&core| core > 0)?;
        let edges = 2 * (side - halo);
        Some(2 + frame.saturating_sub(edges).div_ceil(inner))
    };
    Some(along(frame.0, tile.0)? * along(frame.1, tile.1)?)
}

/// The Vela program.
#[derive(Clone, Debug)]
pub struct Vela {
    program: PathBuf,
}

impl Vela {
    /// The `vela` program: the VELA environment variable, `vela` on PATH, or the
    /// `.venv/bin/vela` that `cargo xtask setup` installs, looked for in the working folder,
    /// the folders above it, and the folders above this program (a `target/release` build).
    pub fn find() -> Result<Vela> {
        if let Some(program) = std::env::var_os("VELA") {
            return Self::at(PathBuf::from(program));
        }
        let on_path: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join("vela"))
                    .collect()
            })
            .unwrap_or_default();
        let roots: Vec<PathBuf> = [std::env::current_dir().ok(), std::env::current_exe().ok()]
            .into_iter()
            .flatten()
            .collect();
        let in_venvs = roots
            .iter()
            .flat_map(|root| root.ancestors())
            .map(|dir| dir.join(".venv/bin/vela"));
        on_path
            .into_iter()
            .chain(in_venvs)
            .find(|p| p.is_file())
            .map(|program| Vela { program })
            .ok_or_else(|| VelaError::NotInstalled {
                searched: " on PATH or in a .venv/bin above the working folder or this program"
                    .into(),
            })
    }

    /// Vela at `program`.
    pub fn at(program: PathBuf) -> Result<Vela> {
        match program.is_file() {
            true => Ok(Vela { program }),
            false => Err(VelaError::NotInstalled {
                searched: format!(" at {}", program.display()),
            }),
        }
    }

    /// Vela's version (`5.2.0`).
    pub fn version(&self) -> Result<String> {
        let out = Command::new(&self.program)
            .arg("--version")
            .output()
            .map_err(|source| VelaError::Io {
                action: "run",
                path: self.program.clone(),
                source,
            })?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Compiles `model` for `config` (one of [`CONFIGS`]) with Vela's defaults for it and
    /// reads the summary.
    pub fn estimate(&self, model: &Path, config: &str) -> Result<Estimate> {
        if !CONFIGS.contains(&config) {
            return Err(VelaError::UnknownConfig(config.to_string()));
        }
        let dir = tempfile::tempdir().map_err(|source| VelaError::Io {
            action: "create a temporary folder for",
            path: PathBuf::from("Vela's output"),
            source,
        })?;
        let out = Command::new(&self.program)
            .arg(model)
            .args(["--accelerator-config", config])
            .arg("--output-dir")
            .arg(dir.path())
            .output()
            .map_err(|source| VelaError::Io {
                action: "run",
                path: self.program.clone(),
                source,
            })?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            return Err(VelaError::Failed {
                model: model.to_path_buf(),
                status: out.status.to_string(),
                output: text,
            });
        }
        let csv = std::fs::read_dir(dir.path())
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "csv"));
        let summary = |what: &str| VelaError::Summary {
            model: model.to_path_buf(),
            what: what.into(),
            output: text.clone(),
        };
        let csv = csv.ok_or_else(|| summary("CSV summary file"))?;
        let csv = std::fs::read_to_string(&csv).map_err(|source| VelaError::Io {
            action: "read",
            path: csv.clone(),
            source,
        })?;
        parse(model, &text, &csv)
    }
}

/// The summary in Vela's printed `text` and its CSV file.
fn parse(model: &Path, text: &str, csv: &str) -> Result<Estimate> {
    let missing = |what: &str| VelaError::Summary {
        model: model.to_path_buf(),
        what: what.into(),
        output: text.to_string(),
    };
    let count = |label: &str| -> Result<usize> {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .and_then(|rest| {
                rest.trim()
                    .trim_start_matches('=')
                    .split_whitespace()
                    .next()
            })
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| missing(&format!("`{label} = N` line")))
    };
    let cpu_count = count("CPU operators")?;
    let npu_operators = count("NPU operators")?;
    let mut cpu_operators = vec![];
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("Warning (supported operators) operator: ") else {
            continue;
        };
        let (operator, output) = rest.split_once(", ofm: ").unwrap_or((rest, ""));
        let reason = lines
            .peek()
            .and_then(|l| l.strip_prefix("Reason: "))
            .unwrap_or("")
            .to_string();
        cpu_operators.push(CpuOperator {
            operator: operator.trim().to_string(),
            output: output.trim().trim_matches('\'').to_string(),
            reason,
        });
    }
    if cpu_operators.len() != cpu_count {
        return Err(missing(&format!(
            "reason for each of its {cpu_count} CPU operators (found {})",
            cpu_operators.len()
        )));
    }
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap_or("").split(',').collect();
    let values: Vec<&str> = rows.next().unwrap_or("").split(',').collect();
    let field = |name: &str| -> Result<&str> {
        header
            .iter()
            .position(|h| h.trim() == name)
            .and_then(|i| values.get(i))
            .map(|v| v.trim())
            .ok_or_else(|| missing(&format!("`{name}` in its CSV")))
    };
    let number = |name: &str| -> Result<f64> {
        field(name)?
            .parse()
            .map_err(|_| missing(&format!("number `{name}` in its CSV")))
    };
    Ok(Estimate {
        accelerator: field("accelerator_configuration")?.to_string(),
        system_config: field("system_config")?.to_string(),
        memory_mode: field("memory_mode")?.to_string(),
        clock_hz: number("core_clock")?,
        inference_seconds: number("inference_time")?,
        npu_cycles: number("cycles_npu")?,
        total_cycles: number("cycles_total")?,
        sram_kib: number("sram_memory_used")?,
        dram_bytes: number("dram_total_bytes")?,
        off_chip_flash_bytes: number("off_chip_flash_total_bytes")?,
        macs: number("nn_macs")?,
        npu_operators,
        cpu_operators,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
Warning (supported operators) operator: DEPTH_TO_SPACE, ofm: 'output'
Reason: Unsupported opType

Network summary for m
CPU operators = 1 (9.1%)
NPU operators = 10 (90.9%)
";
    const CSV: &str = "accelerator_configuration,system_config,memory_mode,core_clock,inference_time,cycles_npu,cycles_total,sram_memory_used,dram_total_bytes,off_chip_flash_total_bytes,nn_macs
Ethos_U55_256,Ethos_U55_High_End_Embedded,Shared_Sram,500000000.0,0.25,100.0,120.0,99.5,0,22000,1000";

    #[test]
    fn tiles_cover_the_frame_with_their_halos() {
        // 1080x1920 in 200x200 tiles with M5's halo of 9: 2 edge tiles of 191 pixels and inner
        // tiles of 182 per axis.
        assert_eq!(tiles_per_frame((1080, 1920), (200, 200), 9), Some(6 * 11));
        assert_eq!(tiles_per_frame((1080, 1920), (1080, 1920), 9), Some(1));
        assert_eq!(tiles_per_frame((100, 100), (60, 100), 9), Some(2));
        assert_eq!(tiles_per_frame((100, 100), (18, 18), 9), None);
    }

    #[test]
    fn summaries_are_read_and_missing_lines_are_errors() {
        let e = parse(Path::new("m.tflite"), TEXT, CSV).unwrap();
        assert_eq!(e.npu_operators, 10);
        assert_eq!(
            e.cpu_operators,
            [CpuOperator {
                operator: "DEPTH_TO_SPACE".into(),
                output: "output".into(),
                reason: "Unsupported opType".into()
            }]
        );
        assert_eq!(e.inference_ms(), 250.0);
        assert_eq!(e.bound(), "memory");
        // No placement line: an error, never "zero CPU operators".
        let err = parse(Path::new("m.tflite"), "Network summary for m\n", CSV).unwrap_err();
        assert!(err.to_string().contains("CPU operators = N"), "{err}");
        let err = parse(Path::new("m.tflite"), TEXT, "a,b\n1,2").unwrap_err();
        assert!(
            err.to_string().contains("accelerator_configuration"),
            "{err}"
        );
        assert!(Vela::at("/nonexistent/vela".into()).is_err());
    }
}
