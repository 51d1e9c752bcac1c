//! Per-process file descriptor table: what each fd points at, in the terms
//! Falco's `fd.*` fields use.

use crate::decode::Endpoint;
use crate::names::{SOCK_DGRAM, SOCK_RAW, SOCK_STREAM};
use core::net::IpAddr;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// `fd.type` / `fd.typechar`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdType {
    File,
    Directory,
    Ipv4,
    Ipv6,
    Unix,
    Pipe,
    Event,
    Signalfd,
    Eventpoll,
    Inotify,
    Timerfd,
    Netlink,
    Memfd,
    Bpf,
    Userfaultfd,
    IoUring,
    Pidfd,
    Unknown,
}

impl FdType {
    /// Falco's `fd.type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            FdType::File => "file",
            FdType::Directory => "directory",
            FdType::Ipv4 => "ipv4",
            FdType::Ipv6 => "ipv6",
            FdType::Unix => "unix",
            FdType::Pipe => "pipe",
            FdType::Event => "event",
            FdType::Signalfd => "signalfd",
            FdType::Eventpoll => "eventpoll",
            FdType::Inotify => "inotify",
            FdType::Timerfd => "timerfd",
            FdType::Netlink => "netlink",
            FdType::Memfd => "memfd",
            FdType::Bpf => "bpf",
            FdType::Userfaultfd => "userfaultfd",
            FdType::IoUring => "io_uring",
            FdType::Pidfd => "pidfd",
            FdType::Unknown => "unknown",
        }
    }

    /// Falco's `fd.typechar`.
    pub fn as_char(self) -> char {
        match self {
            FdType::File => 'f',
            FdType::Directory => 'd',
            FdType::Ipv4 => '4',
            FdType::Ipv6 => '6',
            FdType::Unix => 'u',
            FdType::Pipe => 'p',
            FdType::Event => 'e',
            FdType::Signalfd => 's',
            FdType::Eventpoll => 'l',
            FdType::Inotify => 'i',
            FdType::Timerfd => 't',
            FdType::Netlink => 'n',
            FdType::Memfd => 'm',
            FdType::Bpf => 'b',
            FdType::Userfaultfd => 'u',
            FdType::IoUring => 'r',
            FdType::Pidfd => 'P',
            FdType::Unknown => 'o',
        }
    }

    pub fn is_socket(self) -> bool {
        matches!(
            self,
            FdType::Ipv4 | FdType::Ipv6 | FdType::Unix | FdType::Netlink
        )
    }

    /// Classifies a `/proc/PID/fd/N` link target.
    pub fn from_link(target: &str) -> FdType {
        if target.starts_with('/') {
            if target.starts_with("/memfd:") {
                FdType::Memfd
            } else {
                FdType::File
            }
        } else if target.starts_with("pipe:") {
            FdType::Pipe
        } else if target.starts_with("socket:") {
            // The family is not in the link; /proc/net would tell, at a cost.
            FdType::Unknown
        } else if let Some(anon) = target.strip_prefix("anon_inode:") {
            match anon.trim_start_matches('[').trim_end_matches(']') {
                "eventfd" => FdType::Event,
                "signalfd" => FdType::Signalfd,
                "eventpoll" => FdType::Eventpoll,
                "inotify" => FdType::Inotify,
                "timerfd" => FdType::Timerfd,
                "bpf-map" | "bpf-prog" | "bpf_link" | "bpf-link" => FdType::Bpf,
                "userfaultfd" => FdType::Userfaultfd,
                "io_uring" => FdType::IoUring,
                "pidfd" => FdType::Pidfd,
                _ => FdType::Unknown,
            }
        } else {
            FdType::Unknown
        }
    }
}

/// `fd.l4proto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum L4Proto {
    #[default]
    Unknown,
    Tcp,
    Udp,
    Icmp,
    Raw,
}

impl L4Proto {
    pub fn from_socket(sock_type: u32, proto: u32) -> L4Proto {
        match sock_type & 0xf {
            SOCK_STREAM => L4Proto::Tcp,
            SOCK_DGRAM if proto == 1 || proto == 58 => L4Proto::Icmp,
            SOCK_DGRAM => L4Proto::Udp,
            SOCK_RAW if proto == 1 || proto == 58 => L4Proto::Icmp,
            SOCK_RAW => L4Proto::Raw,
            _ => L4Proto::Unknown,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            L4Proto::Unknown => "unknown",
            L4Proto::Tcp => "tcp",
            L4Proto::Udp => "udp",
            L4Proto::Icmp => "icmp",
            L4Proto::Raw => "raw",
        }
    }
}

/// Which end of the connection this process is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Role {
    #[default]
    Unknown,
    Client,
    Server,
}

/// Socket facts, boxed off the common (file) case to keep `FdInfo` small.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SockInfo {
    pub domain: u16,
    pub l4proto: L4Proto,
    pub local: Option<Endpoint>,
    pub remote: Option<Endpoint>,
    pub role: Role,
    pub connected: bool,
    /// The end bind named, which connect(AF_UNSPEC) falls back to.
    pub bound: Option<Endpoint>,
}

impl SockInfo {
    pub fn server(&self) -> Option<Endpoint> {
        match self.role {
            Role::Server => self.local,
            _ => self.remote,
        }
    }
    pub fn client(&self) -> Option<Endpoint> {
        match self.role {
            Role::Server => self.remote,
            _ => self.local,
        }
    }
    pub fn sip(&self) -> Option<IpAddr> {
        self.server().map(|e| e.ip)
    }
    pub fn cip(&self) -> Option<IpAddr> {
        self.client().map(|e| e.ip)
    }

