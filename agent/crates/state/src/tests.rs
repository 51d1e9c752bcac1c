//! Scenario tests over hand-built records (wire bytes built from the ABI
//! structs, as saker-abi's own tests do).

use crate::decode::{AF_INET, AF_UNIX};
use crate::flags::o;
use crate::state::{State, StateConfig};
use crate::sys::nr_of;
use saker_abi::{hdr_flags, kind, EventHeader, Record, HEADER_SIZE};
use saker_filter::fields::{FieldArg, FieldId, FieldRef, FieldSource, Value, Values};
use std::sync::Arc;

/// Builds one record.
pub(crate) struct Rb {
    h: EventHeader,
    blobs: Vec<(u8, u8, Vec<u8>)>,
}

impl Rb {
    pub fn new(k: u8, sys: &str, pid: u32, tid: u32) -> Self {
        let mut comm = [0u8; 16];
        comm[..4].copy_from_slice(b"test");
        Rb {
            h: EventHeader {
                kind: k,
                syscall_nr: nr_of(sys).unwrap_or(0),
                pid,
                tid,
                vpid: pid,
                vtid: tid,
                flags: hdr_flags::TASK_INFO,
                loginuid: u32::MAX,
                ts_ns: 1_000_000_000,
                comm,
                ..Default::default()
            },
            blobs: Vec::new(),
        }
    }
    pub fn sys(sys: &str, pid: u32) -> Self {
        Self::new(kind::SYSCALL, sys, pid, pid)
    }
    pub fn res(mut self, r: i64) -> Self {
        self.h.res = r;
        self
    }
    pub fn arg(mut self, i: usize, v: u64) -> Self {
        self.h.args[i] = v;
        self
    }
    pub fn blob(mut self, i: u8, b: &[u8]) -> Self {
        self.blobs.push((i, 0, b.to_vec()));
        self
    }
    pub fn path(self, i: u8, p: &str) -> Self {
        let mut v = p.as_bytes().to_vec();
        v.push(0);
        self.blob(i, &v)
    }
    pub fn comm(mut self, c: &str) -> Self {
        self.h.comm = [0; 16];
        let n = c.len().min(15);
        self.h.comm[..n].copy_from_slice(&c.as_bytes()[..n]);
        self
    }
    pub fn ppid(mut self, p: u32) -> Self {
        self.h.ppid = p;
        self
    }
    pub fn ts(mut self, t: u64) -> Self {
        self.h.ts_ns = t;
        self
    }
    pub fn caps(mut self, eff: u64) -> Self {
        self.h.cap_effective = eff;
        self.h.cap_permitted = eff;
        self
    }
    pub fn bytes(&self) -> Vec<u8> {
        let mut body = Vec::new();
        for (arg, flags, b) in &self.blobs {
            body.push(*arg);
            body.push(*flags);
            body.extend_from_slice(&(b.len() as u16).to_le_bytes());
            body.extend_from_slice(b);
        }
        let mut h = self.h;
        h.len = (HEADER_SIZE + body.len()) as u32;
        h.nblobs = self.blobs.len() as u8;
        // SAFETY: plain-old-data header viewed as bytes.
        let hb = unsafe { core::slice::from_raw_parts(&h as *const _ as *const u8, HEADER_SIZE) };
        let mut out = hb.to_vec();
        out.extend_from_slice(&body);
        out
    }
}

pub(crate) fn sin(ip: [u8; 4], port: u16) -> Vec<u8> {
    let mut v = AF_INET.to_ne_bytes().to_vec();
    v.extend_from_slice(&port.to_be_bytes());
    v.extend_from_slice(&ip);
    v.extend_from_slice(&[0; 8]);
    v
}

pub(crate) fn test_state() -> State {
    let cfg = StateConfig {
        proc_fallback: false,
        exe_facts: false,
        ..Default::default()
    };
    let mut s = State::new(cfg);
    s.set_clock(crate::Clock::with_offset(0));
    s
}

