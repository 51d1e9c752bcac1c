//! Process lifecycle: clone/fork (from the parent's return and from the
//! child's own, in either order), exec (pairing enter and exit halves) and exit.

use crate::apply::{base_dir, AT_FDCWD};
use crate::decode::{clone_args_flags, Argv, RecordExt};
use crate::flags::{exe, CLONE_THREAD, CLONE_VFORK};
use crate::path;
use crate::process::Process;
use crate::procfs::{cmdline_of, in_upper_layer, join_args};
use crate::state::{apply_header, PendingExec, State};
use crate::sys::Sc;
use saker_abi::{EventHeader, Record, BLOB_HEADER_SIZE, HEADER_SIZE};
use std::sync::Arc;
use std::time::Duration;

/// How long a namespace whose overlay could not be read is left alone.
const UPPER_RETRY: Duration = Duration::from_secs(1);

/// A clone child entry made within this window of its parent's return is the
/// same fork seen from the other side, not a stale entry for a reused pid.
const SAME_FORK_NS: u64 = 1_000_000_000;

/// Writes `rec` back into wire format (to keep an exec enter until its exit).
fn serialize(rec: &Record<'_>, out: &mut Vec<u8>) {
    out.clear();
    let h = rec.header;
    // SAFETY: EventHeader is repr(C) plain integers; viewing it as bytes is sound.
    let hb =
        unsafe { core::slice::from_raw_parts(&h as *const EventHeader as *const u8, HEADER_SIZE) };
    out.extend_from_slice(hb);
    let mut n = 0u8;
    for b in rec.blobs() {
        out.push(b.arg);
        out.push(b.flags);
        out.extend_from_slice(&(b.bytes.len() as u16).to_le_bytes());
        out.extend_from_slice(b.bytes);
        n += 1;
    }
    let len = out.len() as u32;
    out[0..4].copy_from_slice(&len.to_ne_bytes());
    out[5] = n;
    debug_assert!(out.len() >= HEADER_SIZE + n as usize * BLOB_HEADER_SIZE);
}

impl State {
    /// The parent's return from clone/fork/vfork/clone3 (`res` = child id).
    pub(crate) fn on_clone_parent(&mut self, rec: &Record<'_>, sc: Sc) {
        let h = &rec.header;
        if h.res <= 0 {
            return;
        }
        let flags = match sc {
            Sc::Clone => rec.arg(0),
            Sc::Clone3 => rec.blob_bytes(0).and_then(clone_args_flags).unwrap_or(0),
            Sc::Vfork => CLONE_VFORK,
            _ => 0,
        };
        if flags & CLONE_THREAD != 0 {
            return;
        }
        // `res` is in the parent's PID namespace: it is a host pid only when
        // the parent is in the host namespace. Otherwise CLONE_CHILD (which
        // carries host ids) creates the entry.
        let in_host_ns = h.vpid == 0 || h.vpid == h.pid;
        if !in_host_ns {
            return;
        }
        let child = h.res as u32;
        if let Some(c) = self.procs.get(child) {
            if c.ppid == h.pid && c.start_ts.saturating_add(SAME_FORK_NS) >= h.ts_ns {
                return; // the child reported first
            }
        }
        let Some(parent) = self.procs.get(h.pid) else {
            return;
        };
        let mut c = Process::fork_of(parent, child);
        c.start_ts = h.ts_ns;
        c.awaiting_child = true;
        c.container_id = parent.container_id.clone();
        self.procs.insert(c);
    }

    /// The child's own return from clone (header describes the child).
    pub(crate) fn on_clone_child(&mut self, rec: &Record<'_>) {
        let h = &rec.header;
        if h.tid != h.pid {
            // A new thread: its process is all we track.
            self.ensure_process(h);
            return;
        }
        let fresh = self.procs.get(h.pid).is_some_and(|c| {
            c.awaiting_child
                || (c.ppid == h.ppid && c.start_ts.saturating_add(SAME_FORK_NS) >= h.ts_ns)
        });
        if fresh {
            if let Some(c) = self.procs.get_mut(h.pid) {
                c.awaiting_child = false;
                apply_header(c, h);
            }
            // Notices a cgroup different from the parent's.
            self.ensure_process(h);
            return;
        }
        if !self.procs.contains(h.ppid) && self.cfg.proc_fallback && h.ppid != 0 {
            self.stats.proc_reads += 1;
            if let Some(pp) = self
                .procfs
                .read_process(h.ppid, true, self.cfg.max_fds_per_process)
            {
                self.insert_with_container(pp);
            }
        }
        let mut c = match self.procs.get(h.ppid) {
            Some(parent) => {
                let mut c = Process::fork_of(parent, h.pid);
                c.container_id = parent.container_id.clone();
                c
            }
            None => {
                let mut c = Process::new(h.pid);
                c.ppid = h.ppid;
                c.name = Arc::from(String::from_utf8_lossy(rec.comm()).as_ref());
                c
            }
        };
        c.start_ts = h.ts_ns;
        apply_header(&mut c, h);
        let cg_changed = h.cgroup_id != 0 && c.cgroup_id != h.cgroup_id;
        if h.cgroup_id != 0 {
            c.cgroup_id = h.cgroup_id;
        }
        if cg_changed || !self.procs.contains(h.ppid) {
            self.insert_with_container(c);
        } else {
            self.procs.insert(c);
        }
    }