    /// `fd.name` for an IP socket: `client->server` once connected, the
    /// local address for a bound server socket.
    pub fn tuple_name(&self) -> Option<String> {
        match (self.client(), self.server()) {
            (c, Some(s)) if self.connected || self.remote.is_some() => {
                Some(format!("{}->{}", c.unwrap_or(unspec_like(s)), s))
            }
            (_, Some(s)) => Some(s.to_string()),
            _ => None,
        }
    }
}

/// An unknown local end printed in the same family as the known end.
fn unspec_like(e: Endpoint) -> Endpoint {
    Endpoint {
        ip: match e.ip {
            IpAddr::V4(_) => IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(core::net::Ipv6Addr::UNSPECIFIED),
        },
        port: 0,
    }
}

/// One open file descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdInfo {
    pub ty: FdType,
    /// Native open flags (access mode, O_CLOEXEC...), 0 when unknown.
    pub flags: u32,
    pub cloexec: bool,
    /// `fd.name`: resolved path, socket tuple, `pipe:[ino]`, `memfd:NAME`.
    pub name: Arc<str>,
    /// `fd.nameraw`: the path as the process passed it, when it differs.
    pub nameraw: Option<Arc<str>>,
    pub sock: Option<Box<SockInfo>>,
}

impl FdInfo {
    pub fn new(ty: FdType, name: Arc<str>) -> Self {
        FdInfo {
            ty,
            flags: 0,
            cloexec: false,
            name,
            nameraw: None,
            sock: None,
        }
    }

    pub fn nameraw(&self) -> &str {
        self.nameraw.as_deref().unwrap_or(&self.name)
    }

    pub fn connected(&self) -> bool {
        self.sock.as_ref().is_some_and(|s| s.connected)
    }

    /// Recomputes `name` from socket facts (after connect/accept/bind).
    pub fn refresh_sock_name(&mut self) {
        if let Some(s) = &self.sock {
            if matches!(self.ty, FdType::Ipv4 | FdType::Ipv6) {
                if let Some(n) = s.tuple_name() {
                    self.name = Arc::from(n);
                }
            }
        }
    }
}

/// The fds of one process (shared by its threads).
#[derive(Clone, Debug, Default)]
pub struct FdTable {
    map: FxHashMap<i32, FdInfo>,
}

/// Result of an insert into a full table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    Yes,
    /// The table was at its cap and the fd was not new: dropped.
    Full,
}

impl FdTable {
    pub fn get(&self, fd: i32) -> Option<&FdInfo> {
        self.map.get(&fd)
    }
    pub fn get_mut(&mut self, fd: i32) -> Option<&mut FdInfo> {
        self.map.get_mut(&fd)
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = (i32, &FdInfo)> {
        self.map.iter().map(|(k, v)| (*k, v))
    }

    /// Inserts or replaces `fd`; returns what it replaced (dup2 onto an open fd).
    pub fn insert(&mut self, fd: i32, info: FdInfo, cap: usize) -> (Inserted, Option<FdInfo>) {
        if fd < 0 {
            return (Inserted::Full, None);
        }
        if self.map.len() >= cap && !self.map.contains_key(&fd) {
            return (Inserted::Full, None);
        }
        (Inserted::Yes, self.map.insert(fd, info))
    }

    pub fn remove(&mut self, fd: i32) -> Option<FdInfo> {
        self.map.remove(&fd)
    }

    /// Drops close-on-exec fds (what a successful exec does).
    pub fn close_on_exec(&mut self) {
        self.map.retain(|_, f| !f.cloexec);
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn ep(a: [u8; 4], p: u16) -> Endpoint {
        Endpoint {
            ip: IpAddr::V4(Ipv4Addr::from(a)),
            port: p,
        }
    }

    #[test]
    fn socket_roles_and_names() {
        let mut s = SockInfo {
            domain: 2,
            l4proto: L4Proto::Tcp,
            local: Some(ep([10, 0, 0, 2], 40000)),
            remote: Some(ep([1, 1, 1, 1], 443)),
            role: Role::Client,
            connected: true,
            bound: None,
        };
        assert_eq!(s.tuple_name().unwrap(), "10.0.0.2:40000->1.1.1.1:443");
        assert_eq!(s.sip(), Some(IpAddr::V4(Ipv4Addr::new(1, 1, 1, 1))));
        s.role = Role::Server;
        s.local = Some(ep([10, 0, 0, 2], 22));
        s.remote = Some(ep([5, 5, 5, 5], 5555));
        assert_eq!(s.tuple_name().unwrap(), "5.5.5.5:5555->10.0.0.2:22");
        assert_eq!(s.server().unwrap().port, 22);
        let unbound = SockInfo {
            remote: Some(ep([8, 8, 8, 8], 53)),
            ..Default::default()
        };
        assert_eq!(unbound.tuple_name().unwrap(), "0.0.0.0:0->8.8.8.8:53");
    }

    #[test]
    fn table_cap_and_cloexec() {
        let mut t = FdTable::default();
        let mut f = FdInfo::new(FdType::File, Arc::from("/a"));
        assert_eq!(t.insert(3, f.clone(), 2).0, Inserted::Yes);
        f.cloexec = true;
        assert_eq!(t.insert(4, f.clone(), 2).0, Inserted::Yes);
        assert_eq!(t.insert(5, f.clone(), 2).0, Inserted::Full);
        assert_eq!(t.insert(4, f.clone(), 2).0, Inserted::Yes);
        t.close_on_exec();
        assert_eq!(t.len(), 1);
        assert_eq!(FdType::from_link("anon_inode:[eventfd]"), FdType::Event);
        assert_eq!(FdType::from_link("pipe:[123]"), FdType::Pipe);
        assert_eq!(FdType::from_link("/memfd:x (deleted)"), FdType::Memfd);
    }
}
