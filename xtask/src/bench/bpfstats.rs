//! The kernel's own per-program run time (BPF_ENABLE_STATS): run_time_ns and
//! run_cnt of another process's programs, read from /proc/PID/fdinfo, named
//! through BPF_OBJ_GET_INFO_BY_FD. This is the cost of our programs alone,
//! without the slow-path entry or the loop around them.

use std::collections::BTreeMap;
use std::os::fd::{FromRawFd, OwnedFd};

use anyhow::{bail, Context, Result};

const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_ENABLE_STATS: libc::c_long = 32;
const BPF_STATS_RUN_TIME: u32 = 0;
/// `name` sits at bytes 64..80 of `struct bpf_prog_info`.
const INFO_NAME: std::ops::Range<usize> = 64..80;

/// A zeroed `union bpf_attr`, larger than any command below uses (the kernel
/// wants the unused tail zero).
#[repr(C, align(8))]
struct Attr([u32; 32]);

fn bpf(cmd: libc::c_long, attr: &mut Attr) -> std::io::Result<libc::c_long> {
    // SAFETY: attr is a valid, zero-tailed bpf_attr of the size we pass.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut Attr,
            std::mem::size_of::<Attr>(),
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn owned(fd: libc::c_long) -> Result<OwnedFd> {
    let fd = i32::try_from(fd).context("bpf returned an fd out of range")?;
    // SAFETY: the kernel just gave us this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Run-time statistics are on for every program while this lives.
pub struct Enabled(#[allow(dead_code)] OwnedFd);

pub fn enable() -> Result<Enabled> {
    let mut attr = Attr([0; 32]);
    attr.0[0] = BPF_STATS_RUN_TIME;
    let fd = bpf(BPF_ENABLE_STATS, &mut attr).context("bpf(BPF_ENABLE_STATS)")?;
    Ok(Enabled(owned(fd)?))
}

fn prog_name(id: u32) -> Result<String> {
    let mut attr = Attr([0; 32]);
    attr.0[0] = id;
    let fd = owned(
        bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)
            .with_context(|| format!("bpf(BPF_PROG_GET_FD_BY_ID, {id})"))?,
    )?;
    let mut info = [0u8; 80];
    let mut attr = Attr([0; 32]);
    attr.0[0] = std::os::fd::AsRawFd::as_raw_fd(&fd) as u32;
    attr.0[1] = info.len() as u32;
    let ptr = info.as_mut_ptr() as u64;
    attr.0[2] = ptr as u32;
    attr.0[3] = (ptr >> 32) as u32;
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)
        .with_context(|| format!("bpf(BPF_OBJ_GET_INFO_BY_FD) for prog {id}"))?;
    let name = &info[INFO_NAME];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Ok(String::from_utf8_lossy(&name[..end]).into_owned())
}

/// Cumulative (run_time_ns, run_cnt) of each program `pid` holds, by name.
pub fn programs(pid: u32) -> Result<BTreeMap<String, (u64, u64)>> {
    let dir = format!("/proc/{pid}/fdinfo");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {dir}"))? {
        let Ok(entry) = entry else { continue };
        // An fd may close between listing and reading: skip it.
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let field = |k: &str| -> Option<u64> {
            text.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix(':'))
                .and_then(|v| v.trim().parse().ok())
        };
        let (Some(id), Some(ns), Some(cnt)) =
            (field("prog_id"), field("run_time_ns"), field("run_cnt"))
        else {
            continue;
        };
        let id = u32::try_from(id).context("prog_id out of range")?;
        out.insert(prog_name(id)?, (ns, cnt));
    }
    if out.is_empty() {
        bail!("no BPF programs among the fds of pid {pid}");
    }
    Ok(out)
}

/// ns per run of each program between two readings (programs that ran).
pub fn per_run(
    before: &BTreeMap<String, (u64, u64)>,
    after: &BTreeMap<String, (u64, u64)>,
) -> BTreeMap<String, (f64, u64)> {
    after
        .iter()
        .filter_map(|(name, &(ns, cnt))| {
            let (ns0, cnt0) = before.get(name).copied().unwrap_or((0, 0));
            let runs = cnt.checked_sub(cnt0).filter(|&r| r > 0)?;
            Some((
                name.clone(),
                (ns.saturating_sub(ns0) as f64 / runs as f64, runs),
            ))
        })
        .collect()
}
