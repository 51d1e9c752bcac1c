//! fd-table and cwd updates from whole-syscall records.

use crate::decode::{fd_pair, OpenHow, RecordExt, SockAddr};
use crate::fd::{FdInfo, FdType, Inserted, L4Proto, Role, SockInfo};
use crate::flags::{o, CREAT_FLAGS, MFD_CLOEXEC};
use crate::names::{F_DUPFD, F_DUPFD_CLOEXEC, F_SETFD, SOCK_CLOEXEC};
use crate::path;
use crate::process::Process;
use crate::state::State;
use crate::sys::Sc;
use saker_abi::{hdr_flags, Record};
use std::sync::Arc;

pub const AT_FDCWD: i32 = -100;
const EINPROGRESS: i64 = -115;

/// Which argument holds the path and the dirfd, and where the flags are.
fn open_layout(sc: Sc) -> (u8, Option<usize>) {
    match sc {
        Sc::Openat | Sc::Openat2 => (1, Some(0)),
        _ => (0, None),
    }
}

/// The directory a relative path of `p` is resolved against.
pub(crate) fn base_dir(p: &Process, dirfd: Option<i32>) -> Option<Arc<str>> {
    match dirfd {
        None | Some(AT_FDCWD) => Some(p.cwd.clone()),
        Some(fd) => p.fds.get(fd).map(|f| f.name.clone()),
    }
}

/// Native open flags of an open-family record.
pub(crate) fn open_flags(rec: &Record<'_>, sc: Sc) -> (u32, u32) {
    match sc {
        Sc::Open => (rec.arg(1) as u32, rec.arg(2) as u32),
        Sc::Openat => (rec.arg(2) as u32, rec.arg(3) as u32),
        Sc::Openat2 => rec
            .blob_bytes(2)
            .and_then(OpenHow::parse)
            .map_or((0, 0), |h| (h.flags as u32, h.mode as u32)),
        Sc::Creat => (CREAT_FLAGS, rec.arg(1) as u32),
        _ => (0, 0),
    }
}

/// The kernel's word on a socket's own end (and, when state missed its
/// socket() call, its protocol).
fn set_local(sock: &mut SockInfo, local: SockAddr<'_>, sock_type: u32) {
    // 0.0.0.0:0 says nothing (a socket disconnected by AF_UNSPEC, say):
    // keep what is known, and let /proc answer if nothing is.
    if let Some(ep) = local
        .endpoint()
        .filter(|e| !e.ip.is_unspecified() || e.port != 0)
    {
        sock.local = Some(ep);
    }
    if sock.l4proto == L4Proto::Unknown {
        sock.l4proto = L4Proto::from_socket(sock_type, 0);
    }
}

fn sock_type_of(domain: u16) -> FdType {
    match domain {
        crate::decode::AF_INET => FdType::Ipv4,
        crate::decode::AF_INET6 => FdType::Ipv6,
        crate::decode::AF_UNIX => FdType::Unix,
        16 => FdType::Netlink,
        _ => FdType::Unknown,
    }
}

