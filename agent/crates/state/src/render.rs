//! `evt.arg.NAME` / `evt.arg[N]` / `evt.args`: arguments rendered as Falco
//! renders them (flag names, resolved paths, `<f>/path` for fds, errno names).

use crate::apply::{base_dir, open_flags, AT_FDCWD};
use crate::decode::{clone_args_flags, fd_pair, Argv, OpenHow, RecordExt, SockAddr};
use crate::flags::{self, render_enum, render_flags};
use crate::names;
use crate::path;
use crate::sys::Sc;
use crate::view::EventView;
use core::fmt::Write;
use saker_abi::{kind, ArgKind};

/// Where an argument value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Arg(usize),
    /// openat2's flags / mode / resolve, inside `struct open_how`.
    HowFlags,
    HowMode,
    HowResolve,
    /// Falco's execve exit `flags`: facts about the new executable.
    ExeFlags,
    Res,
}

impl Slot {
    fn synth_index(self) -> Option<usize> {
        match self {
            Slot::HowFlags => Some(0),
            Slot::HowMode => Some(1),
            Slot::HowResolve => Some(2),
            Slot::ExeFlags => Some(3),
            Slot::Res => Some(4),
            Slot::Arg(_) => None,
        }
    }
}

impl<'a> EventView<'a> {
    pub(crate) fn sc(&self) -> Sc {
        self.info.map_or(Sc::Other, |i| i.sc)
    }

    /// Resolves an argument name for this event.
    pub(crate) fn slot_by_name(&self, name: &str) -> Option<Slot> {
        if name == "res" {
            return Some(Slot::Res);
        }
        let sc = self.sc();
        if name == "flags" && sc.is_exec() && self.rec.header.kind != kind::SYSCALL_ENTER {
            return Some(Slot::ExeFlags);
        }
        if sc == Sc::Openat2 {
            match name {
                "flags" => return Some(Slot::HowFlags),
                "mode" => return Some(Slot::HowMode),
                "resolve" => return Some(Slot::HowResolve),
                _ => {}
            }
        }
        let def = self.info?.def;
        def.arg_names.iter().position(|n| *n == name).map(Slot::Arg)
    }

    /// The rendered value of a slot (cached for the view's life).
    pub(crate) fn arg_str(&self, slot: Slot) -> Option<&str> {
        let cell = match slot {
            Slot::Arg(i) => self.cells.args.get(i)?,
            s => self.cells.synth.get(s.synth_index()?)?,
        };
        if let Some(s) = cell.get() {
            return Some(s);
        }
        let mut out = String::new();
        if !self.render_slot(slot, &mut out) {
            return None;
        }
        Some(cell.get_or_init(|| out))
    }

    fn render_slot(&self, slot: Slot, out: &mut String) -> bool {
        let r = self.args_rec();
        match slot {
            Slot::Res => {
                if !self.has_res() {
                    return false;
                }
                let _ = write!(out, "{}", self.rec.header.res);
                true
            }
            Slot::ExeFlags => {
                let f = self.proc_.map_or(0, |p| p.exe_flags);
                let _ = render_flags(out, f, flags::EXE_FLAGS);
                or_number(out, 0, u64::from(f));
                true
            }
            Slot::HowFlags | Slot::HowMode | Slot::HowResolve => {
                let Some(how) = r.blob_bytes(2).and_then(OpenHow::parse) else {
                    return false;
                };
                let _ = match slot {
                    Slot::HowFlags => flags::render_open_flags(out, how.flags as u32),
                    Slot::HowMode => render_mode(out, how.mode as u32),
                    _ => render_flags(out, how.resolve as u32, flags::RESOLVE_FLAGS),
                };
                or_number(out, 0, how.resolve);
                true
            }
            Slot::Arg(i) => self.render_arg(i, out),
        }
    }

