//! How much memory this process may still take, so that an image too large for it is refused
//! with its size and the memory it needs instead of aborting on a failed allocation.
//!
//! The limit is the smaller of the memory the system has available (`MemAvailable` in
//! `/proc/meminfo`) and what the address-space limit (`ulimit -v`, `RLIMIT_AS`) leaves beside
//! what the process has mapped already (`VmSize`), less a margin for thread stacks and
//! allocator arenas. Where these files do not exist (not Linux), nothing is refused ahead and
//! only the allocations themselves can fail, still with a message.

use std::path::Path;

use crate::error::{DataError, Result};

/// Address space kept free for thread stacks, allocator arenas and small buffers.
pub const MARGIN: u64 = 256 << 20;

/// What this process may still allocate, and what limits it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Available {
    /// Bytes.
    pub bytes: u64,
    /// What sets the figure: `"the address-space limit (ulimit -v)"` or `"free memory"`.
    pub limited_by: &'static str,
}

fn field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// The soft address-space limit in bytes, `None` when unlimited or unknown.
fn address_space_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    line["Max address space".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// What this process may still allocate; `None` where the system does not say.
pub fn available() -> Option<Available> {
    let free = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| field(&m, "MemAvailable:"))
        .map(|kb| Available {
            bytes: (kb * 1024).saturating_sub(MARGIN),
            limited_by: "free memory",
        });
    let address = address_space_limit().and_then(|limit| {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let mapped = field(&status, "VmSize:")? * 1024;
        Some(Available {
            bytes: limit.saturating_sub(mapped).saturating_sub(MARGIN),
            limited_by: "the address-space limit (ulimit -v)",
        })
    });
    match (free, address) {
        (Some(f), Some(a)) => Some(if a.bytes < f.bytes { a } else { f }),
        (f, a) => f.or(a),
    }
}

/// The error for an image of `dims` (as shown) whose processing needs `needed` bytes.
pub fn too_large(
    path: &Path,
    (width, height): (u32, u32),
    needed: u64,
    available: Option<Available>,
) -> DataError {
    DataError::TooLarge {
        path: path.to_path_buf(),
        width,
        height,
        needed: megabytes(needed),
        available: available.map_or_else(
            || "could not be allocated".into(),
            |a| {
                format!(
                    "only {} is available ({})",
                    megabytes(a.bytes),
                    a.limited_by
                )
            },
        ),
    }
}

/// Refuses `needed` bytes for `path` when they exceed what is [`available`].
pub fn check(path: &Path, dims: (u32, u32), needed: u64) -> Result<()> {
    match available() {
        Some(a) if needed > a.bytes => Err(too_large(path, dims, needed, Some(a))),
        _ => Ok(()),
    }
}

/// `bytes` in words: `"576 MB"`, `"2.3 GB"`.
pub fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / 1e6;
    if mb >= 1000.0 {
        format!("{:.1} GB", mb / 1000.0)
    } else {
        format!("{mb:.0} MB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(megabytes(576_000_000), "576 MB");
        assert_eq!(megabytes(2_304_000_000), "2.3 GB");
    }

    #[test]
    fn proc_fields_parse() {
        assert_eq!(
            field(
                "MemTotal: 10 kB\nMemAvailable:   2048 kB\n",
                "MemAvailable:"
            ),
            Some(2048)
        );
        assert_eq!(field("VmSize:\tabc kB", "VmSize:"), None);
    }
}
