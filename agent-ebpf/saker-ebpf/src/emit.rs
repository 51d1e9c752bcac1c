//! Building one record and handing it to the ring buffer: in place in the
//! ring when its size is known up front (the header alone, or the header
//! and one short string), else in the per-CPU scratch buffer, then copied.
//!
//! Every copy is bounded twice: by its own cap (a path is at most STR_MAX) and
//! by the room left before MAX_EVENT_SIZE. A value that does not fit is cut
//! and flagged; a record is never silently shortened. Offsets are masked
//! before use so the verifier can prove every write stays inside SCRATCH.

use aya_ebpf::bindings::{BPF_RB_AVAIL_DATA, BPF_RB_CONS_POS, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP};
use aya_ebpf::helpers::generated::{
    bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_smp_processor_id, bpf_ktime_get_boot_ns,
    bpf_probe_read_user, bpf_probe_read_user_str, bpf_ringbuf_output, bpf_ringbuf_query,
    bpf_ringbuf_discard, bpf_ringbuf_reserve, bpf_ringbuf_submit,
};
use saker_abi::{
    blob_flags, counter, hdr_flags, kind, plan_flags, ArgKind, Config, EventHeader, KernelOffsets, SyscallPlan,
    ARGV_MAX_ARGS, ARGV_MAX_BYTES, BLOB_EXE, BLOB_HEADER_SIZE, BLOB_LOCAL_ADDR, BUF_SNAPLEN, EXE_NAME_MAX,
    HEADER_SIZE, MAX_EVENT_SIZE,
    SOCKADDR_MAX, STR_MAX,
};

use crate::task::{fill_task_info, load, Ids, NsIds};
use crate::{count, COUNTERS, EVENTS, SCRATCH, WOKEN_AT};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Copy the arguments marked AT_ENTER (we are in sys_enter).
    Enter,
    /// Copy the other arguments (we are in sys_exit).
    Exit,
    /// Header only.
    Header,
    /// Header only, the arguments unknown (they could not be read at exit):
    /// flagged `NO_ENTER`, as when the enter half is missing.
    NoArgs,
}

const OFF_MASK: usize = MAX_EVENT_SIZE - 1;

/// `v & mask`, with the mask kept in the program. LLVM drops a mask it can
/// prove redundant, but the verifier may not have tracked the same proof
/// through register reuse; a volatile round trip hides the value from LLVM
/// so the explicit bound reaches the verifier.
#[inline(always)]
fn bounded(v: usize, mask: usize) -> usize {
    let mut slot = v;
    // SAFETY: a local on our own stack.
    unsafe { core::ptr::read_volatile(&mut slot as *mut usize) & mask }
}

/// Builds blobs after the header. Its running state (offset, blob count,
/// truncation) lives in the header inside the map value and is re-read with
/// volatile loads: to the verifier that makes the offset a bounded unknown
/// instead of a different constant on every path, so the paths through the
/// per-argument copies converge and verification stays linear.
struct Writer {
    buf: *mut u8,
    hdr: *mut EventHeader,
}

impl Writer {
    #[inline(always)]
    fn off(&self) -> usize {
        // SAFETY: hdr points at the scratch map value.
        (unsafe { core::ptr::read_volatile(&(*self.hdr).len) }) as usize & OFF_MASK
    }

    #[inline(always)]
    fn set_flag(&mut self, flag: u16) {
        // SAFETY: as above.
        unsafe {
            let f = core::ptr::read_volatile(&(*self.hdr).flags);
            core::ptr::write_volatile(&mut (*self.hdr).flags, f | flag);
        }
    }

    #[inline(always)]
    fn mark_truncated(&mut self) {
        self.set_flag(hdr_flags::TRUNCATED);
    }

    /// The call names a peer address (`hdr_flags::ADDRESSED`).
    #[inline(always)]
    fn mark_addressed(&mut self) {
        self.set_flag(hdr_flags::ADDRESSED);
    }

    /// Room for a blob's payload after its header, or None when full.
    #[inline(always)]
    fn room(&self) -> Option<usize> {
        let off = self.off();
        if off + BLOB_HEADER_SIZE >= MAX_EVENT_SIZE {
            return None;
        }
        Some(MAX_EVENT_SIZE - off - BLOB_HEADER_SIZE)
    }

