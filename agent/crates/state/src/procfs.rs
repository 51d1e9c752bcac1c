//! Reading processes from /proc: the start-up scan, lazy fill-ins for
//! processes and fds that began before we did, and exe facts.
//!
//! Everything here tolerates a process vanishing mid-read (a short-lived
//! process is the common case): a failed read is `None`, never an error.

use crate::decode::Endpoint;
use crate::fd::{FdInfo, FdType};
use crate::flags::exe;
use crate::process::Process;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where /proc is (a test or a container may mount the host's elsewhere).
#[derive(Clone, Debug)]
pub struct ProcFs {
    root: PathBuf,
    ticks_per_sec: u64,
}

impl Default for ProcFs {
    fn default() -> Self {
        Self::new("/proc")
    }
}

impl ProcFs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        // SAFETY: sysconf has no memory-safety preconditions.
        let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        ProcFs {
            root: root.into(),
            ticks_per_sec: if t > 0 { t as u64 } else { 100 },
        }
    }

    fn path(&self, pid: u32, rest: &str) -> PathBuf {
        let mut p = self.root.join(pid.to_string());
        if !rest.is_empty() {
            p.push(rest);
        }
        p
    }

    /// Every pid (thread-group leaders) currently in /proc.
    pub fn pids(&self) -> Vec<u32> {
        let Ok(rd) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    }

    /// Reads one process, its fds included when `with_fds`.
    pub fn read_process(&self, pid: u32, with_fds: bool, fd_cap: usize) -> Option<Process> {
        let stat = fs::read_to_string(self.path(pid, "stat")).ok()?;
        let mut p = Process::new(pid);
        parse_stat(&stat, &mut p, self.ticks_per_sec)?;
        if let Ok(status) = fs::read_to_string(self.path(pid, "status")) {
            parse_status(&status, &mut p);
        }
        if let Ok(comm) = fs::read_to_string(self.path(pid, "comm")) {
            p.name = Arc::from(comm.trim_end_matches('\n'));
        }
        if let Ok(cmd) = fs::read(self.path(pid, "cmdline")) {
            let mut it = crate::decode::Argv::new(&cmd);
            if let Some(a0) = it.next() {
                p.exe = Arc::from(String::from_utf8_lossy(a0).as_ref());
            }
            let args = join_args(it);
            p.cmdline = cmdline_of(&p.name, &args);
            p.args = Arc::from(args);
        }
        if let Some(exe_path) = self.readlink(pid, "exe") {
            p.exepath = Arc::from(exe_path.trim_end_matches(" (deleted)"));
        } else if !p.exe.is_empty() && p.exe.starts_with('/') {
            p.exepath = p.exe.clone();
        }
        if let Some(cwd) = self.readlink(pid, "cwd") {
            p.cwd = Arc::from(cwd);
        }
        if let Ok(l) = fs::read_to_string(self.path(pid, "loginuid")) {
            p.loginuid = l.trim().parse().unwrap_or(u32::MAX);
        }
        if let Some(ns) = self.readlink(pid, "ns/pid") {
            p.pidns = parse_ns_inode(&ns).unwrap_or(0);
        }
        self.fill_exe_facts(&mut p);
        if with_fds {
            self.read_fds(&mut p, fd_cap);
        }
        Some(p)
    }

    /// Fills the fd table from /proc/PID/fd.
    pub fn read_fds(&self, p: &mut Process, cap: usize) {
        let Ok(rd) = fs::read_dir(self.path(p.pid, "fd")) else {
            return;
        };
        for e in rd.flatten() {
            let Some(fd) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if let Some(info) = self.fd_info(p.pid, fd) {
                p.fds.insert(fd, info, cap);
            }
        }
    }

    /// What `/proc/PID/fd/N` points at, as an fd entry.
    pub fn fd_info(&self, pid: u32, fd: i32) -> Option<FdInfo> {
        let target = fs::read_link(self.path(pid, &format!("fd/{fd}"))).ok()?;
        let target = target.to_string_lossy();
        let mut ty = FdType::from_link(&target);
        if ty == FdType::File && fs::metadata(&*target).is_ok_and(|m| m.is_dir()) {
            ty = FdType::Directory;
        }
        let name = match ty {
            FdType::Memfd => target
                .trim_start_matches('/')
                .trim_end_matches(" (deleted)")
                .to_string(),
            _ => target.into_owned(),
        };
        let mut info = FdInfo::new(ty, Arc::from(name));
        if let Ok(fdinfo) = fs::read_to_string(self.path(pid, &format!("fdinfo/{fd}"))) {
            if let Some(f) = fdinfo
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            {
                info.flags = f;
                info.cloexec = f & crate::flags::o::CLOEXEC != 0;
            }
        }
        Some(info)
    }

    pub fn exists(&self, pid: u32) -> bool {
        self.path(pid, "").exists()
    }

    pub fn cmdline(&self, pid: u32) -> Option<Vec<u8>> {
        fs::read(self.path(pid, "cmdline")).ok()
    }

    pub fn readlink(&self, pid: u32, what: &str) -> Option<String> {
        let t = fs::read_link(self.path(pid, what)).ok()?;
        Some(t.to_string_lossy().into_owned())
    }

    /// `proc.env`: the environment joined by spaces, as Falco prints it.
    pub fn environ(&self, pid: u32) -> Option<Arc<str>> {
        let raw = fs::read(self.path(pid, "environ")).ok()?;
        Some(Arc::from(join_args(crate::decode::Argv::new(&raw))))
    }

    /// Stats /proc/PID/exe: inode, times, writability, memfd origin.
    pub fn fill_exe_facts(&self, p: &mut Process) {
        if p.exepath.starts_with("/memfd:") {
            p.exe_flags |= exe::FROM_MEMFD;
        }
        let Ok(m) = fs::metadata(self.path(p.pid, "exe")) else {
            return;
        };
        p.exe_ino = m.ino();
        p.exe_ctime = ts_ns(m.ctime(), m.ctime_nsec());
        p.exe_mtime = ts_ns(m.mtime(), m.mtime_nsec());
        let mode = m.mode();
        let writable = if p.uid == 0 {
            mode & 0o222 != 0
        } else if m.uid() == p.uid {
            mode & 0o200 != 0
        } else if m.gid() == p.gid {
            mode & 0o020 != 0
        } else {
            mode & 0o002 != 0
        };
        if writable {
            p.exe_flags |= exe::WRITABLE;
        }
    }

    /// The overlayfs upper directory of the process's root mount, if its
    /// root is an overlay (containers).
    /// `None` when the mount table cannot be read (the process is gone or a
    /// zombie): that says nothing about its namespace and must not be cached.
    /// `Some(None)`: read, and the root is no overlay.
    pub fn overlay_upperdir(&self, pid: u32) -> Option<Option<String>> {
        // A container's first process sits at the host's root until runc
        // pivots; its mount table then says nothing about the container.
        if self.at_host_root(pid) {
            return None;
        }
        let mi = fs::read_to_string(self.path(pid, "mountinfo")).ok()?;
        Some(mi.lines().find_map(|l| {
            let mut parts = l.split(" - ");
            let left = parts.next()?;
            let right = parts.next()?;
            if left.split(' ').nth(4)? != "/" {
                return None;
            }
            let mut r = right.split(' ');
            if r.next()? != "overlay" {
                return None;
            }
            let opts = r.nth(1)?;
            opts.split(',')
                .find_map(|o| o.strip_prefix("upperdir="))
                .map(str::to_string)
        }))
    }
}

