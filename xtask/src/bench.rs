//! `cargo xtask bench NAME`: benchmarks that report figures, not pass/fail.

mod agent;
mod bpfstats;
mod capture;
mod floor;
mod foreign;
mod redis;

use anyhow::{bail, Result};

const KNOWN: &str = "capture, rules, state, store, all";

/// A crate's own benchmark binary (each prints its figures and the ratio to
/// its in-run baseline).
fn crate_bench(package: &str, bench: &str, toolchain: &str) -> Result<()> {
    crate::sh(
        crate::cargo()
            .args(["bench", "-p", package, "--bench", bench])
            .env("SAKER_EBPF_TOOLCHAIN", toolchain),
    )
}

pub fn run(which: &str, toolchain: &str) -> Result<()> {
    match which {
        "capture" => capture::run(),
        "rules" => crate_bench("saker-rules", "rules", toolchain),
        "state" => crate_bench("saker-state", "state", toolchain),
        "store" => crate_bench("saker-store", "store", toolchain),
        "all" => {
            for b in ["rules", "state", "store"] {
                run(b, toolchain)?;
            }
            capture::run()
        }
        other => bail!("unknown benchmark `{other}`; known: {KNOWN}"),
    }
}
