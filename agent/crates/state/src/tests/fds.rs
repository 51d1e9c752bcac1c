//! fd tables, sockets and argument renderings.

use super::*;
use crate::flags::o;
use crate::state::{State, StateConfig};
use saker_abi::{kind, Record};
use saker_filter::fields::{FieldArg, FieldId, FieldRef, FieldSource, Values};

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
    assert_eq!(f(&s, &b, FieldId::FdNum).as_deref(), Some("-1"));
    assert_eq!(f(&s, &b, FieldId::FdTypechar).as_deref(), Some("f"));
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
            let mut rb = Rb::new(k, def.name, 100, 100).res(-1).ts(u64::MAX);
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
            let b = apply(&mut s, Rb::new(k, def.name, 100, 100).res(7).ts(u64::MAX));
            let _ = s.view(&Record::parse(&b).unwrap()).evt_args().len();
        }
    }
}

#[test]
fn connect_learns_local_end_from_proc() {
    let cfg = StateConfig {
        exe_facts: false,
        ..Default::default()
    };
    let mut s = State::new(cfg);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    use std::os::fd::AsRawFd;
    let me = std::process::id();
    let port = l.local_addr().unwrap().port();
    let b = apply(
        &mut s,
        Rb::sys("connect", me)
            .arg(0, c.as_raw_fd() as u64)
            .blob(1, &sin([127, 0, 0, 1], port))
            .res(0),
    );
    let want = format!(
        "127.0.0.1:{}->127.0.0.1:{port}",
        c.local_addr().unwrap().port()
    );
    assert_eq!(f(&s, &b, FieldId::FdName), Some(want));
    assert_eq!(f(&s, &b, FieldId::FdL4proto).as_deref(), Some("tcp"));
}

/// Socket calls of pid 100 as the kernel reports them; `local` is the
/// socket's own end the kernel read (`BLOB_LOCAL_ADDR`), when it did.
fn udp_socket(s: &mut State, fd: u64) {
    apply(s, Rb::sys("socket", 100).arg(0, 2).arg(1, 2).res(fd as i64));
}

fn bind(s: &mut State, fd: u64, addr: &[u8]) {
    apply(s, Rb::sys("bind", 100).arg(0, fd).blob(1, addr).res(0));
}

fn with_local(rb: Rb, local: Option<&[u8]>) -> Rb {
    match local {
        Some(l) => rb.local(2, l),
        None => rb,
    }
}

fn connect(s: &mut State, fd: u64, peer: &[u8], local: Option<&[u8]>) -> Vec<u8> {
    let rb = Rb::sys("connect", 100).arg(0, fd).blob(1, peer).res(0);
    apply(s, with_local(rb, local))
}

fn send_to(s: &mut State, fd: u64, peer: &[u8], local: Option<&[u8]>) -> Vec<u8> {
    let rb = Rb::sys("sendto", 100).arg(0, fd).blob(4, peer).res(1);
    apply(s, with_local(rb, local))
}

#[test]
fn name_changed_is_a_fact_of_the_event_not_of_the_socket() {
    let mut s = seeded();
    udp_socket(&mut s, 3);
    let send = |s: &mut State, ip: [u8; 4]| send_to(s, 3, &sin(ip, 53), None);
    let changed = |s: &State, b: &[u8]| f(s, b, FieldId::FdNameChanged);
    let b = send(&mut s, [10, 0, 0, 53]);
    assert_eq!(changed(&s, &b).as_deref(), Some("true"), "a new peer");
    assert_eq!(
        f(&s, &b, FieldId::FdName).as_deref(),
        Some("0.0.0.0:0->10.0.0.53:53")
    );
    let b = send(&mut s, [10, 0, 0, 53]);
    assert_eq!(changed(&s, &b).as_deref(), Some("false"), "the same peer");
    let b = send(&mut s, [10, 0, 0, 54]);
    assert_eq!(changed(&s, &b).as_deref(), Some("true"));
    // What the kernel leaves out when no rule needs it: a call without an
    // address right after one that changed the name.
    let b = apply(&mut s, Rb::sys("recvfrom", 100).arg(0, 3).res(1));
    assert_eq!(changed(&s, &b).as_deref(), Some("false"), "no address");
    let b = apply(&mut s, Rb::sys("sendto", 100).arg(0, 3).res(1));
    assert_eq!(changed(&s, &b).as_deref(), Some("false"), "no address");
}

