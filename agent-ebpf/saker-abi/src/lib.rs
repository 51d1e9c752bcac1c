//! The one event ABI shared by saker's kernel programs and its userspace agent.
//!
//! Everything that crosses the ring buffer or a BPF map is defined here and nowhere
//! else: the record header, the blob framing of variable-length arguments, the
//! configuration and counter maps, and the syscall table that says, per syscall,
//! which arguments the kernel must copy and how.
//!
//! Wire format of one record (little endian, as the host):
//!
//! ```text
//! EventHeader (size_of::<EventHeader>() bytes)
//! nblobs × { BlobHeader (4 bytes) ; len bytes }
//! ```
#![no_std]

pub mod syscalls;

pub use syscalls::{plan_flags, ArgKind, ArgSpec, SyscallPlan};

/// Highest syscall number + 1 that the tables cover (x86_64 tops out below this).
pub const MAX_SYSCALLS: usize = 512;
/// Words of the syscall-interest bitmap.
pub const INTEREST_WORDS: usize = MAX_SYSCALLS / 64;

/// Largest record the kernel will emit; larger ones are truncated blob by blob.
pub const MAX_EVENT_SIZE: usize = 16384;
/// Cap on one path or string argument, including its NUL.
pub const STR_MAX: usize = 4096;
/// Cap on the argv blob (NUL-separated strings), and on the number of argv entries.
pub const ARGV_MAX_BYTES: usize = 4096;
pub const ARGV_MAX_ARGS: usize = 64;
/// Bytes of a socket address we copy (sockaddr_un is the largest family we decode).
pub const SOCKADDR_MAX: usize = 112;
/// Bytes of an I/O buffer we copy, as Falco's default snaplen.
pub const BUF_SNAPLEN: usize = 80;
/// Per-CPU scratch the kernel builds a record in. It is larger than
/// MAX_EVENT_SIZE so that a bounded copy (a string of up to STR_MAX, possibly
/// itself at an offset of up to STR_MAX inside an argv blob) starting at any
/// masked offset below MAX_EVENT_SIZE provably stays inside the buffer, which
/// is what the verifier checks.
pub const SCRATCH_SIZE: usize = MAX_EVENT_SIZE + 2 * STR_MAX + 256;

/// Kinds of record.
pub mod kind {
    /// A whole syscall: arguments, copied blobs and result, emitted at exit.
    pub const SYSCALL: u8 = 1;
    /// The enter half of a syscall whose arguments must be read before it runs
    /// (execve: argv is gone once the new image replaces memory).
    pub const SYSCALL_ENTER: u8 = 2;
    /// The exit half (result only) matching a `SYSCALL_ENTER` on the same thread.
    pub const SYSCALL_EXIT: u8 = 3;
    /// A new task's own return from clone/fork/vfork/clone3 (res is 0 there).
    /// The header describes the child; `syscall_nr` says which call made it.
    pub const CLONE_CHILD: u8 = 4;
    /// A task exited (sched_process_exit). `res` is 1 when the whole thread group is gone.
    pub const PROC_EXIT: u8 = 5;
}

/// Header flags.
pub mod hdr_flags {
    /// At least one blob was truncated at its cap.
    pub const TRUNCATED: u16 = 1;
    /// ppid/vpid/pidns/loginuid/tty/capabilities were read from the task.
    pub const TASK_INFO: u16 = 2;
    /// The enter half was not seen (the agent attached mid-syscall, or the
    /// stash was full): args are zero and only `res` is meaningful.
    pub const NO_ENTER: u16 = 4;
    /// The call named an address: a sockaddr argument, or a msghdr's
    /// `msg_name`, non-NULL with a non-zero length (for an out-argument,
    /// the length the kernel wrote back). The kernel reads a socket's own
    /// end on `LOCAL_ADDR_ARG0` calls only then.
    pub const ADDRESSED: u16 = 8;
}

/// Blob flags.
pub mod blob_flags {
    /// The value hit its size cap and was cut.
    pub const TRUNCATED: u8 = 1;
    /// Reading user memory failed (bad pointer, page not present); no bytes follow.
    pub const FAULT: u8 = 2;
}

