//! The running agent: what `saker run` starts, reloads and stops.

pub mod detector_thread;
pub mod options;
pub mod reload;
pub mod sinks;
pub mod snapshot;

use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use saker_state::{State, StateConfig};
use serde::Serialize;
use tokio::runtime::Handle;

use crate::alerts::Formatter;
use crate::capture::{Probe, ProbeOptions};
use crate::pipeline::{interest, Detector, RuleSet};

/// How long a reload waits for the detector to take the new rules before
/// reporting success anyway (they apply as soon as it does).
const RELOAD_APPLY_TIMEOUT: Duration = Duration::from_secs(10);

pub use detector_thread::{Control, Shared};
pub use options::AgentOptions;

pub struct Agent {
    opts: AgentOptions,
    probe: Arc<Mutex<Probe>>,
    /// What the kernel was last asked to report.
    interest: interest::Interest,
    formatter: Arc<Formatter>,
    control: mpsc::Sender<Control>,
    detector: Option<JoinHandle<detector_thread::Report>>,
    pub shared: Arc<Shared>,
    sinks: sinks::SinkHandles,
    snapshots: Option<snapshot::Snapshots>,
}

/// What shutdown accomplished.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ShutdownReport {
    pub records: u64,
    pub alerts: u64,
    pub undelivered: u64,
}

/// Loads and compiles the rules, printing every diagnostic on failure.
pub fn load_rules(opts: &AgentOptions, formatter: &Formatter) -> anyhow::Result<RuleSet> {
    let loaded = saker_rules::load(&opts.rules_files, &opts.load)
        .map_err(|d| anyhow::anyhow!("rules did not load:\n{}", d.render(false)))?;
    if loaded.diagnostics.warning_count() > 0 {
        tracing::warn!(
            "rules loaded with {} warning(s):\n{}",
            loaded.diagnostics.warning_count(),
            loaded.diagnostics.render(false)
        );
    }
    tracing::info!(
        rules = loaded.counts.rules,
        active = loaded.counts.active_rules,
        macros = loaded.counts.macros,
        lists = loaded.counts.lists,
        "rules loaded"
    );
    RuleSet::new(loaded.engine, formatter).map_err(|e| anyhow::anyhow!(e))
}

impl Agent {
    pub fn start(opts: AgentOptions, handle: Handle) -> anyhow::Result<Agent> {
        let formatter = Arc::new(Formatter::new(opts.format.clone()));
        let rules = Arc::new(load_rules(&opts, &formatter)?);
        let interest = interest::interest_for(&rules.engine, &opts.base_syscalls);
        if !interest.unknown.is_empty() {
            tracing::warn!(types = ?interest.unknown, "rules name event types saker does not capture; those conditions never match");
        }
        if !interest.addressed_only.is_empty() {
            tracing::info!(
                syscalls = ?interest.addressed_only.names(),
                "no rule matches these without a peer address; the kernel reports only addressed calls"
            );
        }
        let probe = Probe::load(&ProbeOptions {
            scope: opts.scope.clone(),
            syscalls: interest.syscalls.clone(),
            addressed_only: interest.addressed_only.clone(),
            ring_bytes: opts.ring_bytes,
            floor_probe: false,
        })?;
        let probe = Arc::new(Mutex::new(probe));
        let ring = probe
            .lock()
            .map_err(|_| anyhow::anyhow!("probe lock poisoned"))?
            .take_ring()?;

        let lookup = crate::pipeline::runtime_lookup(opts.runtime.clone(), &handle);
        let mut state = State::with_lookup(StateConfig::default(), Box::new(lookup));
        let scanned = state.scan_proc();
        tracing::info!(processes = scanned, "process table seeded from /proc");

        let shared = Arc::new(Shared::new(&rules));
        let sinks =
            sinks::SinkHandles::start(&opts, &shared).context("starting the alert sinks")?;
        // Before the attach below: earlier runs' coverage is loaded, and this
        // run's interval is persisted (ended by the detector's heartbeats).
        if let Some(store) = sinks.store() {
            shared.coverage.persist_to(store);
        }
        let detector = Detector::new(state, rules, formatter.clone());
        let (control, control_rx) = mpsc::channel();
        let thread = detector_thread::spawn(
            detector,
            ring,
            control_rx,
            sinks.router(),
            shared.clone(),
            probe.clone(),
        )?;
        shared.set_attached(true);
        let snapshots = snapshot::Snapshots::start(
            &opts.metrics,
            opts.format.hostname.clone(),
            shared.clone(),
            sinks.outputs().clone(),
            sinks.store().cloned(),
        )
        .context("starting the metrics snapshots")?;
        eprintln!("{}", serde_json::json!({"saker.run": "attached"}));
        Ok(Agent {
            opts,
            probe,
            interest,
            formatter,
            control,
            detector: Some(thread),
            shared,
            sinks,
            snapshots,
        })
    }

