//! program_output: alerts written, one per line, to the stdin of `sh -c PROGRAM`.

use std::io::{self, BufWriter, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{line, Sink};
use crate::error::{io_message, DeliverError, OutputError};
use crate::worker::{io_failed, Counters};
use crate::OutputAlert;

struct Running {
    child: Child,
    stdin: BufWriter<ChildStdin>,
}

pub(crate) struct ProgramSink {
    program: String,
    keep_alive: bool,
    json: bool,
    timeout: Duration,
    counters: Arc<Counters>,
    running: Option<Running>,
    /// Children that outlived `timeout`; reaped later so that none stays a zombie.
    reap: Vec<Child>,
    /// keep_alive: whether a process was ever started, so that a new one counts as a restart.
    started_once: bool,
}

impl ProgramSink {
    pub(crate) fn new(
        program: &str,
        keep_alive: bool,
        json: bool,
        timeout: Duration,
        counters: Arc<Counters>,
    ) -> Result<Self, OutputError> {
        if program.trim().is_empty() {
            return Err(OutputError::Config {
                key: "program_output.program",
                message: "must not be empty".into(),
            });
        }
        Ok(Self {
            program: program.to_string(),
            keep_alive,
            json,
            timeout,
            counters,
            running: None,
            reap: Vec::new(),
            started_once: false,
        })
    }

    fn spawn(&self) -> io::Result<Running> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.program)
            .stdin(Stdio::piped())
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("child has no stdin"))?;
        Ok(Running {
            child,
            stdin: BufWriter::with_capacity(64 * 1024, stdin),
        })
    }

    fn reap_done(&mut self) {
        self.reap
            .retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_)) | Err(_)));
    }

    /// Closes stdin (EOF) and waits up to `timeout` for the exit; a slower child is reaped later.
    fn finish(&mut self, mut r: Running) -> Result<Option<std::process::ExitStatus>, DeliverError> {
        let flushed = r.stdin.flush();
        drop(r.stdin);
        let t0 = Instant::now();
        let mut nap = Duration::from_millis(1);
        loop {
            match r.child.try_wait() {
                Ok(Some(st)) => {
                    return flushed
                        .map(|()| Some(st))
                        .map_err(|e| io_failed("program stdin", &e))
                }
                Ok(None) if t0.elapsed() < self.timeout => {
                    std::thread::sleep(nap);
                    nap = (nap * 2).min(Duration::from_millis(50));
                }
                Ok(None) => {
                    self.reap.push(r.child);
                    return Ok(None);
                }
                Err(e) => return Err(io_failed("program wait", &e)),
            }
        }
    }

    fn ensure_running(&mut self) -> Result<(), DeliverError> {
        if let Some(r) = self.running.as_mut() {
            match r.child.try_wait() {
                Ok(None) => return Ok(()),
                Ok(Some(st)) => {
                    tracing::warn!(program = %self.program, "program_output: program exited ({st}); restarting");
                }
                Err(e) => {
                    tracing::warn!(program = %self.program, "program_output: cannot check the program ({}); restarting", io_message(&e));
                }
            }
            self.running = None;
        }
        let r = self
            .spawn()
            .map_err(|e| io_failed("program_output: spawn sh", &e))?;
        if self.started_once {
            self.counters.restarts.fetch_add(1, Ordering::Relaxed);
        }
        self.started_once = true;
        self.running = Some(r);
        Ok(())
    }

    fn write_running(&mut self, l: &[u8]) -> io::Result<()> {
        match self.running.as_mut() {
            Some(r) => r.stdin.write_all(l).and_then(|()| r.stdin.write_all(b"\n")),
            None => Err(io::Error::new(io::ErrorKind::BrokenPipe, "no program")),
        }
    }

    fn kill_running(&mut self) {
        if let Some(mut r) = self.running.take() {
            let _ = r.child.kill();
            self.reap.push(r.child);
        }
    }
}

impl Sink for ProgramSink {
    fn deliver(&mut self, alert: &OutputAlert) -> Result<(), DeliverError> {
        self.reap_done();
        let l = line(alert, self.json).as_bytes();
        if !self.keep_alive {
            let mut r = self
                .spawn()
                .map_err(|e| io_failed("program_output: spawn sh", &e))?;
            let wrote = r.stdin.write_all(l).and_then(|()| r.stdin.write_all(b"\n"));
            let status = self.finish(r)?;
            wrote.map_err(|e| io_failed("program stdin", &e))?;
            return match status {
                Some(st) if !st.success() => Err(DeliverError::Failed(format!(
                    "program_output: program {st}"
                ))),
                _ => Ok(()),
            };
        }
        self.ensure_running()?;
        if self.write_running(l).is_ok() {
            return Ok(());
        }
        // The program died under us (EPIPE): restart once and write again.
        self.kill_running();
        self.ensure_running()?;
        self.write_running(l).map_err(|e| {
            self.kill_running();
            io_failed("program stdin", &e)
        })
    }

    fn flush(&mut self) -> Result<(), DeliverError> {
        let res = match self.running.as_mut() {
            Some(r) => r.stdin.flush(),
            None => Ok(()),
        };
        res.map_err(|e| {
            self.kill_running();
            io_failed("program stdin", &e)
        })
    }

    /// Falco respawns the program on SIGUSR1: close the old one (EOF), start on the next alert.
    fn reopen(&mut self) -> Result<(), DeliverError> {
        // A requested respawn is not a restart after a death.
        self.started_once = false;
        match self.running.take() {
            Some(r) => self.finish(r).map(|_| ()),
            None => Ok(()),
        }
    }

    fn close(&mut self) {
        if let Some(r) = self.running.take() {
            let _ = self.finish(r);
        }
        self.reap_done();
    }
}
