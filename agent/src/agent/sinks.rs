//! Where alerts go after the detector: the outputs, the store, the metrics
//! and the live stream, plus the syscall-event-drop watcher that raises
//! Falco's internal alert. Nothing here blocks the detector: every sink is
//! behind a bounded queue and a full queue is counted.

use std::sync::Arc;
use std::time::Duration;

use saker_outputs::{OutputAlert, Outputs};
use saker_store::{StoreWriter, StoredAlert};
use tokio::sync::broadcast;

use crate::alerts::Alert;
use crate::capture::Counters;
use crate::pipeline::{AlertMeta, AlertSink};

use super::detector_thread::Shared;
use super::options::{AgentOptions, DropAction, DropPolicy};

/// The live feed behind `/v1/alerts/stream`: (stored alert, json).
pub type StreamTx = broadcast::Sender<Arc<StoredAlert>>;

/// Owns the sinks; hands the detector a [`Router`].
pub struct SinkHandles {
    outputs: Arc<Outputs>,
    store: Option<Arc<saker_store::Store>>,
    pub stream: StreamTx,
    shared: Arc<Shared>,
    hostname: String,
    drops: DropPolicy,
}

impl SinkHandles {
    pub fn start(opts: &AgentOptions, shared: &Arc<Shared>) -> anyhow::Result<SinkHandles> {
        let outputs = Arc::new(Outputs::start(&opts.outputs)?);
        if let (true, Some(cfg)) = (opts.store_reset, &opts.store) {
            let report = saker_store::reset(&cfg.path, saker_store::ResetMode::MoveAside)
                .map_err(|e| anyhow::anyhow!("--store-reset: {e}"))?;
            tracing::warn!(?report, "--store-reset: the old store was moved aside");
        }
        let store = match &opts.store {
            Some(cfg) => Some(Arc::new(saker_store::Store::open(cfg.clone()).map_err(
                |e| anyhow::anyhow!("{e}\n(start with --store-reset to move the old store aside)"),
            )?)),
            None => None,
        };
        let (stream, _) = broadcast::channel(1024);
        Ok(SinkHandles {
            outputs,
            store,
            stream,
            shared: shared.clone(),
            hostname: opts.format.hostname.clone(),
            drops: opts.drops.clone(),
        })
    }

    pub fn store(&self) -> Option<&Arc<saker_store::Store>> {
        self.store.as_ref()
    }

    pub fn outputs(&self) -> &Arc<Outputs> {
        &self.outputs
    }

    pub fn router(&self) -> Router {
        Router {
            outputs: self.outputs.clone(),
            store: self.store.as_ref().map(|s| s.writer()),
            stream: self.stream.clone(),
            shared: self.shared.clone(),
            hostname: self.hostname.clone(),
            drops: self.drops.clone(),
        }
    }

    /// Drains the outputs and flushes the store; returns what was not delivered.
    pub fn shutdown(&self, deadline: Duration) -> u64 {
        let report = self.outputs.shutdown(deadline);
        if let Some(store) = &self.store {
            if let Err(e) = store.flush() {
                tracing::error!(error = %e, "store flush at shutdown failed");
            }
            store.close();
        }
        report.undelivered()
    }
}

pub struct Router {
    outputs: Arc<Outputs>,
    store: Option<StoreWriter>,
    stream: StreamTx,
    shared: Arc<Shared>,
    hostname: String,
    drops: DropPolicy,
}

impl Router {
    pub fn drop_policy(&self) -> DropPolicy {
        self.drops.clone()
    }

    fn emit(&mut self, alert: Alert, meta: AlertMeta) {
        let priority = meta.priority;
        self.outputs.send(Arc::new(OutputAlert {
            json: alert.json.clone(),
            text: alert.text.clone(),
            priority: priority.as_u8(),
            rule: meta.rule.to_string(),
        }));
        let stored = StoredAlert {
            time_ns: alert.time_ns,
            rule: meta.rule.to_string(),
            priority,
            source: "syscall".into(),
            hostname: self.hostname.clone(),
            namespace: meta.namespace,
            pod: meta.pod,
            container_id: meta.container_id,
            json: alert.json,
        };
        if let Some(w) = &self.store {
            // A full queue is counted by the store, which also marks the
            // window so the gate will not vouch for it.
            let _ = w.try_send(stored.clone());
        }
        if let Ok(mut m) = self.shared.matches.lock() {
            *m.entry((meta.rule.to_string(), meta.priority.as_str()))
                .or_insert(0) += 1;
        }
        // No subscriber is fine; a lagging one is dropped by the stream itself.
        let _ = self.stream.send(Arc::new(stored));
    }
}

