//! Bit-flag arguments rendered as Falco renders them (`O_TRUNC|O_CREAT|O_WRONLY`).
//!
//! Rules compare against these strings, so the names, their order and the
//! separator follow libsinsp's PT_FLAGS rendering: walk Falco's table in its
//! order, print every entry whose bits are all set, clear those bits, and stop
//! once an entry equals the whole initial value. A zero-valued entry only
//! matches a zero value. Tables hold native x86_64 values except where Falco's
//! own bit layout differs (open flags), which is converted first.

use core::fmt::Write;

/// One named value of a Falco flags or enum table.
pub type NameValue = (&'static str, u32);

/// Falco's flag rendering over `table` (non-exact: combinations of bits).
pub fn render_flags<W: Write>(out: &mut W, val: u32, table: &[NameValue]) -> core::fmt::Result {
    let initial = val;
    let mut val = val;
    let mut sep = "";
    for &(name, flag) in table {
        let hit = (flag == 0 && initial == 0) || (flag != 0 && val != 0 && val & flag == flag);
        if hit {
            out.write_str(sep)?;
            out.write_str(name)?;
            sep = "|";
            val &= !flag;
            if flag == initial {
                break;
            }
        }
    }
    Ok(())
}

/// Falco's enum rendering: every entry equal to the value, `|`-joined
/// (`AF_LOCAL|AF_UNIX` for 1, as libsinsp prints it).
pub fn render_enum<W: Write>(out: &mut W, val: u32, table: &[NameValue]) -> core::fmt::Result {
    let mut sep = "";
    for &(name, v) in table {
        if v == val {
            out.write_str(sep)?;
            out.write_str(name)?;
            sep = "|";
        }
    }
    Ok(())
}

/// The first name equal to `val` (for single-valued lookups).
pub fn enum_name(val: u32, table: &[NameValue]) -> Option<&'static str> {
    table.iter().find(|&&(_, v)| v == val).map(|&(n, _)| n)
}

// Falco's own open-flag bits (ppm_events_public.h PPM_O_*): its table relies on
// O_RDONLY being a bit, which the native value (0) is not.
const P_RDONLY: u32 = 1 << 0;
const P_WRONLY: u32 = 1 << 1;
const P_RDWR: u32 = P_RDONLY | P_WRONLY;
const P_CREAT: u32 = 1 << 2;
const P_APPEND: u32 = 1 << 3;
const P_DSYNC: u32 = 1 << 4;
const P_EXCL: u32 = 1 << 5;
const P_NONBLOCK: u32 = 1 << 6;
const P_SYNC: u32 = 1 << 7;
const P_TRUNC: u32 = 1 << 8;
const P_DIRECT: u32 = 1 << 9;
const P_DIRECTORY: u32 = 1 << 10;
const P_LARGEFILE: u32 = 1 << 11;
const P_CLOEXEC: u32 = 1 << 12;
const P_TMPFILE: u32 = 1 << 13;

/// Falco's file_flags table, in its order.
pub const OPEN_FLAGS: &[NameValue] = &[
    ("O_LARGEFILE", P_LARGEFILE),
    ("O_DIRECTORY", P_DIRECTORY),
    ("O_DIRECT", P_DIRECT),
    ("O_TRUNC", P_TRUNC),
    ("O_SYNC", P_SYNC),
    ("O_NONBLOCK", P_NONBLOCK),
    ("O_EXCL", P_EXCL),
    ("O_DSYNC", P_DSYNC),
    ("O_APPEND", P_APPEND),
    ("O_CREAT", P_CREAT),
    ("O_RDWR", P_RDWR),
    ("O_WRONLY", P_WRONLY),
    ("O_RDONLY", P_RDONLY),
    ("O_CLOEXEC", P_CLOEXEC),
    ("O_NONE", 0),
    ("O_TMPFILE", P_TMPFILE),
];

/// Native x86_64 open(2) bits.
pub mod o {
    pub const ACCMODE: u32 = 0o3;
    pub const WRONLY: u32 = 0o1;
    pub const RDWR: u32 = 0o2;
    pub const CREAT: u32 = 0o100;
    pub const EXCL: u32 = 0o200;
    pub const TRUNC: u32 = 0o1000;
    pub const APPEND: u32 = 0o2000;
    pub const NONBLOCK: u32 = 0o4000;
    pub const DSYNC: u32 = 0o10000;
    pub const DIRECT: u32 = 0o40000;
    pub const LARGEFILE: u32 = 0o100000;
    pub const DIRECTORY: u32 = 0o200000;
    pub const CLOEXEC: u32 = 0o2000000;
    pub const SYNC_BIT: u32 = 0o4000000;
    pub const PATH: u32 = 0o10000000;
    pub const TMPFILE_BIT: u32 = 0o20000000;
}