impl ProcFs {
    /// Whether `pid`'s root directory is the host's (init's, or ours when
    /// init's cannot be read).
    fn at_host_root(&self, pid: u32) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Ok(m) = fs::metadata(self.path(pid, "root")) else {
            return false;
        };
        let host = fs::metadata(self.path(1, "root")).or_else(|_| fs::metadata("/"));
        host.is_ok_and(|h| h.dev() == m.dev() && h.ino() == m.ino())
    }
}

impl ProcFs {
    /// The local address of socket `fd` (what getsockname would say), from
    /// `/proc/PID/net/{tcp,udp}[6]` by the socket's inode. Used when a connect
    /// record carries only the peer.
    /// `udp`: `Some` when the protocol is known, `None` to try TCP then UDP.
    /// Returns the address and whether it was found in the UDP table.
    pub fn socket_local(
        &self,
        pid: u32,
        fd: i32,
        v6: bool,
        udp: Option<bool>,
    ) -> Option<(Endpoint, bool)> {
        let link = self.readlink(pid, &format!("fd/{fd}"))?;
        let ino = link.strip_prefix("socket:[")?.strip_suffix(']')?;
        socket_tables(udp, v6).find_map(|(udp, table)| {
            let text = fs::read_to_string(self.path(pid, table)).ok()?;
            text.lines().skip(1).find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                if f.get(9) != Some(&ino) {
                    return None;
                }
                Some((parse_net_addr(f.get(1)?)?, udp))
            })
        })
    }
}

