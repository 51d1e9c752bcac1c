//! Shared pieces of the black-box tests: the privilege gate, and running the
//! real `saker` binary while a workload runs.
#![allow(dead_code)]

pub mod agent;
pub mod capture;
pub mod container;

use std::path::Path;

/// Whether this machine can load eBPF. When it cannot, the test skips with a
/// message, unless CI=true, where a skip would hide a broken CI: then it fails.
pub fn privileged(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let btf = Path::new("/sys/kernel/btf/vmlinux").exists();
    if root && btf {
        return true;
    }
    let why = if !root {
        "not running as root"
    } else {
        "no kernel BTF"
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: needs root and BPF but {why}, and CI=true forbids skipping");
    }
    eprintln!("SKIPPED {test}: needs root and BPF ({why})");
    false
}

/// The upstream Falco data used as test input.
pub fn falco_upstream() -> std::path::PathBuf {
    match std::env::var_os("SAKER_FALCO_UPSTREAM") {
        Some(p) => p.into(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/falco-upstream"),
    }
}

/// A fresh scratch directory under /tmp, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "saker-e2e-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
