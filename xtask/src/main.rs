//! Project tasks: `cargo xtask build | run | test | bench`.
//!
//! Each task installs what it needs first (toolchain pieces, bpf-linker, apt
//! packages, tracefs, podman settings), idempotently, so a fresh machine of
//! our kind goes from clone to green with one command.

mod bench;
mod prereq;

use std::process::Command;

use anyhow::{bail, Context, Result};

fn usage() -> &'static str {
    "usage: cargo xtask <build | run [-- SAKER_ARGS...] | test | bench [capture|e2e|rules|state|store|all]>"
}

/// Runs a command, failing with its command line when it fails.
pub fn sh(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Where cargo puts build output: CARGO_TARGET_DIR when set (relative to the
/// workspace, where `cargo xtask` runs), else `target`, as cargo itself does.
pub fn target_dir() -> std::path::PathBuf {
    let root = workspace_root();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => root.join(d),
        _ => root.join("target"),
    }
}

/// The release `saker` that `build` makes.
pub fn saker_bin() -> std::path::PathBuf {
    target_dir().join("release/saker")
}

pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(workspace_root());
    c
}

/// The upstream Falco rules and event-generator cases (test data, never
/// copied here): SAKER_FALCO_UPSTREAM, else ../shared/falco-upstream.
pub fn falco_upstream() -> std::path::PathBuf {
    std::env::var_os("SAKER_FALCO_UPSTREAM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/falco-upstream"))
}

/// `saker run` with the shipped config, the upstream stable rules (test data
/// here, from SAKER_FALCO_UPSTREAM or ../shared) and our own rules.
pub fn default_run_args() -> Vec<String> {
    let root = workspace_root();
    let upstream = falco_upstream();
    let mut args = vec![
        "run".to_string(),
        "-c".into(),
        root.join("deploy/saker.yaml").display().to_string(),
    ];
    let stable = upstream.join("falco_rules.yaml");
    if stable.exists() {
        args.extend(["-r".into(), stable.display().to_string()]);
    } else {
        eprintln!(
            "xtask: {} not found; running with saker's own rules only",
            stable.display()
        );
    }
    args.extend([
        "-r".into(),
        root.join("rules").display().to_string(),
        "-o".into(),
        format!("store.path={}", target_dir().join("saker-store").display()),
    ]);
    args
}

/// A short coverage-guided run of every fuzz target: the parser and the
/// loader must not panic, hang or recurse without bound on any input.
fn fuzz_briefly(toolchain: &str) -> Result<()> {
    prereq::cargo_fuzz()?;
    let secs = std::env::var("SAKER_FUZZ_SECONDS").unwrap_or_else(|_| "20".into());
    for (dir, target) in [
        ("agent/crates/rules/fuzz", "condition"),
        ("agent/crates/rules/fuzz", "loader"),
        ("agent/crates/filter/fuzz", "parse"),
    ] {
        sh(Command::new("rustup")
            .args(["run", toolchain, "cargo", "fuzz", "run", "--fuzz-dir", "."])
            .arg(target)
            .args([
                "--",
                &format!("-max_total_time={secs}"),
                "-rss_limit_mb=4096",
            ])
            .current_dir(workspace_root().join(dir)))?;
    }
    Ok(())
}

fn build(toolchain: &str) -> Result<()> {
    sh(cargo()
        .args(["build", "--release", "-p", "saker", "--bin", "saker"])
        .env("SAKER_EBPF_TOOLCHAIN", toolchain))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(task) = args.first() else {
        bail!(usage());
    };
    match task.as_str() {
        "build" => {
            let tc = prereq::for_build()?;
            build(&tc)
        }
        "run" => {
            let tc = prereq::for_build()?;
            prereq::tracefs()?;
            build(&tc)?;
            let rest: Vec<String> = args[1..]
                .iter()
                .skip_while(|a| *a == "--")
                .cloned()
                .collect();
            let saker_args = if rest.is_empty() {
                default_run_args()
            } else {
                rest
            };
            let bin = saker_bin();
            let status = Command::new(&bin)
                .args(&saker_args)
                .status()
                .with_context(|| format!("cannot start {}", bin.display()))?;
            std::process::exit(status.code().unwrap_or(1));
        }
        "test" => {
            // The tests read the upstream Falco files; say where once, up
            // front, rather than in a dozen failures later.
            let upstream = falco_upstream();
            let upstream = upstream.canonicalize().with_context(|| {
                format!(
                    "the upstream Falco test data is not at {}; set SAKER_FALCO_UPSTREAM \
                     to the falco-upstream directory",
                    upstream.display()
                )
            })?;
            // SAFETY: single-threaded here; every test command inherits it.
            unsafe { std::env::set_var("SAKER_FALCO_UPSTREAM", &upstream) };
            let tc = prereq::for_build()?;
            prereq::for_tests()?;
            // Formatting and lints are part of passing.
            sh(cargo().args(["fmt", "--all", "--", "--check"]))?;
            sh(cargo()
                .args([
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ])
                .env("SAKER_EBPF_TOOLCHAIN", &tc))?;
            // Libraries in parallel; then the black-box tests one at a time:
            // each starts an agent that captures host-wide, and several at
            // once on two cores measure the machine, not saker.
            sh(cargo()
                .args(["test", "--workspace", "--all-targets", "--exclude", "saker"])
                .env("SAKER_EBPF_TOOLCHAIN", &tc))?;
            sh(cargo()
                .args([
                    "test",
                    "-p",
                    "saker",
                    "--all-targets",
                    // Every black-box suite runs and reports, even after one fails.
                    "--no-fail-fast",
                    "--",
                    "--test-threads=1",
                ])
                .env("SAKER_EBPF_TOOLCHAIN", &tc))?;
            fuzz_briefly(&tc)
        }
        "bench" => {
            let tc = prereq::for_build()?;
            prereq::for_tests()?;
            build(&tc)?;
            bench::run(args.get(1).map(String::as_str).unwrap_or("all"), &tc)
        }
        other => bail!("unknown task `{other}`; {}", usage()),
    }
}