    #[inline(always)]
    fn finish_blob(&mut self, arg: u8, flags: u8, len: usize) {
        let o = self.off();
        if flags & blob_flags::TRUNCATED != 0 {
            self.mark_truncated();
        }
        if flags & blob_flags::FAULT != 0 {
            count(counter::READ_FAULT);
        }
        let len = if flags & blob_flags::FAULT != 0 { 0 } else { len & (STR_MAX * 2 - 1) };
        let head = [arg, flags, len as u8, (len >> 8) as u8];
        // SAFETY: o + 4 <= MAX_EVENT_SIZE < SCRATCH_SIZE; hdr is the map value.
        unsafe {
            core::ptr::write_unaligned(self.buf.add(o) as *mut [u8; 4], head);
            let next = o + BLOB_HEADER_SIZE + len;
            core::ptr::write_volatile(&mut (*self.hdr).len, next as u32);
            let n = core::ptr::read_volatile(&(*self.hdr).nblobs);
            core::ptr::write_volatile(&mut (*self.hdr).nblobs, n.wrapping_add(1));
        }
    }

    /// A NUL-terminated user string.
    #[inline(always)]
    fn user_str(&mut self, arg: u8, src: u64) {
        if src == 0 {
            return;
        }
        let Some(room) = self.room() else {
            self.mark_truncated();
            return;
        };
        let mut max = STR_MAX;
        if room < max {
            max = room;
        }
        let max = bounded(max, STR_MAX * 2 - 1);
        let o = self.off();
        // SAFETY: dst range [o+4, o+4+max) lies in SCRATCH (see SCRATCH_SIZE).
        let n = unsafe {
            bpf_probe_read_user_str(
                self.buf.add(o + BLOB_HEADER_SIZE) as *mut _,
                max as u32,
                src as *const _,
            )
        };
        if n < 0 {
            self.finish_blob(arg, blob_flags::FAULT, 0);
        } else {
            let n = n as usize;
            let flags = if n >= max { blob_flags::TRUNCATED } else { 0 };
            self.finish_blob(arg, flags, n);
        }
    }

    /// `len` bytes of user memory (len is capped by the caller's constant).
    #[inline(always)]
    fn user_bytes(&mut self, arg: u8, src: u64, len: usize, cap: usize) {
        if src == 0 || len == 0 {
            return;
        }
        let Some(room) = self.room() else {
            self.mark_truncated();
            return;
        };
        let mut n = len;
        let mut flags = 0;
        if n > cap {
            n = cap;
            flags = blob_flags::TRUNCATED;
        }
        if n > room {
            n = room;
            flags = blob_flags::TRUNCATED;
        }
        // Every cap we pass is <= SOCKADDR_MAX (112) or BUF_SNAPLEN (80), so
        // 127 bounds the copy for the verifier without changing it.
        let n = bounded(n, 127);
        let o = self.off();
        // SAFETY: dst range [o+4, o+4+n) lies in SCRATCH.
        let r = unsafe {
            bpf_probe_read_user(
                self.buf.add(o + BLOB_HEADER_SIZE) as *mut _,
                n as u32,
                src as *const _,
            )
        };
        if r < 0 {
            self.finish_blob(arg, blob_flags::FAULT, 0);
        } else {
            self.finish_blob(arg, flags, n);
        }
    }

    /// `char *const argv[]`, as NUL-separated strings in one blob.
    #[inline(always)]
    fn argv(&mut self, arg: u8, src: u64) {
        if src == 0 {
            return;
        }
        let Some(room) = self.room() else {
            self.mark_truncated();
            return;
        };
        let mut budget = ARGV_MAX_BYTES;
        if room < budget {
            budget = room;
        }
        let start = self.off();
        let mut used: usize = 0;
        let mut flags = 0;
        let mut i = 0;
        while i < ARGV_MAX_ARGS {
            let mut p: u64 = 0;
            // SAFETY: reads one pointer of the user's argv array.
            let r = unsafe {
                bpf_probe_read_user(
                    &mut p as *mut u64 as *mut _,
                    8,
                    (src + (i as u64) * 8) as *const _,
                )
            };
            if r < 0 {
                flags |= blob_flags::FAULT;
                break;
            }
            if p == 0 {
                break;
            }
            if used >= budget {
                flags |= blob_flags::TRUNCATED;
                break;
            }
            let mut left = budget - used;
            if left > ARGV_MAX_BYTES {
                left = ARGV_MAX_BYTES;
            }
            let left = bounded(left, ARGV_MAX_BYTES * 2 - 1);
            let at = start + BLOB_HEADER_SIZE + bounded(used, ARGV_MAX_BYTES - 1);
            // SAFETY: at + left < start + 4 + 2 * ARGV_MAX_BYTES, inside SCRATCH.
            let n = unsafe { bpf_probe_read_user_str(self.buf.add(at) as *mut _, left as u32, p as *const _) };
            if n < 0 {
                flags |= blob_flags::FAULT;
                break;
            }
            let n = n as usize;
            used += n;
            if n >= left {
                flags |= blob_flags::TRUNCATED;
                break;
            }
            i += 1;
        }
        if i == ARGV_MAX_ARGS {
            flags |= blob_flags::TRUNCATED;
        }
        if used > 0 {
            // Keep what was read even after a fault: say so, but do not lose it.
            let flags = if flags & blob_flags::FAULT != 0 {
                (flags & !blob_flags::FAULT) | blob_flags::TRUNCATED
            } else {
                flags
            };
            self.finish_blob(arg, flags, used);
        } else if flags & blob_flags::FAULT != 0 {
            self.finish_blob(arg, blob_flags::FAULT, 0);
        }
    }
}

