//! End to end: the real kernel programs, real processes, real containers, and
//! the events that `saker capture` prints for them.

mod common;

use std::net::TcpListener;
use std::process::Command;

use common::capture::{python, run, Capture};
use common::container::Container;
use common::{privileged, TempDir};
use serde_json::Value;

fn pid_of(e: &Value) -> u64 {
    e["proc.pid"].as_u64().unwrap()
}

fn is(e: &Value, ty: &str, pid: u32) -> bool {
    e["evt.type"] == ty && pid_of(e) == pid as u64
}

/// The two ways the kernel programs get a syscall's arguments: from the
/// saved registers at exit (the default), or from the enter program's stash
/// (kernels before 5.15, forced here by the environment).
const ARG_SOURCES: [&[(&str, &str)]; 2] = [&[], &[("SAKER_CAPTURE_ARGS_AT_ENTER", "1")]];

/// Runs `checks` once with each of `ARG_SOURCES`, where this machine can
/// load eBPF (see `privileged`).
fn with_each_arg_source(test: &str, checks: fn(&[(&str, &str)])) {
    if !privileged(test) {
        return;
    }
    for env in ARG_SOURCES {
        checks(env);
    }
}

/// That a capture started with one of `ARG_SOURCES` used it: the fallback
/// when asked, else the exit program that reads the registers (on 5.15 and
/// later, where it must load: a silent fallback would hide a regression).
fn check_source(out: &common::capture::Output, env: &[(&str, &str)]) {
    let attached: Value = out
        .stderr
        .iter()
        .find(|l| l.contains("\"saker.capture\":\"attached\""))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no attached line:\n{}", out.stderr.join("\n")));
    let want = if !env.is_empty() {
        "enter"
    } else if kernel_at_least(5, 15) {
        "exit"
    } else {
        return;
    };
    assert_eq!(attached["args_at"], want, "{}", out.stderr.join("\n"));
}

/// The running kernel's release is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}

#[test]
fn openat_with_flags_and_fd_result_and_failed_open() {
    with_each_arg_source(
        "openat_with_flags_and_fd_result_and_failed_open",
        openat_checks,
    );
}

fn openat_checks(env: &[(&str, &str)]) {
    let dir = TempDir::new("open");
    let path = dir.path().join("known.txt");
    let missing = dir.path().join("does-not-exist");
    let cap = Capture::start_env(&["--syscalls", "openat"], env);
    let pid = python(&format!(
        "import os\nfd = os.open({path:?}, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)\nos.close(fd)\ntry:\n    os.open({missing:?}, os.O_RDONLY)\nexcept FileNotFoundError:\n    pass\n",
        path = path.to_str().unwrap(),
        missing = missing.to_str().unwrap()
    ));
    let out = cap.stop();
    check_source(&out, env);
    let opened: Vec<_> = out
        .find(|e| is(e, "openat", pid) && e["evt.args"]["name"] == path.to_str().unwrap())
        .collect();
    assert_eq!(
        opened.len(),
        1,
        "expected one openat of {path:?} by pid {pid}"
    );
    let e = opened[0];
    let flags = e["evt.args"]["flags"].as_i64().unwrap();
    assert_eq!(
        flags & 0o1101,
        0o1101,
        "O_WRONLY|O_CREAT|O_TRUNC in {flags:#o}"
    );
    assert_eq!(e["evt.args"]["mode"].as_i64().unwrap(), 0o640);
    assert_eq!(e["evt.args"]["dirfd"].as_i64().unwrap(), -100, "AT_FDCWD");
    assert!(e["evt.res"].as_i64().unwrap() >= 3, "fd result: {e}");
    assert_eq!(e["proc.name"], "python3");

    let failed: Vec<_> = out
        .find(|e| is(e, "openat", pid) && e["evt.args"]["name"] == missing.to_str().unwrap())
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["evt.res"].as_i64().unwrap(), -2, "ENOENT");
    // Only openat was asked for.
    assert!(out
        .events
        .iter()
        .all(|e| e["evt.type"] == "openat" || e["evt.type"] == "procexit"));
}

