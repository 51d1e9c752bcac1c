//! The process table: one entry per thread group (keyed by host pid), with
//! ancestry, reaping of exited entries and a hard cap with eviction.
//!
//! Keyed by process, not thread: every record carries both tid and pid, so a
//! thread's events find their process directly and the table does not grow
//! with threads (a fork bomb of threads costs nothing).

use crate::fd::FdTable;
use rustc_hash::FxHashMap;
use std::cell::OnceCell;
use std::collections::VecDeque;
use std::sync::Arc;

/// Shared empty string, so new entries do not allocate.
pub fn empty() -> Arc<str> {
    thread_local! {
        static EMPTY: Arc<str> = Arc::from("");
    }
    EMPTY.with(Arc::clone)
}

/// One process (thread group).
#[derive(Clone, Debug)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    /// Ids in the process's own PID namespace (0 when unknown).
    pub vpid: u32,
    pub pidns: u32,
    /// Session id and process group in the process's namespace view.
    pub sid: u32,
    pub vpgid: u32,
    /// `proc.name`: comm after the last exec.
    pub name: Arc<str>,
    /// `proc.exe`: `argv[0]` of the last exec.
    pub exe: Arc<str>,
    /// `proc.exepath`: full path of the executable.
    pub exepath: Arc<str>,
    /// `proc.args`: argv[1..] joined by spaces.
    pub args: Arc<str>,
    /// `proc.cmdline`: `name args`.
    pub cmdline: Arc<str>,
    pub cwd: Arc<str>,
    pub tty: u32,
    pub loginuid: u32,
    pub uid: u32,
    pub gid: u32,
    pub cap_effective: u64,
    pub cap_permitted: u64,
    pub cap_inheritable: u64,
    /// CLOCK_BOOTTIME ns of the clone (or of the /proc start time).
    pub start_ts: u64,
    pub cgroup_id: u64,
    /// Full container id, `None` on the host.
    pub container_id: Option<Arc<str>>,
    /// Facts about the executable (`flags::exe::*`).
    pub exe_flags: u32,
    pub exe_ino: u64,
    /// Realtime ns of the executable's ctime and mtime, 0 when unknown.
    pub exe_ctime: u64,
    pub exe_mtime: u64,
    pub fds: FdTable,
    /// `proc.env`, read from /proc on first use.
    pub env: OnceCell<Option<Arc<str>>>,
    /// Live (non-reaped) entries whose ppid is this process.
    pub children: u32,
    pub exited: bool,
    /// Set when the entry was made from the parent's clone return and the
    /// child's own CLONE_CHILD has not been seen yet.
    pub awaiting_child: bool,
    /// Insertion generation, for the eviction queue.
    gen: u64,
}

impl Process {
    /// A blank entry for `pid`, no strings allocated.
    pub fn new(pid: u32) -> Self {
        let e = empty();
        Process {
            pid,
            ppid: 0,
            vpid: 0,
            pidns: 0,
            sid: 0,
            vpgid: 0,
            name: e.clone(),
            exe: e.clone(),
            exepath: e.clone(),
            args: e.clone(),
            cmdline: e.clone(),
            cwd: e,
            tty: 0,
            loginuid: u32::MAX,
            uid: 0,
            gid: 0,
            cap_effective: 0,
            cap_permitted: 0,
            cap_inheritable: 0,
            start_ts: 0,
            cgroup_id: 0,
            container_id: None,
            exe_flags: 0,
            exe_ino: 0,
            exe_ctime: 0,
            exe_mtime: 0,
            fds: FdTable::default(),
            env: OnceCell::new(),
            children: 0,
            exited: false,
            awaiting_child: false,
            gen: 0,
        }
    }

    /// The child of a fork: everything inherited, strings shared.
    pub fn fork_of(parent: &Process, pid: u32) -> Self {
        let mut p = parent.clone();
        p.pid = pid;
        p.ppid = parent.pid;
        p.vpid = 0;
        p.children = 0;
        p.exited = false;
        p.awaiting_child = false;
        p.env = OnceCell::new();
        p.gen = 0;
        p
    }

    /// `proc.is_vpgid_leader`.
    pub fn is_vpgid_leader(&self) -> bool {
        self.vpid != 0 && self.vpid == self.vpgid
    }
}

/// Counters reported by `State::stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    pub processes: usize,
    /// Live entries pushed out because the table was at its cap.
    pub evicted_live: u64,
    /// Exited entries pushed out before their children were gone.
    pub evicted_exited: u64,
    /// Exited entries removed normally.
    pub reaped: u64,
    pub created: u64,
}

