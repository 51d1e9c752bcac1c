//! saker's kernel programs.
//!
//! Mechanism (chosen by measurement, see the README's capture benchmark): one
//! generic program is attached to the classic `syscalls/sys_enter_X` and
//! `syscalls/sys_exit_X` tracepoints of each syscall the rules and the state
//! tables need. A syscall nobody asked for runs no program at all; that is the
//! cheapest filter there is. Both programs still check the interest bitmap so a
//! rules reload can narrow the set in place, without detaching.
//!
//! Most syscalls need only the exit program: it reads the arguments from the
//! task's saved user registers (`bpf_task_pt_regs`, direct loads at offsets
//! userspace located through BTF, see `Config::regs_base`) and writes a
//! header-only record, or one whose only copy is a short string, straight
//! into the ring buffer. Only execve/execveat
//! (`plan_flags::AT_ENTER`: argv is gone by exit) keep the enter program and
//! the per-tid `STASH`; so does every syscall where that program cannot
//! load (`saker_sys_exit_stash`).
//!
//! Portability: nothing here hard-codes a kernel struct offset. Syscall
//! arguments come from the tracepoint record, whose layout userspace reads from
//! tracefs `format`, or from `struct pt_regs` at offsets from BTF; the few
//! task_struct fields we read (parent, PID namespace, loginuid, tty,
//! credentials, comm) use offsets userspace found in the running kernel's
//! BTF and put in `CONFIG`. A field BTF lacks is skipped.
#![no_std]
#![no_main]

mod emit;
mod task;

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_probe_read_user},
    macros::{map, raw_tracepoint, tracepoint},
    maps::{Array, HashMap, PerCpuArray, RingBuf},
    programs::{RawTracePointContext, TracePointContext},
};
use saker_abi::{
    counter, kind, plan_flags, ArgKind, Config, SyscallPlan, INTEREST_WORDS, MAX_SYSCALLS,
    SCRATCH_SIZE,
};

/// The ring buffer; userspace may resize it at load time.
#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(8 << 20, 0);

/// Set once by userspace at load (`EbpfLoader::override_global`) and never
/// changed: it lives in `.rodata`, a frozen read-only map, so the verifier
/// knows every field as a constant. That prunes the branches a setting rules
/// out (scope, record layout, fallbacks) and gives the BTF offsets the
/// constant value a direct load through a kernel pointer needs (see
/// `task::user_args`). Read only through [`config`].
#[unsafe(no_mangle)]
static CONFIG: Config = Config::DEFAULT;

#[map(name = "INTEREST")]
static INTEREST: Array<u64> = Array::with_max_entries(INTEREST_WORDS as u32, 0);

#[map(name = "PLANS")]
static PLANS: Array<SyscallPlan> = Array::with_max_entries(MAX_SYSCALLS as u32, 0);

#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

/// Syscall arguments saved at enter, keyed by tid, taken at exit. A plain hash
/// (not LRU): a full map is a counted drop, where LRU would evict silently.
#[map(name = "STASH")]
static STASH: HashMap<u32, Stash> = HashMap::with_max_entries(65536, 0);

/// Per CPU: the ring's consumer position (plus one, so that 0 means never)
/// when this CPU last forced a wakeup. A reader that has not read since was
/// woken already: waking it again on every record is what a stalled reader
/// would otherwise cost (about 10 µs per record on this VM).
#[map(name = "WOKEN_AT")]
static WOKEN_AT: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

#[map(name = "SCRATCH")]
static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

#[repr(C)]
#[derive(Clone, Copy)]
pub struct Stash {
    pub nr: u32,
    pub _pad: u32,
    pub args: [u64; 6],
}

#[repr(C)]
pub struct Scratch {
    pub buf: [u8; SCRATCH_SIZE],
}

#[inline(always)]
fn count(which: u32) {
    if let Some(c) = COUNTERS.get_ptr_mut(which) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU (programs are
        // not preempted by each other on one CPU for tracepoints).
        unsafe { *c += 1 };
    }
}