/// Fixed part of every record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventHeader {
    /// Total record length in bytes, header and blobs.
    pub len: u32,
    pub kind: u8,
    pub nblobs: u8,
    pub flags: u16,
    /// CLOCK_BOOTTIME in ns when the record was made; userspace adds the
    /// realtime offset (boot time is monotonic across suspend and NTP steps).
    pub ts_ns: u64,
    /// Native syscall number (x86_64 numbering on x86_64).
    pub syscall_nr: u32,
    pub cpu: u32,
    /// Host-view thread and thread-group ids.
    pub tid: u32,
    pub pid: u32,
    /// Host-view tgid of the real parent, 0 when unknown.
    pub ppid: u32,
    /// Ids in the task's own PID namespace, 0 when unknown.
    pub vtid: u32,
    pub vpid: u32,
    /// Inode number of the task's PID namespace, 0 when unknown.
    pub pidns: u32,
    /// Real uid/gid of the task (bpf_get_current_uid_gid).
    pub uid: u32,
    pub gid: u32,
    /// Effective uid/gid (what Falco reports as user.uid); valid with TASK_INFO.
    pub euid: u32,
    pub egid: u32,
    /// Audit login uid, `u32::MAX` when unset or unknown.
    pub loginuid: u32,
    /// Controlling terminal as /proc/PID/stat's tty_nr encodes it, 0 when none.
    pub tty: u32,
    /// cgroup v2 id (inode of the task's cgroup directory in the unified hierarchy).
    pub cgroup_id: u64,
    /// Syscall return value (negative errno on failure).
    pub res: i64,
    /// Raw syscall arguments as the registers held them.
    pub args: [u64; 6],
    pub cap_effective: u64,
    pub cap_permitted: u64,
    pub cap_inheritable: u64,
    pub comm: [u8; 16],
}

pub const HEADER_SIZE: usize = core::mem::size_of::<EventHeader>();

/// Frames one variable-length argument after the header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlobHeader {
    /// Index (0..6) of the syscall argument this value belongs to.
    pub arg: u8,
    pub flags: u8,
    /// Bytes that follow (strings keep their NUL; argv is NUL-separated).
    pub len: u16,
}

pub const BLOB_HEADER_SIZE: usize = core::mem::size_of::<BlobHeader>();

/// Blob index (past the six syscall arguments) of the new program's facts on
/// a successful exec's exit: `i_mode` as u32 LE, then the executable's
/// dentry name (`memfd:NAME` for a memfd), NUL-terminated. Read in the kernel
/// because a short-lived process is gone before userspace can look.
pub const BLOB_EXE: u8 = 6;
/// Cap on that dentry name.
pub const EXE_NAME_MAX: usize = 256;

/// Blob index of the socket's own address (what getsockname would say) on
/// the exits of the calls with `plan_flags::LOCAL_ADDR_RES` (accept), and of
/// those with `LOCAL_ADDR_ARG0` that name a peer (connect, and sendto,
/// recvfrom, sendmsg, recvmsg with an address: an unconnected datagram
/// socket's own end): the socket's type as u16 LE, two bytes of padding, then
/// a `struct sockaddr_in` or `sockaddr_in6`. Read from the kernel's socket,
/// because the only other source is a scan of /proc/net/tcp, whose cost
/// grows with the host's connection table and which a short-lived client
/// has left before userspace looks.
pub const BLOB_LOCAL_ADDR: u8 = 7;
/// The highest blob index a record may carry.
pub const BLOB_LAST: u8 = BLOB_LOCAL_ADDR;

/// Where a task must be to be traced.
pub mod scope {
    /// Every task on the host.
    pub const HOST: u32 = 0;
    /// Only tasks outside the host's PID namespace.
    pub const CONTAINERS: u32 = 1;
    /// Only tasks in one PID namespace (sidecar mode).
    pub const TARGET_PIDNS: u32 = 2;
}

/// Counters, one slot each in the per-CPU `COUNTERS` map.
pub mod counter {
    /// Records that reached the ring buffer.
    pub const SENT: u32 = 0;
    /// Records lost because the ring buffer was full.
    pub const DROP_RING_FULL: u32 = 1;
    /// Arguments that could not be read from user memory.
    pub const READ_FAULT: u32 = 2;
    /// Records that carried a truncated value (still delivered).
    pub const TRUNCATED: u32 = 3;
    /// Syscalls whose enter half could not be stashed (map full): the exit
    /// finds nothing to pair with and the event is lost. Only syscalls that
    /// use the stash can hit it (execve/execveat, or every syscall where the
    /// exit program cannot read the saved registers).
    pub const DROP_STASH_FULL: u32 = 4;
    /// Datagram calls left out because they name no peer address and no
    /// loaded rule can match one that does not (`plan_flags::ADDRESSED_ONLY`).
    /// A filter, not a loss.
    pub const SKIPPED_NO_ADDRESS: u32 = 5;
    pub const COUNT: u32 = 6;
}

