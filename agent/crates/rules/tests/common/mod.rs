//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The upstream Falco files: `$SAKER_FALCO_UPSTREAM`, or `../shared/falco-upstream`
/// next to the workspace root. They are read in place, never copied.
pub fn upstream_dir() -> PathBuf {
    if let Ok(p) = std::env::var("SAKER_FALCO_UPSTREAM") {
        return PathBuf::from(p);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..");
    root.join("../shared/falco-upstream")
}

pub const STABLE: &str = "falco_rules.yaml";
pub const INCUBATING: &str = "falco-incubating_rules.yaml";
pub const SANDBOX: &str = "falco-sandbox_rules.yaml";

pub fn upstream(files: &[&str]) -> Vec<PathBuf> {
    let d = upstream_dir();
    files.iter().map(|f| d.join(f)).collect()
}
