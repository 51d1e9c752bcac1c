//! Alert sinks for saker: stdout, file, HTTP (Falcosidekick), syslog and program, configured
//! with falco.yaml's keys.
//!
//! The pipeline formats an alert once ([`OutputAlert`]) and hands it to [`Outputs::send`], which
//! never blocks: every sink has its own bounded queue and worker thread, so a slow or dead sink
//! drops (and counts) only its own alerts and never stalls detection or the other sinks.
//!
//! Where this differs from Falco, on purpose:
//! - Falco has one output queue in front of all channels; here each sink has its own, so
//!   `outputs_queue.capacity` bounds each sink, and 0 means [`UNBOUNDED_CAPACITY`], not
//!   "until the OOM killer".
//! - http_output always posts the JSON object (`Content-Type: application/json`), as
//!   Falcosidekick needs; Falco posts the text line as text/plain when `json_output` is false.
//! - `compress_uploads` gzips the request body (`Content-Encoding: gzip`); in Falco it only asks
//!   libcurl for a compressed answer. `http_output.keep_alive` changes nothing: connections
//!   are always reused, as with Falco's single libcurl handle.
//! - `output_timeout` is also the HTTP request timeout; a timed-out request is retried up to
//!   `max_consecutive_timeouts` times, as in Falco.
//! - Reopening the file and respawning the program is [`Outputs::reopen`]; the agent calls it on
//!   SIGHUP (Falco: SIGUSR1).
//! - The program sink relies on SIGPIPE being ignored (Rust's default for binaries), so that a
//!   dead program shows up as EPIPE and is restarted.

mod config;
mod error;
mod outputs;
mod ratelog;
mod sink;
mod worker;

pub use config::{
    default_user_agent, FileOutput, HttpOutput, OutputsConfig, OutputsQueue, ProgramOutput,
    StdoutOutput, SyslogOutput, UNBOUNDED_CAPACITY,
};
pub use error::OutputError;
pub use outputs::Outputs;

/// One alert, already formatted by the pipeline; shared by every sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputAlert {
    /// One Falco JSON object, without a trailing newline.
    pub json: String,
    /// Falco's text line: `HH:MM:SS.nnnnnnnnn: Priority message`.
    pub text: String,
    /// Falco priority: 0 = Emergency .. 7 = Debug (same numbering as syslog severities).
    pub priority: u8,
    pub rule: String,
}

/// Counters of one sink, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkStats {
    /// "stdout", "file", "http", "syslog" or "program" (Falco's output names).
    pub name: &'static str,
    pub sent: u64,
    /// Not queued because the sink's queue was full (or its worker had stopped). The sum over
    /// sinks is Falco's `falcosecurity_falco_outputs_queue_num_drops_total`.
    pub dropped_queue_full: u64,
    /// Deliveries that failed (errors and timeouts).
    pub failed: u64,
    /// Deliveries slower than `output_timeout`, whether they then failed or not.
    pub timeouts: u64,
    /// Program sink: times the program died and was started again.
    pub restarts: u64,
    /// Accepted and not yet handled (queued plus in flight).
    pub queued: u64,
}

/// What [`Outputs::shutdown`] could and could not deliver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Deliveries made over the outputs' lifetime, summed over sinks (an alert sent to two
    /// sinks counts twice).
    pub delivered: u64,
    /// Per sink, alerts accepted but still unhandled when the deadline passed.
    pub undelivered_per_sink: Vec<(&'static str, u64)>,
}

impl ShutdownReport {
    pub fn undelivered(&self) -> u64 {
        self.undelivered_per_sink.iter().map(|(_, n)| n).sum()
    }
}