#[inline(always)]
fn config() -> Option<&'static Config> {
    // Hide the pointer's target from LLVM, or it folds the field loads into
    // `Config::DEFAULT`'s values; the verifier still sees the map value.
    let mut p: *const Config = &CONFIG;
    // SAFETY: a local on our own stack; CONFIG is 'static.
    Some(unsafe { &*core::ptr::read_volatile(&mut p as *mut *const Config) })
}

/// The syscall number in a tracepoint record, if we want it.
#[inline(always)]
fn interesting(ctx: &TracePointContext, cfg: &Config) -> Option<u32> {
    // SAFETY: reading our own tracepoint record at an offset tracefs gave us.
    let nr: i32 = unsafe { ctx.read_at(cfg.tp_nr_off as usize) }.ok()?;
    if nr < 0 || nr as usize >= MAX_SYSCALLS {
        return None;
    }
    let nr = nr as u32;
    wanted(nr).then_some(nr)
}

#[inline(always)]
fn plan(nr: u32) -> Option<&'static SyscallPlan> {
    PLANS.get(nr).filter(|p| p.flags & plan_flags::KNOWN != 0)
}

#[tracepoint]
pub fn saker_sys_enter(ctx: TracePointContext) -> u32 {
    let _ = try_sys_enter(&ctx);
    0
}

fn try_sys_enter(ctx: &TracePointContext) -> Option<()> {
    let cfg = config()?;
    let nr = interesting(ctx, cfg)?;
    let ids = task::Ids::current();
    let ns = task::in_scope(cfg, &ids)?;
    let plan = plan(nr)?;

    let mut stash = Stash {
        nr,
        _pad: 0,
        args: [0; 6],
    };
    let base = cfg.tp_enter_args_off as usize;
    let mut i = 0;
    while i < 6 {
        if i < plan.nargs as usize {
            // SAFETY: the record holds `nargs` longs from `base` (tracefs format).
            stash.args[i] = unsafe { ctx.read_at::<u64>(base + i * 8) }.unwrap_or(0);
        }
        i += 1;
    }
    if plan.flags & plan_flags::ADDRESSED_ONLY != 0 && !names_an_address(&stash.args, plan) {
        // No stash entry: the exit half finds none and reports nothing. A
        // stale one (an exit never seen) must not pair with this exit.
        let _ = STASH.remove(&ids.tid);
        count(counter::SKIPPED_NO_ADDRESS);
        return None;
    }

    if plan.flags & plan_flags::AT_ENTER != 0 {
        emit::record(
            cfg,
            kind::SYSCALL_ENTER,
            nr,
            &stash.args,
            0,
            plan,
            emit::Phase::Enter,
            &ids,
            ns,
        );
    }
    if STASH.insert(&ids.tid, &stash, 0).is_err() {
        count(counter::DROP_STASH_FULL);
    }
    Some(())
}

/// Whether a datagram call names a peer address: its sockaddr argument, or
/// its msghdr's `msg_name`, is not NULL. When the msghdr cannot be read the
/// answer is yes, so the call is reported rather than guessed away.
#[inline(always)]
fn names_an_address(args: &[u64; 6], plan: &SyscallPlan) -> bool {
    let mut i = 0;
    while i < 6 {
        let kind = ArgKind::from_u8(plan.args[i].kind);
        if matches!(kind, ArgKind::SockAddr | ArgKind::SockAddrOut | ArgKind::MsgHdr) {
            let ptr = args[i];
            if kind != ArgKind::MsgHdr || ptr == 0 {
                return ptr != 0;
            }
            // struct msghdr starts with `void *msg_name` (user ABI, not a
            // kernel struct).
            // SAFETY: reads one pointer from the caller's msghdr.
            return match unsafe { bpf_probe_read_user(ptr as *const u64) } {
                Ok(name) => name != 0,
                Err(_) => true,
            };
        }
        i += 1;
    }
    true
}

#[tracepoint]
pub fn saker_sys_exit(ctx: TracePointContext) -> u32 {
    let _ = try_sys_exit::<true>(&ctx);
    0
}

