//! Enumerated values rendered by name as Falco does: errno, capabilities,
//! ptrace requests, fcntl commands, socket families, bpf commands, prctl options.
//! Native x86_64 values; names and table order from Falco's flags table.

use crate::flags::NameValue;
use core::fmt::Write;

/// errno names by number (index = errno).
const ERRNO: &[&str] = &[
    "",
    "EPERM",
    "ENOENT",
    "ESRCH",
    "EINTR",
    "EIO",
    "ENXIO",
    "E2BIG",
    "ENOEXEC",
    "EBADF",
    "ECHILD",
    "EAGAIN",
    "ENOMEM",
    "EACCES",
    "EFAULT",
    "ENOTBLK",
    "EBUSY",
    "EEXIST",
    "EXDEV",
    "ENODEV",
    "ENOTDIR",
    "EISDIR",
    "EINVAL",
    "ENFILE",
    "EMFILE",
    "ENOTTY",
    "ETXTBSY",
    "EFBIG",
    "ENOSPC",
    "ESPIPE",
    "EROFS",
    "EMLINK",
    "EPIPE",
    "EDOM",
    "ERANGE",
    "EDEADLK",
    "ENAMETOOLONG",
    "ENOLCK",
    "ENOSYS",
    "ENOTEMPTY",
    "ELOOP",
    "",
    "ENOMSG",
    "EIDRM",
    "ECHRNG",
    "EL2NSYNC",
    "EL3HLT",
    "EL3RST",
    "ELNRNG",
    "EUNATCH",
    "ENOCSI",
    "EL2HLT",
    "EBADE",
    "EBADR",
    "EXFULL",
    "ENOANO",
    "EBADRQC",
    "EBADSLT",
    "",
    "EBFONT",
    "ENOSTR",
    "ENODATA",
    "ETIME",
    "ENOSR",
    "ENONET",
    "ENOPKG",
    "EREMOTE",
    "ENOLINK",
    "EADV",
    "ESRMNT",
    "ECOMM",
    "EPROTO",
    "EMULTIHOP",
    "EDOTDOT",
    "EBADMSG",
    "EOVERFLOW",
    "ENOTUNIQ",
    "EBADFD",
    "EREMCHG",
    "ELIBACC",
    "ELIBBAD",
    "ELIBSCN",
    "ELIBMAX",
    "ELIBEXEC",
    "EILSEQ",
    "ERESTART",
    "ESTRPIPE",
    "EUSERS",
    "ENOTSOCK",
    "EDESTADDRREQ",
    "EMSGSIZE",
    "EPROTOTYPE",
    "ENOPROTOOPT",
    "EPROTONOSUPPORT",
    "ESOCKTNOSUPPORT",
    "EOPNOTSUPP",
    "EPFNOSUPPORT",
    "EAFNOSUPPORT",
    "EADDRINUSE",
    "EADDRNOTAVAIL",
    "ENETDOWN",
    "ENETUNREACH",
    "ENETRESET",
    "ECONNABORTED",
    "ECONNRESET",
    "ENOBUFS",
    "EISCONN",
    "ENOTCONN",
    "ESHUTDOWN",
    "ETOOMANYREFS",
    "ETIMEDOUT",
    "ECONNREFUSED",
    "EHOSTDOWN",
    "EHOSTUNREACH",
    "EALREADY",
    "EINPROGRESS",
    "ESTALE",
    "EUCLEAN",
    "ENOTNAM",
    "ENAVAIL",
    "EISNAM",
    "EREMOTEIO",
    "EDQUOT",
    "ENOMEDIUM",
    "EMEDIUMTYPE",
    "ECANCELED",
    "ENOKEY",
    "EKEYEXPIRED",
    "EKEYREVOKED",
    "EKEYREJECTED",
    "EOWNERDEAD",
    "ENOTRECOVERABLE",
    "ERFKILL",
    "EHWPOISON",
];