#[test]
fn connect_names_the_socket_and_af_unspec_dissolves_it() {
    let mut s = seeded();
    let name = |s: &State, b: &[u8]| f(s, b, FieldId::FdName);
    let changed = |s: &State, b: &[u8]| f(s, b, FieldId::FdNameChanged);
    let unspec = [0u8; 16];
    let peer = sin([10, 0, 0, 53], 53);
    let other = sin([10, 0, 0, 54], 53);
    udp_socket(&mut s, 3);
    let b = connect(&mut s, 3, &peer, Some(&sin([10, 0, 0, 9], 4000)));
    assert_eq!(changed(&s, &b).as_deref(), Some("true"), "connect names it");
    assert_eq!(name(&s, &b).as_deref(), Some("10.0.0.9:4000->10.0.0.53:53"));
    assert_eq!(f(&s, &b, FieldId::FdConnected).as_deref(), Some("true"));
    // Connected: an addressed send names no new peer.
    let b = send_to(&mut s, 3, &other, None);
    assert_eq!(changed(&s, &b).as_deref(), Some("false"));
    // connect(AF_UNSPEC): unconnected, and the next addressed datagram
    // names a new peer.
    let b = connect(&mut s, 3, &unspec, Some(&sin([0, 0, 0, 0], 0)));
    assert_eq!(f(&s, &b, FieldId::FdConnected).as_deref(), Some("false"));
    let b = send_to(&mut s, 3, &other, None);
    assert_eq!(changed(&s, &b).as_deref(), Some("true"));
    assert_eq!(name(&s, &b).as_deref(), Some("0.0.0.0:0->10.0.0.54:53"));

    // A local end of 0.0.0.0:0 from the kernel (an unreadable socket) says
    // nothing: the one bind named stays.
    udp_socket(&mut s, 5);
    bind(&mut s, 5, &sin([10, 0, 0, 9], 5000));
    let b = connect(&mut s, 5, &peer, Some(&sin([0, 0, 0, 0], 0)));
    assert_eq!(name(&s, &b).as_deref(), Some("10.0.0.9:5000->10.0.0.53:53"));
    // Dissolved, it keeps the end its bind named.
    connect(&mut s, 5, &unspec, None);
    let b = send_to(&mut s, 5, &other, None);
    assert_eq!(name(&s, &b).as_deref(), Some("10.0.0.9:5000->10.0.0.54:53"));
    // A wildcard bind: connect picked the address, which the kernel forgets
    // again; the bound port stays.
    udp_socket(&mut s, 6);
    bind(&mut s, 6, &sin([0, 0, 0, 0], 6000));
    connect(&mut s, 6, &peer, Some(&sin([10, 0, 0, 9], 6000)));
    connect(&mut s, 6, &unspec, None);
    let b = send_to(&mut s, 6, &other, None);
    assert_eq!(name(&s, &b).as_deref(), Some("0.0.0.0:6000->10.0.0.54:53"));
}

