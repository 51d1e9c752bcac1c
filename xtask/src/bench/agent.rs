//! A `saker capture` or `saker run` process under the benchmark: started,
//! waited on until it is attached, asked for its counters (SIGUSR1, capture
//! only; `saker run` serves them on /metrics), paused, stopped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// The loss counters of one `saker.capture.stats` line.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub ring_full: u64,
    pub stash_full: u64,
}

impl Stats {
    fn parse(v: &Value) -> Result<Stats> {
        let n = |ptr: &str| -> Result<u64> {
            v.pointer(ptr)
                .and_then(Value::as_u64)
                .with_context(|| format!("saker stats line has no integer at {ptr}: {v}"))
        };
        Ok(Stats {
            sent: n("/sent")?,
            delivered: n("/delivered")?,
            lost: n("/lost")?,
            ring_full: n("/drops/ring_full")?,
            stash_full: n("/drops/stash_full")?,
        })
    }
}

pub struct Agent {
    child: Child,
    /// stderr lines with the time they arrived.
    lines: Receiver<(Instant, String)>,
    /// Everything seen on stderr, for error messages.
    seen: Vec<String>,
    shown: String,
}

/// Signals are sent with libc: std has no portable way to send anything but SIGKILL.
fn signal(child: &Child, sig: libc::c_int) -> Result<()> {
    let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
    // SAFETY: kill has no memory-safety preconditions; the pid is our child,
    // not yet reaped, so it cannot have been reused.
    if unsafe { libc::kill(pid, sig) } != 0 {
        bail!("kill({pid}, {sig}): {}", std::io::Error::last_os_error());
    }
    Ok(())
}

impl Agent {
    /// Starts `saker capture ARGS` with stdout to /dev/null and waits until it
    /// reports that it is attached.
    pub fn start(bin: &Path, args: &[String]) -> Result<Agent> {
        Agent::spawn(bin, "capture", args, &[])
    }

    /// `start`, with extra environment variables.
    pub fn start_env(bin: &Path, args: &[String], env: &[(&str, &str)]) -> Result<Agent> {
        Agent::spawn(bin, "capture", args, env)
    }

    /// Starts `saker run ARGS` (the whole agent: rules, outputs, store, API)
    /// with stdout to /dev/null and waits until capture is attached.
    pub fn start_run(bin: &Path, args: &[String]) -> Result<Agent> {
        Agent::spawn(bin, "run", args, &[])
    }

    /// Both subcommands print `{"saker.SUB":"attached"}` on stderr once the
    /// probes are attached.
    fn spawn(bin: &Path, sub: &str, args: &[String], env: &[(&str, &str)]) -> Result<Agent> {
        let mut cmd = Command::new(bin);
        cmd.arg(sub)
            .args(args)
            // Only the run that asks for the floor probe gets it.
            .env_remove("SAKER_CAPTURE_FLOOR")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let shown = format!("{} {sub} {}", bin.display(), args.join(" "));
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {shown}"))?;
        let stderr = child.stderr.take().context("no stderr pipe")?;
        let (tx, rx) = mpsc::channel();
        // A thread, so that stderr never fills its pipe and every line gets
        // the time it arrived (the delivery rate depends on it).
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        let mut agent = Agent {
            child,
            lines: rx,
            seen: Vec::new(),
            shown,
        };
        let key = format!("saker.{sub}");
        agent.wait_for(Duration::from_secs(120), "attached", |v| {
            v.get(&key).and_then(Value::as_str) == Some("attached")
        })?;
        Ok(agent)
    }

