//! End to end: `saker run` with the upstream rules on the real kernel, in
//! real containers, with its API, its sinks and its reloads.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::agent::{http_get, RunningAgent};
use common::container::Container;
use common::{falco_upstream, privileged};
use serde_json::Value;

fn stable_rules() -> String {
    falco_upstream()
        .join("falco_rules.yaml")
        .display()
        .to_string()
}

fn shadow_read(a: &Value) -> bool {
    a["rule"] == "Read sensitive file untrusted" && a["output_fields"]["fd.name"] == "/etc/shadow"
}

fn read_shadow_on_host() {
    let st = Command::new("cat")
        .arg("/etc/shadow")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn upstream_rule_fires_in_falco_json_and_health_metrics_answer() {
    if !privileged("upstream_rule_fires_in_falco_json_and_health_metrics_answer") {
        return;
    }
    let agent = RunningAgent::start("basic", &["-r", &stable_rules()]);
    let (status, body) = agent.get("/healthz");
    assert_eq!((status, body.trim()), (200, r#"{"status":"ok"}"#));
    let a = agent.expect_alert("cat /etc/shadow", read_shadow_on_host, shadow_read);
    let keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "hostname",
            "output",
            "output_fields",
            "priority",
            "rule",
            "source",
            "tags",
            "time"
        ]
    );
    assert_eq!(a["priority"], "Warning");
    assert_eq!(a["source"], "syscall");
    let of = &a["output_fields"];
    assert_eq!(of["proc.name"], "cat");
    assert_eq!(of["proc.cmdline"], "cat /etc/shadow");
    assert_eq!(of["container.id"], "host");
    assert_eq!(
        of["user.name"], "root",
        "user names come from the host's passwd"
    );
    assert!(of["evt.time"].is_i64(), "evt.time is int ns: {of}");
    let time = a["time"].as_str().unwrap();
    assert!(
        time.ends_with('Z') && time.len() == 30,
        "RFC 3339 with ns: {time}"
    );
    assert!(a["output"]
        .as_str()
        .unwrap()
        .contains(": Warning Sensitive file opened for reading"));

    let (status, metrics) = agent.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains(r#"falcosecurity_falco_rules_matches_total{rule_name="Read sensitive file untrusted",priority="Warning",source="syscall"}"#),
        "{metrics}"
    );
    for name in [
        "falcosecurity_scap_n_evts_total",
        "falcosecurity_scap_n_drops_total",
        "falcosecurity_falco_outputs_queue_num_drops_total",
        "saker_capture_records_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    let (status, v) = agent.get("/versions");
    assert_eq!(status, 200);
    assert!(v.contains("\"engine_version\":\"0.57.0\""), "{v}");

    // The history has it too.
    let (status, body) = agent.get("/v1/alerts?rule=Read%20sensitive%20file%20untrusted&since=5m");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("/etc/shadow"), "{body}");
    let (status, body) = agent.get("/v1/alerts?since=yesterday-ish");
    assert_eq!(status, 400);
    assert!(body.contains("\"parameter\":\"since\""), "{body}");
    assert!(agent.stop().success());
}

#[test]
fn gate_answers_for_a_real_container_namespace() {
    if !privileged("gate_answers_for_a_real_container_namespace") {
        return;
    }
    let svc = common::container::PodmanService::start().expect("podman system service");
    let c = Container::start(
        "gate",
        &[
            ("io.kubernetes.pod.namespace", "shadow-abc"),
            ("io.kubernetes.pod.name", "web-0"),
        ],
    );
    let sockets = format!("container.docker_sockets=[{}]", svc.socket.display());
    let dir = common::TempDir::new("gate-store");
    let store = format!("store.path={}", dir.path().join("store").display());
    let args = [
        "-r",
        &stable_rules(),
        "-o",
        &sockets,
        "-o",
        "container.cri_sockets=[]",
        "-o",
        &store,
    ];
    let agent = RunningAgent::start("gate", &args);
    let since = saker_since();
    // Metadata is fetched off the event path; a first command warms it.
    c.exec("echo 'root:*:19000:0:99999:7:::' > /etc/shadow");
    std::thread::sleep(Duration::from_secs(2));
    let a = agent.expect_alert(
        "cat /etc/shadow in the container",
        || {
            c.exec("cat /etc/shadow > /dev/null");
        },
        |a| shadow_read(a) && a["output_fields"]["k8s.ns.name"] == "shadow-abc",
    );
    let of = &a["output_fields"];
    assert_eq!(of["container.id"].as_str().unwrap(), &c.id[..12]);
    assert_eq!(of["k8s.pod.name"], "web-0");
    assert_eq!(of["container.image.repository"], "localhost/saker-test");
    assert_eq!(of["container.image.tag"], "1");

    // Give the store its batch interval.
    std::thread::sleep(Duration::from_secs(1));
    let (status, body) = agent.get(&format!(
        "/v1/gate/runtime?namespace=shadow-abc&since={since}&severity_threshold=WARNING"
    ));
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["tool"], "falco");
    assert_eq!(v["passed"], false, "{v}");
    assert_eq!(v["skipped"], false, "{v}");
    assert!(v["alert_count"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["summary"]["warning"].as_u64().unwrap() >= 1, "{v}");
    assert!(
        v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.to_string().contains("/etc/shadow")),
        "{v}"
    );

    let (_, body) = agent.get(&format!(
        "/v1/gate/runtime?namespace=other-ns&since={since}&severity_threshold=WARNING"
    ));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["passed"].clone(), v["alert_count"].clone()),
        (Value::Bool(true), Value::from(0)),
        "{v}"
    );

    let (_, body) = agent.get(&format!(
        "/v1/gate/runtime?namespace=shadow-abc&since={since}&severity_threshold=CRITICAL"
    ));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["passed"], true, "{v}");
    assert_eq!(v["alert_count"], 0, "{v}");

    // After a restart the first run's window is still judged (the alert
    // fails it, another namespace passes), not skipped; a window reaching
    // across the restart is skipped for the namespace without alerts.
    let until = saker_since();
    let (quiet_from, quiet_to) = quiet_window(&agent, "other-ns");
    // Heartbeats (once a second, and one at the stop) carry the coverage
    // past the quiet window.
    std::thread::sleep(Duration::from_secs(2));
    assert!(agent.stop().success());
    let agent = RunningAgent::start("gate-2", &args);
    let gate = |ns: &str, window: &str| -> Value {
        let (status, body) = agent.get(&format!(
            "/v1/gate/runtime?namespace={ns}&severity_threshold=WARNING&since={since}{window}"
        ));
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    let v = gate("shadow-abc", &format!("&until={until}"));
    assert_eq!(
        (&v["passed"], &v["skipped"]),
        (&Value::Bool(false), &Value::Bool(false)),
        "{v}"
    );
    assert!(v["alert_count"].as_u64().unwrap() >= 1, "{v}");
    let (status, body) = agent.get(&format!(
        "/v1/gate/runtime?namespace=other-ns&severity_threshold=WARNING\
         &since={quiet_from}&until={quiet_to}"
    ));
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (&v["passed"], &v["skipped"]),
        (&Value::Bool(true), &Value::Bool(false)),
        "{v}"
    );
    let v = gate("other-ns", "");
    assert_eq!(
        (&v["passed"], &v["skipped"]),
        (&Value::Bool(true), &Value::Bool(true)),
        "{v}"
    );
    let why = v["reason"].as_str().unwrap();
    assert!(
        why.contains("agent restarted") && why.contains("stopped cleanly"),
        "{why}"
    );
    // Alerts fail a window across the restart all the same.
    let v = gate("shadow-abc", "");
    assert_eq!(
        (&v["passed"], &v["skipped"]),
        (&Value::Bool(false), &Value::Bool(false)),
        "{v}"
    );
    drop(c);
    assert!(agent.stop().success());
}