/// Offsets into kernel structures, discovered by userspace from the running
/// kernel's BTF at load time (nothing hard-coded: a field that BTF does not
/// have is `UNKNOWN` and the kernel side skips it).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelOffsets {
    pub task_real_parent: u32,
    pub task_group_leader: u32,
    pub task_tgid: u32,
    pub task_thread_pid: u32,
    pub task_loginuid: u32,
    pub task_signal: u32,
    pub task_cred: u32,
    pub pid_level: u32,
    pub pid_numbers: u32,
    /// size_of(struct upid)
    pub upid_size: u32,
    pub upid_nr: u32,
    pub upid_ns: u32,
    /// offset of `ns.inum` inside `struct pid_namespace`
    pub pidns_inum: u32,
    pub signal_tty: u32,
    pub tty_index: u32,
    pub tty_driver: u32,
    pub driver_major: u32,
    pub driver_minor_start: u32,
    pub cred_cap_inheritable: u32,
    pub cred_cap_permitted: u32,
    pub cred_cap_effective: u32,
    pub cred_euid: u32,
    pub cred_egid: u32,
    pub task_mm: u32,
    pub mm_exe_file: u32,
    pub file_dentry: u32,
    pub file_inode: u32,
    pub inode_mode: u32,
    pub dentry_name: u32,
    // The socket behind an fd, for its local address (BLOB_LOCAL_ADDR).
    pub task_files: u32,
    pub files_fdt: u32,
    pub fdtable_max_fds: u32,
    pub fdtable_fd: u32,
    pub file_private_data: u32,
    /// `struct socket`'s `type` (SOCK_STREAM, SOCK_DGRAM...).
    pub socket_type: u32,
    pub socket_sk: u32,
    /// In `struct sock` (its `__sk_common`).
    pub sk_family: u32,
    /// The local port, host byte order.
    pub sk_num: u32,
    pub sk_rcv_saddr: u32,
    pub sk_v6_rcv_saddr: u32,
    /// `task_struct.comm`, UNKNOWN unless 8-byte aligned: the register-
    /// reading exit program copies it with two direct loads through the
    /// task's BTF pointer instead of the `bpf_get_current_comm` helper.
    pub task_comm: u32,
    /// The real uid and gid in `struct cred` (`kuid_t`/`kgid_t`: one u32
    /// each), read the same way instead of `bpf_get_current_uid_gid`.
    pub cred_uid: u32,
    pub cred_gid: u32,
    /// The cgroup v2 id, as `bpf_get_current_cgroup_id` computes it:
    /// task->cgroups->dfl_cgrp->kn->id. Read with four direct loads through
    /// the task's BTF pointer instead of the helper (about 10 ns less).
    pub task_cgroups: u32,
    pub css_set_dfl_cgrp: u32,
    pub cgroup_kn: u32,
    /// `kernfs_node.id` (u64), UNKNOWN unless 8-byte aligned.
    pub kernfs_node_id: u32,
    pub _pad: u32,
}

impl KernelOffsets {
    pub const UNKNOWN: u32 = u32::MAX;

