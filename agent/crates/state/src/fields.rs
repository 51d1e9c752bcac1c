//! `FieldSource` for live events: every field id of saker-filter's catalogue
//! mapped to the view. Fields with no value for this event push nothing.

use crate::clock::format_time;
use crate::fd::{FdType, Role};
use crate::flags::exe;
use crate::lookup::{ContainerField as CF, MetaValue};
use crate::names::{errno_name, render_caps};
use crate::path;
use crate::process::Process;
use crate::render::Slot;
use crate::view::EventView;
use saker_filter::fields::{FieldArg, FieldId as F, FieldRef, FieldSource, Value, Values};

/// `fd.typechar` as a static one-character string.
fn typechar_str(t: FdType) -> &'static str {
    match t.as_char() {
        'f' => "f",
        'd' => "d",
        '4' => "4",
        '6' => "6",
        'u' => "u",
        'p' => "p",
        'e' => "e",
        's' => "s",
        'l' => "l",
        'i' => "i",
        't' => "t",
        'n' => "n",
        'm' => "m",
        'b' => "b",
        'r' => "r",
        'P' => "P",
        _ => "o",
    }
}

fn index(arg: &FieldArg) -> Option<usize> {
    match arg {
        FieldArg::Index(i) => Some(*i as usize),
        _ => None,
    }
}

fn key(arg: &FieldArg) -> Option<&str> {
    match arg {
        FieldArg::Key(k) => Some(k),
        _ => None,
    }
}

fn meta_value(v: &MetaValue) -> Value<'_> {
    match v {
        MetaValue::Str(s) => Value::Str(s),
        MetaValue::Bool(b) => Value::Bool(*b),
        // Timestamps are the only integers: the catalogue types them U64.
        MetaValue::Int(i) if *i >= 0 => Value::U64(*i as u64),
        MetaValue::Int(i) => Value::I64(*i),
    }
}

impl<'a> EventView<'a> {
    fn time_cell(&self, which: usize) -> &str {
        self.cells.time[which].get_or_init(|| {
            let ns = self.st.clock.realtime(self.rec.header.ts_ns);
            let mut s = String::new();
            match which {
                0 => format_time(&mut s, ns, true),
                1 => {
                    format_time(&mut s, ns, false);
                    s.truncate(8);
                }
                _ => {
                    format_time(&mut s, ns, true);
                    s = s.replacen('T', " ", 1).trim_end_matches('Z').to_string();
                }
            }
            s
        })
    }

    fn caps_cell(&self, which: usize) -> Option<&str> {
        let (e, p, i) = self.caps()?;
        let set = [e, p, i][which];
        Some(self.cells.caps[which].get_or_init(|| {
            let mut s = String::new();
            let _ = render_caps(&mut s, set);
            s
        }))
    }

    fn sock(&self) -> Option<&'a crate::fd::SockInfo> {
        self.fd?.sock.as_deref()
    }

    /// Ancestor field: `[N]` (0 = self), or every ancestor from the parent.
    fn ancestors_push<'s>(
        &'s self,
        arg: &FieldArg,
        out: &mut Values<'s>,
        f: impl Fn(&'a Process) -> Value<'a>,
    ) -> bool {
        match index(arg) {
            Some(n) => match self.ancestor(n) {
                Some(p) => {
                    out.push(f(p));
                    true
                }
                None => false,
            },
            None => {
                let Some(me) = self.proc_ else {
                    return false;
                };
                let before = out.len();
                for p in self.st.procs.ancestors(me.pid) {
                    out.push(f(p));
                }
                out.len() > before
            }
        }
    }
}

macro_rules! push {
    ($out:ident, $v:expr) => {{
        $out.push($v);
        true
    }};
}

macro_rules! opt {
    ($out:ident, $e:expr, $wrap:expr) => {
        match $e {
            Some(v) => push!($out, $wrap(v)),
            None => false,
        }
    };
}

impl<'v> FieldSource for EventView<'v> {
    fn evt_type(&self) -> &str {
        self.evt_type_str()
    }