    pub fn api_state(&self) -> crate::api::ApiState {
        crate::api::ApiState {
            shared: self.shared.clone(),
            outputs: self.sinks.outputs().clone(),
            store: self.sinks.store().cloned(),
            stream: self.sinks.stream.clone(),
        }
    }

    /// Files whose change triggers a reload (`watch_config_files`).
    pub fn watched_files(&self) -> Vec<std::path::PathBuf> {
        if !self.opts.watch_config_files {
            return Vec::new();
        }
        let mut files = self.opts.rules_files.clone();
        files.extend(self.opts.config_file.clone());
        files
    }

    /// Validates the rules files again and, if they load, swaps them in
    /// between two records. Invalid rules leave the running ones in place.
    pub fn reload(&mut self) -> anyhow::Result<String> {
        let rules = match load_rules(&self.opts, &self.formatter) {
            Ok(r) => Arc::new(r),
            Err(e) => {
                self.shared.reload_failed();
                return Err(e);
            }
        };
        let next = interest::interest_for(&rules.engine, &self.opts.base_syscalls);
        // While the detector switches, the kernel reports what either rule
        // set needs: new tracepoints are attached before the new rules run,
        // and what only the old rules need stays until they are gone.
        let during = self.interest.widened_by(&next);
        self.set_interest(during)?;
        let summary = format!("{} active rules", rules.engine.active_count());
        self.shared.set_rules(&rules);
        let (applied, in_force) = mpsc::sync_channel(1);
        self.control
            .send(Control::Rules(rules, applied))
            .map_err(|_| anyhow::anyhow!("the detector thread is gone"))?;
        // Reported done only once the detector runs them: an event made
        // after a successful reload is judged by the new rules.
        match in_force.recv_timeout(RELOAD_APPLY_TIMEOUT) {
            Ok(()) => {
                // The new rules run; narrowing is only an optimisation, so
                // a failure keeps the wider interest, which serves them too.
                if let Err(e) = self.set_interest(next) {
                    tracing::warn!(error = %e, "could not narrow the capture to the new rules; it stays wider");
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // The wider interest stays: it serves both rule sets.
                tracing::warn!(
                    timeout_s = RELOAD_APPLY_TIMEOUT.as_secs(),
                    "the detector has not taken the new rules yet; they apply when it does"
                );
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                anyhow::bail!("the detector thread is gone")
            }
        }
        self.shared.reload_ok();
        Ok(summary)
    }

    fn set_interest(&mut self, interest: interest::Interest) -> anyhow::Result<()> {
        self.probe
            .lock()
            .map_err(|_| anyhow::anyhow!("probe lock poisoned"))?
            .set_interest(&interest.syscalls, &interest.addressed_only)?;
        self.interest = interest;
        Ok(())
    }

    /// Stops capture, drains the sinks up to `deadline`, and reports.
    pub fn shutdown(mut self, deadline: Duration) -> ShutdownReport {
        let _ = self.control.send(Control::Stop);
        let report = self
            .detector
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        self.shared.set_attached(false);
        // Before the sinks close, so that no snapshot lands in a closed queue.
        if let Some(s) = self.snapshots.take() {
            s.stop();
        }
        let undelivered = self.sinks.shutdown(deadline);
        ShutdownReport {
            records: report.records,
            alerts: report.alerts,
            undelivered,
        }
    }
}