/// The fields every record has.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn fill_header(cfg: &Config, hdr: &mut EventHeader, kind: u8, nr: u32, args: &[u64; 6], res: i64, ids: &Ids, ns: NsIds) {
    hdr.len = HEADER_SIZE as u32;
    hdr.kind = kind;
    hdr.nblobs = 0;
    hdr.flags = 0;
    // SAFETY: helpers without arguments.
    hdr.ts_ns = unsafe { bpf_ktime_get_boot_ns() };
    hdr.cpu = unsafe { bpf_get_smp_processor_id() };
    hdr.syscall_nr = nr;
    hdr.tid = ids.tid;
    hdr.pid = ids.tgid;
    hdr.ppid = 0;
    hdr.vtid = ns.vtid;
    hdr.vpid = ns.vpid;
    hdr.pidns = 0;
    hdr.uid = ids.uid;
    hdr.gid = ids.gid;
    hdr.euid = ids.uid;
    hdr.egid = ids.gid;
    hdr.loginuid = u32::MAX;
    hdr.tty = 0;
    hdr.cgroup_id = cgroup_id(cfg, ids.task);
    // Volatile stores: where LLVM can tell runs of these are zero (no
    // arguments, the capabilities) it would turn them into a call to
    // memset, which on BPF is a byte-by-byte loop (about 100 instructions
    // for 24 bytes).
    // SAFETY: fields of the header we are writing.
    unsafe {
        core::ptr::write_volatile(&mut hdr.res, res);
        let mut i = 0;
        while i < 6 {
            core::ptr::write_volatile(&mut hdr.args[i], args[i]);
            i += 1;
        }
        core::ptr::write_volatile(&mut hdr.cap_effective, 0);
        core::ptr::write_volatile(&mut hdr.cap_permitted, 0);
        core::ptr::write_volatile(&mut hdr.cap_inheritable, 0);
    }
    let comm_off = cfg.offsets.task_comm;
    if ids.task != 0 && comm_off != KernelOffsets::UNKNOWN {
        // Two direct loads through the task's BTF pointer (see
        // `task::load`) instead of the helper's strscpy (about 15 ns
        // less). The kernel keeps comm NUL-terminated; a rename racing
        // with us can at worst mix old and new bytes, as a read at any
        // other moment could.
        let task = ids.task as *const u8;
        // SAFETY: BTF-checked loads of task_struct.comm (8-byte aligned,
        // see KernelOffsets::task_comm).
        let (a, b): (u64, u64) = unsafe { (load(task, comm_off), load(task, comm_off + 8)) };
        let comm = hdr.comm.as_mut_ptr() as *mut u64;
        // SAFETY: comm is 16 bytes at offset 160 of the 8-aligned header
        // (a u64 store each; unaligned ones would be eight byte stores).
        unsafe {
            comm.write(a);
            comm.add(1).write(b);
        }
    } else {
        // SAFETY: the helper writes 16 bytes (zeroed on failure) into the header.
        unsafe { bpf_get_current_comm(hdr.comm.as_mut_ptr() as *mut _, 16) };
    }
}

/// The task's cgroup v2 id. Through the task's BTF pointer when there is
/// one (direct loads; the JIT turns a faulting one into 0), else the helper.
#[inline(always)]
fn cgroup_id(cfg: &Config, task: u64) -> u64 {
    let o = &cfg.offsets;
    if task == 0 || !o.has_cgroup_offsets() {
        // SAFETY: helper without arguments.
        return unsafe { bpf_get_current_cgroup_id() };
    }
    // SAFETY: BTF-checked loads (see `task::load`) along the same path the
    // helper takes; tracepoint programs run inside an RCU read section,
    // which is what `task->cgroups` needs.
    unsafe {
        let cset: *const u8 = load(task as *const u8, o.task_cgroups);
        let cgrp: *const u8 = load(cset, o.css_set_dfl_cgrp);
        let kn: *const u8 = load(cgrp, o.cgroup_kn);
        load(kn, o.kernfs_node_id)
    }
}