    fn extract<'a>(&'a self, field: &FieldRef, out: &mut Values<'a>) -> bool {
        let h = &self.rec.header;
        let p = self.proc_;
        let arg = &field.arg;
        match field.id {
            F::EvtNum => push!(out, Value::U64(self.st.evt_num)),
            F::EvtTime | F::EvtRawtime => push!(out, Value::U64(self.st.clock.realtime(h.ts_ns))),
            F::EvtRawtimeS => push!(
                out,
                Value::U64(self.st.clock.realtime(h.ts_ns) / 1_000_000_000)
            ),
            F::EvtRawtimeNs => push!(
                out,
                Value::U64(self.st.clock.realtime(h.ts_ns) % 1_000_000_000)
            ),
            F::EvtTimeIso8601 => push!(out, Value::Str(self.time_cell(0))),
            F::EvtTimeS => push!(out, Value::Str(self.time_cell(1))),
            F::EvtDatetime => push!(out, Value::Str(self.time_cell(2))),
            F::EvtLatency => opt!(
                out,
                self.enter.map(|e| h.ts_ns.saturating_sub(e.header.ts_ns)),
                Value::U64
            ),
            F::EvtDir => push!(out, Value::Str(self.dir())),
            F::EvtType => push!(out, Value::Str(self.evt_type_str())),
            F::EvtTypeIs => push!(
                out,
                Value::U64(u64::from(key(arg) == Some(self.evt_type_str())))
            ),
            F::EvtCpu => push!(out, Value::U64(u64::from(h.cpu))),
            F::EvtArgs | F::EvtInfo => push!(out, Value::Str(self.evt_args())),
            F::EvtArg | F::EvtRawArg => {
                let slot = match arg {
                    FieldArg::Key(k) => self.slot_by_name(k),
                    FieldArg::Index(i) => Some(Slot::Arg(*i as usize)),
                    FieldArg::None => None,
                };
                opt!(out, slot.and_then(|s| self.arg_str(s)), Value::Str)
            }
            F::EvtBuffer | F::EvtBufLen => {
                let buf = self.info.and_then(|i| {
                    let idx = i
                        .def
                        .args
                        .iter()
                        .position(|a| a.0 == saker_abi::ArgKind::Buf)?;
                    crate::decode::RecordExt::blob_bytes(&self.rec, idx as u8)
                });
                match (field.id, buf) {
                    (F::EvtBuffer, Some(b)) => push!(out, Value::Bytes(b)),
                    (_, Some(b)) => push!(out, Value::U64(b.len() as u64)),
                    _ => false,
                }
            }
            F::EvtRes if self.has_res() => {
                let s = if h.res >= 0 {
                    "SUCCESS"
                } else {
                    errno_name(-h.res).unwrap_or("UNKNOWN")
                };
                push!(out, Value::Str(s))
            }
            F::EvtRawRes if self.has_res() => push!(out, Value::I64(h.res)),
            F::EvtFailed if self.has_res() => push!(out, Value::Bool(h.res < 0)),
            F::EvtCountError => push!(out, Value::U64(u64::from(self.has_res() && h.res < 0))),
            F::EvtCount => push!(out, Value::U64(1)),
            F::EvtIsIo | F::EvtIsIoRead | F::EvtIsIoWrite | F::EvtIoDir => {
                let n = self.evt_type_str();
                let rd = matches!(n, "read" | "pread" | "recvfrom" | "recvmsg");
                let wr = matches!(n, "write" | "pwrite" | "sendto" | "sendmsg");
                match field.id {
                    F::EvtIsIo => push!(out, Value::Bool(rd || wr)),
                    F::EvtIsIoRead => push!(out, Value::Bool(rd)),
                    F::EvtIsIoWrite => push!(out, Value::Bool(wr)),
                    _ if rd => push!(out, Value::Str("r")),
                    _ if wr => push!(out, Value::Str("w")),
                    _ => false,
                }
            }
            F::EvtIsWait => push!(out, Value::Bool(false)),
            F::EvtIsSyslog => push!(
                out,
                Value::Bool(
                    self.evt_type_str().contains("write")
                        && self.fd.is_some_and(|f| &*f.name == "/dev/log")
                )
            ),
            F::EvtIsOpenRead | F::EvtIsOpenWrite | F::EvtIsOpenExec | F::EvtIsOpenCreate => {
                let sc = self.sc();
                if !sc.is_open() || self.rec.header.kind != saker_abi::kind::SYSCALL {
                    return push!(out, Value::Bool(false));
                }
                let (fl, mode) = crate::apply::open_flags(&self.rec, sc);
                let acc = fl & crate::flags::o::ACCMODE;
                let create = fl & (crate::flags::o::CREAT | crate::flags::o::TMPFILE_BIT) != 0;
                let v = match field.id {
                    F::EvtIsOpenRead => acc == 0 || acc == crate::flags::o::RDWR,
                    F::EvtIsOpenWrite => {
                        acc == crate::flags::o::WRONLY || acc == crate::flags::o::RDWR
                    }
                    F::EvtIsOpenExec => create && mode & 0o111 != 0,
                    _ => create,
                };
                push!(out, Value::Bool(v))
            }
            F::EvtAbspath | F::FsPathName => opt!(out, self.abspath(0), Value::Str),
            F::EvtAbspathSrc | F::FsPathSource => opt!(out, self.abspath(0), Value::Str),
            F::EvtAbspathDst | F::FsPathTarget => opt!(out, self.abspath(1), Value::Str),
            F::EvtSource => push!(out, Value::Str("syscall")),
            F::EvtHostname => push!(out, Value::Str(&self.st.hostname)),

            F::ThreadTid => push!(out, Value::U64(u64::from(h.tid))),
            F::ThreadVtid if h.vtid != 0 => push!(out, Value::U64(u64::from(h.vtid))),
            F::ThreadCapEffective => opt!(out, self.caps_cell(0), Value::Str),
            F::ThreadCapPermitted => opt!(out, self.caps_cell(1), Value::Str),
            F::ThreadCapInheritable => opt!(out, self.caps_cell(2), Value::Str),
            F::ThreadIsMainThread => push!(out, Value::Bool(h.tid == h.pid)),

            F::ProcPid => push!(out, Value::U64(u64::from(h.pid))),
            F::ProcTid => push!(out, Value::U64(u64::from(h.tid))),
            F::ProcPpid => opt!(out, p.map(|p| p.ppid).filter(|&v| v != 0), |v| Value::U64(
                u64::from(v)
            )),
            F::ProcVpid => {
                let v = if h.vpid != 0 {
                    h.vpid
                } else {
                    p.map_or(0, |p| p.vpid)
                };
                opt!(out, (v != 0).then_some(v), |v| Value::U64(u64::from(v)))
            }
            F::ProcPvpid => opt!(
                out,
                self.ancestor(1).map(|p| p.vpid).filter(|&v| v != 0),
                |v| Value::U64(u64::from(v))
            ),
            F::ProcSid => opt!(out, p.map(|p| p.sid), |v| Value::U64(u64::from(v))),
            F::ProcVpgid => opt!(out, p.map(|p| p.vpgid), |v| Value::U64(u64::from(v))),
            F::ProcName => opt!(out, p.map(|p| &*p.name), Value::Str),
            F::ProcExe => opt!(out, p.map(|p| &*p.exe), Value::Str),
            F::ProcExepath => opt!(out, p.map(|p| &*p.exepath), Value::Str),
            F::ProcArgs => opt!(out, p.map(|p| &*p.args), Value::Str),
            F::ProcCmdline => opt!(out, p.map(|p| &*p.cmdline), Value::Str),
            F::ProcCmdnargs => opt!(
                out,
                p.map(|p| if p.args.is_empty() {
                    0
                } else {
                    p.args.split(' ').count() as u64
                }),
                Value::U64
            ),
            F::ProcCmdlenargs => opt!(out, p.map(|p| p.args.len() as u64), Value::U64),
            F::ProcExeline => opt!(
                out,
                p.map(|p| self
                    .cells
                    .exeline
                    .get_or_init(|| crate::procfs::cmdline_of(&p.exe, &p.args).to_string())
                    .as_str()),
                Value::Str
            ),
            F::ProcCwd => opt!(out, p.map(|p| &*p.cwd), Value::Str),
            F::ProcEnv => {
                let Some(p) = p else { return false };
                let env = p.env.get_or_init(|| {
                    if self.st.cfg.proc_fallback {
                        self.st.procfs.environ(p.pid)
                    } else {
                        None
                    }
                });
                let Some(env) = env.as_deref() else {
                    return false;
                };
                match key(arg) {
                    None => push!(out, Value::Str(env)),
                    Some(k) => opt!(
                        out,
                        env.split(' ')
                            .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('=')),
                        Value::Str
                    ),
                }
            }
            F::ProcTty => push!(out, Value::U64(u64::from(self.tty()))),
            F::ProcNchilds => opt!(out, p.map(|p| u64::from(p.children)), Value::U64),
            F::ProcSname => opt!(
                out,
                p.and_then(|p| self.st.procs.session_leader(p.pid))
                    .map(|s| &*s.name),
                Value::Str
            ),
            F::ProcSidExe => opt!(
                out,
                p.and_then(|p| self.st.procs.session_leader(p.pid))
                    .map(|s| &*s.exe),
                Value::Str
            ),
            F::ProcSidExepath => opt!(
                out,
                p.and_then(|p| self.st.procs.session_leader(p.pid))
                    .map(|s| &*s.exepath),
                Value::Str
            ),
            F::ProcVpgidName => opt!(out, self.vpgid_leader().map(|s| &*s.name), Value::Str),
            F::ProcVpgidExe => opt!(out, self.vpgid_leader().map(|s| &*s.exe), Value::Str),
            F::ProcVpgidExepath => opt!(out, self.vpgid_leader().map(|s| &*s.exepath), Value::Str),
            F::ProcPname => opt!(out, self.ancestor(1).map(|p| &*p.name), Value::Str),
            F::ProcPcmdline => opt!(out, self.ancestor(1).map(|p| &*p.cmdline), Value::Str),
            F::ProcPexe => opt!(out, self.ancestor(1).map(|p| &*p.exe), Value::Str),
            F::ProcPexepath => opt!(out, self.ancestor(1).map(|p| &*p.exepath), Value::Str),
            F::ProcAname => self.ancestors_push(arg, out, |p| Value::Str(&p.name)),
            F::ProcApid => self.ancestors_push(arg, out, |p| Value::U64(u64::from(p.pid))),
            F::ProcAexe => self.ancestors_push(arg, out, |p| Value::Str(&p.exe)),
            F::ProcAexepath => self.ancestors_push(arg, out, |p| Value::Str(&p.exepath)),
            F::ProcAcmdline => self.ancestors_push(arg, out, |p| Value::Str(&p.cmdline)),
            F::ProcDuration => opt!(
                out,
                p.filter(|p| p.start_ts != 0)
                    .map(|p| h.ts_ns.saturating_sub(p.start_ts)),
                Value::U64
            ),
            F::ProcStartTs | F::ProcPidTs => opt!(
                out,
                p.filter(|p| p.start_ts != 0)
                    .map(|p| self.st.clock.realtime(p.start_ts)),
                Value::U64
            ),
            F::ProcFdopencount => opt!(out, p.map(|p| p.fds.len() as u64), Value::U64),
            F::ProcIsExeWritable => opt!(
                out,
                p.map(|p| p.exe_flags & exe::WRITABLE != 0),
                Value::Bool
            ),
            F::ProcIsExeUpperLayer => opt!(
                out,
                p.map(|p| p.exe_flags & exe::UPPER_LAYER != 0),
                Value::Bool
            ),
            F::ProcIsExeLowerLayer => opt!(
                out,
                p.map(|p| p.exe_flags & exe::LOWER_LAYER != 0),
                Value::Bool
            ),
            F::ProcIsExeFromMemfd => opt!(
                out,
                p.map(|p| p.exe_flags & exe::FROM_MEMFD != 0),
                Value::Bool
            ),
            F::ProcExeIno => opt!(out, p.map(|p| p.exe_ino).filter(|&v| v != 0), Value::U64),
            F::ProcExeInoCtime => opt!(out, p.map(|p| p.exe_ctime).filter(|&v| v != 0), Value::U64),
            F::ProcExeInoMtime => opt!(out, p.map(|p| p.exe_mtime).filter(|&v| v != 0), Value::U64),
            F::ProcExeInoCtimeDurationProcStart => opt!(
                out,
                p.filter(|p| p.exe_ctime != 0 && p.start_ts != 0)
                    .map(|p| self
                        .st
                        .clock
                        .realtime(p.start_ts)
                        .saturating_sub(p.exe_ctime)),
                Value::U64
            ),
            F::ProcIsVpgidLeader => opt!(out, p.map(|p| p.is_vpgid_leader()), Value::Bool),
            F::ProcIsSidLeader => opt!(out, p.map(|p| p.vpid != 0 && p.vpid == p.sid), Value::Bool),
            F::ProcIsContainerHealthcheck
            | F::ProcIsContainerLivenessProbe
            | F::ProcIsContainerReadinessProbe => {
                push!(out, Value::Bool(false))
            }
            F::ProcStdinType
            | F::ProcStdoutType
            | F::ProcStderrType
            | F::ProcStdinName
            | F::ProcStdoutName
            | F::ProcStderrName => {
                let n = match field.id {
                    F::ProcStdinType | F::ProcStdinName => 0,
                    F::ProcStdoutType | F::ProcStdoutName => 1,
                    _ => 2,
                };
                let Some(f) = p.and_then(|p| p.fds.get(n)) else {
                    return false;
                };
                match field.id {
                    F::ProcStdinType | F::ProcStdoutType | F::ProcStderrType => {
                        push!(out, Value::Str(f.ty.as_str()))
                    }
                    _ => push!(out, Value::Str(&f.name)),
                }
            }

