//! The detector thread: drains the ring buffer into the detector, applies
//! control messages between batches, and once a second publishes counters
//! and checks for dropped events.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aya::maps::{MapData, RingBuf};

use crate::capture::reader::{Flow, Reader};
use crate::capture::{Counters, Probe};
use crate::pipeline::{AlertSink, Detector, RuleSet};
use saker_state::Clock;

use super::sinks::Router;

/// Coverage history kept for the gate: the store's default retention.
const COVERAGE_KEEP: Duration = Duration::from_secs(7 * 86_400);
/// A heartbeat vouches for events this much older than the start of the
/// drain before it: records reserved just before the drain but committed
/// after it, and wall-clock drift of event times, stay on the safe side.
const HEARTBEAT_MARGIN_NS: i64 = 500_000_000;

/// Longest stretch the detector spends draining before it looks at its
/// control channel and timers again.
const DRAIN_SLICE: Duration = Duration::from_millis(100);
/// At stop, how long the last drain may take.
const FINAL_DRAIN: Duration = Duration::from_secs(2);

pub enum Control {
    Stop,
    /// New rules; the sender hears back once they are in force, so every
    /// event read after that is judged by them.
    Rules(Arc<RuleSet>, mpsc::SyncSender<()>),
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Report {
    pub records: u64,
    pub alerts: u64,
}

/// State shared with the API and metrics. Written by the detector thread
/// (counters, once per batch or second) and by reloads; read by scrapes.
pub struct Shared {
    attached: AtomicBool,
    pub records: AtomicU64,
    pub alerts: AtomicU64,
    pub reloads_ok: AtomicU64,
    pub reloads_failed: AtomicU64,
    pub active_rules: AtomicU64,
    pub kernel: Mutex<Counters>,
    pub malformed: AtomicU64,
    /// (rule, priority) → matches.
    pub matches: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// Attach intervals and drops, pruned to the history the store keeps.
    pub coverage: saker_store::CoverageTracker,
    pub started_ns: i64,
    /// The state tables' counters, copied once a second.
    pub state: Mutex<saker_state::Stats>,
}

impl Shared {
    pub fn new(rules: &RuleSet) -> Self {
        let s = Shared {
            attached: AtomicBool::new(false),
            records: AtomicU64::new(0),
            alerts: AtomicU64::new(0),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            active_rules: AtomicU64::new(0),
            kernel: Mutex::new(Counters::default()),
            malformed: AtomicU64::new(0),
            matches: Mutex::new(BTreeMap::new()),
            coverage: saker_store::CoverageTracker::new(COVERAGE_KEEP),
            started_ns: saker_store::timefmt::now_ns(),
            state: Mutex::new(saker_state::Stats::default()),
        };
        s.set_rules(rules);
        s
    }

    pub fn set_rules(&self, rules: &RuleSet) {
        self.active_rules
            .store(rules.engine.active_count() as u64, Ordering::Relaxed);
    }

    pub fn rules_loaded(&self) -> bool {
        self.active_rules.load(Ordering::Relaxed) > 0
    }

    pub fn attached(&self) -> bool {
        self.attached.load(Ordering::Relaxed)
    }

    /// Records attach and detach times: the gate refuses to vouch for a
    /// window the agent did not watch.
    pub fn set_attached(&self, on: bool) {
        self.attached.store(on, Ordering::Relaxed);
        let now = saker_store::timefmt::now_ns();
        if on {
            self.coverage.attached(now);
        } else {
            self.coverage.detached(now);
        }
    }