#[test]
fn execve_with_argv_exe_and_parent() {
    if !privileged("execve_with_argv_exe_and_parent") {
        return;
    }
    let cap = Capture::start(&["--syscalls", "execve,execveat"]);
    let marker = format!("saker-marker-{}", std::process::id());
    let pid = run(Command::new("/bin/echo")
        .arg(&marker)
        .stdout(std::process::Stdio::null()));
    let out = cap.stop();
    let execs: Vec<_> = out.find(|e| is(e, "execve", pid)).collect();
    assert_eq!(execs.len(), 1, "one execve for pid {pid}");
    let e = execs[0];
    assert_eq!(e["evt.args"]["filename"], "/bin/echo");
    assert_eq!(
        e["evt.args"]["args"],
        serde_json::json!(["/bin/echo", marker])
    );
    assert_eq!(e["evt.res"], 0);
    assert_eq!(
        e["proc.ppid"].as_u64().unwrap(),
        std::process::id() as u64,
        "parent is the test"
    );
    assert_eq!(e["proc.name"], "echo", "comm after exec");
    assert_ne!(
        e["proc.pidns"].as_u64().unwrap(),
        0,
        "pidns from BTF offsets"
    );
    assert_eq!(
        e["proc.vpid"].as_u64().unwrap(),
        pid as u64,
        "host pidns: vpid == pid"
    );
}

#[test]
fn execveat_of_an_fd_pairs_its_exit() {
    if !privileged("execveat_of_an_fd_pairs_its_exit") {
        return;
    }
    // The kernel reports a successful execveat's exit under execve's number;
    // the record must still say execveat, with its arguments.
    let cap = Capture::start(&["--syscalls", "execveat"]);
    let pid = python("import os\nfd = os.open('/bin/true', os.O_RDONLY)\nos.execve(fd, ['true', 'saker-fexecve'], {})\n");
    let out = cap.stop();
    let e: Vec<_> = out.find(|e| is(e, "execveat", pid)).collect();
    assert_eq!(e.len(), 1, "one execveat for {pid}");
    assert_eq!(e[0]["evt.res"], 0);
    assert_eq!(e[0]["evt.args"]["pathname"], "");
    assert_eq!(e[0]["evt.args"]["flags"], 0x1000, "AT_EMPTY_PATH");
    assert_eq!(
        e[0]["evt.args"]["args"],
        serde_json::json!(["true", "saker-fexecve"])
    );
    assert_eq!(e[0]["proc.name"], "true");
    assert_eq!(
        out.find(|e| e["evt.type"] == "execve").count(),
        0,
        "execve was not asked for"
    );
}

#[test]
fn connect_to_loopback_listener() {
    if !privileged("connect_to_loopback_listener") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let cap = Capture::start(&["--syscalls", "connect,socket,accept,accept4"]);
    let pid = python(&format!(
        "import socket\ns = socket.create_connection(('127.0.0.1', {port}))\ns.close()\n"
    ));
    let (_conn, client) = listener.accept().unwrap();
    let out = cap.stop();
    // Python's resolver may also connect unix sockets (nscd, systemd-resolved) on some
    // hosts; the one under test is the TCP connect to our listener.
    let all: Vec<_> = out.find(|e| is(e, "connect", pid)).collect();
    let conns: Vec<_> = all
        .iter()
        .filter(|e| e["evt.args"]["addr"]["family"] == "AF_INET")
        .collect();
    assert_eq!(conns.len(), 1, "one AF_INET connect by {pid} among {all:?}");
    let addr = &conns[0]["evt.args"]["addr"];
    assert_eq!(addr["addr"], "127.0.0.1");
    assert_eq!(addr["port"].as_u64().unwrap(), port as u64);
    assert_eq!(conns[0]["evt.res"], 0);
    // The client's own end, read by the kernel: the peer of the accepted
    // connection.
    let local = &conns[0]["evt.local_addr"];
    assert_eq!(local["family"], "AF_INET", "{:?}", conns[0]);
    assert_eq!(local["addr"], "127.0.0.1");
    assert_eq!(
        local["port"].as_u64().unwrap(),
        client.port() as u64,
        "getpeername on the accepted socket"
    );
    // This test's own accept: the new socket's end is the listener's port.
    let me = std::process::id();
    let accepts: Vec<_> = out
        .find(|e| {
            ["accept", "accept4"].contains(&e["evt.type"].as_str().unwrap_or(""))
                && pid_of(e) == me as u64
                && e["evt.res"].as_i64().is_some_and(|r| r >= 0)
        })
        .collect();
    assert_eq!(accepts.len(), 1, "{accepts:?}");
    assert_eq!(accepts[0]["evt.local_addr"]["addr"], "127.0.0.1");
    assert_eq!(
        accepts[0]["evt.local_addr"]["port"].as_u64().unwrap(),
        port as u64
    );
    assert_eq!(
        accepts[0]["evt.args"]["addr"]["port"].as_u64().unwrap(),
        client.port() as u64
    );
    // The resolver's unix sockets may come first; exactly one AF_INET socket is ours.
    let sockets: Vec<_> = out.find(|e| is(e, "socket", pid)).collect();
    let inet = sockets
        .iter()
        .filter(|e| e["evt.args"]["domain"] == 2)
        .count();
    assert_eq!(inet, 1, "one AF_INET socket by {pid} among {sockets:?}");
}

