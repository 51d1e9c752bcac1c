//! The stable ruleset against hand-built events shaped like the upstream
//! event-generator cases (evtgen_suite): the expected rule fires, and a
//! benign variant of the same event does not.

mod common;
use common::*;

use saker_filter::SyntheticEvent;
use saker_rules::{load, LoadOptions, Loaded, RuleMatching};

fn stable() -> Loaded {
    let mut opts = LoadOptions::default();
    opts.engine.rule_matching = RuleMatching::All;
    load(&upstream(&[STABLE]), &opts).unwrap_or_else(|d| panic!("{}", d.render(false)))
}

fn event(ty: &str, fields: &[(&str, &str)]) -> SyntheticEvent {
    let mut e = SyntheticEvent::new(ty);
    let base = [
        ("proc.name", "python3"),
        ("proc.exe", "/usr/bin/python3"),
        ("proc.exepath", "/usr/bin/python3"),
        ("proc.cmdline", "python3 app.py"),
        ("proc.pname", "bash"),
        ("proc.pid", "4242"),
        ("proc.tty", "0"),
        ("user.name", "root"),
        ("user.uid", "0"),
        ("user.loginuid", "-1"),
        ("container.id", "host"),
        ("evt.num", "7"),
    ];
    for (k, v) in base.iter().chain(fields) {
        e.try_set(k, &[v])
            .unwrap_or_else(|err| panic!("{k}: {err}"));
    }
    e
}

fn fired(l: &Loaded, e: &SyntheticEvent) -> Vec<String> {
    let mut v = Vec::new();
    l.engine.evaluate(e, |r| v.push(r.name.clone()));
    v
}

fn open(fields: &[(&str, &str)], write: bool) -> SyntheticEvent {
    let rw = if write { "true" } else { "false" };
    let ro = if write { "false" } else { "true" };
    let mut f = vec![
        ("evt.is_open_write", rw),
        ("evt.is_open_read", ro),
        ("fd.typechar", "f"),
        ("fd.num", "3"),
    ];
    f.extend_from_slice(fields);
    event("openat", &f)
}

#[test]
fn read_sensitive_file_untrusted() {
    let l = stable();
    let hit = open(
        &[
            ("fd.name", "/etc/shadow"),
            ("fd.directory", "/etc"),
            ("fd.filename", "shadow"),
        ],
        false,
    );
    assert!(
        fired(&l, &hit).contains(&"Read sensitive file untrusted".to_string()),
        "{:?}",
        fired(&l, &hit)
    );
    let benign = open(
        &[
            ("fd.name", "/etc/hostname"),
            ("fd.directory", "/etc"),
            ("fd.filename", "hostname"),
        ],
        false,
    );
    assert!(fired(&l, &benign).is_empty(), "{:?}", fired(&l, &benign));
}

#[test]
fn clear_log_activities() {
    let l = stable();
    let f = [
        ("fd.name", "/var/log/syslog"),
        ("fd.directory", "/var/log"),
        ("fd.filename", "syslog"),
        ("evt.arg.flags", "O_WRONLY|O_CREAT|O_TRUNC"),
    ];
    let hit = open(&f, true);
    assert_eq!(fired(&l, &hit), ["Clear Log Activities"]);
    let mut benign = f;
    benign[3] = ("evt.arg.flags", "O_WRONLY|O_APPEND");
    assert!(fired(&l, &open(&benign, true)).is_empty());
}

#[test]
fn terminal_shell_in_container() {
    let l = stable();
    let f = [
        ("proc.name", "bash"),
        ("proc.exe", "/bin/bash"),
        ("proc.cmdline", "bash"),
        ("proc.pname", "runc"),
        ("container.id", "3ad7b26ded6d"),
        ("proc.tty", "34816"),
    ];
    let hit = event("execve", &f);
    assert!(
        fired(&l, &hit).contains(&"Terminal shell in container".to_string()),
        "{:?}",
        fired(&l, &hit)
    );
    let mut no_tty = f;
    no_tty[5] = ("proc.tty", "0");
    assert!(
        !fired(&l, &event("execve", &no_tty)).contains(&"Terminal shell in container".to_string())
    );
    // The same exec on the host is not in a container.
    let mut host = f;
    host[4] = ("container.id", "host");
    assert!(
        !fired(&l, &event("execve", &host)).contains(&"Terminal shell in container".to_string())
    );
}

#[test]
fn symlink_over_sensitive_files() {
    let l = stable();
    let hit = event(
        "symlinkat",
        &[
            ("evt.arg.target", "/etc/shadow"),
            ("evt.arg.linkpath", "/tmp/x"),
        ],
    );
    assert_eq!(fired(&l, &hit), ["Create Symlink Over Sensitive Files"]);
    let benign = event(
        "symlinkat",
        &[("evt.arg.target", "/tmp/a"), ("evt.arg.linkpath", "/tmp/x")],
    );
    assert!(fired(&l, &benign).is_empty());
}

#[test]
fn falco_default_first_match_only() {
    // Both sensitive-read rules can match; with Falco's default only the
    // first in definition order is reported.
    let l = load(&upstream(&[STABLE]), &LoadOptions::default()).unwrap();
    let hit = open(
        &[
            ("fd.name", "/etc/shadow"),
            ("fd.directory", "/etc"),
            ("fd.filename", "shadow"),
        ],
        false,
    );
    assert_eq!(fired(&l, &hit).len(), 1);
}
