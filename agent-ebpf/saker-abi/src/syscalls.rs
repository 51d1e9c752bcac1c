//! The syscall table: for each syscall we can capture, its native number, its
//! name, and what the kernel must copy for each argument.
//!
//! Userspace turns this table into the `PLANS` map (one [`SyscallPlan`] per
//! syscall number), so the kernel programs carry no per-syscall code: adding a
//! syscall is a line here.

/// How one syscall argument is captured.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// Not part of the event.
    None = 0,
    /// A plain integer (flags, mode, pid, request...): the raw register value.
    Int = 1,
    /// A file descriptor (integer, but state tracks it).
    Fd = 2,
    /// A user-space path (NUL-terminated); relative paths are resolved by userspace.
    Path = 3,
    /// A user-space NUL-terminated string that is not a path.
    Str = 4,
    /// A `struct sockaddr *` whose length is argument `aux`.
    SockAddr = 5,
    /// A `struct sockaddr *` filled by the kernel; `aux` is the argument holding
    /// a `socklen_t *`. Copied at exit.
    SockAddrOut = 6,
    /// `char *const argv[]`: copied as NUL-separated strings.
    Argv = 7,
    /// `struct open_how *` (flags, mode, resolve: 3 × u64).
    OpenHow = 8,
    /// `struct msghdr *`: the peer address it names (`msg_name`, `msg_namelen`).
    MsgHdr = 9,
    /// `int[2]` filled by the kernel (pipe, socketpair). Copied at exit.
    FdPair = 10,
    /// `struct clone_args *`: its first u64 (flags).
    CloneArgs = 11,
    /// A data buffer whose length is argument `aux` (capped at the snaplen);
    /// copied at exit, at most `res` bytes.
    Buf = 12,
}

impl ArgKind {
    pub const fn from_u8(v: u8) -> ArgKind {
        match v {
            1 => ArgKind::Int,
            2 => ArgKind::Fd,
            3 => ArgKind::Path,
            4 => ArgKind::Str,
            5 => ArgKind::SockAddr,
            6 => ArgKind::SockAddrOut,
            7 => ArgKind::Argv,
            8 => ArgKind::OpenHow,
            9 => ArgKind::MsgHdr,
            10 => ArgKind::FdPair,
            11 => ArgKind::CloneArgs,
            12 => ArgKind::Buf,
            _ => ArgKind::None,
        }
    }

    /// True when the kernel copies bytes for this argument (it makes a blob).
    pub const fn has_blob(self) -> bool {
        !matches!(self, ArgKind::None | ArgKind::Int | ArgKind::Fd)
    }
}

/// One argument's capture rule, as stored in the `PLANS` map.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArgSpec {
    /// An [`ArgKind`] as u8.
    pub kind: u8,
    /// Index of a companion argument (a length), when the kind needs one.
    pub aux: u8,
}

/// Plan flags.
pub mod plan_flags {
    /// The syscall exists in the table (a zeroed plan means "unknown syscall").
    pub const KNOWN: u8 = 1;
    /// Copy the blobs at enter and emit them in a `SYSCALL_ENTER` record:
    /// the memory they live in is gone by exit (execve).
    pub const AT_ENTER: u8 = 2;
    /// The syscall creates a task; its child sees a `CLONE_CHILD` record.
    pub const CLONE: u8 = 4;
    /// The syscall replaces the program. A successful execveat may return
    /// through the execve exit tracepoint (the kernel reports the exec's exit
    /// under execve's number), so exits pair with enters across this family.
    pub const EXEC: u8 = 8;
    /// Report the call only when it names a peer address (its `SockAddr`,
    /// `SockAddrOut` or `MsgHdr` argument's `msg_name` is not NULL). Set by
    /// userspace, never by the table, for sendto/recvfrom/sendmsg/recvmsg
    /// when no loaded rule can match the address-less form: on a connected
    /// TCP stream every call is address-less, and reporting them is most of
    /// what a network-heavy service would otherwise cost.
    pub const ADDRESSED_ONLY: u8 = 16;
    /// On a successful exit of a call that named a peer address
    /// (`hdr_flags::ADDRESSED`), add `BLOB_LOCAL_ADDR` for the socket in
    /// argument 0 (connect, also when it returns EINPROGRESS; the datagram
    /// calls).
    pub const LOCAL_ADDR_ARG0: u8 = 32;
    /// On a successful exit, add `BLOB_LOCAL_ADDR` for the socket the call
    /// returned (accept, accept4).
    pub const LOCAL_ADDR_RES: u8 = 64;
    /// The record is the header alone: no argument makes a blob and no
    /// local address is added. Set by [`SyscallDef::plan`] from the table;
    /// the kernel writes such a record straight into the ring buffer.
    pub const NO_BLOBS: u8 = 128;
}