    /// Every offset the walk from a task to a socket's own address needs is
    /// known: without one the kernel would report a zero port or address
    /// instead of nothing. (`sk_v6_rcv_saddr` is checked where it is used:
    /// a kernel without IPv6 lacks it.)
    pub const fn has_socket_offsets(&self) -> bool {
        let all = [
            self.task_files,
            self.files_fdt,
            self.fdtable_max_fds,
            self.fdtable_fd,
            self.file_inode,
            self.inode_mode,
            self.file_private_data,
            self.socket_type,
            self.socket_sk,
            self.sk_family,
            self.sk_num,
            self.sk_rcv_saddr,
        ];
        let mut i = 0;
        while i < all.len() {
            if all[i] == Self::UNKNOWN {
                return false;
            }
            i += 1;
        }
        true
    }
    pub const ALL_UNKNOWN: Self = Self {
        task_real_parent: Self::UNKNOWN,
        task_group_leader: Self::UNKNOWN,
        task_tgid: Self::UNKNOWN,
        task_thread_pid: Self::UNKNOWN,
        task_loginuid: Self::UNKNOWN,
        task_signal: Self::UNKNOWN,
        task_cred: Self::UNKNOWN,
        pid_level: Self::UNKNOWN,
        pid_numbers: Self::UNKNOWN,
        upid_size: Self::UNKNOWN,
        upid_nr: Self::UNKNOWN,
        upid_ns: Self::UNKNOWN,
        pidns_inum: Self::UNKNOWN,
        signal_tty: Self::UNKNOWN,
        tty_index: Self::UNKNOWN,
        tty_driver: Self::UNKNOWN,
        driver_major: Self::UNKNOWN,
        driver_minor_start: Self::UNKNOWN,
        cred_cap_inheritable: Self::UNKNOWN,
        cred_cap_permitted: Self::UNKNOWN,
        cred_cap_effective: Self::UNKNOWN,
        cred_euid: Self::UNKNOWN,
        cred_egid: Self::UNKNOWN,
        task_mm: Self::UNKNOWN,
        mm_exe_file: Self::UNKNOWN,
        file_dentry: Self::UNKNOWN,
        file_inode: Self::UNKNOWN,
        inode_mode: Self::UNKNOWN,
        dentry_name: Self::UNKNOWN,
        task_files: Self::UNKNOWN,
        files_fdt: Self::UNKNOWN,
        fdtable_max_fds: Self::UNKNOWN,
        fdtable_fd: Self::UNKNOWN,
        file_private_data: Self::UNKNOWN,
        socket_type: Self::UNKNOWN,
        socket_sk: Self::UNKNOWN,
        sk_family: Self::UNKNOWN,
        sk_num: Self::UNKNOWN,
        sk_rcv_saddr: Self::UNKNOWN,
        sk_v6_rcv_saddr: Self::UNKNOWN,
        task_comm: Self::UNKNOWN,
        cred_uid: Self::UNKNOWN,
        cred_gid: Self::UNKNOWN,
        task_cgroups: Self::UNKNOWN,
        css_set_dfl_cgrp: Self::UNKNOWN,
        cgroup_kn: Self::UNKNOWN,
        kernfs_node_id: Self::UNKNOWN,
        _pad: 0,
    };

    /// Every offset of the walk from a task to its cgroup v2 id is known.
    pub const fn has_cgroup_offsets(&self) -> bool {
        self.task_cgroups != Self::UNKNOWN
            && self.css_set_dfl_cgrp != Self::UNKNOWN
            && self.cgroup_kn != Self::UNKNOWN
            && self.kernfs_node_id != Self::UNKNOWN
    }
}

/// The kernel programs' settings: read-only global data (`CONFIG`), fixed at load.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The agent's own tgid: never traced.
    pub self_tgid: u32,
    /// One of `scope::*`.
    pub scope: u32,
    /// dev/inode of the PID namespace for `scope::TARGET_PIDNS`, or of the host's
    /// for `scope::CONTAINERS`.
    pub pidns_dev: u64,
    pub pidns_ino: u64,
    /// Layout of the syscall tracepoint records, read from tracefs `format`.
    pub tp_enter_args_off: u32,
    pub tp_exit_ret_off: u32,
    pub tp_nr_off: u32,
    /// Wake the reader only once this many bytes are pending (readers also
    /// poll on a short timer): a wakeup per record costs more than the record.
    pub wakeup_bytes: u32,
    pub offsets: KernelOffsets,
    /// Where the exit program finds the syscall arguments in the task's
    /// saved user registers (`struct pt_regs`), so a syscall without
    /// `plan_flags::AT_ENTER` needs no enter program: it reads
    /// `REGS_SPAN` bytes from `regs_base`, and argument `i` is the u64 at
    /// slot `regs_slots[i]` of that window. `UNKNOWN` (BTF lacked a
    /// register) means arguments come from the enter tracepoint, as for
    /// execve. Set by [`Config::set_arg_regs`].
    pub regs_base: u32,
    /// 1 when every offset of the walk to a socket's own address is known
    /// ([`KernelOffsets::has_socket_offsets`], worked out here rather than
    /// on every record).
    pub socket_walk: u32,
    pub regs_slots: [u8; 8],
}

impl Config {
    pub const DEFAULT: Self = Self {
        self_tgid: 0,
        scope: scope::HOST,
        pidns_dev: 0,
        pidns_ino: 0,
        tp_enter_args_off: 16,
        tp_exit_ret_off: 16,
        tp_nr_off: 8,
        wakeup_bytes: 0,
        offsets: KernelOffsets::ALL_UNKNOWN,
        regs_base: KernelOffsets::UNKNOWN,
        socket_walk: 0,
        regs_slots: [0; 8],
    };

    /// Whether the exit program reads arguments from the saved registers.
    pub const fn args_at_exit(&self) -> bool {
        self.regs_base != KernelOffsets::UNKNOWN
    }