/// Process entries with a cap.
#[derive(Debug)]
pub struct ProcessTable {
    map: FxHashMap<u32, Process>,
    cap: usize,
    next_gen: u64,
    /// Insertion order (pid, gen); stale pairs are skipped lazily.
    order: VecDeque<(u32, u64)>,
    /// Exited entries still waiting for their children (pid, gen).
    exited: VecDeque<(u32, u64)>,
    /// Entries to remove before the next record (kept for one event so the
    /// exit event itself still sees its process).
    pending_reap: Vec<u32>,
    stats: TableStats,
}

impl ProcessTable {
    pub fn new(cap: usize) -> Self {
        ProcessTable {
            map: FxHashMap::default(),
            cap: cap.max(16),
            next_gen: 1,
            order: VecDeque::new(),
            exited: VecDeque::new(),
            pending_reap: Vec::new(),
            stats: TableStats::default(),
        }
    }

    pub fn cap(&self) -> usize {
        self.cap
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn get(&self, pid: u32) -> Option<&Process> {
        self.map.get(&pid)
    }
    pub fn get_mut(&mut self, pid: u32) -> Option<&mut Process> {
        self.map.get_mut(&pid)
    }
    pub fn contains(&self, pid: u32) -> bool {
        self.map.contains_key(&pid)
    }
    pub fn iter(&self) -> impl Iterator<Item = &Process> {
        self.map.values()
    }
    pub fn stats(&self) -> TableStats {
        TableStats {
            processes: self.map.len(),
            ..self.stats
        }
    }

    /// Inserts (or replaces) an entry, evicting to stay under the cap.
    pub fn insert(&mut self, mut p: Process) -> &mut Process {
        let pid = p.pid;
        if let Some(old) = self.map.remove(&pid) {
            // A reused pid: the old entry's parent loses a child.
            self.detach_from_parent(old.ppid);
        } else {
            while self.map.len() >= self.cap {
                if !self.evict_one() {
                    break;
                }
            }
        }
        p.gen = self.next_gen;
        self.next_gen += 1;
        p.children = 0;
        if let Some(parent) = self.map.get_mut(&p.ppid) {
            if p.ppid != pid {
                parent.children += 1;
            }
        }
        self.order.push_back((pid, p.gen));
        self.compact_queues();
        self.stats.created += 1;
        // Children already in the table (seen before their parent) count.
        self.map.entry(pid).or_insert(p)
    }

    fn compact_queues(&mut self) {
        // Stale pairs accumulate with churn; rebuild once they dominate.
        if self.order.len() > 2 * self.cap + 1024 {
            let map = &self.map;
            self.order
                .retain(|(pid, g)| map.get(pid).is_some_and(|p| p.gen == *g));
        }
        if self.exited.len() > 2 * self.cap + 1024 {
            let map = &self.map;
            self.exited
                .retain(|(pid, g)| map.get(pid).is_some_and(|p| p.gen == *g && p.exited));
        }
    }

    /// Evicts the oldest exited entry, else the oldest live one.
    fn evict_one(&mut self) -> bool {
        while let Some((pid, g)) = self.exited.pop_front() {
            if self.map.get(&pid).is_some_and(|p| p.gen == g && p.exited) {
                self.remove(pid);
                self.stats.evicted_exited += 1;
                return true;
            }
        }
        while let Some((pid, g)) = self.order.pop_front() {
            if self.map.get(&pid).is_some_and(|p| p.gen == g) {
                self.remove(pid);
                self.stats.evicted_live += 1;
                return true;
            }
        }
        false
    }

    fn detach_from_parent(&mut self, ppid: u32) {
        if let Some(parent) = self.map.get_mut(&ppid) {
            parent.children = parent.children.saturating_sub(1);
            if parent.exited && parent.children == 0 {
                self.pending_reap.push(ppid);
            }
        }
    }

    /// Removes an entry now; its parent is reaped too if it was only waiting
    /// for this child.
    pub fn remove(&mut self, pid: u32) -> Option<Process> {
        let p = self.map.remove(&pid)?;
        if p.ppid != pid {
            self.detach_from_parent(p.ppid);
        }
        Some(p)
    }

    /// Marks a process as exited; it goes once its children are gone.
    pub fn mark_exited(&mut self, pid: u32) {
        if let Some(p) = self.map.get_mut(&pid) {
            if p.exited {
                return;
            }
            p.exited = true;
            p.fds.clear();
            if p.children == 0 {
                self.pending_reap.push(pid);
            } else {
                self.exited.push_back((pid, p.gen));
            }
        }
    }

    /// Removes what was scheduled by the previous record (cascading to
    /// exited parents whose last child this was).
    pub fn reap_pending(&mut self) {
        while let Some(pid) = self.pending_reap.pop() {
            let reap = self
                .map
                .get(&pid)
                .is_some_and(|p| p.exited && p.children == 0);
            if reap {
                self.remove(pid);
                self.stats.reaped += 1;
            }
        }
    }

    /// The `n`th ancestor (1 = parent), stopping at a loop or a missing entry.
    pub fn ancestor(&self, pid: u32, n: usize) -> Option<&Process> {
        let mut cur = self.map.get(&pid)?;
        for _ in 0..n {
            if cur.ppid == 0 || cur.ppid == cur.pid {
                return None;
            }
            cur = self.map.get(&cur.ppid)?;
        }
        Some(cur)
    }

    /// Ancestors from the parent up, bounded against cycles.
    pub fn ancestors(&self, pid: u32) -> Ancestors<'_> {
        Ancestors {
            table: self,
            cur: self.map.get(&pid),
            left: 64,
        }
    }