/// Batch wakeups: the reader polls on a timer anyway, so only a filling ring
/// needs to wake it now, and only once until it reads again (see WOKEN_AT).
/// Returns the flags and, for a forced wakeup, the consumer position (plus
/// one) to record once the record is in the ring: a wakeup whose record
/// could not be sent woke nobody.
#[inline(always)]
fn wakeup_flags(cfg: &Config) -> (u64, u64) {
    let ring = &EVENTS as *const _ as *mut _;
    // SAFETY: querying our own ring buffer map.
    let pending = unsafe { bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA as u64) };
    if pending < cfg.wakeup_bytes as u64 {
        return (BPF_RB_NO_WAKEUP as u64, 0);
    }
    // SAFETY: as above.
    let cons = unsafe { bpf_ringbuf_query(ring, BPF_RB_CONS_POS as u64) }.wrapping_add(1);
    match WOKEN_AT.get_ptr_mut(0) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU.
        Some(last) if unsafe { *last } == cons => (BPF_RB_NO_WAKEUP as u64, 0),
        _ => (BPF_RB_FORCE_WAKEUP as u64, cons),
    }
}

/// Records per CPU between two looks at the ring's fill level: the query is
/// a helper call on every record otherwise, and the fill level moves little
/// in 16 records (at most 16 × MAX_EVENT_SIZE, and usually 16 headers,
/// against a wakeup threshold of an eighth of the ring); the reader also
/// polls on a timer.
const WAKE_CHECK_EVERY: u64 = 16;

/// How the next record is submitted, and what to note once it is sent.
struct Wake {
    /// This CPU's count of records sent.
    sent: Option<*mut u64>,
    flags: u64,
    /// For a forced wakeup: the consumer position (plus one) it is for.
    woken_at: u64,
}

#[inline(always)]
fn sent_and_wakeup(cfg: &Config) -> Wake {
    let sent = COUNTERS.get_ptr_mut(counter::SENT);
    let check = match sent {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU.
        Some(n) => (unsafe { *n }) & (WAKE_CHECK_EVERY - 1) == 0,
        None => true,
    };
    let (flags, woken_at) = if check {
        wakeup_flags(cfg)
    } else {
        (BPF_RB_NO_WAKEUP as u64, 0)
    };
    Wake {
        sent,
        flags,
        woken_at,
    }
}

/// The record is in the ring: count it, and note the wakeup it carried.
#[inline(always)]
fn bump(w: &Wake) {
    if let Some(n) = w.sent {
        // SAFETY: as in sent_and_wakeup.
        unsafe { *n += 1 };
    }
    if w.woken_at != 0 {
        if let Some(last) = WOKEN_AT.get_ptr_mut(0) {
            // SAFETY: per-CPU slot, no concurrent writer on this CPU.
            unsafe { *last = w.woken_at };
        }
    }
}

/// A ring-buffer record the size of `T`, to fill in place and then submit
/// or discard once; None when the ring is full, counted as a drop.
#[inline(always)]
fn reserve<T>() -> Option<*mut T> {
    let size = core::mem::size_of::<T>() as u64;
    // SAFETY: reserving a fixed-size record in our own ring buffer map.
    let p = unsafe { bpf_ringbuf_reserve(&EVENTS as *const _ as *mut _, size, 0) } as *mut T;
    if p.is_null() {
        count(counter::DROP_RING_FULL);
        return None;
    }
    Some(p)
}

/// A record that is its header alone, written straight into the ring buffer
/// (no scratch copy).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn header_record(
    cfg: &Config,
    kind: u8,
    nr: u32,
    args: &[u64; 6],
    res: i64,
    no_args: bool,
    ids: &Ids,
    ns: NsIds,
) {
    let wake = sent_and_wakeup(cfg);
    let Some(p) = reserve::<EventHeader>() else {
        return;
    };
    // SAFETY: p is a reserved, exclusively ours, HEADER_SIZE-byte record.
    let hdr = unsafe { &mut *p };
    fill_header(cfg, hdr, kind, nr, args, res, ids, ns);
    if no_args {
        hdr.flags |= hdr_flags::NO_ENTER;
    }
    if kind == kind::CLONE_CHILD {
        fill_task_info(cfg, hdr, ns);
    }
    // SAFETY: submitting the record reserved above, once.
    unsafe { bpf_ringbuf_submit(p as *mut _, wake.flags) };
    bump(&wake);
}

