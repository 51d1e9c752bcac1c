//! One `saker run` for the whole suite: alerts arrive on a channel as they
//! are printed, so cases can be checked while the agent runs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Agent {
    child: Child,
    pub alerts: mpsc::Receiver<Value>,
    stderr: Arc<Mutex<Vec<String>>>,
    stdout: Option<std::thread::JoinHandle<()>>,
}

impl Agent {
    /// Starts `saker run ARGS` and waits until capture is attached.
    pub fn start(args: &[String]) -> Agent {
        let mut child = Command::new(env!("CARGO_BIN_EXE_saker"))
            .arg("run")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn saker run");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (attached_tx, attached_rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        let lines = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if line.contains("\"saker.run\":\"attached\"") {
                    let _ = attached_tx.send(());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let (tx, alerts) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        // Drained from the start: a full pipe would stall saker's stdout sink.
        let stdout = Some(std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("saker printed a non-JSON line {line:?}: {e}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        }));
        let mut agent = Agent {
            child,
            alerts,
            stderr,
            stdout,
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if attached_rx.recv_timeout(Duration::from_millis(200)).is_ok() {
                return agent;
            }
            if let Ok(Some(status)) = agent.child.try_wait() {
                panic!(
                    "saker run exited with {status} before attaching:\n{}",
                    agent.stderr_text()
                );
            }
            if Instant::now() > deadline {
                let _ = agent.child.kill();
                panic!(
                    "saker run did not attach within 90s:\n{}",
                    agent.stderr_text()
                );
            }
        }
    }

    pub fn stderr_text(&self) -> String {
        let lines = self.stderr.lock().unwrap();
        let from = lines.len().saturating_sub(40);
        lines[from..].join("\n")
    }

    /// Panics with the agent's log if it died.
    pub fn check_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("saker run exited with {status}:\n{}", self.stderr_text());
        }
    }

    /// SIGTERM (saker drains its queues first), then waits for the end of
    /// stdout; the remaining alerts stay readable on `alerts`.
    pub fn stop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        if let Some(t) = self.stdout.take() {
            t.join().expect("stdout reader");
        }
        let status = self.child.wait().expect("wait saker");
        assert!(
            status.success(),
            "saker run exited with {status}:\n{}",
            self.stderr_text()
        );
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if self.stdout.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
