//! Test helpers: Falco-shaped alerts, a captured writer, and a tiny HTTP(S) receiver.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use saker_outputs::{OutputAlert, OutputsConfig};

pub const PRIORITIES: [&str; 8] = [
    "Emergency",
    "Alert",
    "Critical",
    "Error",
    "Warning",
    "Notice",
    "Informational",
    "Debug",
];

/// An alert shaped like Falco's: JSON keys alphabetical, typed output_fields.
pub fn alert(i: u64, priority: u8) -> Arc<OutputAlert> {
    let pname = PRIORITIES[priority as usize];
    let output = format!("File below /etc opened for writing (file=/etc/x{i} proc.name=cat)");
    let json = serde_json::json!({
        "hostname": "node-1",
        "output": format!("02:44:58.123456789: {pname} {output}"),
        "output_fields": {
            "evt.time": 1_795_000_000_000_000_000u64 + i,
            "fd.name": format!("/etc/x{i}"),
            "proc.name": "cat",
            "user.uid": 0,
        },
        "priority": pname,
        "rule": "Write below etc",
        "source": "syscall",
        "tags": ["T1565", "filesystem"],
        "time": "2026-11-22T02:44:58.123456789Z",
    })
    .to_string();
    Arc::new(OutputAlert {
        json,
        text: format!("02:44:58.123456789: {pname} {output}"),
        priority,
        rule: "Write below etc".into(),
    })
}

/// Every sink off; tests turn on what they need.
pub fn quiet_config() -> OutputsConfig {
    let mut c = OutputsConfig::default();
    c.stdout_output.enabled = false;
    c.syslog_output.enabled = false;
    c
}

pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<u8>>>);

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Answer,
    /// Answers 500 to everything.
    Error,
    /// Accepts and reads, never answers.
    Hang,
}

pub struct Receiver {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
    pub connections: Arc<AtomicUsize>,
}

impl Receiver {
    pub fn start(mode: Mode, tls: Option<Arc<rustls::ServerConfig>>) -> Receiver {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let connections: Arc<AtomicUsize> = Arc::default();
        let (reqs, conns) = (requests.clone(), connections.clone());
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                conns.fetch_add(1, Ordering::SeqCst);
                let reqs = reqs.clone();
                let tls = tls.clone();
                std::thread::spawn(move || match tls {
                    None => serve(s, mode, &reqs),
                    Some(cfg) => {
                        let Ok(conn) = rustls::ServerConnection::new(cfg) else {
                            return;
                        };
                        serve(rustls::StreamOwned::new(conn, s), mode, &reqs)
                    }
                });
            }
        });
        Receiver {
            port,
            requests,
            connections,
        }
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    pub fn take(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

fn serve<S: Read + Write>(s: S, mode: Mode, reqs: &Mutex<Vec<Request>>) {
    let mut r = BufReader::new(s);
    loop {
        let mut start = String::new();
        if r.read_line(&mut start).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = start.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        reqs.lock().unwrap().push(Request {
            method,
            path,
            headers,
            body,
        });
        if mode == Mode::Hang {
            // Keep the connection open and silent until the client gives up.
            let mut sink = [0u8; 1024];
            while r.read(&mut sink).unwrap_or(0) > 0 {}
            return;
        }
        let answer: &[u8] = if mode == Mode::Error {
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nfail"
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        };
        let w = r.get_mut();
        if w.write_all(answer).and_then(|()| w.flush()).is_err() {
            return;
        }
    }
}

/// A port nothing listens on (bound, then closed).
pub fn refused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}
