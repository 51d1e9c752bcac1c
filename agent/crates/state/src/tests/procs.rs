//! Process lifecycle, ancestry, caps, the /proc scan and the table cap.

use super::*;
use crate::state::{State, StateConfig};
use saker_abi::{kind, Record};
use saker_filter::fields::{FieldArg, FieldId, FieldRef, FieldSource, Values};
use std::sync::Arc;

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
    assert_eq!(evt_arg(&s, &b, "flags").as_deref(), Some("0"));
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

/// A runtime that knows one container, holding pid 700 once it is "moved".
struct FakeRuntime;

const CID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

impl crate::ContainerLookup for FakeRuntime {
    fn container_id(&self, pid: u32, _cg: u64) -> Option<Arc<str>> {
        (pid >= 700).then(|| Arc::from(CID))
    }
    fn user_name(&self, c: Option<&str>, _pid: u32, uid: u32) -> Option<Arc<str>> {
        match (c, uid) {
            (Some(_), 1000) => Some(Arc::from("appuser")),
            (None, 0) => Some(Arc::from("root")),
            _ => None,
        }
    }
    fn field(
        &self,
        c: &str,
        f: crate::ContainerField,
        arg: Option<&str>,
    ) -> Option<crate::MetaValue> {
        use crate::{ContainerField as F, MetaValue as V};
        assert_eq!(c, CID);
        match (f, arg) {
            (F::Name, _) => Some(V::Str(Arc::from("web-0"))),
            (F::K8sNsName, _) => Some(V::Str(Arc::from("shadow-test"))),
            (F::K8sPodLabel, Some("app")) => Some(V::Str(Arc::from("web"))),
            (F::Privileged, _) => Some(V::Bool(true)),
            _ => None,
        }
    }
}

#[test]
fn container_fields_through_the_lookup() {
    let cfg = StateConfig {
        proc_fallback: false,
        exe_facts: false,
        ..Default::default()
    };
    let mut s = State::with_lookup(cfg, Box::new(FakeRuntime));
    let mut p = crate::Process::new(600);
    p.name = Arc::from("conmon");
    s.procs.insert(p);
    // Forked on the host, then moved into the container before exec (runc).
    apply(&mut s, Rb::sys("fork", 600).res(700));
    assert!(s.process(700).unwrap().container_id.is_none());
    let mut b = exec(&mut s, 700, "/bin/sh", &["sh"]);
    // The exit record comes from uid 1000 in the container.
    let mut rb = Rb::sys("openat", 700)
        .arg(0, (-100i64) as u64)
        .path(1, "/etc/passwd")
        .res(3);
    rb = rb.uid(1000);
    b.clear();
    b.extend(apply(&mut s, rb));
    assert_eq!(
        f(&s, &b, FieldId::ContainerId).as_deref(),
        Some("0123456789ab")
    );
    assert_eq!(f(&s, &b, FieldId::ContainerFullId).as_deref(), Some(CID));
    assert_eq!(f(&s, &b, FieldId::ContainerName).as_deref(), Some("web-0"));
    assert_eq!(
        f(&s, &b, FieldId::K8sNsName).as_deref(),
        Some("shadow-test")
    );
    assert_eq!(
        f(&s, &b, FieldId::ContainerPrivileged).as_deref(),
        Some("true")
    );
    assert_eq!(
        field(&s, &b, FieldId::K8sPodLabel, FieldArg::Key("app".into())).as_deref(),
        Some("web")
    );
    assert!(field(&s, &b, FieldId::K8sPodLabel, FieldArg::Key("x".into())).is_none());
    assert_eq!(f(&s, &b, FieldId::UserName).as_deref(), Some("appuser"));
    assert!(
        f(&s, &b, FieldId::ContainerImage).is_none(),
        "not known yet: no value"
    );
    // Its children inherit the container without asking again.
    apply(&mut s, Rb::sys("fork", 700).res(701));
    assert_eq!(s.process(701).unwrap().container_id.as_deref(), Some(CID));
}