    /// The session leader (`proc.sname`): the nearest ancestor (or self)
    /// whose pid is the session id, in the namespace view.
    pub fn session_leader(&self, pid: u32) -> Option<&Process> {
        let me = self.map.get(&pid)?;
        if me.sid == 0 {
            return None;
        }
        let mut cur = me;
        for _ in 0..64 {
            let id = if cur.vpid != 0 { cur.vpid } else { cur.pid };
            if id == me.sid && cur.pidns == me.pidns {
                return Some(cur);
            }
            if cur.ppid == 0 || cur.ppid == cur.pid {
                return None;
            }
            cur = self.map.get(&cur.ppid)?;
        }
        None
    }
}

/// Iterator over a process's ancestors.
pub struct Ancestors<'a> {
    table: &'a ProcessTable,
    cur: Option<&'a Process>,
    left: u32,
}

impl<'a> Iterator for Ancestors<'a> {
    type Item = &'a Process;
    fn next(&mut self) -> Option<&'a Process> {
        let cur = self.cur?;
        if self.left == 0 || cur.ppid == 0 || cur.ppid == cur.pid {
            self.cur = None;
            return None;
        }
        self.left -= 1;
        self.cur = self.table.get(cur.ppid);
        self.cur
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc_(pid: u32, ppid: u32, name: &str) -> Process {
        let mut p = Process::new(pid);
        p.ppid = ppid;
        p.name = Arc::from(name);
        p
    }

    #[test]
    fn ancestry_and_reaping() {
        let mut t = ProcessTable::new(100);
        t.insert(proc_(1, 0, "init"));
        t.insert(proc_(10, 1, "bash"));
        t.insert(proc_(11, 10, "sh"));
        t.insert(proc_(12, 11, "cat"));
        assert_eq!(&*t.ancestor(12, 1).unwrap().name, "sh");
        assert_eq!(&*t.ancestor(12, 3).unwrap().name, "init");
        assert!(t.ancestor(12, 4).is_none());
        let names: Vec<_> = t.ancestors(12).map(|p| p.name.to_string()).collect();
        assert_eq!(names, ["sh", "bash", "init"]);

        // The middle shell exits first: kept while its child lives.
        t.mark_exited(11);
        t.reap_pending();
        assert!(t.contains(11));
        assert_eq!(&*t.ancestor(12, 2).unwrap().name, "bash");
        t.mark_exited(12);
        assert!(t.contains(12), "kept for the exit event itself");
        t.reap_pending();
        assert!(!t.contains(12));
        t.reap_pending();
        assert!(!t.contains(11), "parent reaped after its last child");
        assert_eq!(t.get(10).unwrap().children, 0);
        assert_eq!(t.stats().reaped, 2);
    }

    #[test]
    fn cap_evicts_exited_first_then_oldest() {
        let mut t = ProcessTable::new(16);
        t.insert(proc_(1, 0, "init"));
        for pid in 2..=16 {
            t.insert(proc_(pid, 1, "x"));
        }
        t.insert(proc_(100, 2, "child")); // evicts 1 (oldest live)
        assert_eq!(t.len(), 16);
        assert!(!t.contains(1));
        t.mark_exited(2); // has a child: waits
        t.insert(proc_(101, 3, "y"));
        assert!(
            !t.contains(2),
            "exited entries are evicted before live ones"
        );
        let s = t.stats();
        assert_eq!((s.evicted_live, s.evicted_exited), (1, 1));
    }

    #[test]
    fn loops_do_not_hang() {
        let mut t = ProcessTable::new(100);
        t.insert(proc_(5, 6, "a"));
        t.insert(proc_(6, 5, "b"));
        assert_eq!(t.ancestors(5).count(), 64);
        assert!(t.session_leader(5).is_none());
    }
}