impl ProcFs {
    /// The local end of the one socket in `pid`'s network namespace whose
    /// peer is `peer`: the fallback when the owning process is gone. `None`
    /// when no socket, or more than one, has that peer (no guessing).
    pub fn socket_local_by_peer(
        &self,
        pid: u32,
        peer: Endpoint,
        v6: bool,
        udp: Option<bool>,
    ) -> Option<(Endpoint, bool)> {
        socket_tables(udp, v6).find_map(|(udp, table)| {
            let text = fs::read_to_string(self.path(pid, table)).ok()?;
            let mut found = text.lines().skip(1).filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let rem = parse_net_addr(f.get(2)?)?;
                (rem == peer).then(|| parse_net_addr(f.get(1)?)).flatten()
            });
            let first = found.next()?;
            found.next().is_none().then_some((first, udp))
        })
    }
}

/// The /proc/PID/net tables to search: TCP, UDP, or TCP then UDP when the
/// protocol is unknown; each with whether it is the UDP one.
fn socket_tables(udp: Option<bool>, v6: bool) -> impl Iterator<Item = (bool, &'static str)> {
    let protos: &'static [bool] = match udp {
        Some(true) => &[true],
        Some(false) => &[false],
        None => &[false, true],
    };
    protos.iter().map(move |&udp| {
        let table = match (udp, v6) {
            (false, false) => "net/tcp",
            (false, true) => "net/tcp6",
            (true, false) => "net/udp",
            (true, true) => "net/udp6",
        };
        (udp, table)
    })
}

/// `0100007F:1F90` (IPv4, host-order hex) or 32 hex digits (IPv6, four
/// host-order words) followed by `:PORT`.
pub fn parse_net_addr(s: &str) -> Option<Endpoint> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(ip, 16).ok()?.to_ne_bytes(),
        )),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                let w = u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16).ok()?;
                b[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(Endpoint { ip, port })
}

/// True when `exepath` (as the container sees it) exists in the upper layer.
pub fn in_upper_layer(upperdir: &str, exepath: &str) -> bool {
    let p = Path::new(upperdir).join(exepath.trim_start_matches('/'));
    // A whiteout is a 0:0 char device; only a real file counts.
    fs::symlink_metadata(p).is_ok_and(|m| m.is_file())
}

fn ts_ns(s: i64, ns: i64) -> u64 {
    (s.max(0) as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ns.max(0) as u64)
}

/// `args` joined by single spaces (Falco's proc.args), lossily.
pub fn join_args<'a>(it: impl Iterator<Item = &'a [u8]>) -> String {
    let mut s = String::new();
    for (i, a) in it.enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&String::from_utf8_lossy(a));
    }
    s
}

/// `proc.cmdline`: `name` then the args.
pub fn cmdline_of(name: &str, args: &str) -> Arc<str> {
    if args.is_empty() {
        Arc::from(name)
    } else {
        let mut s = String::with_capacity(name.len() + 1 + args.len());
        s.push_str(name);
        s.push(' ');
        s.push_str(args);
        Arc::from(s)
    }
}

fn parse_ns_inode(link: &str) -> Option<u32> {
    let inner = link.split('[').nth(1)?.trim_end_matches(']');
    inner.parse::<u64>().ok().map(|v| v as u32)
}

/// Fields from /proc/PID/stat (after the parenthesised comm).
fn parse_stat(stat: &str, p: &mut Process, tps: u64) -> Option<()> {
    let after = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = after.split_whitespace().collect();
    p.ppid = f.get(1)?.parse().ok()?;
    p.vpgid = f.get(2)?.parse().unwrap_or(0);
    p.sid = f.get(3)?.parse().unwrap_or(0);
    // Kept as tty_nr encodes it, which is also what the kernel side sends.
    p.tty = f.get(4)?.parse::<i64>().unwrap_or(0) as u32;
    let start_ticks: u64 = f.get(19)?.parse().unwrap_or(0);
    p.start_ts = start_ticks.saturating_mul(1_000_000_000) / tps.max(1);
    Some(())
}

fn last_num(v: &str) -> Option<u32> {
    v.split_whitespace().last()?.parse().ok()
}