    pub fn reload_ok(&self) {
        self.reloads_ok.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reload_failed(&self) {
        self.reloads_failed.fetch_add(1, Ordering::Relaxed);
    }
}

pub fn spawn(
    mut detector: Detector,
    ring: RingBuf<MapData>,
    control: mpsc::Receiver<Control>,
    mut router: Router,
    shared: Arc<Shared>,
    probe: Arc<Mutex<Probe>>,
) -> std::io::Result<JoinHandle<Report>> {
    std::thread::Builder::new()
        .name("saker-detector".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "detector runtime failed to start");
                    return Report::default();
                }
            };
            rt.block_on(async move {
                let mut reader = match Reader::new(ring) {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the ring buffer");
                        return Report::default();
                    }
                };
                // Heartbeats and drop times are compared with event times,
                // so they are read on the events' clock (boot time plus the
                // offset fixed at start), not the wall clock, which may step.
                let event_now = |d: &Detector| d.state.clock().realtime(Clock::boot_now()) as i64;
                let mut drops =
                    super::sinks::DropWatch::new(router.drop_policy(), event_now(&detector));
                let mut last_tick = Instant::now();
                // Every event before this time has been judged and its
                // alerts queued for the store: the start of the last drain
                // that emptied the ring.
                let mut drained_upto = event_now(&detector) - HEARTBEAT_MARGIN_NS;
                loop {
                    let drain_start = event_now(&detector) - HEARTBEAT_MARGIN_NS;
                    // A storm keeps the ring full; the drain hands back after a
                    // slice so drop checks, reloads and heartbeats still run.
                    let slice_end = Instant::now() + DRAIN_SLICE;
                    let mut n = 0u32;
                    let flow = reader.drain(&mut |rec| {
                        detector.on_record(rec, &mut router);
                        n = n.wrapping_add(1);
                        if n.is_multiple_of(1024) && Instant::now() >= slice_end {
                            Flow::Stop
                        } else {
                            Flow::Continue
                        }
                    });
                    let emptied = flow == Flow::Continue;
                    if emptied {
                        drained_upto = drain_start;
                    }
                    shared
                        .records
                        .store(detector.stats.records, Ordering::Relaxed);
                    shared
                        .alerts
                        .store(detector.stats.alerts, Ordering::Relaxed);
                    match control.try_recv() {
                        Ok(Control::Stop) | Err(mpsc::TryRecvError::Disconnected) => {
                            // Whatever the kernel already sent is still ours to
                            // judge; bounded, since a storm keeps refilling it.
                            let stop_by = Instant::now() + FINAL_DRAIN;
                            let final_start = event_now(&detector) - HEARTBEAT_MARGIN_NS;
                            let mut n = 0u32;
                            let flow = reader.drain(&mut |rec| {
                                detector.on_record(rec, &mut router);
                                n = n.wrapping_add(1);
                                if n.is_multiple_of(1024) && Instant::now() >= stop_by {
                                    Flow::Stop
                                } else {
                                    Flow::Continue
                                }
                            });
                            // A last heartbeat, after a last drop check: a
                            // clean stop vouches for what it judged up to
                            // its end, not only up to the last tick.
                            let counters = probe.lock().ok().and_then(|p| p.counters().ok());
                            if let (Flow::Continue, Some(c)) = (flow, counters) {
                                drops.tick(
                                    &c,
                                    reader.stats().malformed,
                                    event_now(&detector),
                                    &shared,
                                    &mut router,
                                );
                                shared.coverage.heartbeat(final_start);
                            }
                            break;
                        }
                        Ok(Control::Rules(rules, applied)) => {
                            detector.set_rules(rules);
                            let _ = applied.try_send(());
                        }
                        Err(mpsc::TryRecvError::Empty) => {}
                    }
                    if last_tick.elapsed() >= Duration::from_secs(1) {
                        last_tick = Instant::now();
                        let counters = probe.lock().ok().and_then(|p| p.counters().ok());
                        shared.coverage.prune(saker_store::timefmt::now_ns());
                        if let Ok(mut st) = shared.state.lock() {
                            *st = detector.state.stats();
                        }
                        if let Some(c) = counters {
                            let malformed = reader.stats().malformed;
                            shared.malformed.store(malformed, Ordering::Relaxed);
                            drops.tick(&c, malformed, event_now(&detector), &shared, &mut router);
                            // After the drop check, so a persisted interval
                            // never ends past a loss not yet recorded.
                            shared.coverage.heartbeat(drained_upto);
                            if let Ok(mut k) = shared.kernel.lock() {
                                *k = c;
                            }
                        }
                    }
                    if emptied {
                        let _ = reader.wait().await;
                    }
                }
                shared
                    .records
                    .store(detector.stats.records, Ordering::Relaxed);
                Report {
                    records: detector.stats.records,
                    alerts: detector.stats.alerts,
                }
            })
        })
}

/// Keeps the trait object in scope for `on_record`.
#[allow(dead_code)]
fn _sink_is_object_safe(r: &mut Router) -> &mut dyn AlertSink {
    r
}