/// Native open flags to Falco's bit layout (what its driver sends).
pub fn open_flags_to_falco(native: u32) -> u32 {
    let mut r = match native & o::ACCMODE {
        0 => P_RDONLY,
        o::WRONLY => P_WRONLY,
        o::RDWR => P_RDWR,
        _ => 0,
    };
    let map = [
        (o::CREAT, P_CREAT),
        (o::APPEND, P_APPEND),
        (o::DSYNC, P_DSYNC),
        (o::EXCL, P_EXCL),
        (o::NONBLOCK, P_NONBLOCK),
        (o::SYNC_BIT, P_SYNC),
        (o::TRUNC, P_TRUNC),
        (o::DIRECT, P_DIRECT),
        (o::DIRECTORY, P_DIRECTORY),
        (o::LARGEFILE, P_LARGEFILE),
        (o::CLOEXEC, P_CLOEXEC),
        (o::TMPFILE_BIT, P_TMPFILE),
    ];
    for (n, p) in map {
        if native & n != 0 {
            r |= p;
        }
    }
    r
}

/// Renders native open flags (`open`, `openat`, `openat2`, `dup3`, `pipe2`).
pub fn render_open_flags<W: Write>(out: &mut W, native: u32) -> core::fmt::Result {
    render_flags(out, open_flags_to_falco(native), OPEN_FLAGS)
}

/// `creat` is `open(O_CREAT|O_WRONLY|O_TRUNC)`; Falco reports those flags.
pub const CREAT_FLAGS: u32 = o::CREAT | o::WRONLY | o::TRUNC;

/// Falco's clone_flags table order; native bit values (the ppm-only pseudo
/// flags have no native bit and are left out). Also used for unshare/setns.
pub const CLONE_FLAGS: &[NameValue] = &[
    ("CLONE_FILES", 0x400),
    ("CLONE_FS", 0x200),
    ("CLONE_IO", 0x8000_0000),
    ("CLONE_NEWIPC", 0x0800_0000),
    ("CLONE_NEWNET", 0x4000_0000),
    ("CLONE_NEWNS", 0x0002_0000),
    ("CLONE_NEWPID", 0x2000_0000),
    ("CLONE_NEWUTS", 0x0400_0000),
    ("CLONE_PARENT", 0x8000),
    ("CLONE_PARENT_SETTID", 0x0010_0000),
    ("CLONE_PTRACE", 0x2000),
    ("CLONE_SIGHAND", 0x800),
    ("CLONE_SYSVSEM", 0x0004_0000),
    ("CLONE_THREAD", 0x0001_0000),
    ("CLONE_UNTRACED", 0x0080_0000),
    ("CLONE_VM", 0x100),
    ("CLONE_NEWUSER", 0x1000_0000),
    ("CLONE_CHILD_CLEARTID", 0x0020_0000),
    ("CLONE_CHILD_SETTID", 0x0100_0000),
    ("CLONE_SETTLS", 0x0008_0000),
    ("CLONE_VFORK", 0x4000),
    ("CLONE_NEWCGROUP", 0x0200_0000),
];

pub const CLONE_THREAD: u64 = 0x0001_0000;
pub const CLONE_VFORK: u64 = 0x4000;

/// Renders clone/unshare/setns flags; the low byte of clone flags is the exit
/// signal, not a flag.
pub fn render_clone_flags<W: Write>(out: &mut W, native: u64) -> core::fmt::Result {
    render_flags(out, (native as u32) & !0xff, CLONE_FLAGS)
}

/// mount(2) flags: Falco's names (no `MS_` prefix), native values (1:1).
pub const MOUNT_FLAGS: &[NameValue] = &[
    ("RDONLY", 1),
    ("NOSUID", 2),
    ("NODEV", 4),
    ("NOEXEC", 8),
    ("SYNCHRONOUS", 16),
    ("REMOUNT", 32),
    ("MANDLOCK", 64),
    ("DIRSYNC", 128),
    ("NOATIME", 1024),
    ("NODIRATIME", 2048),
    ("BIND", 4096),
    ("MOVE", 8192),
    ("REC", 16384),
    ("SILENT", 32768),
    ("POSIXACL", 1 << 16),
    ("UNBINDABLE", 1 << 17),
    ("PRIVATE", 1 << 18),
    ("SLAVE", 1 << 19),
    ("SHARED", 1 << 20),
    ("RELATIME", 1 << 21),
    ("KERNMOUNT", 1 << 22),
    ("I_VERSION", 1 << 23),
    ("STRICTATIME", 1 << 24),
    ("LAZYTIME", 1 << 25),
    ("NOSEC", 1 << 28),
    ("BORN", 1 << 29),
    ("ACTIVE", 1 << 30),
    ("NOUSER", 1 << 31),
];

/// Drops the legacy `MS_MGC_VAL` magic from the high half, as Falco's driver does.
pub fn mount_flags_clean(native: u64) -> u32 {
    let f = native as u32;
    if f & 0xffff_0000 == 0xc0ed_0000 {
        f & 0xffff
    } else {
        f
    }
}

pub const UMOUNT_FLAGS: &[NameValue] =
    &[("FORCE", 1), ("DETACH", 2), ("EXPIRE", 4), ("NOFOLLOW", 8)];