#[test]
fn clone_child_from_a_container_namespace() {
    let mut s = seeded();
    // Parent 100 is in a container pidns: vpid 1. Its clone returns vpid 2,
    // which is not a host pid, so only CLONE_CHILD may create the entry.
    let mut rb = Rb::sys("clone", 100).arg(0, 17).res(2);
    rb = rb.vpid(1);
    apply(&mut s, rb);
    assert!(s.process(2).is_none());
    let mut child = Rb::new(kind::CLONE_CHILD, "clone", 900, 900).ppid(100);
    child = child.vpid(2);
    let b = apply(&mut s, child);
    assert_eq!(f(&s, &b, FieldId::ProcVpid).as_deref(), Some("2"));
    assert_eq!(f(&s, &b, FieldId::ProcPname).as_deref(), Some("bash"));
    assert_eq!(f(&s, &b, FieldId::ProcCwd).as_deref(), Some("/home/u"));
}

#[test]
fn setsid_memfd_exec_and_openat2() {
    let mut s = seeded();
    apply(&mut s, Rb::sys("fork", 100).res(800));
    apply(&mut s, Rb::sys("setsid", 800).res(800));
    let b = exec(&mut s, 800, "/usr/sbin/sshd", &["sshd"]);
    assert_eq!(f(&s, &b, FieldId::ProcSname).as_deref(), Some("sshd"));
    // fexecve of a memfd: execveat(fd, "", AT_EMPTY_PATH).
    apply(&mut s, Rb::sys("memfd_create", 800).path(0, "x").res(5));
    apply(
        &mut s,
        Rb::new(kind::SYSCALL_ENTER, "execveat", 800, 800)
            .arg(0, 5)
            .arg(4, 0x1000)
            .path(1, "")
            .blob(2, b"x\0"),
    );
    let b = apply(
        &mut s,
        Rb::new(kind::SYSCALL_EXIT, "execveat", 800, 800)
            .comm("x")
            .res(0),
    );
    assert_eq!(f(&s, &b, FieldId::ProcExepath).as_deref(), Some("/memfd:x"));
    assert_eq!(
        f(&s, &b, FieldId::ProcIsExeFromMemfd).as_deref(),
        Some("true")
    );
    assert_eq!(evt_arg(&s, &b, "flags").as_deref(), Some("EXE_FROM_MEMFD"));
    // openat2 flags come from struct open_how.
    let mut how = u64::from(crate::flags::o::RDWR | crate::flags::o::CREAT)
        .to_ne_bytes()
        .to_vec();
    how.extend_from_slice(&0o600u64.to_ne_bytes());
    how.extend_from_slice(&0x08u64.to_ne_bytes());
    let b = apply(
        &mut s,
        Rb::sys("openat2", 800)
            .arg(0, (-100i64) as u64)
            .path(1, "/tmp/k")
            .blob(2, &how)
            .res(6),
    );
    assert_eq!(evt_arg(&s, &b, "flags").as_deref(), Some("O_CREAT|O_RDWR"));
    assert_eq!(evt_arg(&s, &b, "mode").as_deref(), Some("S_IWUSR|S_IRUSR"));
    assert_eq!(
        evt_arg(&s, &b, "resolve").as_deref(),
        Some("RESOLVE_BENEATH")
    );
    assert_eq!(f(&s, &b, FieldId::EvtIsOpenWrite).as_deref(), Some("true"));
    assert_eq!(f(&s, &b, FieldId::FdName).as_deref(), Some("/tmp/k"));
}