/// The `PLANS` map value for one syscall number.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallPlan {
    pub args: [ArgSpec; 6],
    pub flags: u8,
    pub nargs: u8,
    /// 1 + the index of the argument when a single string (`Path` or `Str`)
    /// is all the record carries besides its header (openat, unlink, mkdir,
    /// ...), else 0. The kernel then reads that string straight into the
    /// ring buffer instead of building the record in scratch memory, when
    /// it fits the room reserved there.
    pub one_str: u8,
    pub _pad: u8,
}

/// A row of the syscall table.
#[derive(Clone, Copy, Debug)]
pub struct SyscallDef {
    pub nr: u32,
    pub name: &'static str,
    /// Argument names as Falco's event table spells them (`evt.arg.NAME`).
    pub arg_names: &'static [&'static str],
    pub args: &'static [(ArgKind, u8)],
    pub flags: u8,
}

impl SyscallDef {
    pub const fn plan(&self) -> SyscallPlan {
        let mut plan = SyscallPlan {
            args: [ArgSpec { kind: 0, aux: 0 }; 6],
            flags: self.flags | plan_flags::KNOWN,
            nargs: self.args.len() as u8,
            one_str: 0,
            _pad: 0,
        };
        let mut i = 0;
        while i < self.args.len() && i < 6 {
            plan.args[i] = ArgSpec {
                kind: self.args[i].0 as u8,
                aux: self.args[i].1,
            };
            i += 1;
        }
        let local_addr =
            self.flags & (plan_flags::LOCAL_ADDR_ARG0 | plan_flags::LOCAL_ADDR_RES) != 0;
        let mut blobs = 0;
        let mut string = None;
        let mut i = 0;
        while i < self.args.len() && i < 6 {
            let kind = self.args[i].0;
            if kind.has_blob() {
                blobs += 1;
                if matches!(kind, ArgKind::Path | ArgKind::Str) {
                    string = Some(i);
                }
            }
            i += 1;
        }
        if blobs == 0 && !local_addr {
            plan.flags |= plan_flags::NO_BLOBS;
        }
        if let (1, Some(i), false) = (blobs, string, local_addr) {
            if self.flags & plan_flags::AT_ENTER == 0 {
                plan.one_str = i as u8 + 1;
            }
        }
        plan
    }
}

/// The table is per architecture (syscall numbers differ); the kernel side
/// never needs it, it reads the `PLANS` map built from it.
#[cfg(target_arch = "x86_64")]
mod x86_64 {
    use super::*;
    use ArgKind::{
        Argv, Buf, CloneArgs, Fd, FdPair, Int, MsgHdr, OpenHow, Path, SockAddr, SockAddrOut, Str,
    };

    const N: ArgKind = ArgKind::None;

    macro_rules! sys {
        ($nr:expr, $name:literal, [$($an:literal),*], [$($k:tt),*] $(, $flags:expr)?) => {
            SyscallDef {
                nr: $nr,
                name: $name,
                arg_names: &[$($an),*],
                args: &[$(sys!(@arg $k)),*],
                flags: 0 $(| $flags)?,
            }
        };
        (@arg ($k:expr, $aux:expr)) => { ($k, $aux) };
        (@arg $k:ident) => { ($k, 0) };
    }

    use plan_flags::{AT_ENTER, CLONE, EXEC, LOCAL_ADDR_ARG0, LOCAL_ADDR_RES};