#[test]
fn an_unconnected_datagram_socket_gets_its_local_end_from_the_kernel() {
    let mut s = seeded();
    udp_socket(&mut s, 3);
    let peer = sin([10, 0, 0, 53], 53);
    let local = sin([10, 0, 0, 9], 41000);
    let b = send_to(&mut s, 3, &peer, Some(&local));
    assert_eq!(
        f(&s, &b, FieldId::FdName).as_deref(),
        Some("10.0.0.9:41000->10.0.0.53:53")
    );
    assert_eq!(f(&s, &b, FieldId::FdNameChanged).as_deref(), Some("true"));
    assert_eq!(f(&s, &b, FieldId::FdLport).as_deref(), Some("41000"));
    // The same peer again: the name stays, and did not change.
    let b = send_to(&mut s, 3, &peer, Some(&local));
    assert_eq!(f(&s, &b, FieldId::FdNameChanged).as_deref(), Some("false"));
}

#[test]
fn the_kernels_local_end_is_used_without_reading_proc() {
    // /proc could answer here (a real socket of this process), so the
    // kernel's word must be what wins: it names a port /proc would not.
    let mut s = State::new(StateConfig {
        exe_facts: false,
        ..Default::default()
    });
    let r = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    u.connect(r.local_addr().unwrap()).unwrap();
    assert_ne!(u.local_addr().unwrap().port(), 9);
    use std::os::fd::AsRawFd;
    let me = std::process::id();
    let rport = r.local_addr().unwrap().port();
    // State never saw this socket's socket() call: its protocol comes from
    // the kernel's socket type too.
    let b = apply(
        &mut s,
        Rb::sys("connect", me)
            .arg(0, u.as_raw_fd() as u64)
            .blob(1, &sin([127, 0, 0, 1], rport))
            .local(2, &sin([127, 0, 0, 1], 9))
            .res(0),
    );
    assert_eq!(
        f(&s, &b, FieldId::FdName),
        Some(format!("127.0.0.1:9->127.0.0.1:{rport}"))
    );
    assert_eq!(f(&s, &b, FieldId::FdL4proto).as_deref(), Some("udp"));

    let mut s = seeded();
    // An accept on a wildcard listener: the accepted socket's own address.
    apply(&mut s, Rb::sys("socket", 100).arg(0, 2).arg(1, 1).res(4));
    apply(
        &mut s,
        Rb::sys("bind", 100)
            .arg(0, 4)
            .blob(1, &sin([0, 0, 0, 0], 22))
            .res(0),
    );
    apply(&mut s, Rb::sys("listen", 100).arg(0, 4).res(0));
    let b = apply(
        &mut s,
        Rb::sys("accept", 100)
            .arg(0, 4)
            .blob(1, &sin([5, 6, 7, 8], 5555))
            .local(1, &sin([10, 0, 0, 2], 22))
            .res(5),
    );
    assert_eq!(
        f(&s, &b, FieldId::FdName).as_deref(),
        Some("5.6.7.8:5555->10.0.0.2:22")
    );
    assert_eq!(f(&s, &b, FieldId::FdL4proto).as_deref(), Some("tcp"));

    // accept(fd, NULL, NULL) on a listener state never saw: the kernel's
    // local end still says what the new fd is.
    let b = apply(
        &mut s,
        Rb::sys("accept", 100)
            .arg(0, 40)
            .local(1, &sin([10, 0, 0, 3], 8080))
            .res(6),
    );
    assert_eq!(f(&s, &b, FieldId::FdTypechar).as_deref(), Some("4"));
    assert_eq!(f(&s, &b, FieldId::FdLport).as_deref(), Some("8080"));
    assert_eq!(f(&s, &b, FieldId::FdL4proto).as_deref(), Some("tcp"));
}

#[test]
fn describe_lists_enriched_fields() {
    let mut s = seeded();
    let b = apply(&mut s, Rb::sys("open", 100).path(0, "/etc/passwd").res(3));
    let rec = Record::parse(&b).unwrap();
    let d = s.view(&rec).describe();
    assert!(
        d.starts_with("evt.type=open evt.dir=< evt.res=SUCCESS"),
        "{d}"
    );
    assert!(d.contains("proc.name=bash"), "{d}");
    assert!(d.contains("fd.name=/etc/passwd"), "{d}");
    assert!(d.contains("container.id=host"), "{d}");
}