/// A two-second window [from, to) that the running `agent` vouches for in
/// namespace `ns`: it passes, not skipped. Drops are kept per minute
/// (`[first, last]` of the losses in it), so a later loss in the same minute
/// would reach back over the window if an earlier one came before it: the
/// window's minutes must have had no loss up to `to`. A window that had
/// one (the host was busier than the agent could follow, and it said so)
/// is replaced by one in the next minute.
fn quiet_window(agent: &RunningAgent, ns: &str) -> (String, String) {
    let vouched = |since: &str, until: &str| -> Value {
        let (status, body) = agent.get(&format!(
            "/v1/gate/runtime?namespace={ns}&severity_threshold=WARNING&since={since}&until={until}"
        ));
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    for _ in 0..3 {
        let from = saker_since();
        std::thread::sleep(Duration::from_secs(2));
        let to = saker_since();
        // Drops are recorded once a second: past the next check.
        std::thread::sleep(Duration::from_millis(1500));
        let v = vouched(&from, &to);
        let why = v["reason"].as_str().unwrap_or_default().to_string();
        // From the start of `from`'s minute ("YYYY-MM-DDTHH:MM"); the agent
        // may have attached within it, which is no loss.
        let minute = format!("{}:00Z", &from[..16]);
        let m = vouched(&minute, &to);
        let minute_why = m["reason"].as_str().unwrap_or_default();
        if v["skipped"] == false && !minute_why.contains("dropped") {
            assert_eq!(v["passed"], true, "{v}");
            return (from, to);
        }
        assert!(
            why.contains("dropped") || minute_why.contains("dropped"),
            "not vouched for: {v}"
        );
        eprintln!("{minute}..{to}: {why}{minute_why}; another window, in the next minute");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        std::thread::sleep(Duration::from_secs(61 - now % 60));
    }
    panic!("the agent reported dropped events in three windows in a row");
}

/// RFC 3339 "now" for a `since` that the agent covers.
fn saker_since() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%S.%NZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Requests a test receiver got: (headers, body).
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A loopback HTTP receiver recording each request.
fn receiver() -> (u16, Received) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut s) = conn else { continue };
            let g = g.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                loop {
                    let mut head = String::new();
                    let mut len = 0usize;
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                        head.push_str(&line);
                    }
                    let mut body = vec![0u8; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    g.lock()
                        .unwrap()
                        .push((head, String::from_utf8_lossy(&body).into_owned()));
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                }
            });
        }
    });
    (port, got)
}