    pub(crate) fn on_proc_exit(&mut self, rec: &Record<'_>) {
        let h = &rec.header;
        // res = 1 says the whole thread group is gone; a kernel side that
        // cannot tell (res 0) still reports the leader's exit, which is
        // where Falco drops the process too.
        if h.res == 1 || h.tid == h.pid {
            self.procs.mark_exited(h.pid);
        }
        // A dead task's half-done exec will never finish.
        if let Some(p) = self.pending_exec.remove(&h.tid) {
            self.spare_bufs.push(p.bytes);
        }
    }

    /// An exec enter: keep its arguments until the exit.
    pub(crate) fn on_enter(&mut self, rec: &Record<'_>) {
        let h = &rec.header;
        self.ensure_process(h);
        let mut buf = self.spare_bufs.pop().unwrap_or_default();
        serialize(rec, &mut buf);
        // Bounded: one pending exec per thread; a flood of enters without
        // exits (lost events) is capped.
        if self.pending_exec.len() >= 4096 {
            let victim = self.pending_exec.keys().next().copied();
            if let Some(v) = victim {
                self.pending_exec.remove(&v);
            }
        }
        if let Some(old) = self.pending_exec.insert(
            h.tid,
            PendingExec {
                pid: h.pid,
                bytes: buf,
            },
        ) {
            self.spare_bufs.push(old.bytes);
        }
    }

    /// An exec exit: pair with its enter (by tid, then by pid since a
    /// non-leader thread's exec takes the leader's tid) and apply.
    pub(crate) fn on_exit(&mut self, rec: &Record<'_>) {
        let h = &rec.header;
        self.ensure_process(h);
        let key = if self.pending_exec.contains_key(&h.tid) {
            Some(h.tid)
        } else {
            self.pending_exec
                .iter()
                .find(|(_, p)| p.pid == h.pid)
                .map(|(k, _)| *k)
        };
        let pending = key.and_then(|k| self.pending_exec.remove(&k));
        match pending {
            Some(p) => {
                let old = core::mem::replace(&mut self.enter_buf, p.bytes);
                self.spare_bufs.push(old);
                self.cur.has_enter = true;
            }
            None => self.stats.exec_unpaired += 1,
        }
        let Some(info) = self.sys.get(h.syscall_nr).copied() else {
            return;
        };
        if h.res != 0 || !info.sc.is_exec() {
            return;
        }
        let kernel_exe = rec.blob(saker_abi::BLOB_EXE).and_then(|b| {
            let mode = u32::from_le_bytes(b.bytes.get(..4)?.try_into().ok()?);
            let name = b.bytes[4..].split(|&c| c == 0).next()?;
            Some((mode, String::from_utf8_lossy(name).into_owned()))
        });
        self.do_exec(h, info.sc, kernel_exe);
    }

