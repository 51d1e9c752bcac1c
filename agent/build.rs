//! Builds the kernel programs (agent-ebpf/saker-ebpf) for bpfel-unknown-none
//! with the nightly toolchain and puts the object in OUT_DIR, where
//! src/capture/probe.rs embeds it. `cargo xtask` installs the prerequisites
//! (nightly rust-src, bpf-linker); this script says so when they are missing.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let ebpf_dir = manifest_dir.join("../agent-ebpf/saker-ebpf");
    let abi_dir = manifest_dir.join("../agent-ebpf/saker-abi");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    for dir in [&ebpf_dir, &abi_dir] {
        println!("cargo:rerun-if-changed={}", dir.join("src").display());
        println!(
            "cargo:rerun-if-changed={}",
            dir.join("Cargo.toml").display()
        );
    }
    println!("cargo:rerun-if-env-changed=SAKER_EBPF_OBJECT");
    println!("cargo:rerun-if-env-changed=SAKER_EBPF_TOOLCHAIN");
    let toolchain = std::env::var("SAKER_EBPF_TOOLCHAIN").unwrap_or_else(|_| "nightly".into());

    let dest = out_dir.join("saker-ebpf");
    // A prebuilt object (e.g. from CI's cache or a cross build) can be supplied.
    if let Ok(prebuilt) = std::env::var("SAKER_EBPF_OBJECT") {
        std::fs::copy(&prebuilt, &dest).unwrap_or_else(|e| panic!("copy {prebuilt}: {e}"));
        return;
    }

    let target_dir = out_dir.join("ebpf-target");
    let mut cmd = Command::new("rustup");
    cmd.args([
        "run",
        &toolchain,
        "cargo",
        "build",
        "--release",
        "-Z",
        "build-std=core",
    ])
    .args(["--target", "bpfel-unknown-none"])
    .arg("--target-dir")
    .arg(&target_dir)
    .current_dir(&ebpf_dir);
    // The outer build's settings are for the host; they must not leak into
    // the BPF build.
    for var in [
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTUP_TOOLCHAIN",
        "CARGO",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().unwrap_or_else(|e| {
        panic!("cannot run `rustup run nightly cargo` to build the eBPF programs: {e}. Run `cargo xtask build`, which installs the toolchain.")
    });
    if !status.success() {
        panic!("building agent-ebpf/saker-ebpf failed (needs nightly with rust-src and bpf-linker 0.10.3: `cargo xtask build` installs them)");
    }
    let built = target_dir.join("bpfel-unknown-none/release/saker-ebpf");
    std::fs::copy(&built, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", built.display()));
}
