//! `Outputs`: builds the enabled sinks from the config and fans alerts out to them.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::OutputsConfig;
use crate::error::OutputError;
use crate::sink::file::FileSink;
use crate::sink::http::HttpSink;
use crate::sink::program::ProgramSink;
use crate::sink::syslog::SyslogSink;
use crate::sink::writer::WriterSink;
use crate::sink::Sink;
use crate::worker::{Counters, Deadline, SinkHandle, WorkerOptions};
use crate::{OutputAlert, ShutdownReport, SinkStats};

pub struct Outputs {
    sinks: Vec<SinkHandle>,
    deadline: Deadline,
    closed: AtomicBool,
}

impl Outputs {
    /// Starts a worker per enabled sink. Fails, naming the key, on a config that cannot work
    /// (unopenable file, bad URL, unreadable CA or client cert, ...).
    pub fn start(cfg: &OutputsConfig) -> Result<Outputs, OutputError> {
        Self::start_with_stdout(cfg, Box::new(std::io::stdout()))
    }

    /// Like [`Outputs::start`], with `stdout_output` writing to `stdout` instead of the real
    /// standard output (tests capture it; an embedder may redirect it).
    pub fn start_with_stdout(
        cfg: &OutputsConfig,
        stdout: Box<dyn Write + Send>,
    ) -> Result<Outputs, OutputError> {
        let timeout = Duration::from_millis(cfg.output_timeout.max(1));
        let deadline: Deadline = Arc::default();
        let json = cfg.json_output;
        let mut built: Vec<(&'static str, Box<dyn Sink>, Arc<Counters>)> = Vec::new();
        if cfg.stdout_output.enabled {
            let s = WriterSink::new(stdout, json);
            built.push(("stdout", Box::new(s), Arc::default()));
        }
        if cfg.file_output.enabled {
            let f = &cfg.file_output;
            let s = FileSink::new(&f.filename, f.keep_alive, json)?;
            built.push(("file", Box::new(s), Arc::default()));
        }
        if cfg.http_output.enabled {
            let s = HttpSink::new(&cfg.http_output, timeout, deadline.clone())?;
            built.push(("http", Box::new(s), Arc::default()));
        }
        if cfg.syslog_output.enabled {
            let s = SyslogSink::new(&cfg.syslog_output.address, json, timeout)?;
            built.push(("syslog", Box::new(s), Arc::default()));
        }
        if cfg.program_output.enabled {
            let p = &cfg.program_output;
            let counters: Arc<Counters> = Arc::default();
            let s = ProgramSink::new(&p.program, p.keep_alive, json, timeout, counters.clone())?;
            built.push(("program", Box::new(s), counters));
        }
        let mut sinks = Vec::with_capacity(built.len());
        for (name, sink, counters) in built {
            let opts = WorkerOptions {
                capacity: cfg.outputs_queue.effective_capacity(),
                timeout,
                buffered: cfg.buffered_outputs,
            };
            sinks.push(SinkHandle::start(
                name,
                sink,
                counters,
                deadline.clone(),
                opts,
            )?);
        }
        Ok(Outputs {
            sinks,
            deadline,
            closed: AtomicBool::new(false),
        })
    }

    /// Queues the alert on every sink. Never blocks; a full queue drops for that sink only
    /// (counted in `dropped_queue_full`, logged rate-limited). After shutdown, alerts are
    /// dropped and counted the same way.
    pub fn send(&self, alert: Arc<OutputAlert>) {
        if self.closed.load(Ordering::Acquire) {
            for s in &self.sinks {
                s.offer_closed();
            }
            return;
        }
        for s in &self.sinks {
            s.offer(&alert);
        }
    }

    /// Names of the running sinks, in start order.
    pub fn sink_names(&self) -> Vec<&'static str> {
        self.sinks.iter().map(|s| s.name()).collect()
    }

    pub fn stats(&self) -> Vec<SinkStats> {
        self.sinks.iter().map(|s| s.stats()).collect()
    }

    /// Falco's `falcosecurity_falco_outputs_queue_num_drops_total`.
    pub fn queue_drops_total(&self) -> u64 {
        self.stats().iter().map(|s| s.dropped_queue_full).sum()
    }

    /// Reopens the file (logrotate) and respawns the program before their next alert. The
    /// agent calls this on SIGHUP (Falco uses SIGUSR1 for the same).
    pub fn reopen(&self) {
        for s in &self.sinks {
            s.request_reopen();
        }
    }

    /// Stops accepting alerts, lets each sink drain its queue until `deadline` from now, and
    /// reports (and logs) what is left undelivered. A sink stuck past the deadline is left
    /// behind on its thread. Calling it again reports again without waiting.
    pub fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let until = Instant::now() + deadline;
        let first = !self.closed.swap(true, Ordering::AcqRel);
        if first {
            let _ = self.deadline.set(until);
            for s in &self.sinks {
                s.close();
            }
        }
        let mut nap = Duration::from_millis(1);
        while Instant::now() < until && !self.sinks.iter().all(|s| s.is_finished()) {
            std::thread::sleep(nap.min(until.saturating_duration_since(Instant::now())));
            nap = (nap * 2).min(Duration::from_millis(20));
        }
        let mut report = ShutdownReport::default();
        for s in &self.sinks {
            s.join_if_finished();
            if first {
                s.log_final_summary();
            }
            let st = s.stats();
            report.delivered += st.sent;
            report.undelivered_per_sink.push((st.name, st.queued));
            if st.queued > 0 && first {
                tracing::warn!(
                    sink = st.name,
                    undelivered = st.queued,
                    "outputs shutdown: {} alert(s) not delivered before the deadline",
                    st.queued
                );
            }
        }
        if first {
            tracing::info!(
                delivered = report.delivered,
                undelivered = report.undelivered(),
                "outputs shut down"
            );
        }
        report
    }
}

impl Drop for Outputs {
    /// Without an explicit shutdown, workers finish what is queued and exit on their own.
    fn drop(&mut self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            for s in &self.sinks {
                s.close();
            }
        }
    }
}