#[test]
fn falcosidekick_receives_the_shape_it_requires() {
    if !privileged("falcosidekick_receives_the_shape_it_requires") {
        return;
    }
    let (port, got) = receiver();
    let url = format!("http_output.url=http://127.0.0.1:{port}/");
    let agent = RunningAgent::start(
        "sidekick",
        &[
            "-r",
            &stable_rules(),
            "-o",
            "http_output.enabled=true",
            "-o",
            &url,
        ],
    );
    agent.expect_alert("cat /etc/shadow", read_shadow_on_host, shadow_read);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while got.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let posts = got.lock().unwrap().clone();
    assert!(!posts.is_empty(), "nothing was posted");
    for (head, body) in &posts {
        assert!(head.starts_with("POST / HTTP/1.1"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
        let v: Value = serde_json::from_str(body).expect("JSON body");
        assert!(v["rule"].is_string());
        let p = v["priority"].as_str().unwrap();
        assert!([
            "Emergency",
            "Alert",
            "Critical",
            "Error",
            "Warning",
            "Notice",
            "Informational",
            "Debug"
        ]
        .contains(&p));
        assert!(v["time"].is_string());
        assert!(!v["output_fields"].as_object().unwrap().is_empty());
    }
    assert!(posts
        .iter()
        .any(|(_, b)| b.contains("Read sensitive file untrusted")));
    agent.stop();
}

#[test]
fn dead_or_hanging_http_sink_never_costs_an_alert_elsewhere() {
    if !privileged("dead_or_hanging_http_sink_never_costs_an_alert_elsewhere") {
        return;
    }
    // Accepts connections and never answers.
    let hang = TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_port = hang.local_addr().unwrap().port();
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in hang.incoming().flatten() {
            held.push(c);
        }
    });
    let dir = common::TempDir::new("trouble-file");
    let file = dir.path().join("alerts.jsonl");
    let args = [
        "-r".to_string(),
        stable_rules(),
        "-o".into(),
        "http_output.enabled=true".into(),
        "-o".into(),
        format!("http_output.url=http://127.0.0.1:{hang_port}/"),
        "-o".into(),
        "output_timeout=200".into(),
        "-o".into(),
        "file_output.enabled=true".into(),
        "-o".into(),
        "file_output.keep_alive=true".into(),
        "-o".into(),
        format!("file_output.filename={}", file.display()),
    ];
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let agent = RunningAgent::start("trouble", &argv);
    let n = 300;
    // The marker in the command line tells our alerts from anyone else's.
    let marker = format!("saker_trouble_{}", std::process::id());
    common::capture::python(&format!(
        "{marker} = {n}\nfor i in range({marker}):\n    open('/etc/shadow').close()\n"
    ));
    let ours = |a: &Value| {
        shadow_read(a)
            && a["output_fields"]["proc.cmdline"]
                .as_str()
                .is_some_and(|c| c.contains(&marker))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while agent.count_alerts(ours) < n && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        agent.count_alerts(ours),
        n,
        "stdout got every alert despite the hung HTTP sink"
    );
    std::thread::sleep(Duration::from_secs(1));
    let lines = std::fs::read_to_string(&file).unwrap();
    let in_file = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|a| ours(a))
        .count();
    assert_eq!(in_file, n, "the file sink got every alert");
    // Timeouts are counted once a request gives up (after Falco's retry
    // loop); poll until the hung sink's first ones show.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let (metrics, http_lost) = loop {
        let (_, metrics) = agent.get("/metrics");
        let http_lost: u64 = metrics
            .lines()
            .filter(|l| {
                l.starts_with("saker_output_alerts_total{sink=\"http\"")
                    && !l.contains("result=\"sent\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        if http_lost > 0 || std::time::Instant::now() > deadline {
            break (metrics, http_lost);
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        http_lost > 0,
        "the hung sink's timeouts and failures are counted:\n{metrics}"
    );
    assert!(
        metrics.contains("falcosecurity_falco_outputs_queue_num_drops_total"),
        "{metrics}"
    );
    agent.stop();
}

const RULE_A: &str = r#"
- rule: Marker A opened
  desc: test
  condition: evt.type in (open, openat) and fd.name endswith /saker-marker-a
  output: marker a opened (file=%fd.name)
  priority: WARNING
"#;

const RULE_B: &str = r#"
- rule: Marker B opened
  desc: test
  condition: evt.type in (open, openat) and fd.name endswith /saker-marker-b
  output: marker b opened (file=%fd.name)
  priority: ERROR
"#;

#[test]
fn reload_keeps_old_rules_on_error_and_adds_new_ones() {
    if !privileged("reload_keeps_old_rules_on_error_and_adds_new_ones") {
        return;
    }
    let dir = common::TempDir::new("reload");
    let rules = dir.path().join("rules.yaml");
    let marker_a = dir.path().join("saker-marker-a");
    let marker_b = dir.path().join("saker-marker-b");
    std::fs::write(&marker_a, "a").unwrap();
    std::fs::write(&marker_b, "b").unwrap();
    std::fs::write(&rules, RULE_A).unwrap();
    // Watching off: this test counts SIGHUP reloads exactly.
    let agent = RunningAgent::start(
        "reload",
        &[
            "-r",
            rules.to_str().unwrap(),
            "-o",
            "watch_config_files=false",
        ],
    );
    let open = |p: &std::path::Path| {
        std::fs::read(p).unwrap();
    };
    agent.expect_alert(
        "marker a",
        || open(&marker_a),
        |a| a["rule"] == "Marker A opened",
    );

    std::fs::write(
        &rules,
        "- rule: broken\n  condition: (evt.type = open\n  output: x\n  priority: INFO\n  desc: d\n",
    )
    .unwrap();
    agent.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_secs(2));
    let before = agent.count_alerts(|a| a["rule"] == "Marker A opened");
    open(&marker_a);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while agent.count_alerts(|a| a["rule"] == "Marker A opened") == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the old rules stopped matching after a broken reload"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, m) = agent.get("/metrics");
    assert!(
        m.contains("saker_rules_reloads_total{result=\"failed\"} 1"),
        "{m}"
    );
    assert!(
        agent.stderr_text().contains("reload rejected"),
        "the error is logged"
    );

    std::fs::write(&rules, format!("{RULE_A}\n{RULE_B}")).unwrap();
    agent.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_secs(2));
    let b = agent.expect_alert(
        "marker b after reload",
        || open(&marker_b),
        |a| a["rule"] == "Marker B opened",
    );
    assert_eq!(b["priority"], "Error");
    let (_, m) = agent.get("/metrics");
    assert!(
        m.contains("saker_rules_reloads_total{result=\"ok\"} 1"),
        "{m}"
    );
    assert!(agent.stop().success());
}

