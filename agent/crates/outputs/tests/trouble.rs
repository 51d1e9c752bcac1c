//! Sinks under trouble: a dead or hanging HTTP receiver, a stuck program. `send` stays
//! immediate, the other sinks get every alert, and what is lost is counted. Plus shutdown.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{alert, quiet_config, refused_port, wait_until, Capture, Mode, Receiver};
use saker_outputs::{Outputs, OutputsConfig, SinkStats};

const N: u64 = 10_000;
const WAIT: Duration = Duration::from_secs(20);

fn line_count(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

fn stat<'a>(stats: &'a [SinkStats], name: &str) -> &'a SinkStats {
    stats.iter().find(|s| s.name == name).unwrap()
}

/// Sends N alerts; returns the slowest single `send`.
fn blast(out: &Outputs) -> Duration {
    let mut worst = Duration::ZERO;
    for i in 0..N {
        let a = alert(i, 4);
        let t0 = Instant::now();
        out.send(a);
        worst = worst.max(t0.elapsed());
    }
    worst
}

fn config_with_file(dir: &Path, url: String) -> OutputsConfig {
    let mut cfg = quiet_config();
    cfg.json_output = true;
    cfg.output_timeout = 500;
    cfg.outputs_queue.capacity = 100;
    cfg.file_output.enabled = true;
    cfg.file_output.keep_alive = true;
    cfg.file_output.filename = dir.join("events.json").display().to_string();
    cfg.http_output.enabled = true;
    cfg.http_output.url = url;
    cfg.http_output.max_consecutive_timeouts = 0;
    cfg
}

#[test]
fn http_down_connection_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config_with_file(dir.path(), format!("http://127.0.0.1:{}/", refused_port()));
    // The file queue must hold the whole burst: this test is about the file losing nothing.
    cfg.outputs_queue.capacity = N as usize;
    let cap = Capture::default();
    cfg.stdout_output.enabled = true;
    let out = Outputs::start_with_stdout(&cfg, Box::new(cap.clone())).unwrap();
    let worst = blast(&out);
    assert!(worst < Duration::from_millis(250), "slowest send {worst:?}");
    let path = dir.path().join("events.json");
    assert!(wait_until(WAIT, || line_count(&path) == N as usize));
    assert!(wait_until(WAIT, || cap.text().lines().count() == N as usize));
    // Every alert the HTTP sink got is accounted for: failed, dropped or still queued.
    assert!(wait_until(WAIT, || {
        let s = out.stats();
        let h = stat(&s, "http");
        h.failed + h.dropped_queue_full == N && h.queued == 0
    }));
    let s = out.stats();
    assert_eq!(stat(&s, "http").sent, 0);
    assert_eq!(stat(&s, "file").sent, N);
    assert_eq!(stat(&s, "file").dropped_queue_full, 0);
    assert_eq!(stat(&s, "stdout").sent, N);
}

#[test]
fn http_hanging_times_out_and_drops_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(Mode::Hang, None);
    let mut cfg = config_with_file(dir.path(), rx.url("http"));
    // Queues of 100: the HTTP one fills at once; the file (open/append/close per alert,
    // Falco's default) may drop some of the burst too, but loses nothing it accepted.
    cfg.file_output.keep_alive = false;
    let out = Outputs::start(&cfg).unwrap();
    let t0 = Instant::now();
    let worst = blast(&out);
    assert!(worst < Duration::from_millis(250), "slowest send {worst:?}");
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "burst took {:?}",
        t0.elapsed()
    );

    // The file keeps up with what its queue accepted; HTTP times out and drops the rest.
    let path = dir.path().join("events.json");
    assert!(wait_until(WAIT, || {
        let s = out.stats();
        let f = stat(&s, "file");
        f.queued == 0 && line_count(&path) as u64 == f.sent
    }));
    assert!(wait_until(WAIT, || stat(&out.stats(), "http").timeouts >= 2));
    let s = out.stats();
    let h = stat(&s, "http");
    assert_eq!(h.sent, 0);
    assert!(h.dropped_queue_full >= N - 200, "{h:?}");
    assert!(h.failed >= 2 && h.failed == h.timeouts, "{h:?}");
    assert_eq!(
        out.queue_drops_total(),
        h.dropped_queue_full + stat(&s, "file").dropped_queue_full
    );

    let t0 = Instant::now();
    let r = out.shutdown(Duration::from_millis(300));
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "shutdown took {:?}",
        t0.elapsed()
    );
    let undelivered: Vec<_> = r
        .undelivered_per_sink
        .iter()
        .map(|(n, c)| (*n, *c > 0))
        .collect();
    assert_eq!(undelivered, [("file", false), ("http", true)]);
}