impl State {
    pub(crate) fn on_syscall(&mut self, rec: &Record<'_>) {
        let h = &rec.header;
        self.ensure_process(h);
        let Some(info) = self.sys.get(h.syscall_nr).copied() else {
            self.stats.unknown_syscalls += 1;
            return;
        };
        let no_args = h.flags & hdr_flags::NO_ENTER != 0;
        if info.uses_fd && !no_args {
            let fd = rec.arg_fd(0);
            self.cur.fd_num = Some(i64::from(fd));
            // An fd opened before we started: learn it once from /proc
            // (EBADF means there is nothing to learn).
            if h.res != -9 && !self.has_fd(h.pid, fd) {
                self.fd_from_proc(h.pid, fd);
            }
        }
        if info.sc.is_clone() {
            self.on_clone_parent(rec, info.sc);
            return;
        }
        if no_args {
            // Only the result is known: fill a new fd from /proc if we can.
            if info.sc.returns_fd() && h.res >= 0 {
                self.cur.fd_num = Some(h.res);
                self.fd_from_proc(h.pid, h.res as i32);
            }
            return;
        }
        let res = h.res;
        match info.sc {
            Sc::Open | Sc::Openat | Sc::Openat2 | Sc::Creat => self.on_open(rec, info.sc),
            Sc::Socket if res >= 0 => {
                let domain = rec.arg(0) as u16;
                let ty = rec.arg(1) as u32;
                let mut f = FdInfo::new(sock_type_of(domain), crate::process::empty());
                f.cloexec = rec.arg(1) & SOCK_CLOEXEC != 0;
                f.sock = Some(Box::new(SockInfo {
                    domain,
                    l4proto: L4Proto::from_socket(ty, rec.arg(2) as u32),
                    ..Default::default()
                }));
                self.cur.fd_num = Some(res);
                self.put_fd(h.pid, res as i32, f);
            }
            Sc::Connect if res == 0 || res == EINPROGRESS => {
                if let Some(addr) = rec.sockaddr(1) {
                    let local = rec.local_sockaddr();
                    self.sock_connected(h.pid, rec.arg_fd(0), addr, local);
                }
            }
            Sc::Accept | Sc::Accept4 if res >= 0 => {
                let cloexec = info.sc == Sc::Accept4 && rec.arg(3) & SOCK_CLOEXEC != 0;
                self.on_accept(rec, cloexec);
                self.cur.fd_num = Some(res);
            }
            Sc::Bind if res == 0 => {
                if let Some(addr) = rec.sockaddr(1) {
                    self.sock_bind(h.pid, rec.arg_fd(0), addr);
                }
            }
            Sc::Listen if res == 0 => {
                if let Some(s) = self
                    .fd_mut(h.pid, rec.arg_fd(0))
                    .and_then(|f| f.sock.as_mut())
                {
                    s.role = Role::Server;
                }
            }
            Sc::Sendto | Sc::Recvfrom | Sc::Sendmsg | Sc::Recvmsg if res >= 0 => {
                let idx = if matches!(info.sc, Sc::Sendto | Sc::Recvfrom) {
                    4
                } else {
                    1
                };
                if let Some(addr) = rec.sockaddr(idx) {
                    let local = rec.local_sockaddr();
                    self.sock_datagram(h.pid, rec.arg_fd(0), addr, local);
                }
            }
            Sc::Dup if res >= 0 => self.dup(h.pid, rec.arg_fd(0), res as i32, false),
            Sc::Dup2 if res >= 0 => self.dup(h.pid, rec.arg_fd(0), rec.arg_fd(1), false),
            Sc::Dup3 if res >= 0 => {
                let cloexec = rec.arg(2) as u32 & o::CLOEXEC != 0;
                self.dup(h.pid, rec.arg_fd(0), rec.arg_fd(1), cloexec)
            }
            Sc::Fcntl if res >= 0 => match rec.arg(1) {
                F_DUPFD => self.dup(h.pid, rec.arg_fd(0), res as i32, false),
                F_DUPFD_CLOEXEC => self.dup(h.pid, rec.arg_fd(0), res as i32, true),
                F_SETFD => {
                    if let Some(f) = self.fd_mut(h.pid, rec.arg_fd(0)) {
                        f.cloexec = rec.arg(2) & 1 != 0;
                    }
                }
                _ => {}
            },
            Sc::Pipe | Sc::Pipe2 if res == 0 => {
                let cloexec = info.sc == Sc::Pipe2 && rec.arg(1) as u32 & o::CLOEXEC != 0;
                if let Some((a, b)) = rec.blob_bytes(0).and_then(fd_pair) {
                    for fd in [a, b] {
                        self.new_pipe(h.pid, fd, cloexec);
                    }
                }
            }
            Sc::Socketpair if res == 0 => {
                let cloexec = rec.arg(1) & SOCK_CLOEXEC != 0;
                if let Some((a, b)) = rec.blob_bytes(3).and_then(fd_pair) {
                    let domain = rec.arg(0) as u16;
                    for fd in [a, b] {
                        let mut f = FdInfo::new(sock_type_of(domain), crate::process::empty());
                        f.cloexec = cloexec;
                        f.sock = Some(Box::new(SockInfo {
                            domain,
                            l4proto: L4Proto::from_socket(rec.arg(1) as u32, rec.arg(2) as u32),
                            connected: true,
                            ..Default::default()
                        }));
                        self.put_fd(h.pid, fd, f);
                    }
                }
            }
            Sc::MemfdCreate if res >= 0 => {
                let name = rec.str_arg(0).unwrap_or_default();
                let mut s = String::with_capacity(6 + name.len());
                s.push_str("memfd:");
                s.push_str(&String::from_utf8_lossy(name));
                let mut f = FdInfo::new(FdType::Memfd, Arc::from(s));
                f.cloexec = rec.arg(1) & MFD_CLOEXEC != 0;
                f.flags = o::RDWR;
                self.cur.fd_num = Some(res);
                self.put_fd(h.pid, res as i32, f);
            }
            Sc::Close if res == 0 => {
                let fd = rec.arg_fd(0);
                self.cur.fd_override = self.procs.get_mut(h.pid).and_then(|p| p.fds.remove(fd));
            }
            Sc::Chdir if res == 0 => {
                if let Some(raw) = rec.str_arg(0) {
                    let raw = String::from_utf8_lossy(raw);
                    if let Some(p) = self.procs.get_mut(h.pid) {
                        path::resolve_into(&mut self.scratch, &p.cwd, &raw);
                        p.cwd = Arc::from(self.scratch.as_str());
                    }
                }
            }
            Sc::Fchdir if res == 0 => {
                if let Some(p) = self.procs.get_mut(h.pid) {
                    if let Some(f) = p.fds.get(rec.arg_fd(0)) {
                        p.cwd = f.name.clone();
                    }
                }
            }
            // The new effective id (-1 leaves it unchanged).
            Sc::Setuid | Sc::Setreuid | Sc::Setresuid | Sc::Setgid if res == 0 => {
                let idx = if matches!(info.sc, Sc::Setuid | Sc::Setgid) {
                    0
                } else {
                    1
                };
                let id = rec.arg(idx) as u32;
                if let Some(p) = self.procs.get_mut(h.pid).filter(|_| id != u32::MAX) {
                    if info.sc == Sc::Setgid {
                        p.gid = id;
                    } else {
                        p.uid = id;
                    }
                }
            }
            Sc::Setsid if res > 0 => {
                if let Some(p) = self.procs.get_mut(h.pid) {
                    p.sid = res as u32;
                    p.vpgid = res as u32;
                }
            }
            _ => {}
        }
    }