/// The name of a positive errno, e.g. `ENOENT` for 2.
pub fn errno_name(errno: i64) -> Option<&'static str> {
    let n = usize::try_from(errno).ok()?;
    match ERRNO.get(n) {
        Some(s) if !s.is_empty() => Some(s),
        // Kernel-internal restart codes can leak to tracepoints.
        _ => match n {
            512 => Some("ERESTARTSYS"),
            513 => Some("ERESTARTNOINTR"),
            514 => Some("ERESTARTNOHAND"),
            515 => Some("ENOIOCTLCMD"),
            516 => Some("ERESTART_RESTARTBLOCK"),
            _ => None,
        },
    }
}

/// Capability names by bit number.
const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// A capability set as Falco prints it: names separated by spaces, in bit order.
pub fn render_caps<W: Write>(out: &mut W, set: u64) -> core::fmt::Result {
    let mut sep = "";
    for (bit, name) in CAPS.iter().enumerate() {
        if set & (1u64 << bit) != 0 {
            out.write_str(sep)?;
            out.write_str(name)?;
            sep = " ";
        }
    }
    Ok(())
}

pub const PTRACE_REQUESTS: &[NameValue] = &[
    ("PTRACE_SINGLEBLOCK", 33),
    ("PTRACE_SYSEMU_SINGLESTEP", 32),
    ("PTRACE_SYSEMU", 31),
    ("PTRACE_ARCH_PRCTL", 30),
    ("PTRACE_SET_THREAD_AREA", 26),
    ("PTRACE_GET_THREAD_AREA", 25),
    ("PTRACE_OLDSETOPTIONS", 21),
    ("PTRACE_SETFPXREGS", 19),
    ("PTRACE_GETFPXREGS", 18),
    ("PTRACE_SETFPREGS", 15),
    ("PTRACE_GETFPREGS", 14),
    ("PTRACE_SETREGS", 13),
    ("PTRACE_GETREGS", 12),
    ("PTRACE_SETSIGMASK", 0x420b),
    ("PTRACE_GETSIGMASK", 0x420a),
    ("PTRACE_PEEKSIGINFO", 0x4209),
    ("PTRACE_LISTEN", 0x4208),
    ("PTRACE_INTERRUPT", 0x4207),
    ("PTRACE_SEIZE", 0x4206),
    ("PTRACE_SETREGSET", 0x4205),
    ("PTRACE_GETREGSET", 0x4204),
    ("PTRACE_SETSIGINFO", 0x4203),
    ("PTRACE_GETSIGINFO", 0x4202),
    ("PTRACE_GETEVENTMSG", 0x4201),
    ("PTRACE_SETOPTIONS", 0x4200),
    ("PTRACE_SYSCALL", 24),
    ("PTRACE_DETACH", 17),
    ("PTRACE_ATTACH", 16),
    ("PTRACE_SINGLESTEP", 9),
    ("PTRACE_KILL", 8),
    ("PTRACE_CONT", 7),
    ("PTRACE_POKEUSR", 6),
    ("PTRACE_POKEDATA", 5),
    ("PTRACE_POKETEXT", 4),
    ("PTRACE_PEEKUSR", 3),
    ("PTRACE_PEEKDATA", 2),
    ("PTRACE_PEEKTEXT", 1),
    ("PTRACE_TRACEME", 0),
];