/// The room a [`str_record`] reserves for its string: a string of up to
/// 126 bytes and its NUL fits (a read that fills the room may have been
/// cut), and a longer one takes the scratch path. The reservation is a
/// constant, so every such record occupies this much of the ring: 320
/// bytes with the ring's own header, against about 230 for a 40-byte path
/// built in scratch memory.
const STR_CLASS: usize = 128;

/// A header and one string blob, as [`str_record`] reserves it.
#[repr(C)]
struct StrRecord {
    hdr: EventHeader,
    blob: [u8; BLOB_HEADER_SIZE],
    bytes: [u8; STR_CLASS],
}

/// The index and value of a plan's `one_str` argument.
#[inline(always)]
fn one_str(plan: &SyscallPlan, args: &[u64; 6]) -> Option<(u8, u64)> {
    let arg = plan.one_str.wrapping_sub(1);
    // A constant index per branch: a variable one into a stack array is
    // what the verifier refuses.
    let src = match arg {
        0 => args[0],
        1 => args[1],
        2 => args[2],
        3 => args[3],
        4 => args[4],
        5 => args[5],
        _ => return None,
    };
    Some((arg, src))
}

/// The helper calls of a [`str_record`] and nothing else: the reservation,
/// the clock, the string copy and the submit, with no header filled in
/// (`len` 0: the benchmark that loads this stops the reader, and a record
/// read before that counts as malformed and is skipped). For
/// `saker_floor_string` only.
#[inline(always)]
pub fn string_floor(plan: &SyscallPlan, args: &[u64; 6]) {
    let Some((_, src)) = one_str(plan, args) else {
        return;
    };
    let Some(p) = reserve::<StrRecord>() else {
        return;
    };
    // SAFETY: p is a reserved, exclusively ours, StrRecord-sized record,
    // submitted once without waking anyone.
    unsafe {
        (*p).hdr.len = 0;
        (*p).hdr.ts_ns = bpf_ktime_get_boot_ns();
        bpf_probe_read_user_str((*p).bytes.as_mut_ptr() as *mut _, STR_CLASS as u32, src as *const _);
        bpf_ringbuf_submit(p as *mut _, BPF_RB_NO_WAKEUP as u64);
    }
}

/// A record whose only blob is one string (`SyscallPlan::one_str`), read
/// straight into the ring buffer: no scratch buffer, no copy, no walk over
/// the plan's arguments. False when the string may not fit (the read filled
/// the room): the reservation is dropped and the caller builds the record
/// the general way, which allows up to STR_MAX.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn str_record(
    cfg: &Config,
    nr: u32,
    args: &[u64; 6],
    res: i64,
    plan: &SyscallPlan,
    ids: &Ids,
    ns: NsIds,
) -> bool {
    let Some((arg, src)) = one_str(plan, args) else {
        return false;
    };
    let wake = sent_and_wakeup(cfg);
    let Some(p) = reserve::<StrRecord>() else {
        // The event is lost, and counted: not one for the scratch path.
        return true;
    };
    // SAFETY: p is a reserved, exclusively ours, StrRecord-sized record.
    let rec = unsafe { &mut *p };
    fill_header(cfg, &mut rec.hdr, kind::SYSCALL, nr, args, res, ids, ns);
    if src != 0 {
        // SAFETY: the destination is the record's STR_CLASS bytes.
        let n = unsafe {
            bpf_probe_read_user_str(rec.bytes.as_mut_ptr() as *mut _, STR_CLASS as u32, src as *const _)
        };
        if n >= STR_CLASS as i64 {
            // SAFETY: dropping the record reserved above, once.
            unsafe { bpf_ringbuf_discard(p as *mut _, BPF_RB_NO_WAKEUP as u64) };
            return false;
        }
        let (flags, len) = if n < 0 {
            count(counter::READ_FAULT);
            (blob_flags::FAULT, 0)
        } else {
            (0, n as usize)
        };
        rec.blob = [arg, flags, len as u8, (len >> 8) as u8];
        rec.hdr.nblobs = 1;
        rec.hdr.len = (HEADER_SIZE + BLOB_HEADER_SIZE + len) as u32;
    }
    // SAFETY: submitting the record reserved above, once.
    unsafe { bpf_ringbuf_submit(p as *mut _, wake.flags) };
    bump(&wake);
    true
}