#[test]
fn setuid_changes_user_between_task_info_records() {
    let mut s = seeded();
    let plain = |rb: Rb| {
        let mut rb = rb;
        rb.clear_task_info();
        rb
    };
    apply(&mut s, plain(Rb::sys("setuid", 100).arg(0, 65534).res(0)));
    let b = apply(&mut s, plain(Rb::sys("read", 100).arg(0, 0).res(1)));
    assert_eq!(f(&s, &b, FieldId::UserUid).as_deref(), Some("65534"));
    assert_eq!(f(&s, &b, FieldId::UserName).as_deref(), Some("nobody"));
    let b = apply(&mut s, Rb::sys("setuid", 100).arg(0, 0).res(0).uid(0));
    assert_eq!(evt_arg(&s, &b, "uid").as_deref(), Some("root"));
    // A leader's exit with res 0 (the kernel cannot always tell) reaps too.
    apply(&mut s, Rb::sys("fork", 100).res(123));
    apply(&mut s, Rb::new(kind::PROC_EXIT, "", 123, 123).res(0));
    apply(&mut s, Rb::sys("read", 1));
    assert!(s.process(123).is_none());
}

#[test]
fn sweep_marks_processes_gone_from_proc() {
    let mut s = State::new(StateConfig {
        exe_facts: false,
        ..Default::default()
    });
    let me = std::process::id();
    apply(&mut s, Rb::sys("read", me));
    // A pid that cannot exist (above pid_max's ceiling), seen once.
    let mut ghost = crate::Process::new(4_000_000_001);
    ghost.name = Arc::from("ghost");
    s.procs.insert(ghost);
    assert_eq!(s.sweep(), 1);
    assert!(s.process(4_000_000_001).is_none());
    assert!(s.process(me).is_some());
}

#[test]
fn upper_layer_of_a_gone_process_comes_from_its_namespace_init() {
    let base = std::env::temp_dir().join(format!("saker-upper-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (proc_root, upper, rootfs) = (base.join("proc"), base.join("upper"), base.join("rootfs"));
    std::fs::create_dir_all(upper.join("tmp")).unwrap();
    std::fs::write(upper.join("tmp/dropped"), b"x").unwrap();
    std::fs::create_dir_all(&rootfs).unwrap();
    // Only the container's init (host pid 500, pid 1 in namespace 777) is
    // still in /proc; the processes that exec below are gone already.
    std::fs::create_dir_all(proc_root.join("500")).unwrap();
    std::os::unix::fs::symlink(&rootfs, proc_root.join("500/root")).unwrap();
    std::fs::write(
        proc_root.join("500/mountinfo"),
        format!(
            "1 0 0:52 / / rw - overlay overlay rw,lowerdir=/l,upperdir={},workdir=/w\n",
            upper.display()
        ),
    )
    .unwrap();
    let mut s = State::new(StateConfig {
        proc_fallback: false,
        exe_facts: true,
        proc_root: proc_root.clone(),
        ..Default::default()
    });
    s.set_clock(crate::Clock::with_offset(0));
    let mut init = crate::Process::new(500);
    init.vpid = 1;
    init.pidns = 777;
    s.procs.insert(init);

    let run = |s: &mut State, pid: u32, file: &str| {
        apply(
            s,
            Rb::new(kind::SYSCALL_ENTER, "execve", pid, pid)
                .pidns(777)
                .vpid(pid - 590)
                .path(0, file)
                .blob(1, b"x\0"),
        );
        apply(
            s,
            Rb::new(kind::SYSCALL_EXIT, "execve", pid, pid)
                .pidns(777)
                .vpid(pid - 590)
                .res(0),
        )
    };
    let dropped = run(&mut s, 600, "/tmp/dropped");
    assert_eq!(
        f(&s, &dropped, FieldId::ProcIsExeUpperLayer).as_deref(),
        Some("true")
    );
    let image = run(&mut s, 601, "/bin/ls");
    assert_eq!(
        f(&s, &image, FieldId::ProcIsExeUpperLayer).as_deref(),
        Some("false")
    );
    let _ = std::fs::remove_dir_all(&base);
}