pub const FCNTL_CMDS: &[NameValue] = &[
    ("F_GETPIPE_SZ", 1032),
    ("F_SETPIPE_SZ", 1031),
    ("F_NOTIFY", 1026),
    ("F_DUPFD_CLOEXEC", 1030),
    ("F_CANCELLK", 1029),
    ("F_GETLEASE", 1025),
    ("F_SETLEASE", 1024),
    ("F_GETOWN_EX", 16),
    ("F_SETOWN_EX", 15),
    ("F_GETSIG", 11),
    ("F_SETSIG", 10),
    ("F_GETOWN", 9),
    ("F_SETOWN", 8),
    ("F_SETLKW", 7),
    ("F_SETLK", 6),
    ("F_GETLK", 5),
    ("F_SETFL", 4),
    ("F_GETFL", 3),
    ("F_SETFD", 2),
    ("F_GETFD", 1),
    ("F_DUPFD", 0),
    ("F_OFD_GETLK", 36),
    ("F_OFD_SETLK", 37),
    ("F_OFD_SETLKW", 38),
];
pub const F_DUPFD: u64 = 0;
pub const F_DUPFD_CLOEXEC: u64 = 1030;
pub const F_SETFD: u64 = 2;

pub const SOCKET_FAMILIES: &[NameValue] = &[
    ("AF_NFC", 39),
    ("AF_ALG", 38),
    ("AF_CAIF", 37),
    ("AF_IEEE802154", 36),
    ("AF_PHONET", 35),
    ("AF_ISDN", 34),
    ("AF_RXRPC", 33),
    ("AF_IUCV", 32),
    ("AF_BLUETOOTH", 31),
    ("AF_TIPC", 30),
    ("AF_CAN", 29),
    ("AF_LLC", 26),
    ("AF_WANPIPE", 25),
    ("AF_PPPOX", 24),
    ("AF_IRDA", 23),
    ("AF_SNA", 22),
    ("AF_RDS", 21),
    ("AF_ATMSVC", 20),
    ("AF_ECONET", 19),
    ("AF_ASH", 18),
    ("AF_PACKET", 17),
    ("AF_ROUTE", 16),
    ("AF_NETLINK", 16),
    ("AF_KEY", 15),
    ("AF_SECURITY", 14),
    ("AF_NETBEUI", 13),
    ("AF_DECnet", 12),
    ("AF_ROSE", 11),
    ("AF_INET6", 10),
    ("AF_X25", 9),
    ("AF_ATMPVC", 8),
    ("AF_BRIDGE", 7),
    ("AF_NETROM", 6),
    ("AF_APPLETALK", 5),
    ("AF_IPX", 4),
    ("AF_AX25", 3),
    ("AF_INET", 2),
    ("AF_LOCAL", 1),
    ("AF_UNIX", 1),
    ("AF_UNSPEC", 0),
];

pub const BPF_CMDS: &[NameValue] = &[
    ("BPF_MAP_CREATE", 0),
    ("BPF_MAP_LOOKUP_ELEM", 1),
    ("BPF_MAP_UPDATE_ELEM", 2),
    ("BPF_MAP_DELETE_ELEM", 3),
    ("BPF_MAP_GET_NEXT_KEY", 4),
    ("BPF_PROG_LOAD", 5),
    ("BPF_OBJ_PIN", 6),
    ("BPF_OBJ_GET", 7),
    ("BPF_PROG_ATTACH", 8),
    ("BPF_PROG_DETACH", 9),
    ("BPF_PROG_TEST_RUN", 10),
    ("BPF_PROG_GET_NEXT_ID", 11),
    ("BPF_MAP_GET_NEXT_ID", 12),
    ("BPF_PROG_GET_FD_BY_ID", 13),
    ("BPF_MAP_GET_FD_BY_ID", 14),
    ("BPF_OBJ_GET_INFO_BY_FD", 15),
    ("BPF_PROG_QUERY", 16),
    ("BPF_RAW_TRACEPOINT_OPEN", 17),
    ("BPF_BTF_LOAD", 18),
    ("BPF_BTF_GET_FD_BY_ID", 19),
    ("BPF_TASK_FD_QUERY", 20),
    ("BPF_MAP_LOOKUP_AND_DELETE_ELEM", 21),
    ("BPF_MAP_FREEZE", 22),
    ("BPF_BTF_GET_NEXT_ID", 23),
    ("BPF_MAP_LOOKUP_BATCH", 24),
    ("BPF_MAP_LOOKUP_AND_DELETE_BATCH", 25),
    ("BPF_MAP_UPDATE_BATCH", 26),
    ("BPF_MAP_DELETE_BATCH", 27),
    ("BPF_LINK_CREATE", 28),
    ("BPF_LINK_UPDATE", 29),
    ("BPF_LINK_GET_FD_BY_ID", 30),
    ("BPF_LINK_GET_NEXT_ID", 31),
    ("BPF_ENABLE_STATS", 32),
    ("BPF_ITER_CREATE", 33),
    ("BPF_LINK_DETACH", 34),
    ("BPF_PROG_BIND_MAP", 35),
];

