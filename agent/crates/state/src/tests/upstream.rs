//! Every field the upstream Falco rules use (fields_used.tsv) resolves and
//! gets a value from at least one event of a small realistic session.

use super::*;
use saker_abi::{kind, Record};
use saker_filter::fields::{resolve, FieldSource, Values};

/// Fields that need a live host or runtime, not hand-built records: DNS
/// names (no DNS cache yet), the environment and exe inode facts (read from
/// /proc, off in unit tests), and container metadata (the lookup's job;
/// covered with a fake runtime in `procs.rs`).
const NEEDS_HOST: &[&str] = &[
    "fd.sip.name",
    "fd.cip.name",
    "fd.rip.name",
    "fd.lip.name",
    "proc.env",
    "proc.exe_ino.mtime",
    "proc.exe_ino.ctime",
    "proc.exe_ino.ctime_duration_proc_start",
    "container.image.repository",
    "container.privileged",
    "container.start_ts",
    "container.mounts",
    "k8s.ns.name",
    "k8s.pod.name",
];

fn split(field: &str) -> (&str, Option<&str>) {
    match field.split_once('[') {
        Some((n, rest)) => (n, Some(rest.trim_end_matches(']'))),
        None => (field, None),
    }
}

#[test]
fn every_upstream_field_has_a_value_somewhere() {
    let dir = std::env::var_os("SAKER_FALCO_UPSTREAM")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../../shared/falco-upstream")
        });
    let path = dir.join("fields_used.tsv");
    let tsv = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; set SAKER_FALCO_UPSTREAM to the falco-upstream directory",
            path.display()
        )
    });
    let mut wanted = Vec::new();
    for line in tsv.lines().skip(1) {
        let name = line.split('\t').next().unwrap_or("");
        if name.is_empty() || name.starts_with("container.mount") || NEEDS_HOST.contains(&name) {
            continue;
        }
        let (n, arg) = split(name);
        let fr = resolve(n, arg).unwrap_or_else(|e| panic!("{name}: {e}"));
        wanted.push((name.to_string(), fr, false));
    }
    // A view describes the record just applied: check after each one.
    let mut check = |s: &mut State, rb: Rb| {
        let b = apply(s, rb);
        let rec = Record::parse(&b).unwrap();
        let v = s.view(&rec);
        for (_, fr, found) in wanted.iter_mut() {
            let mut out = Values::new();
            *found |= v.extract(fr, &mut out);
        }
    };
    // A session: a deep tree, an exec, file, socket and privileged calls.
    let mut s = seeded();
    for (pid, ppid) in [
        (200u32, 100u32),
        (300, 200),
        (400, 300),
        (500, 400),
        (600, 500),
        (700, 600),
    ] {
        check(&mut s, Rb::sys("fork", ppid).res(i64::from(pid)));
        exec(&mut s, pid, "/bin/sh", &["sh", "-c", "x"]);
    }
    let p = 700;
    apply(
        &mut s,
        Rb::new(kind::SYSCALL_ENTER, "execve", p, p)
            .path(0, "/usr/bin/cat")
            .blob(1, b"cat\0/etc/shadow\0"),
    );
    check(
        &mut s,
        Rb::new(kind::SYSCALL_EXIT, "execve", p, p)
            .comm("cat")
            .res(0)
            .loginuid(1000),
    );
    let at = (-100i64) as u64;
    check(
        &mut s,
        Rb::sys("openat", p)
            .arg(0, at)
            .path(1, "/etc/shadow")
            .arg(2, 0o1101)
            .arg(3, 0o755)
            .res(3),
    );
    check(&mut s, Rb::sys("open", p).path(0, "/etc/nope").res(-2));
    check(&mut s, Rb::sys("socket", p).arg(0, 2).arg(1, 1).res(4));
    check(
        &mut s,
        Rb::sys("connect", p)
            .arg(0, 4)
            .blob(1, &sin([1, 2, 3, 4], 22))
            .res(0),
    );
    check(&mut s, Rb::sys("socket", p).arg(0, 2).arg(1, 1).res(8));
    check(
        &mut s,
        Rb::sys("bind", p)
            .arg(0, 8)
            .blob(1, &sin([0, 0, 0, 0], 2222))
            .res(0),
    );
    check(
        &mut s,
        Rb::sys("accept", p)
            .arg(0, 8)
            .blob(1, &sin([6, 6, 6, 6], 999))
            .res(9),
    );
    check(&mut s, Rb::sys("socket", p).arg(0, 2).arg(1, 2).res(5));
    check(
        &mut s,
        Rb::sys("sendto", p)
            .arg(0, 5)
            .blob(1, b"data")
            .blob(4, &sin([8, 8, 8, 8], 53))
            .res(4),
    );
    check(&mut s, Rb::sys("dup2", p).arg(0, 4).arg(1, 1).res(1));
    check(
        &mut s,
        Rb::sys("renameat2", p)
            .arg(0, at)
            .path(1, "a")
            .arg(2, at)
            .path(3, "b")
            .res(0),
    );
    check(
        &mut s,
        Rb::sys("symlinkat", p)
            .path(0, "/etc")
            .arg(1, at)
            .path(2, "l")
            .res(0),
    );
    check(
        &mut s,
        Rb::sys("unlinkat", p).arg(0, at).path(1, "x").res(0),
    );
    check(
        &mut s,
        Rb::sys("mkdir", p).path(0, "d").arg(1, 0o755).res(0),
    );
    check(&mut s, Rb::sys("setuid", p).arg(0, 0).res(0));
    check(&mut s, Rb::sys("ptrace", p).arg(0, 16).res(0));
    check(&mut s, Rb::sys("socket", p).arg(0, 17).arg(1, 3).res(6));
    check(&mut s, Rb::sys("fcntl", p).arg(0, 4).arg(1, 1).res(0));
    check(
        &mut s,
        Rb::sys("chmod", p).path(0, "f").arg(1, 0o4755).res(0),
    );
    check(&mut s, Rb::sys("bpf", p).arg(0, 5).res(7));
    check(&mut s, Rb::sys("fchmod", p).arg(0, 3).arg(1, 0o4755).res(0));
    let missing: Vec<_> = wanted
        .iter()
        .filter(|w| !w.2)
        .map(|w| w.0.clone())
        .collect();
    assert!(missing.is_empty(), "no value for: {missing:?}");
}