#[test]
fn unconnected_udp_sends_carry_the_sockets_own_end() {
    if !privileged("unconnected_udp_sends_carry_the_sockets_own_end") {
        return;
    }
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = peer.local_addr().unwrap().port();
    let cap = Capture::start(&["--syscalls", "sendto,sendmsg"]);
    // An unconnected socket, bound by its first send; then a send without
    // an address on a connected one, which names no peer.
    let pid = python(&format!(
        "import socket\n\
         u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         u.sendto(b'x', ('127.0.0.1', {port}))\n\
         c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         c.connect(('127.0.0.1', {port}))\n\
         c.send(b'y')\n"
    ));
    let out = cap.stop();
    let mut buf = [0u8; 8];
    let (_, from) = peer.recv_from(&mut buf).unwrap();
    let sends: Vec<_> = out
        .find(|e| ["sendto", "sendmsg"].contains(&e["evt.type"].as_str().unwrap_or("")))
        .filter(|e| pid_of(e) == pid as u64)
        .collect();
    let addressed: Vec<_> = sends
        .iter()
        .filter(|e| e["evt.args"]["addr"]["port"].as_u64() == Some(port as u64))
        .collect();
    assert_eq!(addressed.len(), 1, "{sends:?}");
    // The first send binds the socket to the wildcard address and an
    // ephemeral port (the source address is chosen per datagram).
    let local = &addressed[0]["evt.local_addr"];
    assert_eq!(local["addr"], "0.0.0.0", "{:?}", addressed[0]);
    assert_eq!(
        local["port"].as_u64().unwrap(),
        from.port() as u64,
        "the source port the peer saw"
    );
    // The connected socket's address-less send: no peer named, no walk.
    let bare: Vec<_> = sends
        .iter()
        .filter(|e| e["evt.args"]["addr"].is_null())
        .collect();
    assert!(!bare.is_empty(), "{sends:?}");
    assert!(
        bare.iter().all(|e| e["evt.local_addr"].is_null()),
        "{bare:?}"
    );
}

#[test]
fn fork_and_exit() {
    with_each_arg_source("fork_and_exit", fork_checks);
}