/// A rule that only wants datagrams to a new peer: the kernel may leave out
/// sends that name no address.
const RULE_NEW_PEER: &str = r#"
- rule: Datagram to a new peer
  desc: test
  condition: evt.type = sendto and fd.name_changed = true and proc.args contains saker-dgram
  output: datagram to a new peer (connection=%fd.name)
  priority: WARNING
"#;

/// A rule that wants every send: nothing may be left out any more.
const RULE_EVERY_SEND: &str = r#"
- rule: Every datagram send
  desc: test
  condition: evt.type = sendto and proc.args contains saker-dgram-every
  output: datagram sent (connection=%fd.name)
  priority: NOTICE
"#;

/// `n` sends on a connected UDP socket (sendto without an address), then
/// one sendto that names its peer, from a process whose args carry `marker`.
fn udp_sends(n: usize, marker: &str) {
    let code = format!(
        "import socket\n\
         r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(('127.0.0.1', 0))\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(r.getsockname())\n\
         for _ in range({n}): s.send(b'x')\n\
         u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b'y', r.getsockname())\n"
    );
    let st = Command::new("python3")
        .args(["-c", &code, marker])
        .status()
        .unwrap();
    assert!(st.success());
}

/// A counter without labels from /metrics.
fn metric(agent: &RunningAgent, name: &str) -> u64 {
    let (_, m) = agent.get("/metrics");
    let prefix = format!("{name} ");
    m.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{m}"))
}

fn skipped_no_address(agent: &RunningAgent) -> u64 {
    metric(agent, "saker_capture_skipped_no_address_total")
}

fn wait_reloads_ok(agent: &RunningAgent, n: u64) {
    let want = format!("saker_rules_reloads_total{{result=\"ok\"}} {n}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, m) = agent.get("/metrics");
        if m.contains(&want) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "no reload:\n{m}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn address_less_sends_are_left_out_only_while_no_rule_needs_them() {
    if !privileged("address_less_sends_are_left_out_only_while_no_rule_needs_them") {
        return;
    }
    const SENDS: usize = 300;
    let dir = common::TempDir::new("dgram");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, RULE_NEW_PEER).unwrap();
    let agent = RunningAgent::start(
        "dgram",
        &[
            "-r",
            rules.to_str().unwrap(),
            "-o",
            "watch_config_files=false",
        ],
    );
    // Only the rule's own kind of event is reported, and it still fires.
    let before = skipped_no_address(&agent);
    let a = agent.expect_alert(
        "the addressed sendto",
        || udp_sends(SENDS, "saker-dgram"),
        |a| a["rule"] == "Datagram to a new peer",
    );
    assert!(a["output_fields"]["fd.name"]
        .as_str()
        .unwrap()
        .contains("127.0.0.1"));
    // The kernel counters reach /metrics once a second.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut skipped = 0;
    while skipped < SENDS as u64 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        skipped = skipped_no_address(&agent) - before;
    }
    assert!(
        skipped >= SENDS as u64,
        "the kernel left out {skipped} address-less sends, expected at least {SENDS}\n{}",
        agent.stderr_text()
    );

    // A rule that needs them: after the reload every send is reported.
    std::fs::write(&rules, format!("{RULE_NEW_PEER}\n{RULE_EVERY_SEND}")).unwrap();
    agent.signal(libc::SIGHUP);
    wait_reloads_ok(&agent, 1);
    // Past the counters' next refresh, so `before` covers the old rules.
    std::thread::sleep(Duration::from_millis(1100));
    let before = skipped_no_address(&agent);
    let every = |a: &Value| a["rule"] == "Every datagram send";
    // The kernel's loss counter (a drop alert is rate-limited; this is not).
    let drops = || metric(&agent, "falcosecurity_scap_n_drops_total");
    // Every send, addressed or not. A round may come up short only when the
    // kernel lost events in it; then it is run again.
    for round in 0.. {
        let (base, drops_before) = (agent.count_alerts(every), drops());
        udp_sends(SENDS, "saker-dgram-every");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while agent.count_alerts(every) - base < SENDS + 1 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        // The counters reach /metrics once a second.
        std::thread::sleep(Duration::from_millis(1100));
        let got = agent.count_alerts(every) - base;
        if got == SENDS + 1 {
            break;
        }
        assert!(
            got < SENDS + 1 && drops() > drops_before && round < 2,
            "{got} alerts for {} sends (kernel drops: {})",
            SENDS + 1,
            drops() - drops_before
        );
        eprintln!(
            "dgram: {got} of {} alerts and the kernel lost events; again",
            SENDS + 1
        );
    }
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        skipped_no_address(&agent),
        before,
        "nothing is left out once a rule needs it"
    );
    assert!(agent.stop().success());
}

