//! Just enough of a BTF reader to find struct member offsets in the running
//! kernel (/sys/kernel/btf/vmlinux). This is how the kernel programs avoid
//! hard-coded offsets without CO-RE: we resolve the handful of task_struct
//! paths they need at load time and pass the numbers in a map.

use std::collections::HashMap;

use saker_abi::KernelOffsets;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BtfError {
    #[error("BTF data is malformed: {0}")]
    Malformed(&'static str),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

const KIND_INT: u32 = 1;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

#[derive(Clone, Debug)]
struct Member {
    name: u32,
    ty: u32,
    /// Offset in bits.
    bit_offset: u32,
}

#[derive(Clone, Debug)]
struct Type {
    name: u32,
    kind: u32,
    size_or_type: u32,
    members: Vec<Member>,
}

/// Parsed types and strings of one BTF blob.
pub struct Btf {
    types: Vec<Type>,
    strings: Vec<u8>,
    structs_by_name: HashMap<String, u32>,
}

fn u32_at(data: &[u8], at: usize) -> Result<u32, BtfError> {
    data.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(BtfError::Malformed("truncated"))
}

impl Btf {
    pub fn from_sys_fs() -> Result<Self, BtfError> {
        let path = "/sys/kernel/btf/vmlinux";
        let data = std::fs::read(path).map_err(|source| BtfError::Io {
            path: path.into(),
            source,
        })?;
        Self::parse(&data)
    }

    pub fn parse(data: &[u8]) -> Result<Self, BtfError> {
        if data.len() < 24 || data[0..2] != [0x9f, 0xeb] {
            return Err(BtfError::Malformed("bad magic (not little-endian BTF)"));
        }
        let hdr_len = u32_at(data, 4)? as usize;
        let type_off = u32_at(data, 8)? as usize;
        let type_len = u32_at(data, 12)? as usize;
        let str_off = u32_at(data, 16)? as usize;
        let str_len = u32_at(data, 20)? as usize;
        let types_start = hdr_len
            .checked_add(type_off)
            .ok_or(BtfError::Malformed("offset"))?;
        let types_end = types_start
            .checked_add(type_len)
            .ok_or(BtfError::Malformed("offset"))?;
        let str_start = hdr_len
            .checked_add(str_off)
            .ok_or(BtfError::Malformed("offset"))?;
        let str_end = str_start
            .checked_add(str_len)
            .ok_or(BtfError::Malformed("offset"))?;
        if types_end > data.len() || str_end > data.len() {
            return Err(BtfError::Malformed("sections run past the end"));
        }
        let strings = data[str_start..str_end].to_vec();
        // Type ids start at 1; index 0 is the implicit void.
        let mut types = vec![Type {
            name: 0,
            kind: 0,
            size_or_type: 0,
            members: Vec::new(),
        }];
        let mut at = types_start;
        while at < types_end {
            let name = u32_at(data, at)?;
            let info = u32_at(data, at + 4)?;
            let size_or_type = u32_at(data, at + 8)?;
            at += 12;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            let kind_flag = info >> 31 == 1;
            let mut members = Vec::new();
            match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => at += 4,
                KIND_ARRAY => at += 12,
                KIND_STRUCT | KIND_UNION => {
                    for _ in 0..vlen {
                        let off = u32_at(data, at + 8)?;
                        members.push(Member {
                            name: u32_at(data, at)?,
                            ty: u32_at(data, at + 4)?,
                            bit_offset: if kind_flag { off & 0xff_ffff } else { off },
                        });
                        at += 12;
                    }
                }
                KIND_ENUM | KIND_FUNC_PROTO => at += 8 * vlen,
                KIND_DATASEC | KIND_ENUM64 => at += 12 * vlen,
                _ => {}
            }
            types.push(Type {
                name,
                kind,
                size_or_type,
                members,
            });
        }
        let mut btf = Btf {
            types,
            strings,
            structs_by_name: HashMap::new(),
        };
        for (id, t) in btf.types.iter().enumerate() {
            if t.kind == KIND_STRUCT && t.name != 0 {
                let name = btf.name(t.name).to_string();
                // Keep the first complete definition of a name.
                btf.structs_by_name.entry(name).or_insert(id as u32);
            }
        }
        Ok(btf)
    }

    fn name(&self, off: u32) -> &str {
        let rest = self.strings.get(off as usize..).unwrap_or(&[]);
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).unwrap_or("")
    }

    /// Follows typedefs and qualifiers to the underlying type.
    fn resolve(&self, mut id: u32) -> Option<&Type> {
        for _ in 0..32 {
            let t = self.types.get(id as usize)?;
            match t.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.size_or_type
                }
                _ => return Some(t),
            }
        }
        None
    }

    /// Byte offset and type of `member` in `t`, looking through anonymous
    /// struct and union members as C does.
    fn member(&self, t: &Type, member: &str) -> Option<(u32, u32)> {
        for m in &t.members {
            if m.name != 0 && self.name(m.name) == member {
                return Some((m.bit_offset / 8, m.ty));
            }
        }
        for m in &t.members {
            if m.name == 0 {
                let inner = self.resolve(m.ty)?;
                if let Some((off, ty)) = self.member(inner, member) {
                    return Some((m.bit_offset / 8 + off, ty));
                }
            }
        }
        None
    }

    /// Offset of a dotted member path inside a struct, e.g.
    /// `offset_of("pid_namespace", "ns.inum")`.
    pub fn offset_of(&self, strukt: &str, path: &str) -> Option<u32> {
        let id = *self.structs_by_name.get(strukt)?;
        let mut t = self.types.get(id as usize)?;
        let mut total = 0;
        for part in path.split('.') {
            let (off, ty) = self.member(t, part)?;
            total += off;
            t = self.resolve(ty)?;
        }
        Some(total)
    }

    /// Size in bytes of a named struct.
    pub fn size_of(&self, strukt: &str) -> Option<u32> {
        let id = *self.structs_by_name.get(strukt)?;
        self.types.get(id as usize).map(|t| t.size_or_type)
    }

    /// Byte offsets in `struct pt_regs` of the registers that carry the six
    /// syscall arguments, and the struct's size: where the exit program
    /// reads the arguments of the task's current syscall. None when BTF
    /// lacks one (the enter program then reads them from its tracepoint).
    pub fn syscall_arg_regs(&self) -> Option<([u32; 6], u32)> {
        // The x86_64 syscall ABI: rdi, rsi, rdx, r10, r8, r9.
        #[cfg(target_arch = "x86_64")]
        const REGS: [&str; 6] = ["di", "si", "dx", "r10", "r8", "r9"];
        #[cfg(not(target_arch = "x86_64"))]
        return None;
        #[cfg(target_arch = "x86_64")]
        {
            let mut out = [0; 6];
            for (slot, reg) in out.iter_mut().zip(REGS) {
                *slot = self.offset_of("pt_regs", reg)?;
            }
            Some((out, self.size_of("pt_regs")?))
        }
    }

    /// The offsets the kernel programs use. Each one BTF cannot resolve stays
    /// UNKNOWN, and the field it feeds is reported as unknown, not guessed.
    pub fn kernel_offsets(&self) -> KernelOffsets {
        let get = |s: &str, p: &str| self.offset_of(s, p).unwrap_or(KernelOffsets::UNKNOWN);
        // For fields read with aligned u64 loads.
        let get_aligned = |s: &str, p: &str| match self.offset_of(s, p) {
            Some(off) if off % 8 == 0 => off,
            _ => KernelOffsets::UNKNOWN,
        };
        KernelOffsets {
            task_real_parent: get("task_struct", "real_parent"),
            task_group_leader: get("task_struct", "group_leader"),
            task_tgid: get("task_struct", "tgid"),
            task_thread_pid: get("task_struct", "thread_pid"),
            task_loginuid: get("task_struct", "loginuid"),
            task_signal: get("task_struct", "signal"),
            task_cred: get("task_struct", "cred"),
            pid_level: get("pid", "level"),
            pid_numbers: get("pid", "numbers"),
            upid_size: self.size_of("upid").unwrap_or(KernelOffsets::UNKNOWN),
            upid_nr: get("upid", "nr"),
            upid_ns: get("upid", "ns"),
            pidns_inum: get("pid_namespace", "ns.inum"),
            signal_tty: get("signal_struct", "tty"),
            tty_index: get("tty_struct", "index"),
            tty_driver: get("tty_struct", "driver"),
            driver_major: get("tty_driver", "major"),
            driver_minor_start: get("tty_driver", "minor_start"),
            cred_cap_inheritable: get("cred", "cap_inheritable"),
            cred_cap_permitted: get("cred", "cap_permitted"),
            cred_cap_effective: get("cred", "cap_effective"),
            cred_euid: get("cred", "euid"),
            cred_egid: get("cred", "egid"),
            task_mm: get("task_struct", "mm"),
            mm_exe_file: get("mm_struct", "exe_file"),
            file_dentry: get("file", "f_path.dentry"),
            file_inode: get("file", "f_inode"),
            inode_mode: get("inode", "i_mode"),
            dentry_name: get("dentry", "d_name.name"),
            task_files: get("task_struct", "files"),
            files_fdt: get("files_struct", "fdt"),
            fdtable_max_fds: get("fdtable", "max_fds"),
            fdtable_fd: get("fdtable", "fd"),
            file_private_data: get("file", "private_data"),
            socket_type: get("socket", "type"),
            socket_sk: get("socket", "sk"),
            sk_family: get("sock", "__sk_common.skc_family"),
            sk_num: get("sock", "__sk_common.skc_num"),
            sk_rcv_saddr: get("sock", "__sk_common.skc_rcv_saddr"),
            sk_v6_rcv_saddr: get("sock", "__sk_common.skc_v6_rcv_saddr"),
            task_comm: get_aligned("task_struct", "comm"),
            cred_uid: get("cred", "uid"),
            cred_gid: get("cred", "gid"),
            task_cgroups: get("task_struct", "cgroups"),
            css_set_dfl_cgrp: get("css_set", "dfl_cgrp"),
            cgroup_kn: get("cgroup", "kn"),
            kernfs_node_id: get_aligned("kernfs_node", "id"),
            _pad: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a tiny BTF blob: struct inner { int a; int b; };
    /// struct outer { int x; union { struct inner in; }; } with x at 0 and the
    /// anonymous union at byte 8.
    fn sample() -> Vec<u8> {
        let strings = b"\0int\0a\0b\0inner\0x\0in\0outer\0";
        let s = |name: &str| -> u32 {
            let pat = format!("\0{name}\0");
            strings
                .windows(pat.len())
                .position(|w| w == pat.as_bytes())
                .unwrap() as u32
                + 1
        };
        let mut types = Vec::new();
        let mut push = |v: u32| types.extend_from_slice(&v.to_le_bytes());
        // 1: int
        push(s("int"));
        push(KIND_INT << 24);
        push(4);
        push(32);
        // 2: struct inner { a@0, b@32bits }
        push(s("inner"));
        push((KIND_STRUCT << 24) | 2);
        push(8);
        push(s("a"));
        push(1);
        push(0);
        push(s("b"));
        push(1);
        push(32);
        // 3: anonymous union { struct inner in; }
        push(0);
        push((KIND_UNION << 24) | 1);
        push(8);
        push(s("in"));
        push(2);
        push(0);
        // 4: struct outer { x@0, <anon>@64bits }
        push(s("outer"));
        push((KIND_STRUCT << 24) | 2);
        push(16);
        push(s("x"));
        push(1);
        push(0);
        push(0);
        push(3);
        push(64);
        let mut out = Vec::new();
        out.extend_from_slice(&[0x9f, 0xeb, 1, 0]);
        out.extend_from_slice(&24u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(types.len() as u32).to_le_bytes());
        out.extend_from_slice(&(types.len() as u32).to_le_bytes());
        out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        out.extend_from_slice(&types);
        out.extend_from_slice(strings);
        out
    }

    #[test]
    fn resolves_nested_and_anonymous_members() {
        let btf = Btf::parse(&sample()).unwrap();
        assert_eq!(btf.offset_of("outer", "x"), Some(0));
        assert_eq!(btf.offset_of("outer", "in"), Some(8));
        assert_eq!(btf.offset_of("outer", "in.b"), Some(12));
        assert_eq!(btf.offset_of("outer", "nope"), None);
        assert_eq!(btf.offset_of("missing", "x"), None);
        assert_eq!(btf.size_of("inner"), Some(8));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(Btf::parse(b"").is_err());
        assert!(Btf::parse(&[0u8; 100]).is_err());
        let mut data = sample();
        data.truncate(40);
        assert!(Btf::parse(&data).is_err());
    }

    #[test]
    fn running_kernel_has_the_offsets_we_need() {
        let Ok(btf) = Btf::from_sys_fs() else {
            eprintln!("skipped: no /sys/kernel/btf/vmlinux on this machine");
            return;
        };
        let o = btf.kernel_offsets();
        assert_ne!(o.task_real_parent, KernelOffsets::UNKNOWN);
        assert_ne!(o.task_tgid, KernelOffsets::UNKNOWN);
        assert_ne!(o.pid_numbers, KernelOffsets::UNKNOWN);
        assert_ne!(o.pidns_inum, KernelOffsets::UNKNOWN);
        assert_ne!(o.cred_cap_effective, KernelOffsets::UNKNOWN);
        assert_eq!(o.upid_size, 16);
        assert_ne!(o.task_comm, KernelOffsets::UNKNOWN);
        assert_ne!(o.cred_uid, KernelOffsets::UNKNOWN);
        assert_ne!(o.cred_gid, KernelOffsets::UNKNOWN);
        assert!(o.has_cgroup_offsets(), "{o:?}");
        let (regs, size) = btf.syscall_arg_regs().expect("pt_regs argument registers");
        let mut cfg = saker_abi::Config::DEFAULT;
        assert!(cfg.set_arg_regs(regs, size), "{regs:?} in {size} bytes");
        assert_ne!(o.mm_exe_file, KernelOffsets::UNKNOWN);
        assert_ne!(o.dentry_name, KernelOffsets::UNKNOWN);
        for (name, off) in [
            ("task_struct.files", o.task_files),
            ("files_struct.fdt", o.files_fdt),
            ("fdtable.max_fds", o.fdtable_max_fds),
            ("fdtable.fd", o.fdtable_fd),
            ("file.private_data", o.file_private_data),
            ("socket.type", o.socket_type),
            ("socket.sk", o.socket_sk),
            ("sock.skc_family", o.sk_family),
            ("sock.skc_num", o.sk_num),
            ("sock.skc_rcv_saddr", o.sk_rcv_saddr),
        ] {
            assert_ne!(off, KernelOffsets::UNKNOWN, "{name}");
        }
        // skc_v6_rcv_saddr is optional: a kernel built without IPv6 lacks it.
        assert!(o.has_socket_offsets());
    }
}