            F::FdNum => opt!(out, self.st.cur.fd_num, Value::I64),
            F::FdType => opt!(out, self.fd.map(|f| f.ty.as_str()), Value::Str),
            F::FdTypechar => opt!(out, self.fd.map(|f| typechar_str(f.ty)), Value::Str),
            F::FdTypes => opt!(out, self.fd.map(|f| f.ty.as_str()), Value::Str),
            F::FdName => opt!(out, self.fd.map(|f| &*f.name), Value::Str),
            F::FdNameRaw => opt!(out, self.fd.map(|f| f.nameraw()), Value::Str),
            F::FdDirectory => match self.fd {
                Some(f) if f.ty == FdType::Directory => push!(out, Value::Str(&f.name)),
                Some(f) if matches!(f.ty, FdType::File | FdType::Memfd) => {
                    push!(out, Value::Str(path::dirname(&f.name)))
                }
                _ => false,
            },
            F::FdFilename => match self.fd {
                Some(f) if matches!(f.ty, FdType::File | FdType::Memfd | FdType::Directory) => {
                    push!(out, Value::Str(path::basename(&f.name)))
                }
                _ => false,
            },
            F::FdIp | F::FdNet => {
                let Some(s) = self.sock() else { return false };
                let before = out.len();
                for ip in [s.cip(), s.sip()].into_iter().flatten() {
                    out.push(Value::Ip(ip));
                }
                out.len() > before
            }
            F::FdCip | F::FdCnet => opt!(out, self.sock().and_then(|s| s.cip()), Value::Ip),
            F::FdSip | F::FdSnet => opt!(out, self.sock().and_then(|s| s.sip()), Value::Ip),
            F::FdLip | F::FdLnet => opt!(
                out,
                self.sock().and_then(|s| s.local).map(|e| e.ip),
                Value::Ip
            ),
            F::FdRip | F::FdRnet => opt!(
                out,
                self.sock().and_then(|s| s.remote).map(|e| e.ip),
                Value::Ip
            ),
            F::FdPort => {
                let Some(s) = self.sock() else { return false };
                let before = out.len();
                for e in [s.client(), s.server()].into_iter().flatten() {
                    out.push(Value::U64(u64::from(e.port)));
                }
                out.len() > before
            }
            F::FdCport => opt!(
                out,
                self.sock().and_then(|s| s.client()),
                |e: crate::decode::Endpoint| Value::U64(u64::from(e.port))
            ),
            F::FdSport => opt!(
                out,
                self.sock().and_then(|s| s.server()),
                |e: crate::decode::Endpoint| Value::U64(u64::from(e.port))
            ),
            F::FdLport => opt!(
                out,
                self.sock().and_then(|s| s.local),
                |e: crate::decode::Endpoint| Value::U64(u64::from(e.port))
            ),
            F::FdRport => opt!(
                out,
                self.sock().and_then(|s| s.remote),
                |e: crate::decode::Endpoint| Value::U64(u64::from(e.port))
            ),
            F::FdL4proto => match self.fd {
                Some(f) if matches!(f.ty, FdType::Ipv4 | FdType::Ipv6) => {
                    push!(
                        out,
                        Value::Str(f.sock.as_ref().map_or("unknown", |s| s.l4proto.as_str()))
                    )
                }
                _ => false,
            },
            F::FdSockfamily => match self.fd.map(|f| f.ty) {
                Some(FdType::Ipv4 | FdType::Ipv6) => push!(out, Value::Str("ip")),
                Some(FdType::Unix) => push!(out, Value::Str("unix")),
                _ => false,
            },
            F::FdIsServer => opt!(
                out,
                self.sock().map(|s| s.role == Role::Server),
                Value::Bool
            ),
            F::FdConnected => opt!(out, self.fd.map(|f| f.connected()), Value::Bool),
            F::FdNameChanged => opt!(out, self.fd.map(|_| self.st.cur.name_changed), Value::Bool),
            F::FsPathNameraw | F::FsPathSourceraw | F::FsPathTargetraw => {
                let nth = usize::from(field.id == F::FsPathTargetraw);
                let r = self.args_rec();
                let raw = self.info.and_then(|i| {
                    let idx = i
                        .def
                        .args
                        .iter()
                        .enumerate()
                        .filter(|(_, a)| a.0 == saker_abi::ArgKind::Path)
                        .map(|(i, _)| i)
                        .nth(nth)?;
                    crate::decode::RecordExt::str_arg(r, idx as u8)
                });
                opt!(out, raw, Value::Bytes)
            }