/// A shell-like process 100 (parent 1) with cwd /home/u.
fn seeded() -> State {
    let mut s = test_state();
    let mut init = crate::Process::new(1);
    init.name = Arc::from("systemd");
    s.procs.insert(init);
    let mut p = crate::Process::new(100);
    p.ppid = 1;
    p.name = Arc::from("bash");
    p.exe = Arc::from("bash");
    p.exepath = Arc::from("/usr/bin/bash");
    p.cwd = Arc::from("/home/u");
    p.sid = 100;
    p.vpid = 100;
    s.procs.insert(p);
    s
}

fn apply(s: &mut State, rb: Rb) -> Vec<u8> {
    let b = rb.bytes();
    let rec = Record::parse(&b).expect("valid record");
    s.apply(&rec);
    b
}

/// Extracts one field as text (first value).
fn field(s: &State, bytes: &[u8], id: FieldId, arg: FieldArg) -> Option<String> {
    let rec = Record::parse(bytes).unwrap();
    let v = s.view(&rec);
    let mut out = Values::new();
    if !v.extract(&FieldRef { id, arg }, &mut out) {
        return None;
    }
    Some(match out[0] {
        Value::Str(s) => s.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::U64(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Ip(ip) => ip.to_string(),
    })
}

fn f(s: &State, b: &[u8], id: FieldId) -> Option<String> {
    field(s, b, id, FieldArg::None)
}

fn evt_arg(s: &State, b: &[u8], name: &str) -> Option<String> {
    field(s, b, FieldId::EvtArg, FieldArg::Key(name.into()))
}

#[test]
fn open_relative_path_flags_and_fd_fields() {
    let mut s = seeded();
    let b = apply(
        &mut s,
        Rb::sys("openat", 100)
            .arg(0, (-100i64) as u64)
            .arg(2, u64::from(o::WRONLY | o::CREAT | o::TRUNC))
            .arg(3, 0o644)
            .path(1, "../u/./notes.txt")
            .res(3),
    );
    assert_eq!(
        f(&s, &b, FieldId::FdName).as_deref(),
        Some("/home/u/notes.txt")
    );
    assert_eq!(
        f(&s, &b, FieldId::FdNameRaw).as_deref(),
        Some("../u/./notes.txt")
    );
    assert_eq!(f(&s, &b, FieldId::FdDirectory).as_deref(), Some("/home/u"));
    assert_eq!(f(&s, &b, FieldId::FdFilename).as_deref(), Some("notes.txt"));
    assert_eq!(f(&s, &b, FieldId::FdTypechar).as_deref(), Some("f"));
    assert_eq!(f(&s, &b, FieldId::FdNum).as_deref(), Some("3"));
    assert_eq!(
        evt_arg(&s, &b, "flags").as_deref(),
        Some("O_TRUNC|O_CREAT|O_WRONLY")
    );
    assert_eq!(
        evt_arg(&s, &b, "name").as_deref(),
        Some("/home/u/notes.txt")
    );
    assert_eq!(evt_arg(&s, &b, "dirfd").as_deref(), Some("AT_FDCWD"));
    assert_eq!(
        evt_arg(&s, &b, "mode").as_deref(),
        Some("S_IROTH|S_IRGRP|S_IWUSR|S_IRUSR")
    );
    assert_eq!(f(&s, &b, FieldId::EvtIsOpenWrite).as_deref(), Some("true"));
    assert_eq!(f(&s, &b, FieldId::EvtIsOpenRead).as_deref(), Some("false"));
    assert_eq!(f(&s, &b, FieldId::EvtRes).as_deref(), Some("SUCCESS"));
    assert_eq!(f(&s, &b, FieldId::EvtType).as_deref(), Some("openat"));
    assert_eq!(f(&s, &b, FieldId::EvtDir).as_deref(), Some("<"));

    // A failed open still names the path; evt.res is the errno name.
    let b = apply(&mut s, Rb::sys("open", 100).path(0, "/etc/shadow").res(-13));
    assert_eq!(f(&s, &b, FieldId::EvtRes).as_deref(), Some("EACCES"));
    assert_eq!(f(&s, &b, FieldId::EvtRawRes).as_deref(), Some("-13"));
    assert_eq!(f(&s, &b, FieldId::EvtFailed).as_deref(), Some("true"));
    assert_eq!(f(&s, &b, FieldId::FdName).as_deref(), Some("/etc/shadow"));
    assert_eq!(evt_arg(&s, &b, "flags").as_deref(), Some("O_RDONLY"));
    assert_eq!(f(&s, &b, FieldId::EvtIsOpenRead).as_deref(), Some("true"));

    // openat relative to a directory fd.
    apply(
        &mut s,
        Rb::sys("open", 100)
            .arg(1, u64::from(o::DIRECTORY))
            .path(0, "/etc")
            .res(4),
    );
    let b = apply(
        &mut s,
        Rb::sys("openat", 100)
            .arg(0, 4)
            .path(1, "ssh/sshd_config")
            .res(5),
    );
    assert_eq!(
        f(&s, &b, FieldId::FdName).as_deref(),
        Some("/etc/ssh/sshd_config")
    );
    assert_eq!(evt_arg(&s, &b, "dirfd").as_deref(), Some("<d>/etc"));
}

#[test]
fn dup2_write_then_cloexec_on_exec() {
    let mut s = seeded();
    apply(
        &mut s,
        Rb::sys("open", 100)
            .arg(1, u64::from(o::WRONLY | o::CLOEXEC))
            .path(0, "/tmp/out")
            .res(3),
    );
    apply(&mut s, Rb::sys("dup2", 100).arg(0, 3).arg(1, 1).res(1));
    let b = apply(&mut s, Rb::sys("write", 100).arg(0, 1).res(5));
    assert_eq!(f(&s, &b, FieldId::FdName).as_deref(), Some("/tmp/out"));
    assert_eq!(f(&s, &b, FieldId::FdNum).as_deref(), Some("1"));
    // close shows the closed fd, then it is gone.
    let b = apply(&mut s, Rb::sys("close", 100).arg(0, 3).res(0));
    assert_eq!(f(&s, &b, FieldId::FdName).as_deref(), Some("/tmp/out"));
    assert!(s.process(100).unwrap().fds.get(3).is_none());
    // fcntl F_DUPFD_CLOEXEC then exec drops the cloexec copy but keeps fd 1.
    apply(&mut s, Rb::sys("fcntl", 100).arg(0, 1).arg(1, 1030).res(7));
    assert!(s.process(100).unwrap().fds.get(7).unwrap().cloexec);
    exec(&mut s, 100, "/bin/cat", &["cat", "x"]);
    let p = s.process(100).unwrap();
    assert!(p.fds.get(7).is_none());
    assert_eq!(&*p.fds.get(1).unwrap().name, "/tmp/out");
}

fn exec(s: &mut State, pid: u32, file: &str, argv: &[&str]) -> Vec<u8> {
    let mut a = Vec::new();
    for x in argv {
        a.extend_from_slice(x.as_bytes());
        a.push(0);
    }
    apply(
        s,
        Rb::new(kind::SYSCALL_ENTER, "execve", pid, pid)
            .path(0, file)
            .blob(1, &a),
    );
    let comm = file.rsplit('/').next().unwrap_or(file);
    apply(
        s,
        Rb::new(kind::SYSCALL_EXIT, "execve", pid, pid)
            .comm(comm)
            .res(0),
    )
}

#[test]
fn exec_sets_process_fields_and_ancestry() {
    let mut s = seeded();
    // bash(100) forks 200 (parent record first), 200 execs sh, forks 300 (child first), ...
    apply(&mut s, Rb::sys("clone", 100).arg(0, 17).res(200));
    apply(
        &mut s,
        Rb::new(kind::CLONE_CHILD, "clone", 200, 200).ppid(100),
    );
    exec(&mut s, 200, "/bin/sh", &["sh", "-c", "sh"]);
    apply(
        &mut s,
        Rb::new(kind::CLONE_CHILD, "fork", 300, 300).ppid(200),
    );
    apply(&mut s, Rb::sys("fork", 200).res(300));
    exec(&mut s, 300, "/bin/sh", &["sh"]);
    apply(&mut s, Rb::sys("vfork", 300).res(400));
    let b = exec(&mut s, 400, "cat", &["cat", "/etc/passwd"]);
    assert_eq!(f(&s, &b, FieldId::ProcName).as_deref(), Some("cat"));
    assert_eq!(
        f(&s, &b, FieldId::ProcCmdline).as_deref(),
        Some("cat /etc/passwd")
    );
    assert_eq!(f(&s, &b, FieldId::ProcArgs).as_deref(), Some("/etc/passwd"));
    assert_eq!(f(&s, &b, FieldId::ProcExe).as_deref(), Some("cat"));
    assert_eq!(
        f(&s, &b, FieldId::ProcExepath).as_deref(),
        Some("/home/u/cat")
    );
    assert_eq!(f(&s, &b, FieldId::ProcCwd).as_deref(), Some("/home/u"));
    assert_eq!(f(&s, &b, FieldId::ProcPname).as_deref(), Some("sh"));
    assert_eq!(f(&s, &b, FieldId::ProcPcmdline).as_deref(), Some("sh"));
    assert_eq!(
        field(&s, &b, FieldId::ProcAname, FieldArg::Index(2)).as_deref(),
        Some("sh")
    );
    assert_eq!(
        field(&s, &b, FieldId::ProcAname, FieldArg::Index(3)).as_deref(),
        Some("bash")
    );
    assert_eq!(
        field(&s, &b, FieldId::ProcAname, FieldArg::Index(4)).as_deref(),
        Some("systemd")
    );
    assert_eq!(
        field(&s, &b, FieldId::ProcApid, FieldArg::Index(1)).as_deref(),
        Some("300")
    );
    assert_eq!(
        field(&s, &b, FieldId::ProcAname, FieldArg::Index(0)).as_deref(),
        Some("cat")
    );
    assert_eq!(f(&s, &b, FieldId::ProcSname).as_deref(), Some("bash"));
    assert_eq!(f(&s, &b, FieldId::EvtType).as_deref(), Some("execve"));
    assert_eq!(evt_arg(&s, &b, "filename").as_deref(), Some("/home/u/cat"));
    assert_eq!(evt_arg(&s, &b, "flags").as_deref(), Some(""));
    // proc.aname alone: every ancestor.
    let rec = Record::parse(&b).unwrap();
    let v = s.view(&rec);
    let mut out = Values::new();
    assert!(v.extract(&FieldRef::new(FieldId::ProcAname), &mut out));
    assert_eq!(out.len(), 4);
    // Both orders gave one entry each, with the right parent.
    assert_eq!(s.process(200).unwrap().ppid, 100);
    assert_eq!(s.process(300).unwrap().ppid, 200);
    assert!(!s.process(300).unwrap().awaiting_child);
}

#[test]
fn exec_pairs_by_pid_when_a_thread_execs() {
    let mut s = seeded();
    let mut a = b"ls\0-l\0".to_vec();
    a.truncate(6);
    apply(
        &mut s,
        Rb::new(kind::SYSCALL_ENTER, "execve", 100, 105)
            .path(0, "/bin/ls")
            .blob(1, &a),
    );
    let b = apply(
        &mut s,
        Rb::new(kind::SYSCALL_EXIT, "execve", 100, 100)
            .comm("ls")
            .res(0),
    );
    assert_eq!(f(&s, &b, FieldId::ProcCmdline).as_deref(), Some("ls -l"));
    assert_eq!(s.stats().exec_unpaired, 0);
    // A failed exec changes nothing.
    apply(
        &mut s,
        Rb::new(kind::SYSCALL_ENTER, "execve", 100, 100)
            .path(0, "/nope")
            .blob(1, b"nope\0"),
    );
    let b = apply(
        &mut s,
        Rb::new(kind::SYSCALL_EXIT, "execve", 100, 100)
            .comm("ls")
            .res(-2),
    );
    assert_eq!(f(&s, &b, FieldId::ProcName).as_deref(), Some("ls"));
    assert_eq!(f(&s, &b, FieldId::EvtRes).as_deref(), Some("ENOENT"));
    assert_eq!(evt_arg(&s, &b, "filename").as_deref(), Some("/nope"));
}

#[test]
fn threads_do_not_make_processes_and_exit_reaps() {
    let mut s = seeded();
    apply(
        &mut s,
        Rb::sys("clone", 100).arg(0, 0x0001_0000 | 0x100).res(101),
    );
    apply(
        &mut s,
        Rb::new(kind::CLONE_CHILD, "clone", 100, 101).ppid(1),
    );
    assert!(s.process(101).is_none());
    apply(&mut s, Rb::sys("fork", 100).res(500));
    apply(&mut s, Rb::new(kind::PROC_EXIT, "", 100, 100).res(1));
    // bash exited but its child lives: kept for ancestry.
    apply(&mut s, Rb::sys("getpid", 500));
    assert!(s.process(100).unwrap().exited);
    let b = apply(&mut s, Rb::new(kind::PROC_EXIT, "", 500, 500).res(1));
    assert_eq!(f(&s, &b, FieldId::EvtType).as_deref(), Some("procexit"));
    assert!(
        s.process(500).is_some(),
        "the exit event still sees its process"
    );
    apply(&mut s, Rb::sys("getpid", 1));
    apply(&mut s, Rb::sys("getpid", 1));
    assert!(s.process(500).is_none());
    assert!(
        s.process(100).is_none(),
        "parent reaped with its last child"
    );
}

#[test]
fn sockets_connect_accept_and_unix() {
    let mut s = seeded();
    apply(&mut s, Rb::sys("socket", 100).arg(0, 2).arg(1, 1).res(3));
    let b = apply(
        &mut s,
        Rb::sys("connect", 100)
            .arg(0, 3)
            .blob(1, &sin([1, 2, 3, 4], 443))
            .res(0),
    );
    assert_eq!(
        f(&s, &b, FieldId::FdName).as_deref(),
        Some("0.0.0.0:0->1.2.3.4:443")
    );
    assert_eq!(f(&s, &b, FieldId::FdL4proto).as_deref(), Some("tcp"));
    assert_eq!(f(&s, &b, FieldId::FdSport).as_deref(), Some("443"));
    assert_eq!(f(&s, &b, FieldId::FdRport).as_deref(), Some("443"));
    assert_eq!(f(&s, &b, FieldId::FdSip).as_deref(), Some("1.2.3.4"));
    assert_eq!(f(&s, &b, FieldId::FdTypechar).as_deref(), Some("4"));
    assert_eq!(f(&s, &b, FieldId::FdConnected).as_deref(), Some("true"));
    assert_eq!(f(&s, &b, FieldId::FdSockfamily).as_deref(), Some("ip"));
    assert_eq!(evt_arg(&s, &b, "addr").as_deref(), Some("1.2.3.4:443"));

    // A server: socket, bind, listen, accept.
    apply(
        &mut s,
        Rb::sys("socket", 100)
            .arg(0, 2)
            .arg(1, 1 | 0o2000000)
            .res(4),
    );
    apply(
        &mut s,
        Rb::sys("bind", 100)
            .arg(0, 4)
            .blob(1, &sin([10, 0, 0, 2], 22))
            .res(0),
    );
    apply(&mut s, Rb::sys("listen", 100).arg(0, 4).res(0));
    let b = apply(
        &mut s,
        Rb::sys("accept4", 100)
            .arg(0, 4)
            .blob(1, &sin([5, 6, 7, 8], 5555))
            .res(5),
    );
    assert_eq!(
        f(&s, &b, FieldId::FdName).as_deref(),
        Some("5.6.7.8:5555->10.0.0.2:22")
    );
    assert_eq!(f(&s, &b, FieldId::FdLport).as_deref(), Some("22"));
    assert_eq!(f(&s, &b, FieldId::FdCport).as_deref(), Some("5555"));
    assert_eq!(f(&s, &b, FieldId::FdCip).as_deref(), Some("5.6.7.8"));
    assert_eq!(f(&s, &b, FieldId::FdIsServer).as_deref(), Some("true"));
    assert!(s.process(100).unwrap().fds.get(4).unwrap().cloexec);

    // AF_PACKET domain rendering and a unix connect.
    let b = apply(&mut s, Rb::sys("socket", 100).arg(0, 17).arg(1, 3).res(6));
    assert_eq!(evt_arg(&s, &b, "domain").as_deref(), Some("AF_PACKET"));
    apply(&mut s, Rb::sys("socket", 100).arg(0, 1).arg(1, 1).res(7));
    let mut un = AF_UNIX.to_ne_bytes().to_vec();
    un.extend_from_slice(b"/var/run/docker.sock\0");
    let b = apply(
        &mut s,
        Rb::sys("connect", 100).arg(0, 7).blob(1, &un).res(0),
    );
    assert_eq!(
        f(&s, &b, FieldId::FdName).as_deref(),
        Some("/var/run/docker.sock")
    );
    assert_eq!(f(&s, &b, FieldId::FdTypechar).as_deref(), Some("u"));

    // UDP sendto to a new peer changes the name.
    apply(&mut s, Rb::sys("socket", 100).arg(0, 2).arg(1, 2).res(8));
    let b = apply(
        &mut s,
        Rb::sys("sendto", 100)
            .arg(0, 8)
            .blob(4, &sin([9, 9, 9, 9], 53))
            .res(10),
    );
    assert_eq!(f(&s, &b, FieldId::FdNameChanged).as_deref(), Some("true"));
    assert_eq!(f(&s, &b, FieldId::FdL4proto).as_deref(), Some("udp"));
}

#[test]
fn pipes_memfd_chdir_and_renderings() {
    let mut s = seeded();
    let mut pair = 3i32.to_ne_bytes().to_vec();
    pair.extend_from_slice(&4i32.to_ne_bytes());
    apply(
        &mut s,
        Rb::sys("pipe2", 100)
            .arg(1, u64::from(o::CLOEXEC))
            .blob(0, &pair)
            .res(0),
    );
    let p = s.process(100).unwrap();
    assert_eq!(p.fds.get(4).unwrap().ty, crate::FdType::Pipe);
    let b = apply(
        &mut s,
        Rb::sys("memfd_create", 100)
            .path(0, "payload")
            .arg(1, 1)
            .res(5),
    );
    assert_eq!(f(&s, &b, FieldId::FdName).as_deref(), Some("memfd:payload"));
    assert_eq!(evt_arg(&s, &b, "flags").as_deref(), Some("MFD_CLOEXEC"));
    apply(&mut s, Rb::sys("chdir", 100).path(0, "../../tmp").res(0));
    assert_eq!(&*s.process(100).unwrap().cwd, "/tmp");
    let b = apply(&mut s, Rb::sys("ptrace", 100).arg(0, 16).arg(1, 42).res(0));
    assert_eq!(evt_arg(&s, &b, "request").as_deref(), Some("PTRACE_ATTACH"));
    let b = apply(
        &mut s,
        Rb::sys("unshare", 100)
            .arg(0, 0x0002_0000 | 0x4000_0000)
            .res(0),
    );
    assert_eq!(
        evt_arg(&s, &b, "flags").as_deref(),
        Some("CLONE_NEWNET|CLONE_NEWNS")
    );
    let b = apply(
        &mut s,
        Rb::sys("symlinkat", 100)
            .path(0, "/etc/shadow")
            .arg(1, (-100i64) as u64)
            .path(2, "sh")
            .res(0),
    );
    assert_eq!(evt_arg(&s, &b, "target").as_deref(), Some("/etc/shadow"));
    assert_eq!(evt_arg(&s, &b, "linkpath").as_deref(), Some("/tmp/sh"));
    let b = apply(&mut s, Rb::sys("bpf", 100).arg(0, 5).res(3));
    assert_eq!(evt_arg(&s, &b, "cmd").as_deref(), Some("BPF_PROG_LOAD"));
    assert_eq!(
        field(&s, &b, FieldId::EvtArg, FieldArg::Index(0)).as_deref(),
        Some("BPF_PROG_LOAD")
    );
    let b = apply(
        &mut s,
        Rb::sys("chmod", 100).path(0, "x").arg(1, 0o4755).res(0),
    );
    assert!(evt_arg(&s, &b, "mode").unwrap().contains("S_ISUID"));
    assert_eq!(f(&s, &b, FieldId::EvtArgs).as_deref(), Some("res=0 filename=/tmp/x mode=S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID"));
    let b = apply(
        &mut s,
        Rb::sys("write", 100).arg(0, 4).blob(1, b"hi\x01").res(3),
    );
    assert_eq!(f(&s, &b, FieldId::EvtBuffer).as_deref(), Some("hi\u{1}"));
}

#[test]
fn header_fields_caps_user_and_time() {
    let mut s = seeded();
    let b = apply(
        &mut s,
        Rb::sys("getpid", 100)
            .caps(0b11 | (1 << 21))
            .ts(1_763_778_026_123_456_789),
    );
    assert_eq!(
        f(&s, &b, FieldId::ThreadCapEffective).as_deref(),
        Some("CAP_CHOWN CAP_DAC_OVERRIDE CAP_SYS_ADMIN")
    );
    assert_eq!(
        f(&s, &b, FieldId::ThreadCapPermitted).as_deref(),
        Some("CAP_CHOWN CAP_DAC_OVERRIDE CAP_SYS_ADMIN")
    );
    assert_eq!(f(&s, &b, FieldId::UserUid).as_deref(), Some("0"));
    assert_eq!(f(&s, &b, FieldId::UserName).as_deref(), Some("root"));
    assert_eq!(f(&s, &b, FieldId::UserLoginuid).as_deref(), Some("-1"));
    assert_eq!(
        f(&s, &b, FieldId::EvtTime).as_deref(),
        Some("1763778026123456789")
    );
    assert_eq!(
        f(&s, &b, FieldId::EvtTimeIso8601).as_deref(),
        Some("2025-11-22T02:20:26.123456789Z")
    );
    assert_eq!(f(&s, &b, FieldId::ContainerId).as_deref(), Some("host"));
    assert_eq!(f(&s, &b, FieldId::ContainerName).as_deref(), Some("host"));
    assert!(f(&s, &b, FieldId::K8sNsName).is_none());
    assert_eq!(f(&s, &b, FieldId::ProcTty).as_deref(), Some("0"));
    assert_eq!(f(&s, &b, FieldId::EvtNum).as_deref(), Some("1"));
}

#[test]
fn unknown_pid_is_created_from_header() {
    let mut s = test_state();
    let b = apply(&mut s, Rb::sys("getpid", 4242).comm("mystery").ppid(1));
    assert_eq!(f(&s, &b, FieldId::ProcName).as_deref(), Some("mystery"));
    assert_eq!(f(&s, &b, FieldId::ProcPpid).as_deref(), Some("1"));
    assert_eq!(s.stats().procs_from_events, 1);
}

#[test]
fn hostile_records_do_not_panic() {
    let mut s = seeded();
    // Every syscall with garbage args and odd blobs.
    for def in saker_abi::syscalls::SYSCALLS {
        for k in [
            kind::SYSCALL,
            kind::SYSCALL_ENTER,
            kind::SYSCALL_EXIT,
            kind::CLONE_CHILD,
            kind::PROC_EXIT,
            99,
        ] {
            let mut rb = Rb::new(k, def.name, 100, 100).res(-1);
            for i in 0..6 {
                rb = rb.arg(i, u64::MAX - i as u64).blob(i as u8, &[0xff; 3]);
            }
            let b = apply(&mut s, rb);
            let rec = Record::parse(&b).unwrap();
            let v = s.view(&rec);
            let mut out = Values::new();
            for info in saker_filter::fields::CATALOGUE {
                for arg in [
                    FieldArg::None,
                    FieldArg::Index(3),
                    FieldArg::Key("flags".into()),
                ] {
                    out.clear();
                    v.extract(&FieldRef { id: info.id, arg }, &mut out);
                }
            }
            drop(out);
            drop(v);
            let b = apply(&mut s, Rb::new(k, def.name, 100, 100).res(7));
            let _ = s.view(&Record::parse(&b).unwrap()).evt_args().len();
        }
    }
}

#[test]
fn fork_bomb_stays_under_cap() {
    let cfg = StateConfig {
        max_processes: 131_072,
        proc_fallback: false,
        exe_facts: false,
        ..Default::default()
    };
    let mut s = State::new(cfg);
    let mut init = crate::Process::new(1);
    init.name = Arc::from("init");
    s.procs.insert(init);
    let mut buf = Vec::new();
    for i in 0..200_000u32 {
        let parent = if i == 0 { 1 } else { 1000 + i - 1 };
        let child = 1000 + i;
        buf.clear();
        buf.extend_from_slice(&Rb::sys("fork", parent).res(i64::from(child)).bytes());
        s.apply(&Record::parse(&buf).unwrap());
        assert!(s.processes().len() <= 131_072);
    }
    let st = s.stats();
    assert!(st.table.processes <= 131_072);
    assert!(st.table.evicted_live > 0);
    assert_eq!(
        st.table.processes as u64 + st.table.evicted_live + st.table.evicted_exited,
        200_001
    );
}

#[test]
fn proc_scan_of_this_process() {
    // Opened before the scan, so the scan sees it (other test threads may
    // reuse fd numbers concurrently, which the kernel would tell us about).
    let file = std::fs::File::open("/proc/self/status").unwrap();
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    let mut s = State::new(StateConfig::default());
    let n = s.scan_proc();
    assert!(n > 1);
    let me = std::process::id();
    let p = s.process(me).expect("this test process");
    assert!(p.exepath.starts_with('/'));
    assert!(s.process(p.ppid).is_some() || p.ppid == 0);
    assert!(s.stats().fds > 0);
    let b = apply(&mut s, Rb::sys("read", me).arg(0, fd as u64).res(10));
    assert!(f(&s, &b, FieldId::FdName).unwrap().ends_with("/status"));
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(f(&s, &b, FieldId::ProcCwd).unwrap(), cwd.to_string_lossy());
    // Forgotten fds come back from /proc/PID/fd on the next event.
    s.procs.get_mut(me).unwrap().fds.remove(fd);
    let b = apply(&mut s, Rb::sys("read", me).arg(0, fd as u64).res(10));
    assert!(f(&s, &b, FieldId::FdName).unwrap().ends_with("/status"));
    drop(file);
}
