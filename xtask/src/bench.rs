//! `cargo xtask bench NAME`: benchmarks that report figures, not pass/fail.

mod agent;
mod bpfstats;
mod capture;
mod e2e;
mod floor;
mod foreign;
mod redis;
mod scrape;

use anyhow::{bail, Result};

const KNOWN: &str = "capture, e2e, rules, state, store, all";

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
        "e2e" => e2e::run(),
        "rules" => crate_bench("saker-rules", "rules", toolchain),
        "state" => crate_bench("saker-state", "state", toolchain),
        "store" => crate_bench("saker-store", "store", toolchain),
        "all" => {
            for b in ["rules", "state", "store"] {
                run(b, toolchain)?;
            }
            capture::run()?;
            e2e::run()
        }
        other => bail!("unknown benchmark `{other}`; known: {KNOWN}"),
    }
}
