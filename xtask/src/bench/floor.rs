//! The mechanism's floor, measured in the same run: perf counting events on
//! one syscall's `syscalls/sys_enter_X` and `sys_exit_X` tracepoints on every
//! CPU, with no BPF program. Attaching a BPF program to those tracepoints goes
//! through exactly these perf events; enabling them puts every task on the
//! slow syscall path and runs the per-syscall dispatch for every syscall,
//! which is the least any per-syscall tracepoint design costs a syscall it
//! does not want.

use std::os::fd::{FromRawFd, OwnedFd};

use anyhow::{bail, Context, Result};

/// A syscall none of the workloads make, so only the dispatch cost shows
/// (finit_module would do, but kernels without modules lack its events).
pub const EVENTS: &[&str] = &["syscalls/sys_enter_ptrace", "syscalls/sys_exit_ptrace"];

const PERF_TYPE_TRACEPOINT: u32 = 2;

/// `struct perf_event_attr` up to PERF_ATTR_SIZE_VER0 (64 bytes): type, size,
/// config; everything else zero (counting, enabled, all of the CPU's tasks).
#[repr(C)]
struct PerfAttr {
    kind: u32,
    size: u32,
    config: u64,
    rest: [u64; 6],
}

/// Open while it lives; closing the fds detaches.
pub struct Floor {
    _fds: Vec<OwnedFd>,
}

fn tracepoint_id(event: &str) -> Result<u64> {
    let path = format!("/sys/kernel/tracing/events/{event}/id");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    text.trim()
        .parse()
        .with_context(|| format!("{path} holds {text:?}, not a number"))
}

fn online_cpus() -> Result<usize> {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n)
        .ok()
        .filter(|&n| n > 0)
        .context("sysconf(_SC_NPROCESSORS_ONLN) failed")
}

impl Floor {
    pub fn enable() -> Result<Floor> {
        let mut fds = Vec::new();
        for event in EVENTS {
            let attr = PerfAttr {
                kind: PERF_TYPE_TRACEPOINT,
                size: std::mem::size_of::<PerfAttr>() as u32,
                config: tracepoint_id(event)?,
                rest: [0; 6],
            };
            for cpu in 0..online_cpus()? {
                // SAFETY: attr is a valid perf_event_attr of the size it states.
                let fd = unsafe {
                    libc::syscall(
                        libc::SYS_perf_event_open,
                        &attr as *const PerfAttr,
                        -1 as libc::pid_t,
                        cpu as libc::c_int,
                        -1 as libc::c_int,
                        0 as libc::c_ulong,
                    )
                };
                if fd < 0 {
                    bail!(
                        "perf_event_open({event}, cpu {cpu}): {}",
                        std::io::Error::last_os_error()
                    );
                }
                let fd =
                    i32::try_from(fd).context("perf_event_open returned an fd out of range")?;
                // SAFETY: the kernel just gave us this fd and nothing else owns it.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
        Ok(Floor { _fds: fds })
    }
}