    fn render_arg(&self, i: usize, out: &mut String) -> bool {
        let Some(def) = self.info.map(|i| i.def) else {
            return false;
        };
        let (Some(&(kind, _)), Some(&name)) = (def.args.get(i), def.arg_names.get(i)) else {
            return false;
        };
        let r = self.args_rec();
        let v = r.arg(i);
        let sc = self.sc();
        match kind {
            ArgKind::None => return false,
            ArgKind::Path => {
                let Some(raw) = r.str_arg(i as u8) else {
                    return false;
                };
                let raw = String::from_utf8_lossy(raw);
                // The Fd argument just before a path is its dirfd.
                let dirfd = (i > 0 && def.args[i - 1].0 == ArgKind::Fd).then(|| r.arg_fd(i - 1));
                let base = self.proc_.and_then(|p| base_dir(p, dirfd));
                match base {
                    Some(b) => path::resolve_into(out, &b, &raw),
                    None => out.push_str(&raw),
                }
            }
            ArgKind::Str => {
                let Some(raw) = r.str_arg(i as u8) else {
                    return false;
                };
                out.push_str(&String::from_utf8_lossy(raw));
            }
            ArgKind::Fd => self.render_fd(v as i32, out),
            ArgKind::SockAddr | ArgKind::SockAddrOut | ArgKind::MsgHdr => {
                let Some(a) = r.sockaddr(i as u8) else {
                    return false;
                };
                render_sockaddr(out, &a);
            }
            ArgKind::Argv => {
                let Some(b) = r.blob_bytes(i as u8) else {
                    return false;
                };
                out.push_str(&crate::procfs::join_args(Argv::new(b)));
            }
            ArgKind::OpenHow => {
                let Some(how) = r.blob_bytes(i as u8).and_then(OpenHow::parse) else {
                    return false;
                };
                let _ = flags::render_open_flags(out, how.flags as u32);
            }
            ArgKind::FdPair => {
                let Some((a, b)) = r.blob_bytes(i as u8).and_then(fd_pair) else {
                    return false;
                };
                let _ = write!(out, "{a} {b}");
            }
            ArgKind::CloneArgs => {
                let Some(f) = r.blob_bytes(i as u8).and_then(clone_args_flags) else {
                    return false;
                };
                let _ = flags::render_clone_flags(out, f);
            }
            ArgKind::Buf => {
                let Some(b) = r.blob_bytes(i as u8) else {
                    return false;
                };
                render_buf(out, b);
            }
            ArgKind::Int => self.render_int(sc, def.name, name, v, out),
        }
        true
    }

    /// Falco prints an fd argument as `<typechar>name` when it knows the fd.
    fn render_fd(&self, fd: i32, out: &mut String) {
        if fd == AT_FDCWD {
            out.push_str("AT_FDCWD");
            return;
        }
        let known = match (self.fd, self.st.cur.fd_num) {
            (Some(f), Some(n)) if n == i64::from(fd) => Some(f),
            _ => self.proc_.and_then(|p| p.fds.get(fd)),
        };
        match known {
            Some(f) => {
                out.push('<');
                out.push(f.ty.as_char());
                out.push('>');
                out.push_str(&f.name);
            }
            None => {
                let _ = write!(out, "{fd}");
            }
        }
    }

    fn render_int(&self, sc: Sc, sys: &str, name: &str, v: u64, out: &mut String) {
        let before = out.len();
        self.render_int_named(sc, sys, name, v, out);
        or_number(out, before, v);
    }

    fn render_int_named(&self, sc: Sc, sys: &str, name: &str, v: u64, out: &mut String) {
        let v32 = v as u32;
        let _ = match (sys, name) {
            (_, "flags") if sc.is_open() => {
                flags::render_open_flags(out, open_flags(self.args_rec(), sc).0)
            }
            ("dup3" | "pipe2", "flags") => flags::render_open_flags(out, v32),
            ("clone", "flags") | ("unshare", "flags") | ("setns", "nstype") => {
                flags::render_clone_flags(out, v)
            }
            ("mount", "flags") => {
                render_flags(out, flags::mount_flags_clean(v), flags::MOUNT_FLAGS)
            }
            ("umount2", "flags") => render_flags(out, v32, flags::UMOUNT_FLAGS),
            ("memfd_create", "flags") => render_flags(out, v32, flags::MEMFD_FLAGS),
            ("linkat", "flags") => render_flags(out, v32, flags::LINKAT_FLAGS),
            ("unlinkat", "flags") => render_flags(out, v32, flags::UNLINKAT_FLAGS),
            ("fchownat", "flags") => render_flags(out, v32, flags::FCHOWNAT_FLAGS),
            ("execveat", "flags") => render_flags(out, v32, flags::EXECVEAT_FLAGS),
            ("renameat2", "flags") => render_flags(out, v32, flags::RENAMEAT2_FLAGS),
            (_, "mode") => render_mode(out, v32),
            ("ptrace", "request") => {
                render_enum_or_num(out, v, names::PTRACE_REQUESTS, "PTRACE_UNKNOWN")
            }
            (_, "domain") => render_enum(out, v32, names::SOCKET_FAMILIES),
            ("fcntl", "cmd") => render_enum_or_num(out, v, names::FCNTL_CMDS, "UNKNOWN"),
            ("bpf", "cmd") => render_enum_or_num(out, v, names::BPF_CMDS, ""),
            ("prctl", "option") => render_enum_or_num(out, v, names::PRCTL_OPTIONS, ""),
            ("shutdown", "how") => render_enum_or_num(out, v, names::SHUTDOWN_HOW, ""),
            (_, "uid" | "ruid" | "euid" | "suid") => {
                match self
                    .st
                    .lookup
                    .user_name(self.container(), self.rec.header.pid, v32)
                {
                    Some(n) => out.write_str(&n),
                    None => write!(out, "{}", v32 as i32),
                }
            }
            (_, "gid") => {
                match self
                    .st
                    .lookup
                    .group_name(self.container(), self.rec.header.pid, v32)
                {
                    Some(n) => out.write_str(&n),
                    None => write!(out, "{}", v32 as i32),
                }
            }
            // Plain integers: signed when they look negative (pids, fds).
            _ if (v as i64) < 0 && (v as i64) >= i64::from(i32::MIN) => write!(out, "{}", v as i64),
            _ if v > u64::from(u32::MAX) && (v as i32) < 0 && v >> 32 == 0xffff_ffff => {
                write!(out, "{}", v as i64)
            }
            _ => write!(out, "{v}"),
        };
    }