    pub(crate) fn fd_mut(&mut self, pid: u32, fd: i32) -> Option<&mut FdInfo> {
        if !self.has_fd(pid, fd) {
            self.fd_from_proc(pid, fd);
        }
        self.procs.get_mut(pid)?.fds.get_mut(fd)
    }

    /// Learns an fd that predates us from /proc/PID/fd.
    pub(crate) fn fd_from_proc(&mut self, pid: u32, fd: i32) {
        if !self.cfg.proc_fallback || fd < 0 {
            return;
        }
        self.stats.proc_reads += 1;
        if let Some(info) = self.procfs.fd_info(pid, fd) {
            self.put_fd(pid, fd, info);
        }
    }

    pub(crate) fn put_fd(&mut self, pid: u32, fd: i32, info: FdInfo) -> Option<FdInfo> {
        let cap = self.cfg.max_fds_per_process;
        let p = self.procs.get_mut(pid)?;
        let (ins, old) = p.fds.insert(fd, info, cap);
        if ins == Inserted::Full {
            self.stats.fds_dropped += 1;
        }
        old
    }

    fn on_open(&mut self, rec: &Record<'_>, sc: Sc) {
        let h = &rec.header;
        let (path_arg, dirfd_arg) = open_layout(sc);
        let (flags, _mode) = open_flags(rec, sc);
        let dirfd = dirfd_arg.map(|i| rec.arg_fd(i));
        let res = h.res;
        // A failed open has fd.num -1 in Falco (rules test `fd.num=-1`).
        self.cur.fd_num = Some(res.max(-1));
        let Some(raw) = rec.str_arg(path_arg) else {
            if res >= 0 {
                self.fd_from_proc(h.pid, res as i32);
            }
            return;
        };
        let raw = String::from_utf8_lossy(raw);
        if let Some(d) = dirfd {
            if !raw.starts_with('/') && d != AT_FDCWD && !self.has_fd(h.pid, d) {
                self.fd_from_proc(h.pid, d);
            }
        }
        let Some(p) = self.procs.get(h.pid) else {
            return;
        };
        let base = base_dir(p, dirfd).unwrap_or_else(crate::process::empty);
        path::resolve_into(&mut self.scratch, &base, &raw);
        let name: Arc<str> = Arc::from(self.scratch.as_str());
        let ty = if flags & o::DIRECTORY != 0 && flags & o::TMPFILE_BIT == 0 {
            FdType::Directory
        } else {
            FdType::File
        };
        let mut f = FdInfo::new(ty, name);
        if *raw != *f.name {
            f.nameraw = Some(Arc::from(raw.as_ref()));
        }
        f.flags = flags;
        f.cloexec = flags & o::CLOEXEC != 0;
        if res >= 0 {
            self.put_fd(h.pid, res as i32, f);
        } else {
            // Falco still shows the attempted path in fd.name for a failed open.
            self.cur.fd_override = Some(f);
        }
    }