fn fork_checks(env: &[(&str, &str)]) {
    let cap = Capture::start_env(&["--syscalls", "clone,clone3,fork,vfork"], env);
    let dir = TempDir::new("fork");
    let child_file = dir.path().join("child.pid");
    let pid = python(&format!(
        "import os\nc = os.fork()\nif c == 0:\n    os._exit(7)\nopen({f:?}, 'w').write(str(c))\nos.waitpid(c, 0)\n",
        f = child_file.to_str().unwrap()
    ));
    let child: u64 = std::fs::read_to_string(&child_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let out = cap.stop();
    check_source(&out, env);
    let parent_side: Vec<_> = out
        .find(|e| {
            pid_of(e) == pid as u64
                && e["evt.kind"] == "syscall"
                && e["evt.res"].as_u64() == Some(child)
        })
        .collect();
    assert_eq!(
        parent_side.len(),
        1,
        "the parent's clone returning the child pid {child}"
    );
    assert!(["clone", "clone3", "fork", "vfork"]
        .contains(&parent_side[0]["evt.type"].as_str().unwrap()));
    let child_side: Vec<_> = out
        .find(|e| pid_of(e) == child && e["evt.kind"] == "clone_child")
        .collect();
    assert_eq!(child_side.len(), 1, "the child's own return from clone");
    assert_eq!(child_side[0]["proc.ppid"].as_u64().unwrap(), pid as u64);
    let exits: Vec<_> = out
        .find(|e| pid_of(e) == child && e["evt.type"] == "procexit")
        .collect();
    assert_eq!(exits.len(), 1, "the child's exit");
}

#[test]
fn unlinkat_and_renameat() {
    if !privileged("unlinkat_and_renameat") {
        return;
    }
    let dir = TempDir::new("files");
    std::fs::write(dir.path().join("a"), "x").unwrap();
    std::fs::write(dir.path().join("gone"), "x").unwrap();
    let cap = Capture::start(&["--syscalls", "renameat,renameat2,unlinkat"]);
    let pid = python(&format!(
        "import os\nd = os.open({d:?}, os.O_RDONLY)\nos.rename('a', 'b', src_dir_fd=d, dst_dir_fd=d)\nos.unlink('gone', dir_fd=d)\n",
        d = dir.path().to_str().unwrap()
    ));
    let out = cap.stop();
    let ren: Vec<_> = out
        .find(|e| {
            pid_of(e) == pid as u64 && e["evt.type"].as_str().unwrap_or("").starts_with("renameat")
        })
        .collect();
    assert_eq!(ren.len(), 1);
    assert_eq!(ren[0]["evt.args"]["oldpath"], "a");
    assert_eq!(ren[0]["evt.args"]["newpath"], "b");
    assert!(ren[0]["evt.args"]["olddirfd"].as_i64().unwrap() >= 3);
    assert_eq!(ren[0]["evt.res"], 0);
    let unl: Vec<_> = out.find(|e| is(e, "unlinkat", pid)).collect();
    assert_eq!(unl.len(), 1);
    assert_eq!(unl[0]["evt.args"]["name"], "gone");
    assert!(dir.path().join("b").exists() && !dir.path().join("gone").exists());
}

/// Paths around the edges of how the kernel copies a string: one that
/// fits in 127 bytes with its NUL is read straight into a ring record with
/// 128 bytes of room (a read that fills the room cannot tell a whole
/// string from a cut one); a longer one is built in scratch memory, where
/// 4095 bytes and the NUL are kept; a longer one still is cut there and
/// flagged. Each arrives whole, or cut and flagged, never silently short.
#[test]
fn paths_of_every_length_arrive_whole_or_cut_and_flagged() {
    with_each_arg_source(
        "paths_of_every_length_arrive_whole_or_cut_and_flagged",
        path_length_checks,
    );
}

fn path_length_checks(env: &[(&str, &str)]) {
    let dir = TempDir::new("pathlen");
    let base = format!("{}/", dir.path().to_str().unwrap());
    assert!(
        base.len() + 1 < 100,
        "the temp dir {base} is too long for the path lengths this test needs; set TMPDIR to a shorter one"
    );
    let lens = [base.len() + 1, 100, 126, 127, 128, 129, 300, 4094, 5000];
    let path = |n: usize| format!("{base}{}", "x".repeat(n - base.len()));
    let cap = Capture::start_env(&["--syscalls", "openat"], env);
    let pid = python(&format!(
        "import os
for n in {lens:?}:
    try:
        os.open({base:?} + 'x' * (n - {blen}), os.O_RDONLY)
    except OSError:
        pass
",
        blen = base.len()
    ));
    let out = cap.stop();
    check_source(&out, env);
    let names: Vec<(&str, &Value)> = out
        .find(|e| is(e, "openat", pid))
        .filter_map(|e| Some((e["evt.args"]["name"].as_str()?, e)))
        .filter(|(name, _)| name.starts_with(&base))
        .collect();
    for n in lens {
        let want = path(n);
        // Up to 4095 bytes and the NUL are kept; past that, the start.
        let kept = &want[..n.min(4095)];
        let seen: Vec<&&Value> = names
            .iter()
            .filter(|(name, _)| *name == kept)
            .map(|(_, e)| e)
            .collect();
        assert_eq!(
            seen.len(),
            1,
            "{env:?}: one openat of the {n}-byte path, got {} (names seen: {:?})",
            seen.len(),
            names.iter().map(|(name, _)| name.len()).collect::<Vec<_>>()
        );
        let flagged = seen[0]["evt.truncated"]
            .as_array()
            .is_some_and(|t| t.iter().any(|a| a == "name"));
        assert_eq!(
            flagged,
            n > 4094,
            "{env:?}: truncation flag of the {n}-byte path"
        );
    }
    let stats = out.final_stats();
    assert!(stats["truncated"].as_u64().unwrap() >= 1, "{stats}");
}

/// `cgroup.id` is the task's cgroup v2 id (its cgroup directory's inode
/// number), whichever way the kernel side reads it: through the task's BTF
/// pointer (the exit program that reads the registers) or with the helper
/// (the fallback).
#[test]
fn cgroup_id_is_the_tasks_cgroup_v2_id() {
    if !privileged("cgroup_id_is_the_tasks_cgroup_v2_id") {
        return;
    }
    let cg = Cgroup2::new();
    let group = &cg.group;
    let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(group).unwrap());
    let marker = TempDir::new("cgroup-marker");
    for env in ARG_SOURCES {
        let cap = Capture::start_env(&["--syscalls", "openat"], env);
        let pid = python(&format!(
            "import os
os.close(os.open({before:?}, os.O_RDONLY | os.O_CREAT, 0o600))
with open({procs:?}, 'w') as f:
    f.write(str(os.getpid()))
os.close(os.open({after:?}, os.O_RDONLY | os.O_CREAT, 0o600))
",
            before = marker.path().join("before").to_str().unwrap(),
            procs = group.join("cgroup.procs").to_str().unwrap(),
            after = marker.path().join("after").to_str().unwrap(),
        ));
        let out = cap.stop();
        check_source(&out, env);
        let id_of = |file: &str| -> u64 {
            let want = marker.path().join(file);
            let e = out
                .find(|e| is(e, "openat", pid) && e["evt.args"]["name"] == want.to_str().unwrap())
                .next()
                .unwrap_or_else(|| panic!("{env:?}: no openat of {want:?} by {pid}"));
            e["cgroup.id"].as_u64().unwrap()
        };
        assert_eq!(id_of("after"), ino, "{env:?}: in the new cgroup");
        assert_ne!(id_of("before"), ino, "{env:?}: before moving");
        assert_ne!(id_of("before"), 0, "{env:?}: before moving");
    }
}

