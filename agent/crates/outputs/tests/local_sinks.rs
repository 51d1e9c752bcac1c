//! stdout (captured), file, program and syslog sinks.

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use common::{alert, quiet_config, wait_until, Capture};
use saker_outputs::{OutputError, Outputs};

const WAIT: Duration = Duration::from_secs(10);

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn stdout_writes_text_or_json_lines() {
    for json in [false, true] {
        let mut cfg = quiet_config();
        cfg.stdout_output.enabled = true;
        cfg.json_output = json;
        let cap = Capture::default();
        let out = Outputs::start_with_stdout(&cfg, Box::new(cap.clone())).unwrap();
        assert_eq!(out.sink_names(), ["stdout"]);
        for i in 0..3 {
            out.send(alert(i, 4));
        }
        // Unbuffered: every line is flushed as it is written, no shutdown needed.
        assert!(wait_until(WAIT, || cap.text().lines().count() == 3));
        let text = cap.text();
        let first = text.lines().next().unwrap();
        if json {
            let v: serde_json::Value = serde_json::from_str(first).unwrap();
            assert_eq!(v["rule"], "Write below etc");
        } else {
            assert!(first.starts_with("02:44:58.123456789: Warning File below /etc"));
        }
        let r = out.shutdown(WAIT);
        assert_eq!(r.delivered, 3);
        assert_eq!(r.undelivered(), 0);
    }
}

/// Takes every write into its buffer, then fails to pass it on (a full disk
/// behind a buffered writer).
struct Unflushable;

impl std::io::Write for Unflushable {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("no space left on device"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn an_unbuffered_sink_counts_alerts_lost_in_a_failed_flush_as_failed() {
    let mut cfg = quiet_config();
    cfg.stdout_output.enabled = true;
    cfg.json_output = true;
    let out = Outputs::start_with_stdout(&cfg, Box::new(Unflushable)).unwrap();
    for i in 0..300 {
        out.send(alert(i, 4));
    }
    let r = out.shutdown(WAIT);
    let s = &out.stats()[0];
    // Nothing reached the writer: nothing may count as sent.
    assert_eq!((s.sent, s.failed), (0, 300), "{r:?}");
}

/// Passes writes on, except calls `fail` (a disk that fills and is freed
/// again); keeps what it passed on.
struct Flaky {
    calls: usize,
    fail: std::ops::Range<usize>,
    got: Capture,
}

impl std::io::Write for Flaky {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.calls += 1;
        if self.calls == 1 {
            // Slow at first, so that alerts queue up and are written as a batch.
            std::thread::sleep(Duration::from_millis(200));
        }
        if self.fail.contains(&self.calls) {
            return Err(std::io::Error::other("no space left on device"));
        }
        self.got.write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn alerts_buffered_when_a_write_fails_count_as_failed_not_sent() {
    let mut cfg = quiet_config();
    cfg.stdout_output.enabled = true;
    cfg.json_output = true;
    let got = Capture::default();
    let flaky = Flaky {
        calls: 0,
        fail: 2..4,
        got: got.clone(),
    };
    let out = Outputs::start_with_stdout(&cfg, Box::new(flaky)).unwrap();
    const N: u64 = 3000;
    for i in 0..N {
        out.send(alert(i, 4));
    }
    let r = out.shutdown(WAIT);
    let s = &out.stats()[0];
    let arrived = got.text().lines().count() as u64;
    assert!(s.failed > 0, "the writer failed twice: {s:?}");
    // Nothing that did not arrive counts as sent; every alert is accounted
    // for. (What a failed write's batch held counts failed even where the
    // buffer had passed part of it on.)
    assert!(s.sent <= arrived, "{s:?} {r:?}: {arrived} arrived");
    assert_eq!(s.sent + s.failed + s.dropped_queue_full, N, "{s:?} {r:?}");
}

/// Takes writes at once; every flush takes `delay`.
struct SlowFlush {
    delay: Duration,
}

impl std::io::Write for SlowFlush {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::thread::sleep(self.delay);
        Ok(())
    }
}

#[test]
fn a_slow_flush_when_the_queue_runs_dry_counts_as_a_timeout() {
    let mut cfg = quiet_config();
    cfg.stdout_output.enabled = true;
    // Buffered: the writes are quick and the flush comes when idle.
    cfg.buffered_outputs = true;
    cfg.output_timeout = 50;
    let slow = SlowFlush {
        delay: Duration::from_millis(120),
    };
    let out = Outputs::start_with_stdout(&cfg, Box::new(slow)).unwrap();
    for i in 0..3 {
        out.send(alert(i, 4));
    }
    assert!(wait_until(WAIT, || out.stats()[0].timeouts >= 1));
    let r = out.shutdown(WAIT);
    assert_eq!(out.stats()[0].sent, 3, "{r:?}");
}

#[test]
fn buffered_stdout_flushes_when_idle() {
    let mut cfg = quiet_config();
    cfg.stdout_output.enabled = true;
    cfg.buffered_outputs = true;
    let cap = Capture::default();
    let out = Outputs::start_with_stdout(&cfg, Box::new(cap.clone())).unwrap();
    for i in 0..100 {
        out.send(alert(i, 4));
    }
    assert!(wait_until(WAIT, || cap.text().lines().count() == 100));
    assert_eq!(out.stats()[0].sent, 100);
}

#[test]
fn file_sink_appends_jsonl_both_modes() {
    for keep_alive in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.json");
        std::fs::write(&path, "existing\n").unwrap();
        let mut cfg = quiet_config();
        cfg.json_output = true;
        cfg.file_output.enabled = true;
        cfg.file_output.keep_alive = keep_alive;
        cfg.file_output.filename = path.display().to_string();
        let out = Outputs::start(&cfg).unwrap();
        for i in 0..50 {
            out.send(alert(i, 2));
        }
        assert!(
            wait_until(WAIT, || lines(&path).len() == 51),
            "keep_alive={keep_alive}"
        );
        let l = lines(&path);
        assert_eq!(l[0], "existing");
        for (i, line) in l[1..].iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["output_fields"]["fd.name"], format!("/etc/x{i}"));
        }
        assert_eq!(out.shutdown(WAIT).undelivered(), 0);
    }
}

