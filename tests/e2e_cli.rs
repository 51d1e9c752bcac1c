//! The command-line tools: `saker rules validate|list`, `saker fields`,
//! `saker gate runtime` (one agent and the cluster fan-out).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Output};

use common::falco_upstream;

fn saker(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_saker"));
    // `saker gate` honours proxy settings, as HTTP clients do; the agents
    // these tests ask are on loopback, which a CI host's proxy may not
    // exempt.
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn rules_validate_accepts_upstream_and_names_the_place_of_an_error() {
    let up = falco_upstream();
    let files: Vec<String> = [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]
    .iter()
    .map(|f| up.join(f).display().to_string())
    .collect();
    let mut args = vec!["rules", "validate"];
    args.extend(files.iter().map(String::as_str));
    let out = saker(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("ok: 93 rules"),
        "{}",
        text(&out.stderr)
    );

    let dir = common::TempDir::new("validate");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "- rule: Broken\n  desc: d\n  condition: evt.type = open and (fd.name = /x\n  output: o\n  priority: WARNING\n").unwrap();
    let out = saker(&["rules", "validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("bad.yaml:3:"), "file and line: {err}");
    assert!(err.contains("Broken"), "rule name: {err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn rules_list_and_fields() {
    let stable = falco_upstream().join("falco_rules.yaml");
    let out = saker(&["rules", "list", "-r", stable.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert_eq!(
        listing.lines().count(),
        26,
        "header + 25 stable rules:\n{listing}"
    );
    let line = listing
        .lines()
        .find(|l| l.starts_with("Read sensitive file untrusted"))
        .unwrap();
    assert!(
        line.contains("Warning")
            && line.contains("syscall")
            && line.contains("open,openat,openat2"),
        "{line}"
    );

    let out = saker(&["fields", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let names: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for f in [
        "fd.name",
        "proc.aname",
        "k8s.ns.name",
        "container.id",
        "evt.type",
    ] {
        assert!(names.iter().any(|n| n == f), "{f} in saker fields");
    }
}

type Requests = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// A fake agent on `ip`: answers /v1/gate/runtime with `verdict`.
fn fake_agent(ip: &str, verdict: serde_json::Value) -> u16 {
    recording_agent(ip, verdict).0
}

/// A fake agent that also keeps each request line it was sent.
fn recording_agent(ip: &str, verdict: serde_json::Value) -> (u16, Requests) {
    let l = TcpListener::bind((ip, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Requests::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut line = String::new();
            let mut r = BufReader::new(s.try_clone().unwrap());
            if r.read_line(&mut line).unwrap_or(0) > 0 {
                log.lock().unwrap().push(line.trim_end().to_string());
            }
            while r.read_line(&mut line).unwrap_or(0) > 2 {
                if line.ends_with("\r\n\r\n") {
                    break;
                }
            }
            let body = verdict.to_string();
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    (port, seen)
}

fn verdict(passed: bool, skipped: bool, count: u64) -> serde_json::Value {
    serde_json::json!({
        "tool": "falco", "passed": passed, "skipped": skipped,
        "reason": if passed && !skipped { serde_json::Value::Null } else { "test".into() },
        "namespace_filter": "shadow-abc", "falco_namespace": null, "label_selector": null,
        "since_timestamp": "2026-01-01T00:00:00+00:00", "since_minutes": 10, "severity_threshold": "WARNING",
        "alert_count": count, "summary": {"critical": 0, "error": 0, "warning": count, "other": 0},
        "alerts": [], "raw_lines_count": count, "stderr": ""
    })
}

#[test]
fn gate_fans_out_and_merges() {
    let pass = fake_agent("127.0.0.2", verdict(true, false, 0));
    let fail = fake_agent("127.0.0.3", verdict(false, false, 2));
    let gate = |agents: &str| {
        saker(&[
            "gate",
            "runtime",
            "--agents",
            agents,
            "--namespace",
            "shadow-abc",
            "--since",
            "10m",
            "--severity",
            "WARNING",
        ])
    };
    // All pass.
    let out = gate(&format!("127.0.0.2:{pass}"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["passed"].clone(), v["skipped"].clone()),
        (true.into(), false.into())
    );

    // One fails: the merge fails, counts add up.
    let both = format!("127.0.0.2:{pass},127.0.0.3:{fail}");
    let out = gate(&both);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(v["alert_count"], 2);
    assert!(v["reason"].as_str().unwrap().contains("127.0.0.3"), "{v}");

    // One unreachable: skipped, loudly, exit 0.
    let dead = common::agent::free_port();
    let out = gate(&format!("127.0.0.2:{pass},127.0.0.4:{dead}"));
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["passed"].clone(), v["skipped"].clone()),
        (true.into(), true.into()),
        "{v}"
    );
    assert!(
        text(&out.stderr).contains("SKIPPED"),
        "{}",
        text(&out.stderr)
    );

    // A single URL, and bad input is exit 2 naming the flag.
    let out = saker(&[
        "gate",
        "runtime",
        "--url",
        &format!("http://127.0.0.3:{fail}"),
        "--namespace",
        "shadow-abc",
        "--since",
        "10m",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let out = saker(&[
        "gate",
        "runtime",
        "--url",
        "http://127.0.0.2:1",
        "--namespace",
        "x",
        "--since",
        "not-a-time",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--since"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn gate_passes_until_through_and_checks_it() {
    let (port, seen) = recording_agent("127.0.0.2", verdict(true, false, 0));
    let url = format!("http://127.0.0.2:{port}");
    let gate = |since: &str, until: &str| {
        saker(&[
            "gate",
            "runtime",
            "--url",
            &url,
            "--namespace",
            "shadow-abc",
            "--since",
            since,
            "--until",
            until,
        ])
    };
    let out = gate("2026-01-01T00:00:00Z", "2026-01-01T00:10:00Z");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line = seen.lock().unwrap().last().cloned().unwrap_or_default();
    assert!(
        line.contains("&until=2026-01-01T00%3A10%3A00Z"),
        "the window's end reaches the agent: {line}"
    );
    // An end that is not a time, or not after the start: exit 2, naming --until.
    for (since, until) in [
        ("10m", "soon"),
        ("2026-01-01T00:10:00Z", "2026-01-01T00:00:00Z"),
    ] {
        let out = gate(since, until);
        assert_eq!(out.status.code(), Some(2), "{since} {until}");
        assert!(
            text(&out.stderr).contains("--until"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn shipped_rules_validate_alone_and_after_upstream() {
    let ours = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let out = saker(&["rules", "validate", ours.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("0 warning(s)"),
        "{}",
        text(&out.stderr)
    );
    let stable = falco_upstream().join("falco_rules.yaml");
    let out = saker(&[
        "rules",
        "validate",
        stable.to_str().unwrap(),
        ours.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("ok: 28 rules"),
        "{}",
        text(&out.stderr)
    );
}