#[test]
fn a_changed_rules_file_reloads_without_a_signal() {
    if !privileged("a_changed_rules_file_reloads_without_a_signal") {
        return;
    }
    let dir = common::TempDir::new("watch");
    let rules = dir.path().join("rules.yaml");
    let marker_b = dir.path().join("saker-marker-b");
    std::fs::write(&marker_b, "b").unwrap();
    std::fs::write(&rules, RULE_A).unwrap();
    let agent = RunningAgent::start("watch", &["-r", rules.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(&rules, format!("{RULE_A}\n{RULE_B}")).unwrap();
    wait_reloads_ok(&agent, 1);
    agent.expect_alert(
        "marker b after the watched file changed",
        || {
            std::fs::read(&marker_b).unwrap();
        },
        |a| a["rule"] == "Marker B opened",
    );
    assert!(agent.stop().success());
}

#[test]
fn api_token_is_enforced_everywhere_but_healthz() {
    if !privileged("api_token_is_enforced_everywhere_but_healthz") {
        return;
    }
    let dir = common::TempDir::new("token");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let opt = format!("api.auth.token_file={}", token_file.display());
    let mut agent = RunningAgent::start("auth", &["-r", &stable_rules(), "-o", &opt]);
    assert_eq!(agent.get("/healthz").0, 200);
    for path in [
        "/metrics",
        "/versions",
        "/v1/alerts",
        "/v1/gate/runtime?namespace=x&since=5m",
    ] {
        assert_eq!(agent.get(path).0, 401, "{path} without a token");
        assert_eq!(
            http_get(agent.port, path, Some("s3cret-tokeX")).0,
            401,
            "{path} with a wrong token"
        );
    }
    agent.token = Some("s3cret-token".into());
    assert_eq!(agent.get("/metrics").0, 200);
    assert_eq!(agent.get("/v1/gate/runtime?namespace=x&since=5m").0, 200);
    agent.stop();
}

#[test]
fn config_errors_are_clear_and_fail_fast() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_saker"))
            .arg("run")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let dir = common::TempDir::new("cfg");
    let cfg = dir.path().join("saker.yaml");
    std::fs::write(&cfg, "json_output: true\nhttp_output:\n  urll: http://x\n").unwrap();
    let (code, err) = run(&["-c", cfg.to_str().unwrap(), "-r", "/nonexistent/rules.yaml"]);
    assert!(
        err.contains("unknown key http_output.urll"),
        "unknown keys warn: {err}"
    );
    assert_ne!(code, Some(0));
    assert!(
        err.contains("rules file /nonexistent/rules.yaml does not exist"),
        "{err}"
    );

    let (code, err) = run(&["-o", "webserver.listen_port=abc", "-r", &stable_rules()]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("webserver.listen_port") && err.contains("expected"),
        "bad type names the key: {err}"
    );

    let (code, err) = run(&["-o", "json_output", "-r", &stable_rules()]);
    assert_ne!(code, Some(0));
    assert!(err.contains("json_output"), "a bad -o is named: {err}");

    std::fs::write(&cfg, "webserver:\n  listen_port: [1, 2]\n").unwrap();
    let (code, err) = run(&["-c", cfg.to_str().unwrap(), "-r", &stable_rules()]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("saker.yaml") && err.contains("webserver.listen_port"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn corrupt_store_refuses_to_start_and_store_reset_recovers() {
    if !privileged("corrupt_store_refuses_to_start_and_store_reset_recovers") {
        return;
    }
    let dir = common::TempDir::new("corrupt");
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("alerts.db"), vec![0x5au8; 8192]).unwrap();
    let opt = format!("store.path={}", store.display());
    let out = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args([
            "run",
            "-r",
            &stable_rules(),
            "-o",
            &opt,
            "-o",
            "webserver.enabled=false",
            "--duration",
            "1s",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(0),
        "must refuse a corrupt store: {err}"
    );
    assert!(
        err.contains("alerts.db") && err.contains("--store-reset"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(store.join("alerts.db")).unwrap(),
        vec![0x5au8; 8192],
        "never wiped silently"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args([
            "run",
            "-r",
            &stable_rules(),
            "-o",
            &opt,
            "-o",
            "webserver.enabled=false",
            "--store-reset",
            "--duration",
            "2s",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let aside: Vec<_> = std::fs::read_dir(&store)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        aside
            .iter()
            .any(|n| n.starts_with("alerts.db") && n != "alerts.db"),
        "old file moved aside: {aside:?}"
    );
}

const STATE_RULES: &str = r#"
- rule: Ancestry marker
  desc: test
  condition: evt.type in (open, openat) and fd.name endswith /saker-ancestry-marker
  output: "name=%proc.name pname=%proc.pname a2=%proc.aname[2] a3=%proc.aname[3] cmd=%proc.cmdline exe=%proc.exepath"
  priority: WARNING
- rule: Dup write marker
  desc: test
  condition: evt.type = write and fd.name endswith /saker-dup-marker
  output: "fd=%fd.num name=%fd.name type=%fd.typechar"
  priority: WARNING
- rule: Socket write marker
  desc: test
  condition: evt.type in (write, sendto) and fd.type = ipv4 and fd.sport = SAKER_PORT
  output: "name=%fd.name proto=%fd.l4proto sport=%fd.sport rport=%fd.rport cport=%fd.cport"
  priority: WARNING
"#;

#[test]
fn state_gives_ancestry_fd_names_and_socket_tuples() {
    if !privileged("state_gives_ancestry_fd_names_and_socket_tuples") {
        return;
    }
    let dir = common::TempDir::new("state");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, STATE_RULES.replace("SAKER_PORT", &port.to_string())).unwrap();
    let marker = dir.path().join("saker-ancestry-marker");
    std::fs::write(&marker, "x").unwrap();
    let agent = RunningAgent::start("state", &["-r", rules.to_str().unwrap()]);

    // Three shells, then a short-lived cat; `; true` keeps each shell from
    // exec'ing its last command in place.
    let script = format!(
        "bash -c 'dash -c \"cat {} > /dev/null; true\"; true'; true",
        marker.display()
    );
    let a = agent.expect_alert(
        "cat under three shells",
        || {
            let st = Command::new("sh").arg("-c").arg(&script).status().unwrap();
            assert!(st.success());
        },
        |a| a["rule"] == "Ancestry marker" && a["output_fields"]["proc.name"] == "cat",
    );
    let of = &a["output_fields"];
    assert_eq!(of["proc.pname"], "dash", "{of}");
    assert_eq!(of["proc.aname[2]"], "bash", "{of}");
    assert_eq!(of["proc.aname[3]"], "sh", "{of}");
    assert_eq!(of["proc.cmdline"], format!("cat {}", marker.display()));
    assert_eq!(
        of["proc.exepath"], "/usr/bin/cat",
        "short-lived, still fully enriched: {of}"
    );

    // open, dup2, write: the write's fd is the dup, and its name the file.
    let dup = dir.path().join("saker-dup-marker");
    let a = agent.expect_alert(
        "write through a dup2'd fd",
        || {
            common::capture::python(&format!(
                "import os\nfd = os.open({:?}, os.O_WRONLY | os.O_CREAT, 0o600)\nos.dup2(fd, 57)\nos.close(fd)\nos.write(57, b'x')\n",
                dup.to_str().unwrap()
            ));
        },
        |a| a["rule"] == "Dup write marker",
    );
    assert_eq!(a["output_fields"]["fd.num"], 57);
    assert_eq!(a["output_fields"]["fd.name"], dup.to_str().unwrap());
    assert_eq!(a["output_fields"]["fd.typechar"], "f");

    // A connected socket: ip:port->ip:port, protocol and ports.
    let accept = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 16];
        let _ = std::io::Read::read(&mut s, &mut buf);
    });
    let a = agent.expect_alert(
        "write on a connected socket",
        || {
            common::capture::python(&format!(
                "import socket\ns = socket.create_connection(('127.0.0.1', {port}))\ns.send(b'hello')\ns.close()\n"
            ));
        },
        |a| a["rule"] == "Socket write marker",
    );
    let of = &a["output_fields"];
    let cport = of["fd.cport"]
        .as_u64()
        .unwrap_or_else(|| panic!("fd.cport: {of}"));
    assert_eq!(
        of["fd.name"],
        format!("127.0.0.1:{cport}->127.0.0.1:{port}"),
        "{of}"
    );
    assert_eq!(of["fd.l4proto"], "tcp");
    assert_eq!(of["fd.sport"], port);
    assert_eq!(of["fd.rport"], port);
    let _ = accept.join();
    assert!(agent.stop().success());
}

mod tls_client {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::sync::Arc;

    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

    pub struct Pki {
        pub ca_pem: String,
        pub ca_der: CertificateDer<'static>,
        pub server_pem: String,
        pub server_key_pem: String,
        pub client_der: CertificateDer<'static>,
        pub client_key_der: Vec<u8>,
    }

    /// A CA, a server certificate for 127.0.0.1, and a client certificate.
    pub fn pki() -> Pki {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "saker e2e CA");
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let sk = KeyPair::generate().unwrap();
        let mut sp = CertificateParams::new(vec!["127.0.0.1".into()]).unwrap();
        sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = sp.signed_by(&sk, &ca).unwrap();
        let ck = KeyPair::generate().unwrap();
        let mut cp = CertificateParams::new(vec!["verifier".into()]).unwrap();
        cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client = cp.signed_by(&ck, &ca).unwrap();
        Pki {
            ca_pem: ca.pem(),
            ca_der: ca.der().clone(),
            server_pem: server.pem(),
            server_key_pem: sk.serialize_pem(),
            client_der: client.der().clone(),
            client_key_der: ck.serialize_der(),
        }
    }

    /// GET over TLS; `Err` when the handshake or the exchange fails.
    pub fn get(port: u16, path: &str, p: &Pki, with_client_cert: bool) -> Result<String, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(p.ca_der.clone()).unwrap();
        let b = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let cfg = if with_client_cert {
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(p.client_key_der.clone()));
            b.with_client_auth_cert(vec![p.client_der.clone()], key)
                .unwrap()
        } else {
            b.with_no_client_auth()
        };
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(cfg), name).map_err(|e| e.to_string())?;
        let sock = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        write!(
            tls,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .map_err(|e| e.to_string())?;
        let mut out = String::new();
        match tls.read_to_string(&mut out) {
            Ok(_) => {}
            // Servers often close without close_notify; what was read counts.
            Err(e) if !out.is_empty() => drop(e),
            Err(e) => return Err(e.to_string()),
        }
        if out.is_empty() {
            return Err("empty answer".into());
        }
        Ok(out)
    }
}