/// The exit program for kernels without `bpf_task_pt_regs` (before 5.15),
/// which refuse to load the one above: every syscall's arguments come from
/// the enter program's stash. Userspace loads this one only then.
#[tracepoint]
pub fn saker_sys_exit_stash(ctx: TracePointContext) -> u32 {
    let _ = try_sys_exit::<false>(&ctx);
    0
}

/// The syscall number in a tracepoint record, in range, interest unchecked.
#[inline(always)]
fn record_nr(ctx: &TracePointContext, cfg: &Config) -> Option<u32> {
    // SAFETY: reading our own tracepoint record at an offset tracefs gave us.
    let nr: i32 = tp_field(ctx, cfg.tp_nr_off, USUAL_NR_OFF)?;
    if nr < 0 || nr as usize >= MAX_SYSCALLS {
        return None;
    }
    Some(nr as u32)
}

/// Where tracefs has put `__syscall_nr` and the exit's `ret` on every kernel
/// since syscall tracepoints exist (after the 8 bytes of common fields).
const USUAL_NR_OFF: usize = 8;
const USUAL_RET_OFF: usize = 16;

/// A field of our tracepoint record at the offset tracefs gave. The verifier
/// allows a direct load from the record only at a constant offset, so the
/// usual layout gets one (a probe-read helper call costs about 15 ns); any
/// other layout is read through the helper.
#[inline(always)]
fn tp_field<T: Copy>(ctx: &TracePointContext, off: u32, usual: usize) -> Option<T> {
    if off as usize == usual {
        // SAFETY: tracefs says the field is at `usual` in our record.
        Some(unsafe { *(aya_ebpf::EbpfContext::as_ptr(ctx).add(usual) as *const T) })
    } else {
        // SAFETY: reading our own tracepoint record at an offset tracefs gave us.
        unsafe { ctx.read_at(off as usize) }.ok()
    }
}

#[inline(always)]
fn wanted(nr: u32) -> bool {
    INTEREST
        .get(nr >> 6)
        .is_some_and(|w| w & (1u64 << (nr & 63)) != 0)
}

/// `REGS`: whether this program may read arguments from the saved
/// registers (the helpers it needs are then in the program).
fn try_sys_exit<const REGS: bool>(ctx: &TracePointContext) -> Option<()> {
    let cfg = config()?;
    let exit_nr = record_nr(ctx, cfg)?;
    let pid_tgid = bpf_get_current_pid_tgid();
    if (pid_tgid >> 32) as u32 == cfg.self_tgid {
        return None;
    }
    let res: i64 = tp_field(ctx, cfg.tp_exit_ret_off, USUAL_RET_OFF)?;

    if REGS && cfg.args_at_exit() {
        let plan = plan(exit_nr)?;
        if plan.flags & plan_flags::AT_ENTER == 0 {
            return exit_only(cfg, exit_nr, plan, pid_tgid, res);
        }
    }
    let ids = task::Ids::current();

    // SAFETY: the value is copied out before the entry is removed.
    let stash = match unsafe { STASH.get(&ids.tid) } {
        Some(s) => *s,
        None => {
            // No enter half: either out of scope, or a new task returning from
            // clone into itself. Only the latter is ours to report.
            let plan = plan(exit_nr)?;
            if wanted(exit_nr) && plan.flags & plan_flags::CLONE != 0 && res == 0 {
                let ns = task::in_scope(cfg, &ids)?;
                emit::record(
                    cfg,
                    kind::CLONE_CHILD,
                    exit_nr,
                    &[0; 6],
                    0,
                    plan,
                    emit::Phase::Header,
                    &ids,
                    ns,
                );
            }
            return None;
        }
    };
    let _ = STASH.remove(&ids.tid);
    // The enter half decides which syscall this was: a successful execveat
    // returns through execve's exit tracepoint.
    let nr = stash.nr;
    // A plain flag, not an Option<&plan>: LLVM turns the latter into pointer
    // masking, which the verifier rejects.
    let exit_is_exec = match PLANS.get(exit_nr) {
        Some(p) => p.flags & plan_flags::EXEC != 0,
        None => false,
    };
    let plan = plan(nr)?;
    if nr != exit_nr {
        let same_family = plan.flags & plan_flags::EXEC != 0 && exit_is_exec;
        if !same_family {
            // A stale entry from a syscall whose exit we never saw (the agent
            // attached between its enter and exit): nothing to pair it with.
            return None;
        }
    }
    if !wanted(nr) {
        return None;
    }
    let ns = task::in_scope(cfg, &ids)?;
    if plan.flags & plan_flags::AT_ENTER != 0 {
        emit::record(
            cfg,
            kind::SYSCALL_EXIT,
            nr,
            &stash.args,
            res,
            plan,
            emit::Phase::Header,
            &ids,
            ns,
        );
    } else {
        emit::record(
            cfg,
            kind::SYSCALL,
            nr,
            &stash.args,
            res,
            plan,
            emit::Phase::Exit,
            &ids,
            ns,
        );
    }
    Some(())
}