#[test]
fn file_sink_reopens_after_logrotate_rename() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.json");
    let rotated = dir.path().join("events.json.1");
    let mut cfg = quiet_config();
    cfg.json_output = true;
    cfg.file_output.enabled = true;
    cfg.file_output.keep_alive = true;
    cfg.file_output.filename = path.display().to_string();
    let out = Outputs::start(&cfg).unwrap();
    out.send(alert(0, 4));
    assert!(wait_until(WAIT, || lines(&path).len() == 1));
    std::fs::rename(&path, &rotated).unwrap();
    // Without a reopen the kept-open handle follows the renamed file.
    out.send(alert(1, 4));
    assert!(wait_until(WAIT, || lines(&rotated).len() == 2));
    out.reopen();
    out.send(alert(2, 4));
    assert!(wait_until(WAIT, || lines(&path).len() == 1));
    assert!(lines(&path)[0].contains("/etc/x2"));
    assert_eq!(lines(&rotated).len(), 2);
    assert_eq!(out.stats()[0].failed, 0);
}

#[test]
fn file_open_error_names_the_key() {
    let mut cfg = quiet_config();
    cfg.file_output.enabled = true;
    cfg.file_output.filename = "/nonexistent-dir/x/events.txt".into();
    let err = Outputs::start(&cfg).err().expect("must fail");
    assert!(matches!(err, OutputError::Open { .. }));
    assert_eq!(
        err.to_string(),
        "file_output.filename: cannot open /nonexistent-dir/x/events.txt: no such file or directory"
    );
}

#[test]
fn program_sink_keep_alive_and_per_alert() {
    for keep_alive in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prog.out");
        let mut cfg = quiet_config();
        cfg.json_output = true;
        cfg.program_output.enabled = true;
        cfg.program_output.keep_alive = keep_alive;
        cfg.program_output.program = format!("cat >> '{}'", path.display());
        let out = Outputs::start(&cfg).unwrap();
        for i in 0..20 {
            out.send(alert(i, 5));
        }
        let r = out.shutdown(WAIT);
        assert_eq!(r.undelivered(), 0);
        assert!(
            wait_until(WAIT, || lines(&path).len() == 20),
            "keep_alive={keep_alive}"
        );
        for l in lines(&path) {
            serde_json::from_str::<serde_json::Value>(&l).unwrap();
        }
        let st = &out.stats()[0];
        assert_eq!((st.sent, st.failed, st.restarts), (20, 0, 0));
    }
}

#[test]
fn dead_program_is_restarted_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prog.out");
    let mut cfg = quiet_config();
    cfg.program_output.enabled = true;
    cfg.program_output.keep_alive = true;
    // Takes one line and exits: every later alert finds it dead.
    cfg.program_output.program = format!("head -n 1 >> '{}'", path.display());
    let out = Outputs::start(&cfg).unwrap();
    for i in 0..3 {
        out.send(alert(i, 4));
        assert!(wait_until(WAIT, || lines(&path).len() == i as usize + 1));
        // Let `head` exit before the next alert, so that the loss window is not hit.
        std::thread::sleep(Duration::from_millis(300));
    }
    let st = &out.stats()[0];
    assert_eq!(st.restarts, 2);
    assert_eq!(st.sent, 3);
}