fn parse_status(status: &str, p: &mut Process) {
    for line in status.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let hex = || u64::from_str_radix(v.trim(), 16).unwrap_or(0);
        match k {
            // Effective ids, as Falco reports user.uid.
            "Uid" => {
                p.uid = v
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0)
            }
            "Gid" => {
                p.gid = v
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0)
            }
            "CapInh" => p.cap_inheritable = hex(),
            "CapPrm" => p.cap_permitted = hex(),
            "CapEff" => p.cap_effective = hex(),
            "NStgid" => p.vpid = last_num(v).unwrap_or(p.pid),
            "NSpgid" => p.vpgid = last_num(v).unwrap_or(p.vpgid),
            "NSsid" => p.sid = last_num(v).unwrap_or(p.sid),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_comm() {
        let mut p = Process::new(7);
        let stat = "7 (a) b (c)) S 1 7 7 34816 7 4194560 0 0 0 0 0 0 0 0 20 0 1 0 250 0 0";
        parse_stat(stat, &mut p, 100).unwrap();
        assert_eq!(p.ppid, 1);
        assert_eq!(p.sid, 7);
        assert_eq!(p.start_ts, 2_500_000_000);
        assert_eq!(p.tty, 34816); // pts/0 as tty_nr
        assert!(parse_stat("garbage", &mut p, 100).is_none());
        assert_eq!(parse_ns_inode("pid:[4026531836]"), Some(4026531836));
    }

    #[test]
    fn overlay_upper_dir_from_mountinfo() {
        let base = std::env::temp_dir().join(format!("saker-state-ovl-{}", std::process::id()));
        let upper = base.join("diff");
        std::fs::create_dir_all(base.join("proc/123")).unwrap();
        std::fs::create_dir_all(upper.join("usr/bin")).unwrap();
        std::fs::write(upper.join("usr/bin/dropped"), b"x").unwrap();
        let mi = format!(
            "1200 1100 0:52 / / rw,relatime - overlay overlay rw,lowerdir=/l1:/l2,upperdir={},workdir=/w\n\
             1201 1200 0:5 / /proc rw - proc proc rw\n",
            upper.display()
        );
        std::fs::write(base.join("proc/123/mountinfo"), mi).unwrap();
        let fs = ProcFs::new(base.join("proc"));
        let up = fs.overlay_upperdir(123).unwrap().unwrap();
        assert_eq!(up, upper.to_string_lossy());
        assert!(in_upper_layer(&up, "/usr/bin/dropped"));
        assert!(!in_upper_layer(&up, "/usr/bin/cat"));
        // Unreadable (gone): unknown, not "no overlay".
        assert!(fs.overlay_upperdir(124).is_none());
        std::fs::create_dir_all(base.join("proc/125")).unwrap();
        std::fs::write(
            base.join("proc/125/mountinfo"),
            "1 0 0:5 / / rw - ext4 /dev/vda rw\n",
        )
        .unwrap();
        assert_eq!(
            fs.overlay_upperdir(125),
            Some(None),
            "read, and not an overlay"
        );
        // At the host's root (runc before pivot_root): not known yet.
        std::os::unix::fs::symlink("/", base.join("proc/125/root")).unwrap();
        assert_eq!(fs.overlay_upperdir(125), None);
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn net_addrs() {
        let e = parse_net_addr("0100007F:1F90").unwrap();
        assert_eq!(e.to_string(), "127.0.0.1:8080");
        let e = parse_net_addr("00000000000000000000000001000000:0016").unwrap();
        assert_eq!(e.to_string(), "::1:22");
        assert!(parse_net_addr("zz:1").is_none());
    }

    #[test]
    fn finds_local_end_of_a_real_socket() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        use std::os::fd::AsRawFd;
        let fs = ProcFs::default();
        let (e, udp) = fs
            .socket_local(std::process::id(), c.as_raw_fd(), false, None)
            .unwrap();
        assert!(!udp);
        assert_eq!(e.port, c.local_addr().unwrap().port());
    }

    #[test]
    fn reads_own_process_from_real_proc() {
        let fs = ProcFs::default();
        let me = std::process::id();
        assert!(fs.pids().contains(&me));
        let p = fs.read_process(me, true, 4096).expect("own /proc entry");
        assert_eq!(p.pid, me);
        assert!(p.ppid > 0);
        assert!(!p.name.is_empty());
        assert!(p.exepath.starts_with('/'), "{}", p.exepath);
        assert!(p.cwd.starts_with('/'));
        assert!(p.start_ts > 0);
        assert!(p.pidns != 0);
        assert!(p.exe_ino != 0);
        // Our own open fds: stdin..stderr are usually there; at least one fd.
        assert!(!p.fds.is_empty());
        let f = std::fs::File::open("/proc/self/status").unwrap();
        use std::os::fd::AsRawFd;
        let info = fs.fd_info(me, f.as_raw_fd()).unwrap();
        assert_eq!(info.ty, FdType::File);
        assert!(info.name.ends_with("/status"));
        assert!(info.cloexec, "std opens with O_CLOEXEC");
        assert!(fs.environ(me).is_some());
    }
}