/// Builds and submits one record. `args` are the raw syscall arguments.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn record(
    cfg: &Config,
    kind: u8,
    nr: u32,
    args: &[u64; 6],
    res: i64,
    plan: &SyscallPlan,
    phase: Phase,
    ids: &Ids,
    ns: NsIds,
) {
    // An exec's exit carries the new program's facts: always the scratch path.
    if kind != kind::SYSCALL_EXIT {
        let header_only = match phase {
            Phase::Header | Phase::NoArgs => true,
            Phase::Exit => plan.flags & plan_flags::NO_BLOBS != 0,
            Phase::Enter => false,
        };
        if header_only {
            header_record(cfg, kind, nr, args, res, phase == Phase::NoArgs, ids, ns);
            return;
        }
        if phase == Phase::Exit
            && plan.one_str != 0
            && str_record(cfg, nr, args, res, plan, ids, ns)
        {
            return;
        }
    }
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: the scratch value is ours for the duration of this program run.
    let buf = unsafe { (*scratch).buf.as_mut_ptr() };
    let hdr = unsafe { &mut *(buf as *mut EventHeader) };
    fill_header(cfg, hdr, kind, nr, args, res, ids, ns);

    // Process-shaping events carry the task facts userspace cannot get later
    // for a short-lived process.
    if kind == kind::CLONE_CHILD || kind == kind::SYSCALL_EXIT {
        fill_task_info(cfg, hdr, ns);
    }

    hdr.len = HEADER_SIZE as u32;
    let hdr_ptr: *mut EventHeader = hdr;
    let mut w = Writer { buf, hdr: hdr_ptr };
    // The args are read back from the header in the map value: the verifier
    // allows a bounded variable index there, not on the stack.
    match phase {
        Phase::Enter => copy_at_enter(&mut w, plan),
        Phase::Exit => copy_at_exit(&mut w, res, plan),
        Phase::Header | Phase::NoArgs => {}
    }
    if kind == kind::SYSCALL_EXIT && res == 0 {
        exe_facts(&mut w, &cfg.offsets);
    }
    if kind == kind::SYSCALL {
        // SAFETY: hdr_ptr is the scratch map value.
        let addressed =
            unsafe { core::ptr::read_volatile(&(*hdr_ptr).flags) } & hdr_flags::ADDRESSED != 0;
        // One call site: the walk to the socket is inlined once.
        let fd = if plan.flags & plan_flags::LOCAL_ADDR_RES != 0 && res >= 0 {
            res
        } else if plan.flags & plan_flags::LOCAL_ADDR_ARG0 != 0
            && addressed
            && (res >= 0 || res == EINPROGRESS)
        {
            args[0] as i32 as i64
        } else {
            -1
        };
        if fd >= 0 && cfg.socket_walk != 0 {
            local_addr(&mut w, fd, &cfg.offsets);
        }
    }
    // SAFETY: hdr_ptr is the scratch map value.
    let (flags, off) = unsafe { (core::ptr::read_volatile(&(*hdr_ptr).flags), core::ptr::read_volatile(&(*hdr_ptr).len)) };
    if flags & hdr_flags::TRUNCATED != 0 {
        count(counter::TRUNCATED);
    }
    let mut len = off as usize;
    if len > MAX_EVENT_SIZE {
        len = MAX_EVENT_SIZE;
    }
    // SAFETY: hdr_ptr is the scratch map value.
    unsafe { (*hdr_ptr).len = len as u32 };
    let wake = sent_and_wakeup(cfg);
    // SAFETY: buf[0..len) is initialised scratch memory inside the map value.
    let r = unsafe {
        bpf_ringbuf_output(
            &EVENTS as *const _ as *mut _,
            buf as *mut _,
            len as u64,
            wake.flags,
        )
    };
    if r < 0 {
        count(counter::DROP_RING_FULL);
    } else {
        bump(&wake);
    }
}

