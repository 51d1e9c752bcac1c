//! Capture: the kernel programs, their maps, and the ring-buffer reader that
//! turns kernel records into `saker_abi::Record`s for the rest of the agent.

pub mod btf;
pub mod probe;
pub mod reader;
pub mod syscall_set;
pub mod tracefs;

pub use probe::{Counters, Probe, ProbeOptions, Scope};
pub use syscall_set::SyscallSet;

use thiserror::Error;

/// Why capture could not start. Each variant is one line a person can act on.
#[derive(Debug, Error)]
pub enum CaptureError {
    #[error("missing privileges to load eBPF programs: run as root, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN (CAP_SYS_RESOURCE too on kernels before 5.11) ({0})")]
    Privileges(String),
    #[error("this kernel exposes no BTF (/sys/kernel/btf/vmlinux); saker needs a kernel built with CONFIG_DEBUG_INFO_BTF=y ({0})")]
    NoBtf(String),
    #[error(transparent)]
    Tracefs(#[from] tracefs::TracefsError),
    #[error("target: {0}")]
    Target(String),
    #[error("loading the eBPF programs failed: {0}")]
    Load(String),
    #[error("eBPF map: {0}")]
    Map(#[from] aya::maps::MapError),
    #[error("reading the ring buffer: {0}")]
    Io(#[from] std::io::Error),
}

impl CaptureError {
    fn from_program(prog: &str, e: aya::programs::ProgramError) -> Self {
        let text = format!("{prog}: {e:#}");
        let lower = format!("{e:?}").to_lowercase();
        if lower.contains("operation not permitted") || lower.contains("permission denied") {
            CaptureError::Privileges(text)
        } else {
            CaptureError::Load(text)
        }
    }
}
