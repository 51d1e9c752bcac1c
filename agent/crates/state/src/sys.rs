//! The syscall table indexed by number, with what state does for each call.
//! Built once from `saker_abi::syscalls::SYSCALLS` so the hot path is an
//! array index, never a name lookup.

use saker_abi::syscalls::{SyscallDef, SYSCALLS};
use saker_abi::{ArgKind, MAX_SYSCALLS};

/// Syscalls the tables need whatever the rules ask for (Falco's
/// base_syscalls idea): the capture's interest bitmap should include them.
pub const STATE_SYSCALLS: &[&str] = &[
    "clone",
    "clone3",
    "fork",
    "vfork",
    "execve",
    "execveat",
    "open",
    "openat",
    "openat2",
    "creat",
    "close",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "socket",
    "connect",
    "accept",
    "accept4",
    "bind",
    "listen",
    "pipe",
    "pipe2",
    "socketpair",
    "memfd_create",
    "chdir",
    "fchdir",
    "setsid",
    "setuid",
    "setreuid",
    "setresuid",
    "setgid",
];

/// Datagram calls whose peer address is optional. Without one they leave
/// the fd table as it was and cannot set `fd.name_changed`, so when no rule
/// needs them either, the kernel may report only the addressed form.
pub const DATAGRAM_SYSCALLS: &[&str] = &["sendto", "sendmsg", "recvfrom", "recvmsg"];

/// The state-relevant meaning of a syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sc {
    Other,
    Open,
    Openat,
    Openat2,
    Creat,
    Socket,
    Connect,
    Accept,
    Accept4,
    Bind,
    Listen,
    Dup,
    Dup2,
    Dup3,
    Fcntl,
    Pipe,
    Pipe2,
    Socketpair,
    MemfdCreate,
    Close,
    Chdir,
    Fchdir,
    Execve,
    Execveat,
    Clone,
    Fork,
    Vfork,
    Clone3,
    Setsid,
    Setuid,
    Setreuid,
    Setresuid,
    Setgid,
    Sendto,
    Sendmsg,
    Recvfrom,
    Recvmsg,
}

impl Sc {
    fn from_name(n: &str) -> Sc {
        match n {
            "open" => Sc::Open,
            "openat" => Sc::Openat,
            "openat2" => Sc::Openat2,
            "creat" => Sc::Creat,
            "socket" => Sc::Socket,
            "connect" => Sc::Connect,
            "accept" => Sc::Accept,
            "accept4" => Sc::Accept4,
            "bind" => Sc::Bind,
            "listen" => Sc::Listen,
            "dup" => Sc::Dup,
            "dup2" => Sc::Dup2,
            "dup3" => Sc::Dup3,
            "fcntl" => Sc::Fcntl,
            "pipe" => Sc::Pipe,
            "pipe2" => Sc::Pipe2,
            "socketpair" => Sc::Socketpair,
            "memfd_create" => Sc::MemfdCreate,
            "close" => Sc::Close,
            "chdir" => Sc::Chdir,
            "fchdir" => Sc::Fchdir,
            "execve" => Sc::Execve,
            "execveat" => Sc::Execveat,
            "clone" => Sc::Clone,
            "fork" => Sc::Fork,
            "vfork" => Sc::Vfork,
            "clone3" => Sc::Clone3,
            "setsid" => Sc::Setsid,
            "setuid" => Sc::Setuid,
            "setreuid" => Sc::Setreuid,
            "setresuid" => Sc::Setresuid,
            "setgid" => Sc::Setgid,
            "sendto" => Sc::Sendto,
            "sendmsg" => Sc::Sendmsg,
            "recvfrom" => Sc::Recvfrom,
            "recvmsg" => Sc::Recvmsg,
            _ => Sc::Other,
        }
    }

    pub fn is_open(self) -> bool {
        matches!(self, Sc::Open | Sc::Openat | Sc::Openat2 | Sc::Creat)
    }
    pub fn is_exec(self) -> bool {
        matches!(self, Sc::Execve | Sc::Execveat)
    }
    pub fn is_clone(self) -> bool {
        matches!(self, Sc::Clone | Sc::Fork | Sc::Vfork | Sc::Clone3)
    }
    /// Calls whose result is the new fd the event is about.
    pub fn returns_fd(self) -> bool {
        self.is_open()
            || matches!(
                self,
                Sc::Socket | Sc::Accept | Sc::Accept4 | Sc::MemfdCreate
            )
    }
}

/// One row: the ABI definition, what we do with it, and whether its first
/// argument is the fd the event is about (Falco's EF_USES_FD).
#[derive(Clone, Copy, Debug)]
pub struct SysInfo {
    pub def: &'static SyscallDef,
    pub sc: Sc,
    pub uses_fd: bool,
}

/// Syscall number to [`SysInfo`].
pub struct SysTable {
    rows: Box<[Option<SysInfo>]>,
}

impl SysTable {
    pub fn new() -> Self {
        let mut rows = vec![None; MAX_SYSCALLS].into_boxed_slice();
        for def in SYSCALLS {
            let Some(slot) = rows.get_mut(def.nr as usize) else {
                continue;
            };
            let first_is_fd = def.args.first().is_some_and(|a| a.0 == ArgKind::Fd)
                && matches!(def.arg_names.first(), Some(&"fd") | Some(&"oldfd"));
            *slot = Some(SysInfo {
                def,
                sc: Sc::from_name(def.name),
                uses_fd: first_is_fd,
            });
        }
        SysTable { rows }
    }

    pub fn get(&self, nr: u32) -> Option<&SysInfo> {
        self.rows.get(nr as usize)?.as_ref()
    }
}

impl Default for SysTable {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for SysTable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SysTable")
    }
}

/// The number of a syscall by name (setup and tests only).
pub fn nr_of(name: &str) -> Option<u32> {
    saker_abi::syscalls::by_name(name).map(|d| d.nr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        let t = SysTable::new();
        let open = t.get(nr_of("openat").unwrap()).unwrap();
        assert_eq!(open.sc, Sc::Openat);
        assert!(!open.uses_fd, "dirfd is not the event's fd");
        assert!(t.get(nr_of("read").unwrap()).unwrap().uses_fd);
        assert!(t.get(nr_of("dup2").unwrap()).unwrap().uses_fd);
        assert!(t.get(9999).is_none());
        for name in STATE_SYSCALLS {
            let nr = nr_of(name).unwrap_or_else(|| panic!("{name} missing from the ABI table"));
            assert_ne!(t.get(nr).unwrap().sc, Sc::Other, "{name}");
        }
    }
}