/// The new program's inode mode and dentry name, after a successful exec:
/// userspace cannot read them from /proc once a short-lived process is gone,
/// and they are what tells a memfd (`memfd:NAME`) or a writable binary.
#[inline(always)]
fn exe_facts(w: &mut Writer, o: &saker_abi::KernelOffsets) {
    // SAFETY: helper without arguments.
    let task = unsafe { aya_ebpf::helpers::generated::bpf_get_current_task() };
    let mm: u64 = crate::task::read(task, o.task_mm);
    let file: u64 = crate::task::read(mm, o.mm_exe_file);
    if file == 0 {
        return;
    }
    let inode: u64 = crate::task::read(file, o.file_inode);
    let mode: u16 = crate::task::read(inode, o.inode_mode);
    let dentry: u64 = crate::task::read(file, o.file_dentry);
    let name: u64 = crate::task::read(dentry, o.dentry_name);
    if name == 0 {
        return;
    }
    let Some(room) = w.room() else {
        w.mark_truncated();
        return;
    };
    if room < 8 {
        w.mark_truncated();
        return;
    }
    let mut max = EXE_NAME_MAX;
    if room - 4 < max {
        max = room - 4;
    }
    let max = bounded(max, 511);
    let at = w.off();
    // SAFETY: [at+4, at+8+max) lies inside SCRATCH (at < MAX_EVENT_SIZE, max < 512).
    let n = unsafe {
        core::ptr::write_unaligned(
            w.buf.add(at + BLOB_HEADER_SIZE) as *mut [u8; 4],
            (mode as u32).to_le_bytes(),
        );
        aya_ebpf::helpers::generated::bpf_probe_read_kernel_str(
            w.buf.add(at + BLOB_HEADER_SIZE + 4) as *mut _,
            max as u32,
            name as *const _,
        )
    };
    if n < 0 {
        w.finish_blob(BLOB_EXE, blob_flags::FAULT, 0);
    } else {
        let n = n as usize;
        let flags = if n >= max { blob_flags::TRUNCATED } else { 0 };
        w.finish_blob(BLOB_EXE, flags, 4 + n);
    }
}

/// A non-blocking connect's result (negative, as the syscall returns it).
const EINPROGRESS: i64 = -115;
const S_IFMT: u16 = 0o170000;
const S_IFSOCK: u16 = 0o140000;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
/// socket type (u16), padding (u16), sockaddr_in6 (the larger of the two).
const LOCAL_ADDR_MAX: usize = 4 + 28;

/// `BLOB_LOCAL_ADDR` for socket `fd` of the current task: its type and its
/// own address, from task->files->fdt->fd[fd]->private_data->sk. Anything
/// unknown or unreadable (an offset BTF lacked, an fd closed meanwhile, not
/// a socket, not IPv4/IPv6) adds no blob, and userspace falls back to /proc.
#[inline(always)]
fn local_addr(w: &mut Writer, fd: i64, o: &saker_abi::KernelOffsets) {
    use crate::task::read;
    if fd < 0 {
        return;
    }
    // SAFETY: helper without arguments.
    let task = unsafe { aya_ebpf::helpers::generated::bpf_get_current_task() };
    let files: u64 = read(task, o.task_files);
    let fdt: u64 = read(files, o.files_fdt);
    let max_fds: u32 = read(fdt, o.fdtable_max_fds);
    if fd >= max_fds as i64 {
        return;
    }
    let fds: u64 = read(fdt, o.fdtable_fd);
    if fds == 0 {
        return;
    }
    let file: u64 = read(fds + fd as u64 * 8, 0);
    let inode: u64 = read(file, o.file_inode);
    let mode: u16 = read(inode, o.inode_mode);
    if mode & S_IFMT != S_IFSOCK {
        return;
    }
    let sock: u64 = read(file, o.file_private_data);
    let ty: u16 = read(sock, o.socket_type);
    let sk: u64 = read(sock, o.socket_sk);
    let family: u16 = read(sk, o.sk_family);
    let port: u16 = read(sk, o.sk_num);
    let mut out = [0u8; LOCAL_ADDR_MAX];
    out[0..2].copy_from_slice(&ty.to_le_bytes());
    out[4..6].copy_from_slice(&family.to_ne_bytes());
    out[6..8].copy_from_slice(&port.to_be_bytes());
    let len = match family {
        AF_INET => {
            let ip: [u8; 4] = read(sk, o.sk_rcv_saddr);
            out[8..12].copy_from_slice(&ip);
            4 + 16
        }
        // A kernel without IPv6 has no such field; its IPv4 sockets still work.
        AF_INET6 if o.sk_v6_rcv_saddr != saker_abi::KernelOffsets::UNKNOWN => {
            let ip: [u8; 16] = read(sk, o.sk_v6_rcv_saddr);
            out[12..28].copy_from_slice(&ip);
            4 + 28
        }
        _ => return,
    };
    match w.room() {
        Some(room) if room >= LOCAL_ADDR_MAX => {}
        _ => {
            w.mark_truncated();
            return;
        }
    }
    let at = w.off();
    // SAFETY: [at+4, at+4+LOCAL_ADDR_MAX) lies inside SCRATCH (at < MAX_EVENT_SIZE).
    unsafe {
        core::ptr::write_unaligned(
            w.buf.add(at + BLOB_HEADER_SIZE) as *mut [u8; LOCAL_ADDR_MAX],
            out,
        )
    };
    w.finish_blob(BLOB_LOCAL_ADDR, 0, len);
}