impl AlertSink for Router {
    fn deliver(&mut self, alert: Alert, meta: AlertMeta) {
        self.emit(alert, meta);
    }
}

/// Falco's `syscall_event_drops`: once a second, compare drops with events;
/// past the threshold, act (log, alert, exit) at most as often as the token
/// bucket allows. Every drop is also recorded for the gate, whatever the
/// actions say.
pub struct DropWatch {
    policy: DropPolicy,
    last: Counters,
    tokens: f64,
    last_refill: std::time::Instant,
    /// Records the reader could not decode, as last read (cumulative).
    last_malformed: u64,
    /// When the counters were last read: new drops happened after it.
    last_check_ns: i64,
}

pub const DROP_RULE: &str = "Falco internal: syscall event drop";

impl DropWatch {
    /// `now_ns`: the current time on the events' clock.
    pub fn new(policy: DropPolicy, now_ns: i64) -> Self {
        DropWatch {
            tokens: policy.max_burst as f64,
            policy,
            last: Counters::default(),
            last_malformed: 0,
            last_refill: std::time::Instant::now(),
            last_check_ns: now_ns,
        }
    }

    /// `malformed`: records the reader discarded so far; `now_ns`: the
    /// current time on the events' clock, which drop times are compared with.
    pub fn tick(
        &mut self,
        now: &Counters,
        malformed: u64,
        now_ns: i64,
        shared: &Shared,
        router: &mut Router,
    ) {
        let kernel = now.lost().saturating_sub(self.last.lost());
        // A record the reader could not decode is an event lost too.
        let bug = malformed.saturating_sub(self.last_malformed);
        self.last_malformed = malformed;
        let dropped = kernel + bug;
        let events = now.sent.saturating_sub(self.last.sent) + kernel;
        let delta_ring = now.ring_full.saturating_sub(self.last.ring_full);
        let delta_stash = now.stash_full.saturating_sub(self.last.stash_full);
        let delta_faults = now.read_fault.saturating_sub(self.last.read_fault);
        self.last = now.clone();
        let elapsed = self.last_refill.elapsed().as_secs_f64();
        self.last_refill = std::time::Instant::now();
        self.tokens = (self.tokens + elapsed * self.policy.rate).min(self.policy.max_burst as f64);
        let t = now_ns;
        let since_check = std::mem::replace(&mut self.last_check_ns, t);
        if dropped == 0 {
            return;
        }
        // Anywhere since the last check: recorded as that span, so a gate
        // window ending before this check still sees the loss.
        shared
            .coverage
            .dropped_between(since_check, t, kernel, "kernel");
        shared
            .coverage
            .dropped_between(since_check, t, bug, "malformed record");
        let ratio = dropped as f64 / events.max(1) as f64;
        if ratio <= self.policy.threshold || self.tokens < 1.0 {
            return;
        }
        self.tokens -= 1.0;
        for action in &self.policy.actions {
            match action {
                DropAction::Ignore => {}
                DropAction::Log => tracing::warn!(
                    n_drops = dropped,
                    n_evts = events,
                    ring_full = delta_ring,
                    stash_full = delta_stash,
                    malformed = bug,
                    "syscall event drop"
                ),
                DropAction::Alert => {
                    let time = saker_store::timefmt::format_falco(t);
                    let clock = time
                        .split_once('T')
                        .map_or("", |(_, c)| c.trim_end_matches('Z'));
                    let output = format!(
                        "{clock}: Debug Falco internal: syscall event drop. {dropped} system calls dropped in last second."
                    );
                    let json = serde_json::json!({
                        "hostname": router.hostname,
                        "output": output,
                        "output_fields": {
                            "ebpf_enabled": "1",
                            "n_drops": dropped,
                            "n_drops_buffer_total": delta_ring,
                            "n_drops_bug": bug,
                            "n_drops_page_fault": delta_faults,
                            "n_drops_scratch_map": delta_stash,
                            "n_evts": events,
                        },
                        "priority": "Debug",
                        "rule": DROP_RULE,
                        "source": "internal",
                        "time": time,
                    });
                    router.emit(
                        Alert {
                            time_ns: t,
                            json: json.to_string(),
                            text: output.clone(),
                            output,
                        },
                        AlertMeta {
                            rule: Arc::from(DROP_RULE),
                            rule_index: usize::MAX,
                            priority: saker_rules::Priority::Debug,
                            namespace: None,
                            pod: None,
                            container_id: None,
                        },
                    );
                }
                DropAction::Exit => {
                    tracing::error!(
                        n_drops = dropped,
                        "syscall event drop: exiting as syscall_event_drops.actions says"
                    );
                    std::process::exit(1);
                }
            }
        }
    }
}
