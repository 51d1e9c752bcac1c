//! `EventView`: one record plus the state it refers to, the thing rules are
//! evaluated against. Lookups (process, fd, syscall row) happen once when the
//! view is made; strings that must be rendered are rendered on first use
//! into per-view cells, so values can borrow from the view.

use crate::fd::FdInfo;
use crate::lookup::{ContainerField, MetaValue};
use crate::process::Process;
use crate::state::State;
use crate::sys::SysInfo;
use saker_abi::{hdr_flags, kind, Record};
use std::cell::OnceCell;
use std::sync::Arc;

/// Slots for keyed metadata (`k8s.pod.label[KEY]`, `container.mount.dest[P]`).
const KEYED_SLOTS: usize = 16;

/// One keyed metadata answer: field, key, value.
pub(crate) type Keyed = (ContainerField, Box<str>, Option<MetaValue>);

#[derive(Default)]
pub(crate) struct Cells {
    pub args: [OnceCell<String>; 6],
    pub synth: [OnceCell<String>; 5],
    pub evt_args: OnceCell<String>,
    pub time: [OnceCell<String>; 3],
    pub caps: [OnceCell<String>; 3],
    pub user: OnceCell<Option<Arc<str>>>,
    pub loginname: OnceCell<Option<Arc<str>>>,
    pub group: OnceCell<Option<Arc<str>>>,
    pub exeline: OnceCell<String>,
    pub paths: [OnceCell<Option<String>>; 2],
    /// Boxed on first use: most events never ask for container fields, and
    /// a smaller view is cheaper to make.
    pub meta: OnceCell<Box<[OnceCell<Option<MetaValue>>; 13]>>,
    pub keyed: OnceCell<Box<[OnceCell<Keyed>; KEYED_SLOTS]>>,
}

/// A record seen through the state tables.
pub struct EventView<'a> {
    pub(crate) st: &'a State,
    pub(crate) rec: Record<'a>,
    pub(crate) info: Option<&'a SysInfo>,
    pub(crate) proc_: Option<&'a Process>,
    pub(crate) fd: Option<&'a FdInfo>,
    /// The enter half of an exec exit (its filename and argv).
    pub(crate) enter: Option<Record<'a>>,
    pub(crate) cells: Cells,
}

impl State {
    /// The view of `rec`, which must have just been passed to `apply`.
    pub fn view<'a>(&'a self, rec: &Record<'a>) -> EventView<'a> {
        let h = &rec.header;
        let info = self.sys.get(h.syscall_nr);
        let proc_ = self.procs.get(h.pid);
        let fd = match (&self.cur.fd_override, self.cur.fd_num, proc_) {
            (Some(f), _, _) => Some(f),
            (None, Some(n), Some(p)) if n >= 0 && n <= i32::MAX as i64 => p.fds.get(n as i32),
            _ => None,
        };
        let enter = if h.kind == kind::SYSCALL_EXIT && self.cur.has_enter {
            Record::parse(&self.enter_buf).ok()
        } else {
            None
        };
        EventView {
            st: self,
            rec: *rec,
            info,
            proc_,
            fd,
            enter,
            cells: Cells::default(),
        }
    }
}