pub const MEMFD_FLAGS: &[NameValue] = &[
    ("MFD_CLOEXEC", 1),
    ("MFD_ALLOW_SEALING", 2),
    ("MFD_HUGETLB", 4),
];
pub const MFD_CLOEXEC: u64 = 1;

/// chmod/mkdir/open modes (Falco's chmod_mode table; native values).
pub const MODE_FLAGS: &[NameValue] = &[
    ("S_IXOTH", 0o1),
    ("S_IWOTH", 0o2),
    ("S_IROTH", 0o4),
    ("S_IXGRP", 0o10),
    ("S_IWGRP", 0o20),
    ("S_IRGRP", 0o40),
    ("S_IXUSR", 0o100),
    ("S_IWUSR", 0o200),
    ("S_IRUSR", 0o400),
    ("S_ISVTX", 0o1000),
    ("S_ISGID", 0o2000),
    ("S_ISUID", 0o4000),
];

pub const LINKAT_FLAGS: &[NameValue] = &[("AT_SYMLINK_FOLLOW", 0x400), ("AT_EMPTY_PATH", 0x1000)];
pub const UNLINKAT_FLAGS: &[NameValue] = &[("AT_REMOVEDIR", 0x200)];
pub const FCHOWNAT_FLAGS: &[NameValue] =
    &[("AT_SYMLINK_NOFOLLOW", 0x100), ("AT_EMPTY_PATH", 0x1000)];
pub const EXECVEAT_FLAGS: &[NameValue] =
    &[("AT_EMPTY_PATH", 0x1000), ("AT_SYMLINK_NOFOLLOW", 0x100)];
pub const RENAMEAT2_FLAGS: &[NameValue] = &[
    ("RENAME_NOREPLACE", 1),
    ("RENAME_EXCHANGE", 2),
    ("RENAME_WHITEOUT", 4),
];
pub const RESOLVE_FLAGS: &[NameValue] = &[
    ("RESOLVE_BENEATH", 0x08),
    ("RESOLVE_IN_ROOT", 0x10),
    ("RESOLVE_NO_MAGICLINKS", 0x02),
    ("RESOLVE_NO_SYMLINKS", 0x04),
    ("RESOLVE_NO_XDEV", 0x01),
    ("RESOLVE_CACHED", 0x20),
];

/// Falco's execve exit `flags` (what `evt.arg.flags` is on an execve): facts
/// about the executable, our own bit values.
pub mod exe {
    pub const WRITABLE: u32 = 1;
    pub const UPPER_LAYER: u32 = 2;
    pub const FROM_MEMFD: u32 = 4;
    pub const LOWER_LAYER: u32 = 8;
}
pub const EXE_FLAGS: &[NameValue] = &[
    ("EXE_WRITABLE", exe::WRITABLE),
    ("EXE_UPPER_LAYER", exe::UPPER_LAYER),
    ("EXE_FROM_MEMFD", exe::FROM_MEMFD),
    ("EXE_LOWER_LAYER", exe::LOWER_LAYER),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl Fn(&mut String) -> core::fmt::Result) -> String {
        let mut out = String::new();
        f(&mut out).unwrap();
        out
    }

    #[test]
    fn open_flags_follow_falco_table_order() {
        let v = o::WRONLY | o::CREAT | o::TRUNC;
        assert_eq!(s(|w| render_open_flags(w, v)), "O_TRUNC|O_CREAT|O_WRONLY");
        assert_eq!(s(|w| render_open_flags(w, 0)), "O_RDONLY");
        assert_eq!(
            s(|w| render_open_flags(w, o::RDWR | o::CLOEXEC)),
            "O_RDWR|O_CLOEXEC"
        );
        assert_eq!(
            s(|w| render_open_flags(w, o::DIRECTORY | o::NONBLOCK | o::CLOEXEC)),
            "O_DIRECTORY|O_NONBLOCK|O_RDONLY|O_CLOEXEC"
        );
        assert_eq!(
            s(|w| render_open_flags(w, o::TMPFILE_BIT | o::DIRECTORY | o::RDWR)),
            "O_DIRECTORY|O_RDWR|O_TMPFILE"
        );
    }

    #[test]
    fn clone_and_mount_flags() {
        let f = 0x0100_0000 | 0x0020_0000 | 17; // CHILD_SETTID|CHILD_CLEARTID|SIGCHLD
        assert_eq!(
            s(|w| render_clone_flags(w, f)),
            "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID"
        );
        assert_eq!(s(|w| render_clone_flags(w, 0x2000_0000)), "CLONE_NEWPID");
        let m = mount_flags_clean(0xc0ed_0000 | 4096 | 16384);
        assert_eq!(s(|w| render_flags(w, m, MOUNT_FLAGS)), "BIND|REC");
        assert!(s(|w| render_flags(w, 0o4755, MODE_FLAGS)).contains("S_ISUID"));
        assert_eq!(s(|w| render_flags(w, 0, MEMFD_FLAGS)), "");
        assert_eq!(
            s(|w| render_flags(w, 5, EXE_FLAGS)),
            "EXE_WRITABLE|EXE_FROM_MEMFD"
        );
    }
}