fn matches(s: &State, b: &[u8], cond: &str) -> bool {
    let expr = saker_filter::parse(cond).unwrap_or_else(|e| panic!("{cond}: {e:?}"));
    let f = saker_filter::compile(&expr, &saker_filter::Env::new())
        .unwrap_or_else(|e| panic!("{cond}: {e:?}"));
    let rec = Record::parse(b).unwrap();
    f.matches(&s.view(&rec))
}

#[test]
fn falco_conditions_evaluate_on_live_views() {
    let mut s = seeded();
    apply(&mut s, Rb::sys("fork", 100).res(200));
    exec(&mut s, 200, "/bin/sh", &["sh", "-c", "cat /etc/shadow"]);
    apply(&mut s, Rb::sys("fork", 200).res(300));
    let b = exec(&mut s, 300, "/usr/bin/cat", &["cat", "/etc/shadow"]);
    assert!(matches(
        &s,
        &b,
        "evt.type in (execve, execveat) and evt.dir=< and proc.pname=sh and proc.aname[2]=bash"
    ));
    assert!(matches(
        &s,
        &b,
        "proc.cmdline contains shadow and proc.aname in (bash)"
    ));
    let b = apply(
        &mut s,
        Rb::sys("openat", 300)
            .arg(0, (-100i64) as u64)
            .path(1, "/etc/shadow")
            .res(3),
    );
    // The open_read macro and the sensitive-file test from falco_rules.yaml.
    let open_read = "evt.type in (open,openat,openat2) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0";
    assert!(matches(
        &s,
        &b,
        &format!("{open_read} and fd.name startswith /etc/shadow")
    ));
    assert!(matches(
        &s,
        &b,
        "evt.arg.flags contains O_RDONLY and not evt.arg.flags contains O_TRUNC"
    ));
    assert!(!matches(&s, &b, "evt.is_open_write=true"));
    let b = apply(&mut s, Rb::sys("socket", 300).arg(0, 17).arg(1, 3).res(4));
    assert!(matches(
        &s,
        &b,
        "evt.type=socket and evt.arg.domain contains AF_PACKET"
    ));
    apply(&mut s, Rb::sys("socket", 300).arg(0, 2).arg(1, 1).res(5));
    let b = apply(
        &mut s,
        Rb::sys("connect", 300)
            .arg(0, 5)
            .blob(1, &sin([10, 1, 2, 3], 4444))
            .res(0),
    );
    assert!(matches(&s, &b, "fd.l4proto=tcp and fd.sport=4444 and fd.snet in (10.0.0.0/8) and (evt.rawres >= 0 or evt.res = EINPROGRESS)"));
    let b = apply(&mut s, Rb::sys("ptrace", 300).arg(0, 16).res(0));
    assert!(matches(
        &s,
        &b,
        "evt.type=ptrace and evt.arg.request in (PTRACE_ATTACH, PTRACE_SEIZE)"
    ));
}