    fn has_fd(&self, pid: u32, fd: i32) -> bool {
        self.procs.get(pid).is_some_and(|p| p.fds.get(fd).is_some())
    }

    fn on_accept(&mut self, rec: &Record<'_>, cloexec: bool) {
        let h = &rec.header;
        let lfd = rec.arg_fd(0);
        let peer = rec.sockaddr(1);
        let listener = self.fd_mut(h.pid, lfd).map(|f| (f.ty, f.sock.clone()));
        let (mut ty, sock) = listener.unwrap_or((FdType::Unknown, None));
        let mut s = sock.map(|b| *b).unwrap_or_default();
        if let Some(a) = peer {
            s.domain = a.family();
            if ty == FdType::Unknown {
                ty = sock_type_of(s.domain);
            }
            s.remote = a.endpoint();
        }
        // The accepted socket's own end: the listener's may be a wildcard,
        // or unknown (a listener older than the agent, accept(fd, NULL, 0)).
        if let Some((local, sock_type)) = rec.local_sockaddr() {
            if ty == FdType::Unknown {
                s.domain = local.family();
                ty = sock_type_of(s.domain);
            }
            set_local(&mut s, local, sock_type);
        }
        if s.l4proto == L4Proto::Unknown && matches!(ty, FdType::Ipv4 | FdType::Ipv6) {
            s.l4proto = L4Proto::Tcp;
        }
        s.role = Role::Server;
        s.connected = true;
        let name = match (&ty, self.procs.get(h.pid).and_then(|p| p.fds.get(lfd))) {
            (FdType::Unix, Some(l)) => l.name.clone(),
            _ => crate::process::empty(),
        };
        let mut f = FdInfo::new(ty, name);
        f.cloexec = cloexec;
        f.sock = Some(Box::new(s));
        f.refresh_sock_name();
        self.put_fd(h.pid, h.res as i32, f);
        // A new fd with a name, as libsinsp reports it.
        self.cur.name_changed = true;
    }