impl<'a> EventView<'a> {
    pub fn record(&self) -> &Record<'a> {
        &self.rec
    }
    pub fn process(&self) -> Option<&'a Process> {
        self.proc_
    }
    pub fn fd(&self) -> Option<&'a FdInfo> {
        self.fd
    }
    pub fn state(&self) -> &'a State {
        self.st
    }

    /// `evt.type`.
    pub fn evt_type_str(&self) -> &'static str {
        match self.rec.header.kind {
            kind::PROC_EXIT => "procexit",
            _ => self.info.map_or("unknown", |i| i.def.name),
        }
    }

    /// `evt.dir`: exits (and whole syscalls, which we emit at exit) are `<`.
    pub fn dir(&self) -> &'static str {
        match self.rec.header.kind {
            kind::SYSCALL_ENTER | kind::PROC_EXIT => ">",
            _ => "<",
        }
    }

    /// The record holding the syscall's arguments (an exec exit's enter).
    pub(crate) fn args_rec(&self) -> &Record<'a> {
        self.enter.as_ref().unwrap_or(&self.rec)
    }

    pub(crate) fn has_res(&self) -> bool {
        matches!(
            self.rec.header.kind,
            kind::SYSCALL | kind::SYSCALL_EXIT | kind::CLONE_CHILD
        )
    }

    pub(crate) fn task_info(&self) -> bool {
        self.rec.header.flags & hdr_flags::TASK_INFO != 0
    }

    /// Capabilities: the record's own when the kernel read them, else the table's.
    pub(crate) fn caps(&self) -> Option<(u64, u64, u64)> {
        let h = &self.rec.header;
        if self.task_info() {
            Some((h.cap_effective, h.cap_permitted, h.cap_inheritable))
        } else {
            self.proc_
                .map(|p| (p.cap_effective, p.cap_permitted, p.cap_inheritable))
        }
    }

    /// Effective uid (Falco's user.uid): the record's when the kernel read
    /// the task, else the table's (kept by exec/clone and set*id calls).
    pub(crate) fn uid(&self) -> u32 {
        if self.task_info() {
            self.rec.header.euid
        } else {
            self.proc_.map_or(self.rec.header.uid, |p| p.uid)
        }
    }

    pub(crate) fn gid(&self) -> u32 {
        if self.task_info() {
            self.rec.header.egid
        } else {
            self.proc_.map_or(self.rec.header.gid, |p| p.gid)
        }
    }

    pub(crate) fn loginuid(&self) -> u32 {
        if self.task_info() {
            self.rec.header.loginuid
        } else {
            self.proc_.map_or(u32::MAX, |p| p.loginuid)
        }
    }

    pub(crate) fn tty(&self) -> u32 {
        if self.task_info() {
            self.rec.header.tty
        } else {
            self.proc_.map_or(0, |p| p.tty)
        }
    }

    pub(crate) fn container(&self) -> Option<&'a str> {
        self.proc_.and_then(|p| p.container_id.as_deref())
    }

    pub(crate) fn user_name(&self, uid: u32) -> Option<&str> {
        self.cells
            .user
            .get_or_init(|| {
                self.st
                    .lookup
                    .user_name(self.container(), self.rec.header.pid, uid)
            })
            .as_deref()
    }

    pub(crate) fn meta(&self, f: ContainerField, arg: Option<&str>) -> Option<&MetaValue> {
        let cid = self.container()?;
        match arg {
            None => self.cells.meta.get_or_init(Box::default)[f as usize]
                .get_or_init(|| self.st.lookup.field(cid, f, None))
                .as_ref(),
            Some(key) => {
                for slot in self.cells.keyed.get_or_init(Box::default).iter() {
                    match slot.get() {
                        Some((kf, k, v)) if *kf == f && &**k == key => return v.as_ref(),
                        Some(_) => continue,
                        None => {
                            let v = self.st.lookup.field(cid, f, Some(key));
                            return slot.get_or_init(|| (f, key.into(), v)).2.as_ref();
                        }
                    }
                }
                None
            }
        }
    }

    /// The `n`th ancestor (0 = self).
    pub(crate) fn ancestor(&self, n: usize) -> Option<&'a Process> {
        let pid = self.proc_?.pid;
        self.st.procs.ancestor(pid, n)
    }

    /// The process-group leader (`proc.vpgid.*`).
    pub(crate) fn vpgid_leader(&self) -> Option<&'a Process> {
        let me = self.proc_?;
        if me.vpgid == 0 {
            return None;
        }
        core::iter::once(me)
            .chain(self.st.procs.ancestors(me.pid))
            .find(|p| p.pidns == me.pidns && (if p.vpid != 0 { p.vpid } else { p.pid }) == me.vpgid)
    }
}