#[test]
fn api_serves_tls_with_client_certificates() {
    if !privileged("api_serves_tls_with_client_certificates") {
        return;
    }
    let p = tls_client::pki();
    let dir = common::TempDir::new("tls");
    let write = |name: &str, pem: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path.display().to_string()
    };
    let cert = format!("api.tls.cert={}", write("server.pem", &p.server_pem));
    let key = format!("api.tls.key={}", write("server.key", &p.server_key_pem));
    let ca = format!("api.tls.client_ca={}", write("ca.pem", &p.ca_pem));
    let agent = RunningAgent::start(
        "tls",
        &["-r", &stable_rules(), "-o", &cert, "-o", &key, "-o", &ca],
    );
    let ok = tls_client::get(agent.port, "/healthz", &p, true).expect("mTLS request");
    assert!(
        ok.starts_with("HTTP/1.1 200") && ok.contains(r#"{"status":"ok"}"#),
        "{ok}"
    );
    let metrics = tls_client::get(agent.port, "/metrics", &p, true).unwrap();
    assert!(metrics.contains("falcosecurity_scap_n_evts_total"));
    // No client certificate: the handshake is refused.
    let refused = tls_client::get(agent.port, "/healthz", &p, false);
    assert!(
        refused.is_err() || !refused.as_ref().unwrap().contains("200 OK"),
        "{refused:?}"
    );
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = std::panic::catch_unwind(|| http_get(agent.port, "/healthz", None));
    assert!(plain.is_err() || plain.unwrap().0 != 200);
    agent.stop();
}