            F::UserUid => push!(out, Value::U64(u64::from(self.uid()))),
            F::UserName => opt!(out, self.user_name(self.uid()), Value::Str),
            F::UserLoginuid => push!(out, Value::I64(i64::from(self.loginuid() as i32))),
            F::UserLoginname => {
                let l = self.loginuid();
                if l == u32::MAX {
                    return false;
                }
                let n = self
                    .cells
                    .loginname
                    .get_or_init(|| self.st.lookup.user_name(self.container(), h.pid, l));
                opt!(out, n.as_deref(), Value::Str)
            }
            F::GroupGid => push!(out, Value::U64(u64::from(self.gid()))),
            F::GroupName => {
                let n = self.cells.group.get_or_init(|| {
                    self.st
                        .lookup
                        .group_name(self.container(), h.pid, self.gid())
                });
                opt!(out, n.as_deref(), Value::Str)
            }

            F::ContainerId => push!(
                out,
                Value::Str(
                    self.container()
                        .map_or("host", |c| c.get(..12).unwrap_or(c))
                )
            ),
            F::ContainerFullId => push!(out, Value::Str(self.container().unwrap_or("host"))),
            F::ContainerName if self.container().is_none() => push!(out, Value::Str("host")),
            _ => match container_field(field.id) {
                Some(cf) => opt!(out, self.meta(cf, key(arg)), meta_value),
                None => false,
            },
        }
    }
}

fn container_field(id: F) -> Option<CF> {
    Some(match id {
        F::ContainerName => CF::Name,
        F::ContainerImage => CF::Image,
        F::ContainerImageRepository => CF::ImageRepository,
        F::ContainerImageTag => CF::ImageTag,
        F::ContainerPrivileged => CF::Privileged,
        F::ContainerStartTs => CF::StartTs,
        F::ContainerMounts => CF::Mounts,
        F::ContainerMountDest => CF::MountDest,
        F::K8sNsName => CF::K8sNsName,
        F::K8sPodName => CF::K8sPodName,
        F::K8sPodUid | F::K8sPodId => CF::K8sPodUid,
        F::K8sPodLabels => CF::K8sPodLabels,
        F::K8sPodLabel => CF::K8sPodLabel,
        _ => return None,
    })
}