    /// `evt.args`: `name=value` for every argument, result first.
    pub(crate) fn evt_args(&self) -> &str {
        self.cells.evt_args.get_or_init(|| {
            let mut s = String::new();
            if self.has_res() {
                let _ = write!(s, "res={}", self.rec.header.res);
            }
            if let Some(def) = self.info.map(|i| i.def) {
                for (i, name) in def.arg_names.iter().enumerate() {
                    let slot = self.slot_by_name(name).unwrap_or(Slot::Arg(i));
                    if let Some(v) = self.arg_str(slot) {
                        if !s.is_empty() {
                            s.push(' ');
                        }
                        let _ = write!(s, "{name}={v}");
                    }
                }
            }
            s
        })
    }

    /// The first path argument resolved (`evt.abspath`, `fs.path.name`), or
    /// for two-path calls the source (0) or target (1).
    pub(crate) fn abspath(&self, which: usize) -> Option<&str> {
        self.cells.paths[which.min(1)]
            .get_or_init(|| {
                let def = self.info?.def;
                let idx = def
                    .args
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| a.0 == ArgKind::Path)
                    .map(|(i, _)| i)
                    .nth(which)?;
                let mut s = String::new();
                self.render_arg(idx, &mut s).then_some(s)
            })
            .as_deref()
    }
}

/// Falco prints the number when no flag name applies (`flags=0`).
fn or_number(out: &mut String, before: usize, v: u64) {
    if out.len() == before {
        let _ = write!(out, "{v}");
    }
}

fn render_enum_or_num(
    out: &mut String,
    v: u64,
    table: &[flags::NameValue],
    unknown: &str,
) -> core::fmt::Result {
    match u32::try_from(v)
        .ok()
        .and_then(|v| flags::enum_name(v, table))
    {
        Some(n) => out.write_str(n),
        None if !unknown.is_empty() => out.write_str(unknown),
        None => write!(out, "{v}"),
    }
}

/// PT_MODE: the permission names, or the octal number when none apply.
fn render_mode(out: &mut String, mode: u32) -> core::fmt::Result {
    let before = out.len();
    render_flags(out, mode & 0o7777, flags::MODE_FLAGS)?;
    if out.len() == before {
        write!(out, "0{mode:o}")?;
    }
    Ok(())
}

fn render_sockaddr(out: &mut String, a: &SockAddr<'_>) {
    match a {
        SockAddr::Inet(ip, p) => {
            let _ = write!(out, "{ip}:{p}");
        }
        SockAddr::Inet6(ip, p) => {
            let _ = write!(out, "{ip}:{p}");
        }
        SockAddr::Unix { path, abstract_ns } => {
            if *abstract_ns {
                out.push('@');
            }
            out.push_str(&String::from_utf8_lossy(path));
        }
        SockAddr::Other(f) => {
            let _ = render_enum(out, u32::from(*f), names::SOCKET_FAMILIES);
        }
    }
}

/// Buffers as Falco prints them by default: printable ASCII kept, the rest `.`.
fn render_buf(out: &mut String, b: &[u8]) {
    out.extend(b.iter().map(|&c| {
        if c.is_ascii_graphic() || c == b' ' {
            c as char
        } else {
            '.'
        }
    }));
}
