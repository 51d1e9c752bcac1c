//! Installing what the build and the tests need on a fresh machine. Every step
//! checks first and does nothing when the thing is already there.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::sh;

/// The nightly that builds the eBPF object. bpf-linker 0.10.3 loads rustc's own
/// LLVM and needs LLVM 22; newer nightlies ship LLVM 23.
pub const EBPF_NIGHTLY_DATE: &str = "2026-05-19";
pub const BPF_LINKER_VERSION: &str = "0.10.3";

/// Packages the end-to-end tests and benchmarks use.
pub const TEST_PACKAGES: &[&str] = &[
    "podman",
    "runc",
    "busybox-static",
    "containerd",
    "redis-server",
    "redis-tools",
    // The event-generator acceptance suite compiles its workload statically
    // and adds users and addresses.
    "gcc",
    "libc6-dev",
    "iproute2",
    "passwd",
];

/// Picks (installing if needed) a nightly toolchain with LLVM 22 and rust-src,
/// and returns its name for `rustup run`.
pub fn ebpf_toolchain() -> Result<String> {
    let candidates = [
        "nightly".to_string(),
        format!("nightly-{EBPF_NIGHTLY_DATE}"),
    ];
    for tc in &candidates {
        let out = Command::new("rustc")
            .arg(format!("+{tc}"))
            .arg("-vV")
            .output();
        if let Ok(out) = out {
            let text = String::from_utf8_lossy(&out.stdout);
            if out.status.success() && text.contains("LLVM version: 22.") {
                ensure_rust_src(tc)?;
                return Ok(tc.clone());
            }
        }
    }
    let tc = &candidates[1];
    eprintln!("xtask: installing toolchain {tc} (LLVM 22, for bpf-linker {BPF_LINKER_VERSION})");
    sh(Command::new("rustup").args([
        "toolchain",
        "install",
        tc,
        "--profile",
        "minimal",
        "--component",
        "rust-src",
    ]))?;
    Ok(tc.clone())
}

fn ensure_rust_src(tc: &str) -> Result<()> {
    let out = Command::new("rustup")
        .args(["component", "list", "--installed", "--toolchain", tc])
        .output()
        .context("running rustup")?;
    if !String::from_utf8_lossy(&out.stdout).contains("rust-src") {
        eprintln!("xtask: adding rust-src to {tc}");
        sh(Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", tc]))?;
    }
    Ok(())
}

pub fn bpf_linker() -> Result<()> {
    let out = Command::new("bpf-linker").arg("--version").output();
    if let Ok(out) = out {
        if String::from_utf8_lossy(&out.stdout).contains(BPF_LINKER_VERSION) {
            return Ok(());
        }
    }
    eprintln!("xtask: installing bpf-linker {BPF_LINKER_VERSION} (about a minute)");
    sh(Command::new("cargo").args([
        "install",
        &format!("bpf-linker@{BPF_LINKER_VERSION}"),
        "--locked",
    ]))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// cargo-fuzz, for the short fuzzing runs in `test`.
pub fn cargo_fuzz() -> Result<()> {
    let ok = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-fuzz");
    sh(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))
}

/// Debian packages, installed with apt when missing (root only).
pub fn apt(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
                .unwrap_or(false)
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        eprintln!(
            "xtask: not root, cannot install {missing:?}; the tests that need them will skip"
        );
        return Ok(());
    }
    eprintln!("xtask: apt-get install {}", missing.join(" "));
    sh(Command::new("apt-get").arg("update").arg("-q"))?;
    sh(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Podman here needs runc and no default ulimits (no CAP_SYS_RESOURCE).
pub fn podman_config() -> Result<()> {
    if !is_root() {
        return Ok(());
    }
    let path = Path::new("/etc/containers/containers.conf");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if text.contains("default_ulimits") {
        return Ok(());
    }
    std::fs::create_dir_all("/etc/containers")?;
    let mut new = text;
    if new.contains("[containers]") {
        new = new.replacen("[containers]", "[containers]\ndefault_ulimits = []", 1);
    } else {
        new.push_str("\n[containers]\ndefault_ulimits = []\n");
    }
    if !new.contains("runtime =") {
        if new.contains("[engine]") {
            new = new.replacen("[engine]", "[engine]\nruntime = \"runc\"", 1);
        } else {
            new.push_str("\n[engine]\nruntime = \"runc\"\n");
        }
    }
    std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("xtask: wrote {}", path.display());
    Ok(())
}

pub fn tracefs() -> Result<()> {
    if Path::new("/sys/kernel/tracing/events").is_dir() || !is_root() {
        return Ok(());
    }
    let ok = Command::new("mount")
        .args(["-t", "tracefs", "tracefs", "/sys/kernel/tracing"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        bail!("could not mount tracefs at /sys/kernel/tracing");
    }
    Ok(())
}

/// Everything `build` needs; returns the eBPF toolchain name.
pub fn for_build() -> Result<String> {
    let tc = ebpf_toolchain()?;
    bpf_linker()?;
    Ok(tc)
}

/// Everything `test` and `bench` need on top of the build.
pub fn for_tests() -> Result<()> {
    apt(TEST_PACKAGES)?;
    podman_config()?;
    tracefs()
}
