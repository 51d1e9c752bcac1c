//! `State`: the tables, their configuration and counters, and the entry
//! point the capture loop calls for every record.

use crate::clock::Clock;
use crate::fd::FdInfo;
use crate::lookup::{ContainerLookup, HostOnly};
use crate::process::{Process, ProcessTable, TableStats};
use crate::procfs::ProcFs;
use crate::sys::SysTable;
use rustc_hash::FxHashMap;
use saker_abi::{hdr_flags, kind, EventHeader, Record};
use std::path::PathBuf;
use std::sync::Arc;

/// Tunables. Defaults suit a node agent.
#[derive(Clone, Debug)]
pub struct StateConfig {
    /// Hard cap on tracked processes (exited-but-waiting entries included).
    pub max_processes: usize,
    /// Cap on fds tracked per process.
    pub max_fds_per_process: usize,
    /// Read /proc for processes and fds the kernel events did not describe
    /// (started before us, or missing path). Off for replay and tests.
    pub proc_fallback: bool,
    /// Stat/readlink the executable at exec (exepath, exe_ino.*, writable,
    /// upper layer).
    pub exe_facts: bool,
    pub proc_root: PathBuf,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            max_processes: 131_072,
            max_fds_per_process: 4096,
            proc_fallback: true,
            exe_facts: true,
            proc_root: PathBuf::from("/proc"),
        }
    }
}

/// Counters for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub records: u64,
    pub table: TableStats,
    /// Processes first seen through an event (not the scan nor a clone).
    pub procs_from_events: u64,
    /// exec exits whose enter half was never seen.
    pub exec_unpaired: u64,
    /// fds dropped because a process's table was full.
    pub fds_dropped: u64,
    /// Reads of /proc made on the event path.
    pub proc_reads: u64,
    pub unknown_syscalls: u64,
    pub unknown_kinds: u64,
    pub fds: usize,
}

/// What the record being processed refers to, kept for its view.
#[derive(Debug, Default)]
pub(crate) struct Cur {
    /// `fd.num` of the event.
    pub fd_num: Option<i64>,
    /// An fd no longer (or never) in the table: the one close removed, or
    /// the path a failed open tried.
    pub fd_override: Option<FdInfo>,
    /// `enter_buf` holds the enter half of this exit.
    pub has_enter: bool,
    /// This event gave its fd a new name (`fd.name_changed`): a fact of the
    /// event, never of the socket. Set, as libsinsp sets it, by a datagram
    /// call that names a new peer, a connect that renames its socket, and
    /// an accept (a new fd with a name).
    pub name_changed: bool,
}

/// An exec enter waiting for its exit.
#[derive(Debug)]
pub(crate) struct PendingExec {
    pub pid: u32,
    pub bytes: Vec<u8>,
}

/// (PID namespace inode, container id) of a process, for the upper-dir cache.
pub(crate) type UpperKey = (u32, Option<Arc<str>>);