/// A cgroup of our own in our own mount of the v2 hierarchy (on a hybrid
/// host nothing else may have mounted it; a second mount shares the same
/// hierarchy anyway), removed and unmounted on drop, also when a test fails.
struct Cgroup2 {
    mnt: TempDir,
    group: std::path::PathBuf,
}

impl Cgroup2 {
    fn new() -> Self {
        let mnt = TempDir::new("cgroup2");
        run(Command::new("mount")
            .args(["-t", "cgroup2", "none"])
            .arg(mnt.path()));
        // From here on, dropping it unmounts.
        let cg = Cgroup2 {
            group: mnt.path().join(format!("saker-e2e-{}", std::process::id())),
            mnt,
        };
        std::fs::create_dir(&cg.group).unwrap();
        cg
    }
}

impl Drop for Cgroup2 {
    fn drop(&mut self) {
        // Its processes have exited, so the group is empty.
        let _ = std::fs::remove_dir(&self.group);
        let unmounted = Command::new("umount")
            .arg(self.mnt.path())
            .status()
            .is_ok_and(|s| s.success());
        let detached = unmounted
            || Command::new("umount")
                .arg("-l")
                .arg(self.mnt.path())
                .status()
                .is_ok_and(|s| s.success());
        if !detached {
            // Leave the directory rather than let its removal reach into
            // the cgroup hierarchy.
            eprintln!("could not unmount {}", self.mnt.path().display());
            self.mnt.0 = std::path::PathBuf::new();
        }
    }
}