    /// Waits for a JSON line on stderr that `want` accepts.
    fn wait_for(
        &mut self,
        timeout: Duration,
        what: &str,
        want: impl Fn(&Value) -> bool,
    ) -> Result<(Instant, Value)> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, line)) => {
                    if let Ok(v) = serde_json::from_str::<Value>(&line) {
                        if want(&v) {
                            return Ok((at, v));
                        }
                    }
                    if self.seen.len() < 200 {
                        self.seen.push(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    bail!(
                        "`{}`: no {what} line within {timeout:?}; stderr so far:\n{}",
                        self.shown,
                        self.tail()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().map(|s| s.to_string()).unwrap_or_default();
                    bail!(
                        "`{}` exited ({status}) before its {what} line; stderr:\n{}",
                        self.shown,
                        self.tail()
                    )
                }
            }
        }
    }

    fn tail(&self) -> String {
        let from = self.seen.len().saturating_sub(20);
        self.seen[from..].join("\n")
    }

    fn stats_line(&mut self, when: &str, timeout: Duration) -> Result<(Instant, Stats)> {
        let (at, v) = self.wait_for(timeout, &format!("stats ({when})"), |v| {
            v.pointer("/saker.capture.stats/when")
                .and_then(Value::as_str)
                == Some(when)
        })?;
        let stats = v
            .get("saker.capture.stats")
            .map(Stats::parse)
            .transpose()?
            .unwrap_or_default();
        Ok((at, stats))
    }

    /// The counters now (SIGUSR1), with the time the answer arrived.
    pub fn stats(&mut self) -> Result<(Instant, Stats)> {
        signal(&self.child, libc::SIGUSR1)?;
        self.stats_line("sigusr1", Duration::from_secs(60))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the reader (SIGSTOP) and waits until the kernel says it is
    /// stopped: the programs keep running and the ring fills.
    pub fn pause(&mut self) -> Result<()> {
        signal(&self.child, libc::SIGSTOP)?;
        let stat = format!("/proc/{}/stat", self.child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&stat).with_context(|| format!("reading {stat}"))?;
            // The state follows the ")" that closes the command name.
            let state = text
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            if state == Some("T") {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "`{}` did not stop within 10s of SIGSTOP (state {state:?})",
                    self.shown
                );
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn resume(&mut self) -> Result<()> {
        signal(&self.child, libc::SIGCONT)
    }

    /// Stops the agent and returns its exit counters. SIGTERM rather than
    /// SIGINT: a non-interactive shell's background jobs ignore SIGINT.
    pub fn stop(mut self) -> Result<Stats> {
        signal(&self.child, libc::SIGTERM)?;
        // The final drain can take a while when the ring holds a backlog.
        let (_, stats) = self.stats_line("exit", Duration::from_secs(120))?;
        let status = self
            .child
            .wait()
            .with_context(|| format!("waiting for `{}`", self.shown))?;
        if !status.success() {
            bail!(
                "`{}` exited with {status}; stderr:\n{}",
                self.shown,
                self.tail()
            );
        }
        Ok(stats)
    }
}

impl Agent {
    /// Stops a `saker run` (SIGTERM: it drains its sinks and exits 0) and
    /// fails when it does not exit cleanly within `timeout`.
    pub fn terminate(mut self, timeout: Duration) -> Result<()> {
        signal(&self.child, libc::SIGTERM)?;
        let deadline = Instant::now() + timeout;
        loop {
            // Keep draining stderr so its pipe never blocks the agent's exit.
            while let Ok((_, line)) = self.lines.try_recv() {
                if self.seen.len() < 200 {
                    self.seen.push(line);
                }
            }
            if let Some(status) = self
                .child
                .try_wait()
                .with_context(|| format!("waiting for `{}`", self.shown))?
            {
                if !status.success() {
                    bail!(
                        "`{}` exited with {status}; stderr:\n{}",
                        self.shown,
                        self.tail()
                    );
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "`{}` did not exit within {timeout:?} of SIGTERM",
                    self.shown
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// CPU seconds the process has used so far, all threads (utime + stime
    /// of /proc/PID/stat).
    pub fn cpu_seconds(&self) -> Result<f64> {
        cpu_seconds(self.child.id())
    }
}

/// utime + stime of /proc/PID/stat, in seconds.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // Fields after the ")" that closes the command name: state is the first,
    // utime and stime the 12th and 13th.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .with_context(|| format!("{path}: no command name"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> Result<f64> {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| format!("{path}: field {} is not a number", i + 3))
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz <= 0 {
        bail!("sysconf(_SC_CLK_TCK) failed");
    }
    Ok((tick(11)? + tick(12)?) / hz as f64)
}

impl Agent {
    /// Ends the agent without letting it read what is left in the ring (the
    /// floor probe's records are not meant to be read).
    pub fn kill(mut self) -> Result<()> {
        self.child
            .kill()
            .with_context(|| format!("killing `{}`", self.shown))?;
        self.child
            .wait()
            .with_context(|| format!("waiting for `{}`", self.shown))?;
        Ok(())
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // Only still running when a step failed: do not leave probes attached.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