/// Enter-time copies (AT_ENTER syscalls: execve, execveat): the one path
/// and the one argv they have. Looking them up by kind, instead of walking
/// all six slots through every copier, keeps the argv loop in the program
/// once, which is what keeps verification within its budget.
#[inline(always)]
fn copy_at_enter(w: &mut Writer, plan: &SyscallPlan) {
    let mut path_at = 6;
    let mut argv_at = 6;
    let mut i = 0;
    while i < 6 {
        match ArgKind::from_u8(plan.args[i].kind) {
            ArgKind::Path | ArgKind::Str if path_at == 6 => path_at = i,
            ArgKind::Argv if argv_at == 6 => argv_at = i,
            _ => {}
        }
        i += 1;
    }
    // SAFETY: header in the map value; indexes checked below 6.
    unsafe {
        let args = &(*w.hdr).args;
        if path_at < 6 {
            w.user_str(path_at as u8, core::ptr::read_volatile(&args[path_at]));
        }
        if argv_at < 6 {
            w.argv(argv_at as u8, core::ptr::read_volatile(&args[argv_at]));
        }
    }
}

/// Exit-time copies: everything but argv (only execve has argv, and it is
/// copied at enter).
#[inline(always)]
fn copy_at_exit(w: &mut Writer, res: i64, plan: &SyscallPlan) {
    let mut i = 0;
    while i < 6 {
        let spec = plan.args[i];
        let aux = (spec.aux & 7) as usize;
        // SAFETY: header in the map value; aux is bounded below 8 and the
        // array has 6 slots, so check before indexing.
        let (a, aux_val) = unsafe {
            let args = &(*w.hdr).args;
            (
                core::ptr::read_volatile(&args[i]),
                if aux < 6 { core::ptr::read_volatile(&args[aux]) } else { 0 },
            )
        };
        match ArgKind::from_u8(spec.kind) {
            ArgKind::Path | ArgKind::Str => w.user_str(i as u8, a),
            ArgKind::SockAddr => {
                if a != 0 && aux_val != 0 {
                    w.mark_addressed();
                }
                w.user_bytes(i as u8, a, aux_val as usize, SOCKADDR_MAX)
            }
            ArgKind::SockAddrOut => {
                if res >= 0 && aux_val != 0 {
                    let mut alen: u32 = 0;
                    // SAFETY: reads the socklen_t the kernel wrote back.
                    let r = unsafe {
                        bpf_probe_read_user(&mut alen as *mut u32 as *mut _, 4, aux_val as *const _)
                    };
                    if r == 0 {
                        if a != 0 && alen != 0 {
                            w.mark_addressed();
                        }
                        w.user_bytes(i as u8, a, alen as usize, SOCKADDR_MAX);
                    }
                }
            }
            ArgKind::OpenHow => w.user_bytes(i as u8, a, 24, 24),
            ArgKind::CloneArgs => w.user_bytes(i as u8, a, 8, 8),
            ArgKind::FdPair => {
                if res >= 0 {
                    w.user_bytes(i as u8, a, 8, 8)
                }
            }
            ArgKind::MsgHdr => {
                // struct msghdr { void *msg_name; int msg_namelen; ... }
                let mut head = [0u64; 2];
                // SAFETY: reads the first 16 bytes of the caller's msghdr.
                let r = unsafe { bpf_probe_read_user(head.as_mut_ptr() as *mut _, 16, a as *const _) };
                if a != 0 && r == 0 {
                    if head[0] != 0 && head[1] as u32 != 0 {
                        w.mark_addressed();
                    }
                    w.user_bytes(i as u8, head[0], (head[1] as u32) as usize, SOCKADDR_MAX);
                }
            }
            ArgKind::Buf => {
                if res > 0 {
                    let mut n = res as usize;
                    if (aux_val as usize) < n {
                        n = aux_val as usize;
                    }
                    w.user_bytes(i as u8, a, n, BUF_SNAPLEN);
                }
            }
            ArgKind::Argv | ArgKind::None | ArgKind::Int | ArgKind::Fd => {}
        }
        i += 1;
    }
}