/// `evt.time` of every alert of `rule` the API has, paging to the end.
fn stored_times(agent: &RunningAgent, rule: &str) -> std::collections::BTreeSet<i64> {
    let mut out = std::collections::BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let path = format!(
            "/v1/alerts?rule={}&limit=1000{cursor}",
            rule.replace(' ', "%20")
        );
        let (status, body) = agent.get(&path);
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        for a in v["alerts"].as_array().unwrap() {
            out.insert(a["output_fields"]["evt.time"].as_i64().unwrap());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

#[test]
fn alerts_acknowledged_before_kill_9_survive_the_restart() {
    if !privileged("alerts_acknowledged_before_kill_9_survive_the_restart") {
        return;
    }
    let dir = common::TempDir::new("durable");
    let store = format!("store.path={}", dir.path().join("store").display());
    let rule = "Read sensitive file untrusted";
    let agent = RunningAgent::start("durable-1", &["-r", &stable_rules(), "-o", &store]);
    // A quiet stretch the agent watches before the storm (whose drops, if
    // any, come after it).
    let (watched_from, watched_to) = quiet_window(&agent, "quiet-ns");
    // The durable end trails by up to ~1.5 s (a heartbeat a second, each
    // vouching for events 0.5 s older than its drain), and a storm may hold
    // the next one back.
    std::thread::sleep(Duration::from_secs(3));
    let storm = std::thread::spawn(|| {
        common::capture::python("for i in range(20000):\n    open('/etc/shadow').close()\n");
    });
    // Whatever the API returns is committed: that is "acknowledged".
    let mut acknowledged = std::collections::BTreeSet::new();
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(200));
        acknowledged = stored_times(&agent, rule);
        if acknowledged.len() > 500 {
            break;
        }
    }
    agent.kill9();
    let _ = storm.join();
    assert!(
        acknowledged.len() > 100,
        "the storm produced acknowledged alerts: {}",
        acknowledged.len()
    );

    let agent = RunningAgent::start("durable-2", &["-r", &stable_rules(), "-o", &store]);
    let after = stored_times(&agent, rule);
    let missing: Vec<_> = acknowledged.difference(&after).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged alerts lost by kill -9: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // Coverage outlives the process too: the stretch watched before the
    // kill is still vouched for; a window reaching across it is not.
    let gate = |window: &str| -> Value {
        let (status, body) = agent.get(&format!(
            "/v1/gate/runtime?namespace=quiet-ns&severity_threshold=WARNING&{window}"
        ));
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    let v = gate(&format!("since={watched_from}&until={watched_to}"));
    assert_eq!(
        (&v["passed"], &v["skipped"]),
        (&Value::Bool(true), &Value::Bool(false)),
        "{v}"
    );
    let v = gate(&format!("since={watched_from}"));
    assert_eq!(v["skipped"], true, "{v}");
    let why = v["reason"].as_str().unwrap();
    assert!(
        why.contains("agent restarted") && why.contains("did not stop cleanly"),
        "{why}"
    );
    agent.stop();
}

/// Subscribes to the live stream and returns the first alert that arrives
/// after `trigger` runs.
fn first_streamed(agent: &RunningAgent, accept: &str, trigger: impl Fn()) -> (String, Value) {
    use std::io::Read as _;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", agent.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    write!(
        s,
        "GET /v1/alerts/stream?rule=Read%20sensitive%20file%20untrusted HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 4096];
    let mut last_trigger = std::time::Instant::now() - Duration::from_secs(10);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no streamed alert: {}",
            String::from_utf8_lossy(&raw)
        );
        if last_trigger.elapsed() > Duration::from_secs(3) {
            trigger();
            last_trigger = std::time::Instant::now();
        }
        if let Ok(n) = s.read(&mut buf) {
            raw.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some(start) = text.find("{\"hostname\"") {
            if let Some(len) = text[start..].find('\n') {
                let v: Value = serde_json::from_str(&text[start..start + len]).unwrap();
                return (text, v);
            }
        }
    }
}

#[test]
fn live_stream_serves_ndjson_and_sse() {
    if !privileged("live_stream_serves_ndjson_and_sse") {
        return;
    }
    let agent = RunningAgent::start("stream", &["-r", &stable_rules()]);
    let (text, v) = first_streamed(&agent, "application/x-ndjson", read_shadow_on_host);
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: application/x-ndjson"),
        "{text}"
    );
    assert_eq!(v["rule"], "Read sensitive file untrusted");
    let (text, v) = first_streamed(&agent, "text/event-stream", read_shadow_on_host);
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{text}"
    );
    assert!(text.contains("data: {\"hostname\""), "SSE framing: {text}");
    assert_eq!(v["output_fields"]["fd.name"], "/etc/shadow");
    let (status, body) = agent.get("/v1/alerts/stream?min_priority=LOUD");
    assert_eq!(status, 400);
    assert!(body.contains("min_priority"), "{body}");
    agent.stop();
}

