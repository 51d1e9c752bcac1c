//! Runs `saker run` for a test: a private store, a free API port, JSON alerts
//! on stdout collected as they arrive.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::TempDir;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct RunningAgent {
    child: Child,
    pub port: u16,
    pub dir: TempDir,
    pub alerts: Arc<Mutex<Vec<Value>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    pub token: Option<String>,
}

fn collect<R: Read + Send + 'static>(r: R, sink: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
}

impl RunningAgent {
    /// Starts `saker run` with `args` after the test defaults, and waits
    /// until it reports capture attached.
    pub fn start(tag: &str, args: &[&str]) -> RunningAgent {
        let dir = TempDir::new(tag);
        let port = free_port();
        let store = dir.path().join("store");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_saker"));
        cmd.arg("run")
            .args(["-o", "json_output=true", "-o", "stdout_output.enabled=true"])
            .args([
                "-o",
                "syslog_output.enabled=false",
                "-o",
                "rule_matching=all",
            ])
            .arg("-o")
            .arg(format!("store.path={}", store.display()))
            .arg("-o")
            .arg(format!("webserver.listen_port={port}"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn saker run");
        let raw_out = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().unwrap(), raw_out.clone());
        collect(child.stderr.take().unwrap(), stderr.clone());
        let alerts = Arc::new(Mutex::new(Vec::new()));
        {
            // Parse stdout lines into alerts as they come.
            let alerts = alerts.clone();
            let raw = raw_out.clone();
            std::thread::spawn(move || {
                let mut seen = 0;
                loop {
                    std::thread::sleep(Duration::from_millis(50));
                    let lines = raw.lock().unwrap();
                    for l in &lines[seen..] {
                        let v: Value = serde_json::from_str(l)
                            .unwrap_or_else(|e| panic!("saker printed a non-JSON line {l:?}: {e}"));
                        alerts.lock().unwrap().push(v);
                    }
                    seen = lines.len();
                    if Arc::strong_count(&raw) == 1 {
                        return;
                    }
                }
            });
        }
        let mut agent = RunningAgent {
            child,
            port,
            dir,
            alerts,
            stderr,
            token: None,
        };
        agent.wait_attached();
        agent
    }

    fn wait_attached(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while Instant::now() < deadline {
            if self
                .stderr
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("\"saker.run\":\"attached\""))
            {
                // The API comes up right after; wait for it.
                for _ in 0..100 {
                    if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "saker run exited with {st} before attaching:\n{}",
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("saker run did not attach in 90s:\n{}", self.stderr_text());
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits for an alert that satisfies `pred`.
    pub fn wait_alert(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(v) = self.alerts.lock().unwrap().iter().find(|a| pred(a)) {
                return v.clone();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "no alert for {what} in 20s; alerts seen: {:#?}\nstderr:\n{}",
            self.alerts
                .lock()
                .unwrap()
                .iter()
                .map(|a| a["rule"].clone())
                .collect::<Vec<_>>(),
            self.stderr_text()
        );
    }

    /// Runs `trigger` and waits for an alert that satisfies `pred`. When the
    /// agent reports dropped events meanwhile (a loaded test machine), the
    /// trigger is tried again, up to five times: the drop is visible and
    /// counted, and the rule must still fire once the event gets through.
    pub fn expect_alert(
        &self,
        what: &str,
        trigger: impl Fn(),
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let drops =
            |s: &Self| s.count_alerts(|a| a["rule"] == "Falco internal: syscall event drop");
        for _ in 0..5 {
            let dropped_before = drops(self);
            trigger();
            let deadline = Instant::now() + Duration::from_secs(8);
            while Instant::now() < deadline {
                if let Some(v) = self.alerts.lock().unwrap().iter().find(|a| pred(a)) {
                    return v.clone();
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if drops(self) == dropped_before {
                break;
            }
            eprintln!("{what}: the agent reported dropped events; triggering again");
        }
        self.wait_alert(what, pred)
    }

    pub fn count_alerts(&self, pred: impl Fn(&Value) -> bool) -> usize {
        self.alerts
            .lock()
            .unwrap()
            .iter()
            .filter(|a| pred(a))
            .count()
    }

    /// GET on the API: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(self.port, path, self.token.as_deref())
    }

    /// SIGKILL: a crash, no draining, no flushing.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait; returns the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "saker run did not stop within 30s of SIGTERM:\n{}",
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET (loopback test servers only).
pub fn http_get(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the API");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {raw:?}"));
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    let body = if raw
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(&body)
    } else {
        body
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}