/// The process and fd tables plus everything needed to keep them.
pub struct State {
    pub(crate) cfg: StateConfig,
    pub(crate) procs: ProcessTable,
    pub(crate) procfs: ProcFs,
    pub(crate) clock: Clock,
    pub(crate) sys: SysTable,
    pub(crate) lookup: Box<dyn ContainerLookup>,
    pub(crate) pending_exec: FxHashMap<u32, PendingExec>,
    pub(crate) spare_bufs: Vec<Vec<u8>>,
    /// The matched exec enter of the current record.
    pub(crate) enter_buf: Vec<u8>,
    pub(crate) cur: Cur,
    pub(crate) evt_num: u64,
    pub(crate) host_pidns: u32,
    /// Overlay upper dir per (pidns, container), `None` if not overlay.
    /// Keyed by the container too: pidns inode numbers are reused once a namespace
    /// dies, so a later container could otherwise inherit an older one's.
    pub(crate) upper_cache: FxHashMap<UpperKey, Option<Arc<str>>>,
    /// When a namespace's overlay last could not be read (see `check_upper_layer`).
    pub(crate) upper_retry: FxHashMap<UpperKey, std::time::Instant>,
    pub(crate) stats: Stats,
    /// Reusable path buffer.
    pub(crate) scratch: String,
    pub(crate) hostname: String,
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates
    // when it fits, and we stop at the first NUL or the end either way.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

impl core::fmt::Debug for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("State")
            .field("processes", &self.procs.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl State {
    /// Empty tables with host-only metadata (no container runtime).
    pub fn new(cfg: StateConfig) -> Self {
        Self::with_lookup(cfg, Box::new(HostOnly::new()))
    }

    pub fn with_lookup(cfg: StateConfig, lookup: Box<dyn ContainerLookup>) -> Self {
        let procfs = ProcFs::new(cfg.proc_root.clone());
        let host_pidns = procfs
            .readlink(1, "ns/pid")
            .and_then(|l| {
                l.split('[')
                    .nth(1)?
                    .trim_end_matches(']')
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |v| v as u32);
        State {
            procs: ProcessTable::new(cfg.max_processes),
            procfs,
            clock: Clock::new(),
            sys: SysTable::new(),
            lookup,
            pending_exec: FxHashMap::default(),
            spare_bufs: Vec::new(),
            enter_buf: Vec::new(),
            cur: Cur::default(),
            evt_num: 0,
            host_pidns,
            upper_cache: FxHashMap::default(),
            upper_retry: FxHashMap::default(),
            stats: Stats::default(),
            scratch: String::new(),
            hostname: hostname(),
            cfg,
        }
    }

    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
    pub fn config(&self) -> &StateConfig {
        &self.cfg
    }
    pub fn processes(&self) -> &ProcessTable {
        &self.procs
    }
    pub fn process(&self, pid: u32) -> Option<&Process> {
        self.procs.get(pid)
    }
    pub fn lookup(&self) -> &dyn ContainerLookup {
        &*self.lookup
    }
    /// The PID namespace inode of the host (init's), 0 when unknown.
    pub fn host_pidns(&self) -> u32 {
        self.host_pidns
    }
    pub fn set_host_pidns(&mut self, ns: u32) {
        self.host_pidns = ns;
    }

    /// Seeds the tables from /proc. Returns how many processes were read.
    pub fn scan_proc(&mut self) -> usize {
        let mut n = 0;
        for pid in self.procfs.pids() {
            if self.procs.len() >= self.procs.cap() {
                break;
            }
            if let Some(p) = self
                .procfs
                .read_process(pid, true, self.cfg.max_fds_per_process)
            {
                self.insert_with_container(p);
                n += 1;
            }
        }
        self.recount_children();
        n
    }

    /// Parents scanned after their children must count them.
    fn recount_children(&mut self) {
        let ppids: Vec<u32> = self.procs.iter().map(|p| p.ppid).collect();
        for p in ppids {
            if let Some(pp) = self.procs.get_mut(p) {
                pp.children = 0;
            }
        }
        let ppids: Vec<(u32, u32)> = self.procs.iter().map(|p| (p.pid, p.ppid)).collect();
        for (pid, ppid) in ppids {
            if pid != ppid {
                if let Some(pp) = self.procs.get_mut(ppid) {
                    pp.children += 1;
                }
            }
        }
    }

    pub(crate) fn insert_with_container(&mut self, p: Process) -> &mut Process {
        let pid = p.pid;
        let cg = p.cgroup_id;
        let cid = self.lookup.container_id(pid, cg);
        let e = self.procs.insert(p);
        e.container_id = cid;
        e
    }

    /// Marks processes whose exit we never saw (lost events) as exited when
    /// /proc no longer has them. O(processes) stat calls: call it from a
    /// timer (every minute or so), not per event. Returns how many were found.
    pub fn sweep(&mut self) -> usize {
        if !self.cfg.proc_fallback {
            return 0;
        }
        let gone: Vec<u32> = self
            .procs
            .iter()
            .filter(|p| !p.exited && !self.procfs.exists(p.pid))
            .map(|p| p.pid)
            .collect();
        for &pid in &gone {
            self.procs.mark_exited(pid);
        }
        self.procs.reap_pending();
        gone.len()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        Stats {
            table: self.procs.stats(),
            fds: self.procs.iter().map(|p| p.fds.len()).sum(),
            ..self.stats
        }
    }

    /// Updates the tables with one record. Never fails: anything odd is
    /// counted and skipped.
    pub fn apply(&mut self, rec: &Record<'_>) {
        self.procs.reap_pending();
        self.stats.records += 1;
        self.evt_num += 1;
        self.cur.fd_num = None;
        self.cur.fd_override = None;
        self.cur.has_enter = false;
        self.cur.name_changed = false;
        match rec.header.kind {
            kind::SYSCALL => self.on_syscall(rec),
            kind::SYSCALL_ENTER => self.on_enter(rec),
            kind::SYSCALL_EXIT => self.on_exit(rec),
            kind::CLONE_CHILD => self.on_clone_child(rec),
            kind::PROC_EXIT => self.on_proc_exit(rec),
            _ => self.stats.unknown_kinds += 1,
        }
    }

    /// Parses and applies raw bytes from the ring buffer.
    pub fn apply_bytes<'a>(&mut self, bytes: &'a [u8]) -> Result<Record<'a>, crate::StateError> {
        let rec = Record::parse(bytes).map_err(crate::StateError::Wire)?;
        self.apply(&rec);
        Ok(rec)
    }

    /// The process of a record's task, created when first seen (from /proc
    /// when allowed, else from the header alone).
    pub(crate) fn ensure_process(&mut self, h: &EventHeader) {
        let pid = h.pid;
        if self.procs.contains(pid) {
            let cg_changed = self
                .procs
                .get(pid)
                .is_some_and(|p| h.cgroup_id != 0 && p.cgroup_id != h.cgroup_id);
            if cg_changed {
                let cid = self.lookup.container_id(pid, h.cgroup_id);
                if let Some(p) = self.procs.get_mut(pid) {
                    p.cgroup_id = h.cgroup_id;
                    // As in refresh_container: never back out of a container.
                    if cid.is_some() {
                        p.container_id = cid;
                    }
                }
            }
            return;
        }
        self.stats.procs_from_events += 1;
        let mut p = None;
        if self.cfg.proc_fallback {
            self.stats.proc_reads += 1;
            p = self
                .procfs
                .read_process(pid, true, self.cfg.max_fds_per_process);
        }
        let mut p = p.unwrap_or_else(|| {
            let mut p = Process::new(pid);
            p.name = Arc::from(String::from_utf8_lossy(&comm_of(h)).as_ref());
            p.start_ts = h.ts_ns;
            p
        });
        apply_header(&mut p, h);
        if h.cgroup_id != 0 {
            p.cgroup_id = h.cgroup_id;
        }
        self.insert_with_container(p);
    }

    /// Looks the container up again (the process may have been moved into
    /// a container's cgroup since it was cloned, as runc does before exec).
    pub(crate) fn refresh_container(&mut self, pid: u32) {
        let Some(p) = self.procs.get(pid) else {
            return;
        };
        // Only ever into a container: a `None` may just mean the process is
        // already gone from /proc (short-lived), and must not erase what it
        // inherited.
        if let Some(cid) = self.lookup.container_id(pid, p.cgroup_id) {
            if let Some(p) = self.procs.get_mut(pid) {
                p.container_id = Some(cid);
            }
        }
    }
}

fn comm_of(h: &EventHeader) -> Vec<u8> {
    let n = h.comm.iter().position(|&b| b == 0).unwrap_or(h.comm.len());
    h.comm[..n].to_vec()
}

/// Copies what the header knows about the task into its entry.
pub(crate) fn apply_header(p: &mut Process, h: &EventHeader) {
    if h.flags & hdr_flags::TASK_INFO != 0 {
        if h.ppid != 0 && p.ppid == 0 {
            p.ppid = h.ppid;
        }
        if h.vpid != 0 {
            p.vpid = h.vpid;
        }
        if h.pidns != 0 {
            p.pidns = h.pidns;
        }
        p.loginuid = h.loginuid;
        p.tty = h.tty;
        p.cap_effective = h.cap_effective;
        p.cap_permitted = h.cap_permitted;
        p.cap_inheritable = h.cap_inheritable;
        // Effective ids, as Falco's user.uid / group.gid.
        p.uid = h.euid;
        p.gid = h.egid;
    }
}
