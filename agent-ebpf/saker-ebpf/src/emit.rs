//! Building one record in the per-CPU scratch buffer and handing it to the
//! ring buffer.
//!
//! Every copy is bounded twice: by its own cap (a path is at most STR_MAX) and
//! by the room left before MAX_EVENT_SIZE. A value that does not fit is cut
//! and flagged; a record is never silently shortened. Offsets are masked
//! before use so the verifier can prove every write stays inside SCRATCH.

use aya_ebpf::helpers::generated::{
    bpf_get_smp_processor_id, bpf_ktime_get_boot_ns, bpf_probe_read_user,
    bpf_probe_read_user_str, bpf_ringbuf_output,
};
use saker_abi::{
    blob_flags, counter, hdr_flags, kind, ArgKind, Config, EventHeader, SyscallPlan,
    ARGV_MAX_ARGS, ARGV_MAX_BYTES, BLOB_HEADER_SIZE, BUF_SNAPLEN, HEADER_SIZE, MAX_EVENT_SIZE,
    SOCKADDR_MAX, STR_MAX,
};

use crate::task::{fill_task_info, Ids, NsIds};
use crate::{count, EVENTS, SCRATCH};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Copy the arguments marked AT_ENTER (we are in sys_enter).
    Enter,
    /// Copy the other arguments (we are in sys_exit).
    Exit,
    /// Header only.
    Header,
}

const OFF_MASK: usize = MAX_EVENT_SIZE - 1;

struct Writer {
    buf: *mut u8,
    off: usize,
    nblobs: u8,
    truncated: bool,
}

impl Writer {
    /// Room for a blob's payload after its header, or None when full.
    #[inline(always)]
    fn room(&self) -> Option<usize> {
        if self.off + BLOB_HEADER_SIZE >= MAX_EVENT_SIZE {
            return None;
        }
        Some(MAX_EVENT_SIZE - self.off - BLOB_HEADER_SIZE)
    }

    #[inline(always)]
    fn finish_blob(&mut self, arg: u8, flags: u8, len: usize) {
        let o = self.off & OFF_MASK;
        if flags & blob_flags::TRUNCATED != 0 {
            self.truncated = true;
        }
        if flags & blob_flags::FAULT != 0 {
            count(counter::READ_FAULT);
        }
        let len = if flags & blob_flags::FAULT != 0 { 0 } else { len & 0xffff };
        let head = [arg, flags, len as u8, (len >> 8) as u8];
        // SAFETY: o + 4 <= MAX_EVENT_SIZE < SCRATCH_SIZE.
        unsafe { core::ptr::write_unaligned(self.buf.add(o) as *mut [u8; 4], head) };
        self.off = o + BLOB_HEADER_SIZE + len;
        self.nblobs += 1;
    }

    /// A NUL-terminated user string.
    #[inline(always)]
    fn user_str(&mut self, arg: u8, src: u64) {
        if src == 0 {
            return;
        }
        let Some(room) = self.room() else {
            self.truncated = true;
            return;
        };
        let mut max = STR_MAX;
        if room < max {
            max = room;
        }
        let o = self.off & OFF_MASK;
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
            self.truncated = true;
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
        // Re-bound for the verifier: every cap we pass is <= SOCKADDR_MAX (112)
        // or BUF_SNAPLEN (80), both below 128.
        n &= 127;
        let o = self.off & OFF_MASK;
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
            self.truncated = true;
            return;
        };
        let mut budget = ARGV_MAX_BYTES;
        if room < budget {
            budget = room;
        }
        let start = self.off & OFF_MASK;
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
            let at = start + BLOB_HEADER_SIZE + (used & (ARGV_MAX_BYTES - 1));
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
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: the scratch value is ours for the duration of this program run.
    let buf = unsafe { (*scratch).buf.as_mut_ptr() };
    let hdr = unsafe { &mut *(buf as *mut EventHeader) };

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
    // SAFETY: helper without arguments.
    hdr.cgroup_id = unsafe { aya_ebpf::helpers::generated::bpf_get_current_cgroup_id() };
    hdr.res = res;
    hdr.args = *args;
    hdr.cap_effective = 0;
    hdr.cap_permitted = 0;
    hdr.cap_inheritable = 0;
    hdr.comm = aya_ebpf::helpers::bpf_get_current_comm().unwrap_or([0; 16]);

    // Process-shaping events carry the task facts userspace cannot get later
    // for a short-lived process.
    if kind == kind::CLONE_CHILD || kind == kind::SYSCALL_EXIT {
        fill_task_info(cfg, hdr, ns);
    }

    let mut w = Writer {
        buf,
        off: HEADER_SIZE,
        nblobs: 0,
        truncated: false,
    };
    if phase != Phase::Header {
        copy_args(&mut w, args, res, plan, phase);
    }
    hdr.nblobs = w.nblobs;
    if w.truncated {
        hdr.flags |= hdr_flags::TRUNCATED;
        count(counter::TRUNCATED);
    }
    let mut len = w.off;
    if len > MAX_EVENT_SIZE {
        len = MAX_EVENT_SIZE;
    }
    hdr.len = len as u32;
    // SAFETY: buf[0..len) is initialised scratch memory inside the map value.
    let r = unsafe {
        bpf_ringbuf_output(
            &EVENTS as *const _ as *mut _,
            buf as *mut _,
            len as u64,
            0,
        )
    };
    if r < 0 {
        count(counter::DROP_RING_FULL);
    } else {
        count(counter::SENT);
    }
}

#[inline(always)]
fn copy_args(w: &mut Writer, args: &[u64; 6], res: i64, plan: &SyscallPlan, phase: Phase) {
    let at_enter = plan.flags & saker_abi::syscalls::plan_flags::AT_ENTER != 0;
    if at_enter != (phase == Phase::Enter) {
        return;
    }
    let mut i = 0;
    while i < 6 {
        let spec = plan.args[i];
        let aux = (spec.aux as usize) % 6;
        let a = args[i];
        match ArgKind::from_u8(spec.kind) {
            ArgKind::Path | ArgKind::Str => w.user_str(i as u8, a),
            ArgKind::Argv => w.argv(i as u8, a),
            ArgKind::SockAddr => w.user_bytes(i as u8, a, args[aux] as usize, SOCKADDR_MAX),
            ArgKind::SockAddrOut => {
                if res >= 0 && args[aux] != 0 {
                    let mut alen: u32 = 0;
                    // SAFETY: reads the socklen_t the caller passed.
                    let r = unsafe {
                        bpf_probe_read_user(&mut alen as *mut u32 as *mut _, 4, args[aux] as *const _)
                    };
                    if r == 0 {
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
                let r = unsafe {
                    bpf_probe_read_user(head.as_mut_ptr() as *mut _, 16, a as *const _)
                };
                if a != 0 && r == 0 {
                    w.user_bytes(i as u8, head[0], (head[1] as u32) as usize, SOCKADDR_MAX);
                }
            }
            ArgKind::Buf => {
                if res > 0 {
                    let mut n = res as usize;
                    if (args[aux] as usize) < n {
                        n = args[aux] as usize;
                    }
                    w.user_bytes(i as u8, a, n, BUF_SNAPLEN);
                }
            }
            ArgKind::None | ArgKind::Int | ArgKind::Fd => {}
        }
        i += 1;
    }
}
