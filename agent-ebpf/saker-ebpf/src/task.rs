//! Who is running: ids from helpers, the scope filter, and task_struct facts
//! read through offsets userspace found in BTF.

use aya_ebpf::helpers::{
    bpf_get_current_pid_tgid, bpf_get_current_uid_gid,
    generated::{
        bpf_get_current_task, bpf_get_current_task_btf, bpf_get_ns_current_pid_tgid,
        bpf_probe_read_kernel, bpf_task_pt_regs,
    },
};
use aya_ebpf::bindings::bpf_pidns_info;
use saker_abi::{scope, Config, EventHeader, KernelOffsets, REGS_SPAN};

pub struct Ids {
    pub tid: u32,
    pub tgid: u32,
    pub uid: u32,
    pub gid: u32,
    /// The current task as a BTF pointer (`bpf_get_current_task_btf`), or
    /// 0: only the register-reading exit program (5.15+) sets it, and only
    /// then are fields read through it with direct loads.
    pub task: u64,
}

impl Ids {
    #[inline(always)]
    pub fn current() -> Self {
        let pid_tgid = bpf_get_current_pid_tgid();
        let uid_gid = bpf_get_current_uid_gid();
        Ids {
            tid: pid_tgid as u32,
            tgid: (pid_tgid >> 32) as u32,
            uid: uid_gid as u32,
            gid: (uid_gid >> 32) as u32,
            task: 0,
        }
    }

    /// For the exit program that reads the saved registers (it needs
    /// `bpf_task_pt_regs`, 5.15, so `bpf_get_current_task_btf`, 5.11, is
    /// there too): `task` is set (`fill_header` reads comm and the cgroup
    /// id through it),
    /// and the real uid/gid come from `task->cred` with direct loads rather
    /// than `bpf_get_current_uid_gid`, which returns the same two fields
    /// mapped into the initial user namespace, where the mapping is the
    /// identity.
    #[inline(always)]
    pub fn from_task(pid_tgid: u64, cfg: &Config) -> Self {
        let o = &cfg.offsets;
        // SAFETY: helper without arguments; never NULL for the current task.
        let task = unsafe { bpf_get_current_task_btf() } as *const u8;
        let (uid, gid) = if o.task_cred != KernelOffsets::UNKNOWN
            && o.cred_uid != KernelOffsets::UNKNOWN
            && o.cred_gid != KernelOffsets::UNKNOWN
        {
            // SAFETY: BTF-checked loads (see `load`).
            unsafe {
                let cred: *const u8 = load(task, o.task_cred);
                (load::<u32>(cred, o.cred_uid), load::<u32>(cred, o.cred_gid))
            }
        } else {
            let uid_gid = bpf_get_current_uid_gid();
            (uid_gid as u32, (uid_gid >> 32) as u32)
        };
        Ids {
            tid: pid_tgid as u32,
            tgid: (pid_tgid >> 32) as u32,
            uid,
            gid,
            task: task as u64,
        }
    }
}

/// A direct load at `base + off` through a BTF pointer. Only for pointers
/// the verifier types from BTF (it rejects anything else), with `off` from
/// CONFIG so the verifier knows it as a constant.
#[inline(always)]
pub unsafe fn load<T: Copy>(base: *const u8, off: u32) -> T {
    // SAFETY: the caller's contract; the verifier checks the access against
    // BTF and the JIT turns a faulting load into 0.
    unsafe { core::ptr::read(base.wrapping_add(off as usize) as *const T) }
}

/// Namespace-relative ids, when the scope check produced them.
#[derive(Clone, Copy)]
pub struct NsIds {
    pub vtid: u32,
    pub vpid: u32,
}

/// Whether the current task is to be traced. In target mode the helper also
/// hands back the namespace-relative ids for free.
#[inline(always)]
pub fn in_scope(cfg: &Config, ids: &Ids) -> Option<NsIds> {
    if ids.tgid == cfg.self_tgid {
        return None;
    }
    let none = NsIds { vtid: 0, vpid: 0 };
    match cfg.scope {
        scope::HOST => Some(none),
        scope::TARGET_PIDNS => {
            let info = ns_ids(cfg)?;
            Some(NsIds {
                vtid: info.pid,
                vpid: info.tgid,
            })
        }
        scope::CONTAINERS => match ns_ids(cfg) {
            // In the host's PID namespace: not a container.
            Some(_) => None,
            None => Some(none),
        },
        _ => None,
    }
}

#[inline(always)]
fn ns_ids(cfg: &Config) -> Option<bpf_pidns_info> {
    let mut info = bpf_pidns_info { pid: 0, tgid: 0 };
    // SAFETY: helper writes into our stack struct of the size we pass.
    let ret = unsafe {
        bpf_get_ns_current_pid_tgid(
            cfg.pidns_dev,
            cfg.pidns_ino,
            &mut info as *mut _,
            core::mem::size_of::<bpf_pidns_info>() as u32,
        )
    };
    // Non-zero: the task is not in that namespace (or dev/ino are wrong).
    if ret == 0 {
        Some(info)
    } else {
        None
    }
}