#[test]
fn short_lived_memfd_exec_fires_the_fileless_rule() {
    if !privileged("short_lived_memfd_exec_fires_the_fileless_rule") {
        return;
    }
    // The process is killed as soon as its exec is done: /proc is gone
    // before the detector looks, so the exe facts must come from the kernel
    // record. The exec closes the child's end of a close-on-exec pipe (as
    // os.pipe makes it), which is how the parent knows the exec happened.
    let agent = RunningAgent::start("memfd", &["-r", &stable_rules()]);
    let code = "import os, signal\n\
        fd = os.memfd_create('saker_memfd', 0)\n\
        os.write(fd, open('/bin/busybox', 'rb').read())\n\
        r, w = os.pipe()\n\
        pid = os.fork()\n\
        if pid == 0:\n    os.close(r)\n    os.execve('/proc/self/fd/%d' % fd, ['sleep', '5'], {})\n\
        os.close(w)\nassert os.read(r, 1) == b''\n\
        os.kill(pid, signal.SIGKILL)\nos.waitpid(pid, 0)\n";
    let a = agent.expect_alert(
        "exec from a memfd",
        || {
            common::capture::python(code);
        },
        |a| a["rule"] == "Fileless execution via memfd_create",
    );
    assert_eq!(a["priority"], "Critical");
    assert_eq!(
        a["output_fields"]["evt.arg.flags"],
        "EXE_WRITABLE|EXE_FROM_MEMFD"
    );
    assert_eq!(a["output_fields"]["proc.exepath"], "/memfd:saker_memfd");
    agent.stop();
}

/// The snapshots seen so far, oldest first.
fn snapshots(agent: &RunningAgent) -> Vec<Value> {
    agent
        .alerts
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a["rule"] == "Falco internal: metrics snapshot")
        .cloned()
        .collect()
}

#[test]
fn metrics_snapshot_is_an_internal_alert_with_typed_counters() {
    if !privileged("metrics_snapshot_is_an_internal_alert_with_typed_counters") {
        return;
    }
    let dir = common::TempDir::new("metrics-snapshot");
    let file = dir.path().join("stats.jsonl");
    let agent = RunningAgent::start(
        "metrics-snapshot",
        &[
            "-r",
            &stable_rules(),
            "-o",
            "metrics.enabled=true",
            "-o",
            "metrics.interval=1s",
            "-o",
            "metrics.output_rule=true",
            "-o",
            &format!("metrics.output_file={}", file.display()),
        ],
    );
    // Events between snapshots, so that the counters move.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while snapshots(&agent).len() < 4 && std::time::Instant::now() < deadline {
        for _ in 0..20 {
            let _ = std::fs::read_to_string("/etc/hostname");
            let _ = Command::new("true").status();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let snaps = snapshots(&agent);
    assert!(
        snaps.len() >= 4,
        "fewer than 4 snapshots in 30s with interval=1s: {snaps:#?}\n{}",
        agent.stderr_text()
    );
    // The first has no previous snapshot to take rates from.
    let (a, b) = (&snaps[1], &snaps[2]);
    let keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "hostname",
            "output",
            "output_fields",
            "priority",
            "rule",
            "source",
            "time"
        ]
    );
    assert_eq!(a["priority"], "Informational");
    assert_eq!(a["source"], "internal");
    assert_eq!(a["output"], "Falco metrics snapshot");
    let (fa, fb) = (&a["output_fields"], &b["output_fields"]);
    for k in [
        "falco.num_evts",
        "falco.num_evts_prev",
        "scap.n_evts",
        "scap.n_drops",
        "falco.duration_sec",
        "falco.host_num_cpus",
        "falco.outputs_queue_num_drops",
        "falco.start_ts",
        "falco.host_boot_ts",
        "falco.n_threads",
        "falco.n_fds",
    ] {
        assert!(fa[k].is_u64(), "{k} is not an unsigned integer: {fa}");
    }
    for k in [
        "falco.evts_rate_sec",
        "scap.evts_rate_sec",
        "scap.n_drops_perc",
        "falco.memory_rss_mb",
    ] {
        assert!(fa[k].is_f64(), "{k} is not a float: {fa}");
    }
    assert!(fa["evt.time"].is_i64(), "{fa}");
    assert_eq!(fa["evt.source"], "syscall");
    assert!(fa["falco.version"].is_string() && fa["falco.kernel_release"].is_string());
    assert!(fa["falco.memory_rss_mb"].as_f64().unwrap() > 1.0, "{fa}");
    assert!(fa["falco.n_threads"].as_u64().unwrap() > 10, "{fa}");
    // Counters move between snapshots, and each one remembers the last.
    // The kernel's counters are published once a second, so scap.n_evts is
    // compared two snapshots apart.
    let n = |f: &Value, k: &str| f[k].as_u64().unwrap();
    let fc = &snaps[3]["output_fields"];
    assert!(
        n(fb, "falco.num_evts") > n(fa, "falco.num_evts"),
        "{fa}\n{fb}"
    );
    assert!(n(fc, "scap.n_evts") > n(fa, "scap.n_evts"), "{fa}\n{fc}");
    assert_eq!(n(fb, "falco.num_evts_prev"), n(fa, "falco.num_evts"));
    assert_eq!(n(fb, "scap.n_evts_prev"), n(fa, "scap.n_evts"));
    assert!(fb["evt.time"].as_i64() > fa["evt.time"].as_i64());
    assert!(fb["falco.evts_rate_sec"].as_f64().unwrap() > 0.0, "{fb}");

    // Operational data, not a detection: not stored for the gate, not a rule match.
    let (status, body) = agent.get("/v1/alerts?since=5m&limit=1000");
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("metrics snapshot"), "{body}");
    let (status, metrics) = agent.get("/metrics");
    assert_eq!(status, 200);
    assert!(!metrics.contains("metrics snapshot"), "{metrics}");

    // output_file: Falco's {"sample": N, "output_fields": {...}} lines.
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 4, "{text}");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["sample"], i as u64 + 1, "{l}");
        assert!(l["output_fields"]["scap.n_evts"].is_u64(), "{l}");
    }
    assert!(agent.stop().success());
}