    /// Every syscall saker can capture, x86_64 numbering.
    pub const SYSCALLS: &[SyscallDef] = &[
        sys!(0, "read", ["fd", "data", "size"], [Fd, (Buf, 2), Int]),
        sys!(1, "write", ["fd", "data", "size"], [Fd, (Buf, 2), Int]),
        sys!(2, "open", ["name", "flags", "mode"], [Path, Int, Int]),
        sys!(3, "close", ["fd"], [Fd]),
        sys!(
            17,
            "pread",
            ["fd", "data", "size", "pos"],
            [Fd, (Buf, 2), Int, Int]
        ),
        sys!(
            18,
            "pwrite",
            ["fd", "data", "size", "pos"],
            [Fd, (Buf, 2), Int, Int]
        ),
        sys!(22, "pipe", ["fds"], [FdPair]),
        sys!(32, "dup", ["oldfd"], [Fd]),
        sys!(33, "dup2", ["oldfd", "newfd"], [Fd, Fd]),
        sys!(41, "socket", ["domain", "type", "proto"], [Int, Int, Int]),
        sys!(
            42,
            "connect",
            ["fd", "addr", "addrlen"],
            [Fd, (SockAddr, 2), Int],
            LOCAL_ADDR_ARG0
        ),
        sys!(
            43,
            "accept",
            ["fd", "addr", "addrlen"],
            [Fd, (SockAddrOut, 2), N],
            LOCAL_ADDR_RES
        ),
        sys!(
            44,
            "sendto",
            ["fd", "data", "size", "flags", "addr", "addrlen"],
            [Fd, (Buf, 2), Int, Int, (SockAddr, 5), Int],
            LOCAL_ADDR_ARG0
        ),
        sys!(
            45,
            "recvfrom",
            ["fd", "data", "size", "flags", "addr", "addrlen"],
            [Fd, N, Int, Int, (SockAddrOut, 5), N],
            LOCAL_ADDR_ARG0
        ),
        sys!(
            46,
            "sendmsg",
            ["fd", "msg", "flags"],
            [Fd, MsgHdr, Int],
            LOCAL_ADDR_ARG0
        ),
        sys!(
            47,
            "recvmsg",
            ["fd", "msg", "flags"],
            [Fd, MsgHdr, Int],
            LOCAL_ADDR_ARG0
        ),
        sys!(48, "shutdown", ["fd", "how"], [Fd, Int]),
        sys!(
            49,
            "bind",
            ["fd", "addr", "addrlen"],
            [Fd, (SockAddr, 2), Int]
        ),
        sys!(50, "listen", ["fd", "backlog"], [Fd, Int]),
        sys!(
            53,
            "socketpair",
            ["domain", "type", "proto", "fds"],
            [Int, Int, Int, FdPair]
        ),
        sys!(
            56,
            "clone",
            ["flags", "newsp", "parent_tid", "child_tid", "tls"],
            [Int, Int, Int, Int, Int],
            CLONE
        ),
        sys!(57, "fork", [], [], CLONE),
        sys!(58, "vfork", [], [], CLONE),
        sys!(
            59,
            "execve",
            ["filename", "args", "envp"],
            [Path, Argv, N],
            AT_ENTER | EXEC
        ),
        sys!(62, "kill", ["pid", "sig"], [Int, Int]),
        sys!(72, "fcntl", ["fd", "cmd", "arg"], [Fd, Int, Int]),
        sys!(80, "chdir", ["path"], [Path]),
        sys!(81, "fchdir", ["fd"], [Fd]),
        sys!(82, "rename", ["oldpath", "newpath"], [Path, Path]),
        sys!(83, "mkdir", ["path", "mode"], [Path, Int]),
        sys!(84, "rmdir", ["path"], [Path]),
        sys!(85, "creat", ["name", "mode"], [Path, Int]),
        sys!(86, "link", ["oldpath", "newpath"], [Path, Path]),
        sys!(87, "unlink", ["path"], [Path]),
        sys!(88, "symlink", ["target", "linkpath"], [Str, Path]),
        sys!(90, "chmod", ["filename", "mode"], [Path, Int]),
        sys!(91, "fchmod", ["fd", "mode"], [Fd, Int]),
        sys!(92, "chown", ["path", "uid", "gid"], [Path, Int, Int]),
        sys!(93, "fchown", ["fd", "uid", "gid"], [Fd, Int, Int]),
        sys!(94, "lchown", ["path", "uid", "gid"], [Path, Int, Int]),
        sys!(
            101,
            "ptrace",
            ["request", "pid", "addr", "data"],
            [Int, Int, Int, Int]
        ),
        sys!(105, "setuid", ["uid"], [Int]),
        sys!(106, "setgid", ["gid"], [Int]),
        sys!(112, "setsid", [], []),
        sys!(110, "getppid", [], []),
        sys!(113, "setreuid", ["ruid", "euid"], [Int, Int]),
        sys!(117, "setresuid", ["ruid", "euid", "suid"], [Int, Int, Int]),
        sys!(
            157,
            "prctl",
            ["option", "arg2", "arg3", "arg4", "arg5"],
            [Int, Int, Int, Int, Int]
        ),
        sys!(
            165,
            "mount",
            ["dev", "dir", "type", "flags", "data"],
            [Str, Path, Str, Int, N]
        ),
        sys!(166, "umount2", ["name", "flags"], [Path, Int]),
        sys!(
            175,
            "init_module",
            ["img", "length", "uargs"],
            [N, Int, Str]
        ),
        sys!(
            257,
            "openat",
            ["dirfd", "name", "flags", "mode"],
            [Fd, Path, Int, Int]
        ),
        sys!(258, "mkdirat", ["dirfd", "path", "mode"], [Fd, Path, Int]),
        sys!(
            260,
            "fchownat",
            ["dirfd", "pathname", "uid", "gid", "flags"],
            [Fd, Path, Int, Int, Int]
        ),
        sys!(263, "unlinkat", ["dirfd", "name", "flags"], [Fd, Path, Int]),
        sys!(
            264,
            "renameat",
            ["olddirfd", "oldpath", "newdirfd", "newpath"],
            [Fd, Path, Fd, Path]
        ),
        sys!(
            265,
            "linkat",
            ["olddir", "oldpath", "newdir", "newpath", "flags"],
            [Fd, Path, Fd, Path, Int]
        ),
        sys!(
            266,
            "symlinkat",
            ["target", "linkdirfd", "linkpath"],
            [Str, Fd, Path]
        ),
        sys!(
            268,
            "fchmodat",
            ["dirfd", "filename", "mode"],
            [Fd, Path, Int]
        ),
        sys!(272, "unshare", ["flags"], [Int]),
        sys!(
            288,
            "accept4",
            ["fd", "addr", "addrlen", "flags"],
            [Fd, (SockAddrOut, 2), N, Int],
            LOCAL_ADDR_RES
        ),
        sys!(292, "dup3", ["oldfd", "newfd", "flags"], [Fd, Fd, Int]),
        sys!(293, "pipe2", ["fds", "flags"], [FdPair, Int]),
        sys!(308, "setns", ["fd", "nstype"], [Fd, Int]),
        sys!(
            313,
            "finit_module",
            ["fd", "uargs", "flags"],
            [Fd, Str, Int]
        ),
        sys!(
            316,
            "renameat2",
            ["olddirfd", "oldpath", "newdirfd", "newpath", "flags"],
            [Fd, Path, Fd, Path, Int]
        ),
        sys!(319, "memfd_create", ["name", "flags"], [Str, Int]),
        sys!(321, "bpf", ["cmd", "attr", "size"], [Int, N, Int]),
        sys!(
            322,
            "execveat",
            ["dirfd", "pathname", "args", "envp", "flags"],
            [Fd, Path, Argv, N, Int],
            AT_ENTER | EXEC
        ),
        sys!(323, "userfaultfd", ["flags"], [Int]),
        sys!(435, "clone3", ["cl_args", "size"], [CloneArgs, Int], CLONE),
        sys!(
            437,
            "openat2",
            ["dirfd", "name", "how", "size"],
            [Fd, Path, OpenHow, Int]
        ),
        sys!(
            452,
            "fchmodat2",
            ["dirfd", "filename", "mode", "flags"],
            [Fd, Path, Int, Int]
        ),
    ];