/// A syscall whose arguments are read at exit, from the registers the task
/// entered the kernel with: no enter program, no stash. (A syscall leaves
/// the saved argument registers as they were; only the return value's
/// register changes.)
#[inline(always)]
fn exit_only(
    cfg: &Config,
    nr: u32,
    plan: &SyscallPlan,
    pid_tgid: u64,
    res: i64,
) -> Option<()> {
    if !wanted(nr) {
        return None;
    }
    let ids = &task::Ids::from_task(pid_tgid, cfg);
    let ns = task::in_scope(cfg, ids)?;
    if plan.flags & plan_flags::CLONE != 0 && res == 0 {
        // A new task returning from clone into itself; the parent gets the
        // call's own record from its own exit.
        emit::record(
            cfg,
            kind::CLONE_CHILD,
            nr,
            &[0; 6],
            0,
            plan,
            emit::Phase::Header,
            ids,
            ns,
        );
        return None;
    }
    let mut args = [0u64; 6];
    let ok = task::user_args(cfg, ids.task, plan.nargs, &mut args);
    if ok && plan.flags & plan_flags::ADDRESSED_ONLY != 0 && !names_an_address(&args, plan) {
        count(counter::SKIPPED_NO_ADDRESS);
        return None;
    }
    emit::record(
        cfg,
        kind::SYSCALL,
        nr,
        &args,
        res,
        plan,
        if ok { emit::Phase::Exit } else { emit::Phase::NoArgs },
        ids,
        ns,
    );
    Some(())
}

/// A benchmark instrument the agent never attaches on its own: `cargo
/// xtask bench capture` loads it as the exit program for openat
/// (`SAKER_CAPTURE_FLOOR=string`) to measure, in the same run as the real
/// program, what the helper calls of a string event cost on this machine
/// with none of our own work around them (`emit::string_floor`).
#[tracepoint]
pub fn saker_floor_string(ctx: TracePointContext) -> u32 {
    let _ = try_floor_string(&ctx);
    0
}

fn try_floor_string(ctx: &TracePointContext) -> Option<()> {
    let cfg = config()?;
    let nr = record_nr(ctx, cfg)?;
    if (bpf_get_current_pid_tgid() >> 32) as u32 == cfg.self_tgid {
        return None;
    }
    let plan = plan(nr)?;
    // SAFETY: helper without arguments; never NULL for the current task.
    let task = unsafe { aya_ebpf::helpers::generated::bpf_get_current_task_btf() } as u64;
    let mut args = [0u64; 6];
    if task::user_args(cfg, task, plan.nargs, &mut args) {
        emit::string_floor(plan, &args);
    }
    Some(())
}

#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn saker_proc_exit(_ctx: RawTracePointContext) -> i32 {
    let _ = try_proc_exit();
    0
}

fn try_proc_exit() -> Option<()> {
    let cfg = config()?;
    let ids = task::Ids::current();
    let ns = task::in_scope(cfg, &ids)?;
    // A task that dies inside a syscall leaves no exit half behind.
    let _ = STASH.remove(&ids.tid);
    emit::record(
        cfg,
        kind::PROC_EXIT,
        0,
        &[0; 6],
        0,
        &SyscallPlan::default(),
        emit::Phase::Header,
        &ids,
        ns,
    );
    Some(())
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