#[test]
fn file_gets_every_alert_while_http_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(Mode::Hang, None);
    let mut cfg = config_with_file(dir.path(), rx.url("http"));
    cfg.outputs_queue.capacity = N as usize + 1;
    let out = Outputs::start(&cfg).unwrap();
    let worst = blast(&out);
    assert!(worst < Duration::from_millis(250), "slowest send {worst:?}");
    let path = dir.path().join("events.json");
    assert!(wait_until(WAIT, || line_count(&path) == N as usize));
    assert!(wait_until(WAIT, || stat(&out.stats(), "http").timeouts >= 1));
    let r = out.shutdown(Duration::from_millis(200));
    let h = r
        .undelivered_per_sink
        .iter()
        .find(|(n, _)| *n == "http")
        .unwrap();
    assert!(h.1 > N - 100, "{r:?}");
}

#[test]
fn stuck_program_blocks_only_itself() {
    let mut cfg = quiet_config();
    cfg.stdout_output.enabled = true;
    cfg.program_output.enabled = true;
    cfg.program_output.keep_alive = true;
    // Never reads its stdin: the pipe fills and every write blocks.
    cfg.program_output.program = "sleep 20".into();
    cfg.outputs_queue.capacity = 1000;
    cfg.buffered_outputs = false;
    let cap = Capture::default();
    let out = Outputs::start_with_stdout(&cfg, Box::new(cap.clone())).unwrap();
    let mut worst = Duration::ZERO;
    for round in 0..10 {
        for i in 0..1000 {
            let t0 = Instant::now();
            out.send(alert(round * 1000 + i, 4));
            worst = worst.max(t0.elapsed());
        }
        // Let stdout drain between rounds: its queue is 1000 too.
        assert!(wait_until(WAIT, || stat(&out.stats(), "stdout").queued == 0));
    }
    assert!(worst < Duration::from_millis(250), "slowest send {worst:?}");
    assert!(wait_until(WAIT, || cap.text().lines().count() == N as usize));
    let s = out.stats();
    assert!(stat(&s, "program").dropped_queue_full > 0, "{s:?}");
    let t0 = Instant::now();
    let r = out.shutdown(Duration::from_millis(300));
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_eq!(r.undelivered_per_sink[0], ("stdout", 0));
    assert!(r.undelivered_per_sink[1].1 > 0, "{r:?}");
}

#[test]
fn shutdown_drains_queues_within_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.json");
    let mut cfg = quiet_config();
    cfg.json_output = true;
    cfg.buffered_outputs = true;
    cfg.file_output.enabled = true;
    cfg.file_output.keep_alive = true;
    cfg.file_output.filename = path.display().to_string();
    let out = Outputs::start(&cfg).unwrap();
    blast(&out);
    let t0 = Instant::now();
    let r = out.shutdown(Duration::from_secs(10));
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert_eq!(r.delivered, N);
    assert_eq!(r.undelivered_per_sink, [("file", 0)]);
    assert_eq!(line_count(&path), N as usize);

    // After shutdown nothing is accepted, and the refusal is counted.
    out.send(alert(0, 4));
    assert_eq!(out.stats()[0].dropped_queue_full, 1);
    assert_eq!(out.shutdown(Duration::ZERO), r);
}