    /// Looks a syscall up by name.
    pub fn by_name(name: &str) -> Option<&'static SyscallDef> {
        SYSCALLS.iter().find(|d| d.name == name)
    }

    /// Looks a syscall up by native number.
    pub fn by_nr(nr: u32) -> Option<&'static SyscallDef> {
        SYSCALLS.iter().find(|d| d.nr == nr)
    }
}

#[cfg(target_arch = "x86_64")]
pub use x86_64::{by_name, by_nr, SYSCALLS};

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use plan_flags::AT_ENTER;
    use ArgKind::{Buf, SockAddr, SockAddrOut};

    #[test]
    fn table_is_consistent() {
        let mut seen = [false; crate::MAX_SYSCALLS];
        for def in SYSCALLS {
            assert!(
                (def.nr as usize) < crate::MAX_SYSCALLS,
                "{} out of range",
                def.name
            );
            assert!(!seen[def.nr as usize], "{} listed twice", def.name);
            seen[def.nr as usize] = true;
            assert!(def.args.len() <= 6, "{}", def.name);
            assert_eq!(
                def.args.len(),
                def.arg_names.len(),
                "{}: names vs args",
                def.name
            );
            for (kind, aux) in def.args {
                if matches!(kind, SockAddr | SockAddrOut | Buf) {
                    assert!(
                        (*aux as usize) < def.args.len(),
                        "{}: aux out of range",
                        def.name
                    );
                }
            }
        }
    }

    #[test]
    fn plan_round_trips_kinds() {
        let connect = by_name("connect").unwrap();
        let plan = connect.plan();
        assert_eq!(plan.nargs, 3);
        assert_eq!(ArgKind::from_u8(plan.args[1].kind), SockAddr);
        assert_eq!(plan.args[1].aux, 2);
        assert_ne!(plan.flags & plan_flags::KNOWN, 0);
        assert_ne!(by_name("execve").unwrap().plan().flags & AT_ENTER, 0);
    }

    #[test]
    fn no_blobs_flag_follows_the_arguments() {
        let no_blobs = |n: &str| by_name(n).unwrap().plan().flags & plan_flags::NO_BLOBS != 0;
        assert!(no_blobs("getppid"));
        assert!(no_blobs("close"));
        assert!(no_blobs("fork"));
        assert!(!no_blobs("openat"));
        assert!(!no_blobs("read"));
        assert!(!no_blobs("clone3"));
        // No blob argument, but the exit adds the socket's own address.
        assert!(!no_blobs("connect"));
        assert!(!no_blobs("accept"));
        assert!(!no_blobs("execve"));
    }

    #[test]
    fn one_str_names_the_only_string_of_a_record() {
        let one_str = |n: &str| by_name(n).unwrap().plan().one_str;
        assert_eq!(one_str("openat"), 2, "dirfd, *pathname*, flags, mode");
        assert_eq!(one_str("open"), 1);
        assert_eq!(one_str("unlinkat"), 2);
        assert_eq!(one_str("mkdir"), 1);
        assert_eq!(one_str("memfd_create"), 1);
        // Two strings, another blob kind, none, or copied at enter.
        assert_eq!(one_str("renameat"), 0);
        assert_eq!(one_str("openat2"), 0);
        assert_eq!(one_str("connect"), 0);
        assert_eq!(one_str("close"), 0);
        assert_eq!(one_str("execve"), 0);
        // Every plan that has one names a string argument within nargs.
        for def in SYSCALLS {
            let plan = def.plan();
            if plan.one_str != 0 {
                let i = plan.one_str as usize - 1;
                assert!(i < plan.nargs as usize, "{}", def.name);
                assert!(
                    matches!(
                        ArgKind::from_u8(plan.args[i].kind),
                        ArgKind::Path | ArgKind::Str
                    ),
                    "{}",
                    def.name
                );
            }
        }
    }
}