    /// Sets where the six syscall arguments live in `struct pt_regs`, from
    /// their byte offsets (BTF) and the struct's size. Returns false, and
    /// leaves arguments to the enter program, when they do not all fit in
    /// one aligned `REGS_SPAN` window inside the struct.
    pub fn set_arg_regs(&mut self, offsets: [u32; 6], pt_regs_size: u32) -> bool {
        self.regs_base = KernelOffsets::UNKNOWN;
        let mut lo = u32::MAX;
        let mut hi = 0;
        for off in offsets {
            if off == KernelOffsets::UNKNOWN || off % 8 != 0 || off.saturating_add(8) > pt_regs_size
            {
                return false;
            }
            lo = lo.min(off);
            hi = hi.max(off + 8);
        }
        if hi - lo > REGS_SPAN as u32 || pt_regs_size < REGS_SPAN as u32 {
            return false;
        }
        // The window must stay inside the struct: slide it down if needed.
        let base = lo.min(pt_regs_size - REGS_SPAN as u32) & !7;
        for (slot, off) in self.regs_slots.iter_mut().zip(offsets) {
            *slot = ((off - base) / 8) as u8;
        }
        self.regs_base = base;
        true
    }
}

/// Bytes of `struct pt_regs` the exit program copies to find the arguments.
pub const REGS_SPAN: usize = 64;

/// Names of the maps and programs in the eBPF object, so both sides agree.
pub mod names {
    pub const EVENTS: &str = "EVENTS";
    pub const CONFIG: &str = "CONFIG";
    pub const INTEREST: &str = "INTEREST";
    pub const PLANS: &str = "PLANS";
    pub const COUNTERS: &str = "COUNTERS";
    pub const STASH: &str = "STASH";
    pub const PROG_SYS_ENTER: &str = "saker_sys_enter";
    pub const PROG_SYS_EXIT: &str = "saker_sys_exit";
    /// The exit program without the register read, for older kernels.
    pub const PROG_SYS_EXIT_STASH: &str = "saker_sys_exit_stash";
    pub const PROG_PROC_EXIT: &str = "saker_proc_exit";
    /// A benchmark instrument, attached only when asked for
    /// (`SAKER_CAPTURE_FLOOR=string`).
    pub const PROG_FLOOR_STRING: &str = "saker_floor_string";
}

#[cfg(feature = "user")]
mod wire;

// SAFETY: repr(C) structs of integers with no padding-sensitive invariants:
// any byte pattern is a valid value, which is what Pod requires.
#[cfg(feature = "user")]
unsafe impl aya::Pod for Config {}
#[cfg(feature = "user")]
unsafe impl aya::Pod for SyscallPlan {}
#[cfg(feature = "user")]
pub use wire::{Blob, Blobs, Record, WireError};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_is_stable() {
        // Both sides compile this struct, but a change in size means every reader
        // and recorded capture must change too: make it a deliberate act.
        assert_eq!(HEADER_SIZE, 176);
        assert_eq!(HEADER_SIZE % 8, 0);
        // The kernel copies comm as two aligned u64 stores.
        assert_eq!(core::mem::offset_of!(EventHeader, comm) % 8, 0);
        assert_eq!(core::mem::align_of::<EventHeader>(), 8);
        assert_eq!(BLOB_HEADER_SIZE, 4);
        const { assert!(SCRATCH_SIZE >= MAX_EVENT_SIZE + STR_MAX) };
        // No padding: the map value is copied byte for byte.
        assert_eq!(core::mem::size_of::<Config>(), 248);
    }

    #[test]
    fn arg_regs_window() {
        // x86_64: di, si, dx, r10, r8, r9 in a 168-byte pt_regs.
        let mut c = Config::DEFAULT;
        assert!(!c.args_at_exit());
        assert!(c.set_arg_regs([112, 104, 96, 56, 72, 64], 168));
        assert!(c.args_at_exit());
        assert_eq!(c.regs_base, 56);
        assert_eq!(&c.regs_slots[..6], &[7, 6, 5, 0, 2, 1]);
        // Near the end of the struct, the window slides down.
        assert!(c.set_arg_regs([120, 128, 136, 144, 152, 160], 168));
        assert_eq!(c.regs_base, 104);
        assert_eq!(&c.regs_slots[..6], &[2, 3, 4, 5, 6, 7]);
        // Unknown, misaligned, too spread out, or outside: not used.
        let u = KernelOffsets::UNKNOWN;
        assert!(!c.set_arg_regs([u, 104, 96, 56, 72, 64], 168));
        assert!(!c.args_at_exit());
        assert!(!c.set_arg_regs([113, 104, 96, 56, 72, 64], 168));
        assert!(!c.set_arg_regs([0, 104, 96, 56, 72, 64], 168));
        assert!(!c.set_arg_regs([112, 104, 96, 56, 72, 168], 168));
    }
}
