//! `cargo xtask bench NAME`: benchmarks that report figures, not pass/fail.

mod agent;
mod bpfstats;
mod capture;
mod floor;
mod foreign;
mod redis;

use anyhow::{bail, Result};

const KNOWN: &str = "capture, all";

pub fn run(which: &str, _toolchain: &str) -> Result<()> {
    match which {
        "capture" => capture::run(),
        // Only capture exists so far; the others join this arm as they land.
        "all" => capture::run(),
        other => bail!("unknown benchmark `{other}`; known: {KNOWN}"),
    }
}