    /// `kernel_exe`: the new program's inode mode and dentry name as the
    /// kernel saw them at exec, for when /proc is already gone.
    fn do_exec(&mut self, h: &EventHeader, sc: Sc, kernel_exe: Option<(u32, String)>) {
        let enter_bytes = core::mem::take(&mut self.enter_buf);
        let enter = if self.cur.has_enter {
            Record::parse(&enter_bytes).ok()
        } else {
            None
        };
        let (path_arg, argv_arg) = if sc == Sc::Execveat { (1, 2) } else { (0, 1) };
        let filename = enter.as_ref().and_then(|r| r.str_arg(path_arg));
        let argv = enter.as_ref().and_then(|r| r.blob_bytes(argv_arg));
        let dirfd = (sc == Sc::Execveat).then(|| enter.as_ref().map_or(AT_FDCWD, |r| r.arg_fd(0)));
        let comm = {
            let n = h.comm.iter().position(|&b| b == 0).unwrap_or(h.comm.len());
            String::from_utf8_lossy(&h.comm[..n]).into_owned()
        };
        let trusted = if self.cfg.exe_facts {
            self.procfs.readlink(h.pid, "exe")
        } else {
            None
        };
        let proc_cmdline = if argv.is_none() && self.cfg.proc_fallback {
            self.procfs.cmdline(h.pid)
        } else {
            None
        };
        let pid = h.pid;
        let Some(p) = self.procs.get_mut(pid) else {
            self.enter_buf = enter_bytes;
            return;
        };
        p.name = Arc::from(comm);
        match argv {
            Some(argv) => {
                let mut it = Argv::new(argv);
                let a0 = it.next().unwrap_or_default();
                p.exe = Arc::from(String::from_utf8_lossy(a0).as_ref());
                let args = join_args(it);
                p.cmdline = cmdline_of(&p.name, &args);
                p.args = Arc::from(args);
            }
            None => {
                // No argv (lost enter): /proc still has it if the process lives.
                if let Some(cmd) = proc_cmdline {
                    let mut it = Argv::new(&cmd);
                    p.exe =
                        Arc::from(String::from_utf8_lossy(it.next().unwrap_or_default()).as_ref());
                    let args = join_args(it);
                    p.cmdline = cmdline_of(&p.name, &args);
                    p.args = Arc::from(args);
                } else {
                    p.cmdline = p.name.clone();
                    p.args = crate::process::empty();
                }
            }
        }
        if let Some(f) = filename {
            let raw = String::from_utf8_lossy(f);
            let base = base_dir(p, dirfd).unwrap_or_else(crate::process::empty);
            p.exepath = Arc::from(path::resolve(&base, &raw));
            if p.exe.is_empty() {
                p.exe = Arc::from(raw.as_ref());
            }
        }
        match (&trusted, &kernel_exe) {
            (Some(t), _) => p.exepath = Arc::from(t.trim_end_matches(" (deleted)")),
            // Gone already: a memfd's dentry is `memfd:NAME`, and /proc would
            // have said `/memfd:NAME (deleted)`.
            (None, Some((_, name))) if name.starts_with("memfd:") => {
                p.exepath = Arc::from(format!("/{name}"))
            }
            _ => {}
        }
        apply_header(p, h);
        p.fds.close_on_exec();
        p.env = Default::default();
        p.exe_flags = 0;
        p.exe_ino = 0;
        p.exe_ctime = 0;
        p.exe_mtime = 0;
        if self.cfg.exe_facts {
            self.procfs.fill_exe_facts(p);
        } else if p.exepath.starts_with("/memfd:") {
            p.exe_flags |= exe::FROM_MEMFD;
        }
        if p.exe_ino == 0 {
            // /proc could not be read: judge writability from the kernel's
            // mode (root writes anything with a w bit; others, the o+w bit).
            if let Some((mode, _)) = kernel_exe {
                let w = if p.uid == 0 {
                    mode & 0o222
                } else {
                    mode & 0o002
                };
                if w != 0 {
                    p.exe_flags |= exe::WRITABLE;
                }
            }
        }
        self.refresh_container(pid);
        self.check_upper_layer(pid);
        self.enter_buf = enter_bytes;
    }

    /// Sets EXE_UPPER_LAYER when the executable lives in the overlay upper
    /// dir of a containerised process's root (written after the image).
    fn check_upper_layer(&mut self, pid: u32) {
        if !self.cfg.exe_facts {
            return;
        }
        let Some(p) = self.procs.get(pid) else {
            return;
        };
        if p.pidns == 0 || p.pidns == self.host_pidns || p.exe_flags & exe::FROM_MEMFD != 0 {
            return;
        }
        let key = (p.pidns, p.container_id.clone());
        if !self.upper_cache.contains_key(&key) {
            // A namespace whose init told us nothing a moment ago (still at
            // the host's root, or gone) is not asked again on every exec:
            // finding its init costs a scan of the process table. The
            // process's own look is always made, so a new container's first
            // dropped binary is not missed behind the throttle.
            let throttled = self
                .upper_retry
                .get(&key)
                .is_some_and(|t| t.elapsed() < UPPER_RETRY);
            // A process already gone (or a zombie) tells us nothing about its
            // namespace's root: caching "none" from it would blind the rule
            // for every later process of the container. When it is gone, the
            // namespace's init (usually long-lived) is asked instead.
            let ns_init = || {
                self.procs
                    .iter()
                    .find(|q| q.pidns == key.0 && q.vpid == 1 && !q.exited)
                    .map(|q| q.pid)
            };
            let Some(up) = self.procfs.overlay_upperdir(pid).or_else(|| {
                if throttled {
                    return None;
                }
                self.procfs.overlay_upperdir(ns_init()?)
            }) else {
                if !throttled {
                    if self.upper_retry.len() > 4096 {
                        self.upper_retry.clear();
                    }
                    self.upper_retry.insert(key, std::time::Instant::now());
                }
                return;
            };
            self.upper_retry.remove(&key);
            let up = up.map(Arc::from);
            if self.upper_cache.len() > 4096 {
                self.upper_cache.clear();
            }
            self.upper_cache.insert(key.clone(), up);
        }
        let Some(Some(upper)) = self.upper_cache.get(&key).cloned() else {
            return;
        };
        if let Some(p) = self.procs.get_mut(pid) {
            p.exe_flags |= if in_upper_layer(&upper, &p.exepath) {
                exe::UPPER_LAYER
            } else {
                exe::LOWER_LAYER
            };
        }
    }
}