pub const PRCTL_OPTIONS: &[NameValue] = &[
    ("PR_GET_DUMPABLE", 3),
    ("PR_SET_DUMPABLE", 4),
    ("PR_GET_KEEPCAPS", 7),
    ("PR_SET_KEEPCAPS", 8),
    ("PR_SET_NAME", 15),
    ("PR_GET_NAME", 16),
    ("PR_GET_SECCOMP", 21),
    ("PR_SET_SECCOMP", 22),
    ("PR_CAPBSET_READ", 23),
    ("PR_CAPBSET_DROP", 24),
    ("PR_GET_SECUREBITS", 27),
    ("PR_SET_SECUREBITS", 28),
    ("PR_MCE_KILL", 33),
    ("PR_SET_MM", 35),
    ("PR_SET_CHILD_SUBREAPER", 36),
    ("PR_GET_CHILD_SUBREAPER", 37),
    ("PR_SET_NO_NEW_PRIVS", 38),
    ("PR_GET_NO_NEW_PRIVS", 39),
    ("PR_GET_TID_ADDRESS", 40),
    ("PR_SET_THP_DISABLE", 41),
    ("PR_GET_THP_DISABLE", 42),
    ("PR_CAP_AMBIENT", 47),
];

pub const SHUTDOWN_HOW: &[NameValue] = &[("SHUT_RDWR", 2), ("SHUT_WR", 1), ("SHUT_RD", 0)];

/// Socket types (the low nibble of socket(2)'s `type`), for `fd` facts.
pub const SOCK_STREAM: u32 = 1;
pub const SOCK_DGRAM: u32 = 2;
pub const SOCK_RAW: u32 = 3;
pub const SOCK_CLOEXEC: u64 = 0o2000000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::{enum_name, render_enum};

    #[test]
    fn errno_and_caps() {
        assert_eq!(errno_name(2), Some("ENOENT"));
        assert_eq!(errno_name(13), Some("EACCES"));
        assert_eq!(errno_name(111), Some("ECONNREFUSED"));
        assert_eq!(errno_name(133), Some("EHWPOISON"));
        assert_eq!(errno_name(41), None);
        assert_eq!(errno_name(-1), None);
        let mut s = String::new();
        render_caps(&mut s, 0b11 | (1 << 21)).unwrap();
        assert_eq!(s, "CAP_CHOWN CAP_DAC_OVERRIDE CAP_SYS_ADMIN");
    }

    #[test]
    fn enums() {
        assert_eq!(enum_name(16, PTRACE_REQUESTS), Some("PTRACE_ATTACH"));
        assert_eq!(enum_name(0x4206, PTRACE_REQUESTS), Some("PTRACE_SEIZE"));
        assert_eq!(enum_name(17, SOCKET_FAMILIES), Some("AF_PACKET"));
        assert_eq!(enum_name(1030, FCNTL_CMDS), Some("F_DUPFD_CLOEXEC"));
        assert_eq!(enum_name(5, BPF_CMDS), Some("BPF_PROG_LOAD"));
        let mut s = String::new();
        render_enum(&mut s, 1, SOCKET_FAMILIES).unwrap();
        assert_eq!(s, "AF_LOCAL|AF_UNIX");
    }
}
