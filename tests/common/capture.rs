//! Runs `saker capture` around a workload and collects its JSON lines.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Capture {
    child: Child,
    stderr_lines: mpsc::Receiver<String>,
    /// stdout is drained on a thread from the start: an unread pipe would
    /// fill and block saker, which is not what the tests are about.
    stdout: Option<std::thread::JoinHandle<String>>,
    /// What it wrote to stderr before it attached (how it loaded).
    early: Vec<String>,
}

pub struct Output {
    pub events: Vec<Value>,
    pub stderr: Vec<String>,
}

impl Output {
    /// The `saker.capture.stats` report written at exit.
    pub fn final_stats(&self) -> Value {
        self.stderr
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v.get("saker.capture.stats").cloned())
            .find(|s| s["when"] == "exit")
            .unwrap_or_else(|| panic!("no exit stats in stderr:\n{}", self.stderr.join("\n")))
    }

    pub fn find<'a>(
        &'a self,
        pred: impl Fn(&Value) -> bool + 'a,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        self.events.iter().filter(move |e| pred(e))
    }
}

impl Capture {
    /// Starts `saker capture ARGS` and waits until it reports attached.
    pub fn start(args: &[&str]) -> Capture {
        Capture::start_env(args, &[])
    }

    /// `start`, with extra environment variables.
    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Capture {
        let mut child = Command::new(env!("CARGO_BIN_EXE_saker"))
            .arg("capture")
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn saker");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut out = child.stdout.take().unwrap();
        let stdout = Some(std::thread::spawn(move || {
            let mut raw = String::new();
            out.read_to_string(&mut raw).expect("read capture stdout");
            raw
        }));
        let cap = Capture {
            child,
            stderr_lines: rx,
            stdout,
            early: Vec::new(),
        };
        cap.wait_attached()
    }

    fn wait_attached(mut self) -> Capture {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            match self.stderr_lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if line.contains("\"saker.capture\":\"attached\"") {
                        // Later lines are collected at stop.
                        seen.push(line);
                        self.early = seen;
                        return self;
                    }
                    seen.push(line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        panic!(
                            "saker capture exited with {status} before attaching:\n{}",
                            seen.join("\n")
                        );
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait();
                    panic!(
                        "saker capture died before attaching ({status:?}):\n{}",
                        seen.join("\n")
                    );
                }
            }
        }
        let _ = self.child.kill();
        panic!(
            "saker capture did not attach within 60s:\n{}",
            seen.join("\n")
        );
    }

    /// Sends SIGUSR1 (the counters report).
    pub fn sigusr1(&self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGUSR1) };
    }

    /// Stops the capture with SIGINT after letting in-flight events arrive,
    /// and returns everything it printed.
    pub fn stop(mut self) -> Output {
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let raw = self
            .stdout
            .take()
            .map(|t| t.join().unwrap())
            .unwrap_or_default();
        let status = self.child.wait().expect("wait saker");
        let mut stderr = std::mem::take(&mut self.early);
        stderr.extend(self.stderr_lines.iter());
        assert!(
            status.success(),
            "saker capture exited with {status}:\n{}",
            stderr.join("\n")
        );
        let events = raw
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
            .collect();
        Output { events, stderr }
    }
}

/// Runs a command to completion and returns its pid.
pub fn run(cmd: &mut Command) -> u32 {
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let pid = child.id();
    let status = child.wait().unwrap();
    assert!(status.success(), "{cmd:?} failed: {status}");
    pid
}

/// Runs a Python snippet (the workloads need exact syscalls and flags).
pub fn python(code: &str) -> u32 {
    run(Command::new("python3").arg("-c").arg(code))
}