#[test]
fn target_container_only_with_ns_relative_pids() {
    if !privileged("target_container_only_with_ns_relative_pids") {
        return;
    }
    let c = Container::start("scope", &[]);
    let cap = Capture::start(&[
        "--target-pid",
        &c.pid.to_string(),
        "--syscalls",
        "openat,execve",
    ]);
    let marker = format!("/tmp/saker-host-{}", std::process::id());
    std::fs::write(&marker, "host").unwrap();
    c.exec("cat /etc/passwd > /dev/null; echo hi > /tmp/in-container");
    let host_pid = run(Command::new("cat")
        .arg(&marker)
        .stdout(std::process::Stdio::null()));
    let out = cap.stop();
    let _ = std::fs::remove_file(&marker);

    let cat: Vec<_> = out
        .find(|e| e["evt.type"] == "openat" && e["evt.args"]["name"] == "/etc/passwd")
        .collect();
    assert!(!cat.is_empty(), "the container's open of /etc/passwd");
    for e in &cat {
        let vpid = e["proc.vpid"].as_u64().unwrap();
        assert!(
            vpid > 0 && vpid != pid_of(e),
            "ns-relative pid {vpid} vs host {}",
            pid_of(e)
        );
        assert!(vpid < 100, "a fresh container's pids are small: {vpid}");
    }
    assert!(
        out.find(|e| e["evt.args"]["name"] == "/tmp/in-container")
            .count()
            >= 1
    );
    assert_eq!(
        out.find(|e| pid_of(e) == host_pid as u64).count(),
        0,
        "host cat must not appear"
    );
    assert_eq!(
        out.find(|e| e["evt.args"]["name"] == marker.as_str())
            .count(),
        0,
        "no host open of the marker"
    );
    assert!(
        out.events
            .iter()
            .all(|e| e["proc.vpid"].as_u64().unwrap() != 0),
        "every event is in the target ns"
    );
}

#[test]
fn ring_overflow_is_counted_and_reported() {
    if !privileged("ring_overflow_is_counted_and_reported") {
        return;
    }
    // One page of ring buffer and a burst far larger than it.
    let cap = Capture::start(&["--syscalls", "openat", "--ring-bytes", "4096"]);
    python("import os\nfor i in range(100000):\n    os.close(os.open('/dev/null', os.O_RDONLY))\n");
    let out = cap.stop();
    let stats = out.final_stats();
    let lost = stats["lost"].as_u64().unwrap();
    let ring_full = stats["drops"]["ring_full"].as_u64().unwrap();
    let sent = stats["sent"].as_u64().unwrap();
    let delivered = stats["delivered"].as_u64().unwrap();
    assert!(ring_full > 0, "a 4 KiB ring must overflow: {stats}");
    assert_eq!(
        lost,
        ring_full + stats["drops"]["stash_full"].as_u64().unwrap()
    );
    assert_eq!(
        sent, delivered,
        "every record the kernel sent was read: {stats}"
    );
    let per_cpu_full: u64 = stats["per_cpu"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["ring_full"].as_u64().unwrap())
        .sum();
    assert_eq!(per_cpu_full, ring_full);
    // What did arrive is not less than sent minus nothing: events = delivered.
    assert_eq!(out.events.len() as u64, delivered);
}

#[test]
fn sigusr1_reports_counters_while_running() {
    if !privileged("sigusr1_reports_counters_while_running") {
        return;
    }
    let cap = Capture::start(&["--syscalls", "openat"]);
    python("open('/dev/null').close()");
    cap.sigusr1();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let out = cap.stop();
    let mid = out
        .stderr
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v.get("saker.capture.stats").cloned())
        .find(|s| s["when"] == "sigusr1");
    let mid =
        mid.unwrap_or_else(|| panic!("no stats line on SIGUSR1 in:\n{}", out.stderr.join("\n")));
    assert!(mid["sent"].as_u64().unwrap() >= 1);
}

#[test]
fn bad_arguments_are_clear_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["capture", "--syscalls", "openat,frobnicate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown syscall `frobnicate`"), "{err}");
    assert!(
        err.contains("valid names:") && err.contains("openat"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["capture", "--target-pid", "999999999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--target-pid 999999999: no such process"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line, no backtrace: {err}");

    // The benchmark's switch is checked before anything loads.
    let out = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(["capture", "--duration", "1s"])
        .env("SAKER_CAPTURE_FLOOR", "strnig")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SAKER_CAPTURE_FLOOR=\"strnig\": the only floor probe is \"string\""),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line, no backtrace: {err}");
}