/// The first `nargs` syscall arguments from the task's saved user registers
/// (`struct pt_regs`), at the slots of the `REGS_SPAN` window at
/// `cfg.regs_base`. Direct loads through the BTF pointer
/// `bpf_task_pt_regs` returns, at offsets the verifier knows as constants
/// (CONFIG is read-only) and checks against `struct pt_regs` in BTF: about
/// 12 ns less than one `bpf_probe_read_kernel` of the window. `task` is
/// `Ids::task`. False when there are no saved registers.
#[inline(always)]
pub fn user_args(cfg: &Config, task: u64, nargs: u8, args: &mut [u64; 6]) -> bool {
    // SAFETY: `task` is the current task's BTF pointer (Ids::from_task).
    let regs = unsafe { bpf_task_pt_regs(task as *mut _) } as *const u8;
    if regs.is_null() {
        return false;
    }
    let mut i = 0;
    while i < 6 {
        if i < nargs as usize {
            let slot = (cfg.regs_slots[i] as u32 & (REGS_SPAN as u32 / 8 - 1)) * 8;
            // SAFETY: a u64 of pt_regs at a BTF offset (set_arg_regs keeps
            // the window inside the struct).
            args[i] = unsafe { load(regs, cfg.regs_base + slot) };
        }
        i += 1;
    }
    true
}

#[inline(always)]
pub fn read<T: Default>(base: u64, off: u32) -> T {
    let mut v = T::default();
    if base == 0 || off == KernelOffsets::UNKNOWN {
        return v;
    }
    // SAFETY: probe_read_kernel copes with any address; a failure leaves the default.
    unsafe {
        let _ = bpf_probe_read_kernel(
            &mut v as *mut T as *mut _,
            core::mem::size_of::<T>() as u32,
            (base + off as u64) as *const _,
        );
    }
    v
}

/// pid number and namespace inode at the task's own level of `struct pid`.
#[inline(always)]
fn ns_pid(task: u64, o: &KernelOffsets) -> (u32, u32) {
    let pid: u64 = read(task, o.task_thread_pid);
    if pid == 0 || o.pid_numbers == KernelOffsets::UNKNOWN || o.upid_size == KernelOffsets::UNKNOWN
    {
        return (0, 0);
    }
    let level: u32 = read(pid, o.pid_level);
    // Nesting is capped at 32 levels by the kernel; the mask keeps the
    // verifier's view of the offset bounded.
    let upid = pid + o.pid_numbers as u64 + (level & 31) as u64 * o.upid_size as u64;
    let nr: u32 = read(upid, o.upid_nr);
    let ns: u64 = read(upid, o.upid_ns);
    let inum: u32 = read(ns, o.pidns_inum);
    (nr, inum)
}

/// Fills parent, namespace, login, tty and credential facts. Only process
/// events pay for this: userspace keeps the rest in its process table.
#[inline(always)]
pub fn fill_task_info(cfg: &Config, hdr: &mut EventHeader, ns: NsIds) {
    let o = &cfg.offsets;
    // SAFETY: helper with no arguments.
    let task = unsafe { bpf_get_current_task() };
    if task == 0 {
        return;
    }
    let parent: u64 = read(task, o.task_real_parent);
    hdr.ppid = read::<u32>(parent, o.task_tgid);

    let (vtid, pidns) = ns_pid(task, o);
    let leader: u64 = read(task, o.task_group_leader);
    let (vpid, _) = ns_pid(leader, o);
    hdr.vtid = if ns.vtid != 0 { ns.vtid } else { vtid };
    hdr.vpid = if ns.vpid != 0 { ns.vpid } else { vpid };
    hdr.pidns = pidns;

    hdr.loginuid = if o.task_loginuid == KernelOffsets::UNKNOWN {
        u32::MAX
    } else {
        read(task, o.task_loginuid)
    };

    let signal: u64 = read(task, o.task_signal);
    let tty: u64 = read(signal, o.signal_tty);
    if tty != 0 {
        let index: u32 = read(tty, o.tty_index);
        let driver: u64 = read(tty, o.tty_driver);
        let major: u32 = read(driver, o.driver_major);
        let minor_start: u32 = read(driver, o.driver_minor_start);
        let minor = minor_start.wrapping_add(index);
        // new_encode_dev(), as /proc/PID/stat's tty_nr.
        hdr.tty = (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12);
    }

    let cred: u64 = read(task, o.task_cred);
    hdr.cap_effective = read(cred, o.cred_cap_effective);
    hdr.cap_permitted = read(cred, o.cred_cap_permitted);
    hdr.cap_inheritable = read(cred, o.cred_cap_inheritable);
    hdr.euid = if o.cred_euid == KernelOffsets::UNKNOWN {
        hdr.uid
    } else {
        read(cred, o.cred_euid)
    };
    hdr.egid = if o.cred_egid == KernelOffsets::UNKNOWN {
        hdr.gid
    } else {
        read(cred, o.cred_egid)
    };
    hdr.flags |= saker_abi::hdr_flags::TASK_INFO;
}