    /// A connect that succeeded (or is in progress) to `addr`; `local` is
    /// the socket's own end when the kernel could read it.
    fn sock_connected(
        &mut self,
        pid: u32,
        fd: i32,
        addr: SockAddr<'_>,
        local: Option<(SockAddr<'_>, u32)>,
    ) {
        let (role, connected) = (Role::Client, true);
        let Some(f) = self.fd_mut(pid, fd) else {
            return;
        };
        if f.ty == FdType::Unknown {
            f.ty = sock_type_of(addr.family());
        }
        match addr {
            SockAddr::Unix { path, abstract_ns } => {
                let mut s = String::new();
                if abstract_ns {
                    s.push('@');
                }
                s.push_str(&String::from_utf8_lossy(path));
                f.name = Arc::from(s);
                let sock = f.sock.get_or_insert_with(Default::default);
                sock.role = role;
                sock.connected = connected;
            }
            SockAddr::Other(crate::decode::AF_UNSPEC) => {
                // connect(AF_UNSPEC) dissolves a datagram socket's
                // association: it is unconnected again, and its next
                // addressed datagram names a peer anew. The kernel also
                // forgets what connect chose of the local end, keeping
                // what a bind named (a wildcard address or port 0 included);
                // a server whose bind was never seen keeps what is known.
                if let Some(sock) = f.sock.as_mut() {
                    sock.connected = false;
                    sock.remote = None;
                    sock.local = match sock.bound {
                        Some(b) => Some(b).filter(|e| !e.ip.is_unspecified() || e.port != 0),
                        None if sock.role == Role::Server => sock.local,
                        None => None,
                    };
                    if sock.role == Role::Client {
                        sock.role = Role::Unknown;
                    }
                    f.refresh_sock_name();
                }
            }
            a => {
                let before = f.name.clone();
                let sock = f.sock.get_or_insert_with(Default::default);
                sock.domain = a.family();
                if let Some(ep) = a.endpoint() {
                    sock.remote = Some(ep);
                }
                sock.role = role;
                sock.connected = connected;
                if let Some((local, sock_type)) = local {
                    set_local(sock, local, sock_type);
                }
                let want_local = sock.local.is_none() && sock.remote.is_some();
                let peer = sock.remote;
                let v6 = a.family() == crate::decode::AF_INET6;
                let udp = match sock.l4proto {
                    L4Proto::Udp => Some(true),
                    L4Proto::Tcp => Some(false),
                    _ => None,
                };
                if want_local && self.cfg.proc_fallback {
                    // The record has only the peer; the kernel knows our end.
                    self.stats.proc_reads += 1;
                    let ppid = self.procs.get(pid).map_or(0, |p| p.ppid);
                    let local = self.procfs.socket_local(pid, fd, v6, udp).or_else(|| {
                        // A short-lived client is gone before we look; its
                        // socket still is not (TIME_WAIT), in the table every
                        // process of the network namespace sees.
                        let peer = peer?;
                        [ppid, std::process::id()]
                            .into_iter()
                            .filter(|p| *p != 0)
                            .find_map(|p| self.procfs.socket_local_by_peer(p, peer, v6, udp))
                    });
                    if let Some(f) = self.procs.get_mut(pid).and_then(|p| p.fds.get_mut(fd)) {
                        if let (Some(s), Some((ep, udp))) = (f.sock.as_mut(), local) {
                            s.local = Some(ep);
                            if s.l4proto == L4Proto::Unknown {
                                s.l4proto = if udp { L4Proto::Udp } else { L4Proto::Tcp };
                            }
                        }
                    }
                }
                if let Some(f) = self.procs.get_mut(pid).and_then(|p| p.fds.get_mut(fd)) {
                    f.refresh_sock_name();
                    self.cur.name_changed = f.name != before;
                }
            }
        }
    }

    fn sock_bind(&mut self, pid: u32, fd: i32, addr: SockAddr<'_>) {
        let Some(f) = self.fd_mut(pid, fd) else {
            return;
        };
        match addr {
            SockAddr::Unix { path, .. } => {
                f.name = Arc::from(String::from_utf8_lossy(path).as_ref());
            }
            a => {
                let sock = f.sock.get_or_insert_with(Default::default);
                if let Some(ep) = a.endpoint() {
                    sock.local = Some(ep);
                    sock.bound = Some(ep);
                }
                sock.role = Role::Server;
                f.refresh_sock_name();
            }
        }
    }

    /// sendto/recvfrom with an address on an unconnected socket: the peer
    /// may change per datagram (`fd.name_changed`). `local` is the socket's
    /// own end when the kernel could read it (an unconnected socket is bound
    /// by its first send, so it is not known before).
    fn sock_datagram(
        &mut self,
        pid: u32,
        fd: i32,
        addr: SockAddr<'_>,
        local: Option<(SockAddr<'_>, u32)>,
    ) {
        let Some(f) = self.fd_mut(pid, fd) else {
            return;
        };
        let Some(ep) = addr.endpoint() else {
            return;
        };
        let sock = f.sock.get_or_insert_with(Default::default);
        if sock.connected && sock.role != Role::Unknown {
            return;
        }
        let before = (sock.remote, sock.local);
        sock.remote = Some(ep);
        if sock.role == Role::Unknown {
            sock.role = Role::Client;
        }
        if let Some((local, sock_type)) = local {
            set_local(sock, local, sock_type);
        }
        // `fd.name_changed`, as libsinsp has it: the name (peer and own end)
        // is not what it was.
        let changed = (sock.remote, sock.local) != before;
        if changed {
            f.refresh_sock_name();
        }
        self.cur.name_changed = changed;
    }

    fn dup(&mut self, pid: u32, old: i32, new: i32, cloexec: bool) {
        if old == new {
            return;
        }
        let src = self.fd_mut(pid, old).cloned();
        match src {
            Some(mut f) => {
                f.cloexec = cloexec;
                self.put_fd(pid, new, f);
            }
            None => {
                // Unknown source: drop any stale entry, then ask /proc.
                if let Some(p) = self.procs.get_mut(pid) {
                    p.fds.remove(new);
                }
                self.fd_from_proc(pid, new);
            }
        }
    }

    fn new_pipe(&mut self, pid: u32, fd: i32, cloexec: bool) {
        let name = if self.cfg.proc_fallback {
            self.procfs.readlink(pid, &format!("fd/{fd}"))
        } else {
            None
        };
        let mut f = FdInfo::new(
            FdType::Pipe,
            name.map_or_else(|| Arc::from("pipe:[]"), Arc::from),
        );
        f.cloexec = cloexec;
        self.put_fd(pid, fd, f);
    }
}