#[test]
fn program_exit_status_counts_as_failure() {
    let mut cfg = quiet_config();
    cfg.program_output.enabled = true;
    cfg.program_output.program = "cat > /dev/null; exit 3".into();
    let out = Outputs::start(&cfg).unwrap();
    out.send(alert(0, 4));
    out.shutdown(WAIT);
    let st = &out.stats()[0];
    assert_eq!((st.sent, st.failed), (0, 1));
}

#[test]
fn syslog_to_unix_datagram_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("log.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    for json in [false, true] {
        let mut cfg = quiet_config();
        cfg.json_output = json;
        cfg.syslog_output.enabled = true;
        cfg.syslog_output.address = sock_path.display().to_string();
        let out = Outputs::start(&cfg).unwrap();
        out.send(alert(0, 2)); // Critical: LOG_USER(8) + 2
        out.send(alert(1, 7)); // Debug: 8 + 7
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).unwrap();
        let m1 = String::from_utf8_lossy(&buf[..n]).into_owned();
        let n = sock.recv(&mut buf).unwrap();
        let m2 = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(m1.starts_with("<10>"), "{m1}");
        assert!(m2.starts_with("<15>"), "{m2}");
        let (_, msg) = m1.split_once("]: ").unwrap();
        assert!(m1.contains(" saker["), "{m1}");
        if json {
            let v: serde_json::Value = serde_json::from_str(msg).unwrap();
            assert_eq!(v["priority"], "Critical");
        } else {
            assert!(msg.starts_with("02:44:58.123456789: Critical "), "{msg}");
        }
        assert_eq!(out.shutdown(WAIT).undelivered(), 0);
    }
}

#[test]
fn syslog_missing_socket_is_counted_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = quiet_config();
    cfg.syslog_output.enabled = true;
    cfg.syslog_output.address = dir.path().join("absent.sock").display().to_string();
    let out = Outputs::start(&cfg).unwrap();
    out.send(alert(0, 4));
    out.shutdown(WAIT);
    assert_eq!(out.stats()[0].failed, 1);
}

#[test]
fn syslog_bad_address_names_the_key() {
    let mut cfg = quiet_config();
    cfg.syslog_output.enabled = true;
    cfg.syslog_output.address = "udp://nohostport".into();
    let err = Outputs::start(&cfg).err().unwrap();
    assert!(
        err.to_string().starts_with("syslog_output.address: "),
        "{err}"
    );
}

#[test]
fn syslog_rfc5424_over_udp() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let mut cfg = quiet_config();
    cfg.json_output = true;
    cfg.syslog_output.enabled = true;
    cfg.syslog_output.address = format!("udp://{}", sock.local_addr().unwrap());
    let out = Outputs::start(&cfg).unwrap();
    out.send(alert(0, 3));
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).unwrap();
    let m = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(m.starts_with("<11>1 20"), "{m}");
    let fields: Vec<&str> = m.splitn(8, ' ').collect();
    assert_eq!(fields[3], "saker");
    assert_eq!((fields[5], fields[6]), ("-", "-"));
    serde_json::from_str::<serde_json::Value>(fields[7]).unwrap();
}

#[test]
fn syslog_rfc5424_over_tcp_with_octet_counting() {
    use std::io::Read;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cfg = quiet_config();
    cfg.syslog_output.enabled = true;
    cfg.syslog_output.address = format!("tcp://{}", l.local_addr().unwrap());
    let out = Outputs::start(&cfg).unwrap();
    out.send(alert(0, 4));
    out.send(alert(1, 0));
    let (mut s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let mut frames = Vec::new();
    while frames.len() < 2 {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
        frames.clear();
        let mut rest = &got[..];
        while let Some(sp) = rest.iter().position(|&b| b == b' ') {
            let len: usize = std::str::from_utf8(&rest[..sp]).unwrap().parse().unwrap();
            if rest.len() < sp + 1 + len {
                break;
            }
            frames.push(String::from_utf8(rest[sp + 1..sp + 1 + len].to_vec()).unwrap());
            rest = &rest[sp + 1 + len..];
        }
    }
    assert!(frames[0].starts_with("<12>1 "), "{}", frames[0]);
    assert!(frames[1].starts_with("<8>1 "), "{}", frames[1]);
    assert!(frames[0].ends_with(" - - 02:44:58.123456789: Warning File below /etc opened for writing (file=/etc/x0 proc.name=cat)"));
}
