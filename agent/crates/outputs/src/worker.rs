//! One sink's queue and worker thread. `SinkHandle::offer` never blocks: the queue bound is a
//! counter checked before the push, and a full queue drops for this sink only.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{io_message, DeliverError, OutputError};
use crate::ratelog::RateLog;
use crate::sink::Sink;
use crate::{OutputAlert, SinkStats};

/// How often a repeated drop or failure is summarised in the log.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// How long a worker whose queue ran dry waits before parking (the most it adds to the
/// delivery of an alert that arrives meanwhile).
const NAP: Duration = Duration::from_micros(200);

/// Set once by shutdown; workers stop taking alerts after it passes.
pub(crate) type Deadline = Arc<OnceLock<Instant>>;

pub(crate) fn past(deadline: &Deadline) -> bool {
    deadline.get().is_some_and(|d| Instant::now() >= *d)
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) sent: AtomicU64,
    pub(crate) dropped_queue_full: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) restarts: AtomicU64,
    /// Alerts accepted and not yet finished (queued plus the one in flight).
    pub(crate) pending: AtomicUsize,
}

/// State shared between the sender side and the worker.
pub(crate) struct Shared {
    pub(crate) name: &'static str,
    pub(crate) counters: Arc<Counters>,
    pub(crate) reopen: AtomicBool,
    pub(crate) deadline: Deadline,
    drop_log: RateLog,
    fail_log: RateLog,
    slow_log: RateLog,
}

/// `None` tells the worker to finish: everything queued before it has been handled.
type Msg = Option<Arc<OutputAlert>>;

pub(crate) struct SinkHandle {
    shared: Arc<Shared>,
    tx: Sender<Msg>,
    capacity: usize,
    join: Mutex<Option<JoinHandle<()>>>,
}

pub(crate) struct WorkerOptions {
    pub(crate) capacity: usize,
    pub(crate) timeout: Duration,
    pub(crate) buffered: bool,
}

impl SinkHandle {
    /// Starts the worker thread for `sink`. `counters` and `deadline` may already be held by
    /// the sink (restarts, retry loops).
    pub(crate) fn start(
        name: &'static str,
        sink: Box<dyn Sink>,
        counters: Arc<Counters>,
        deadline: Deadline,
        opts: WorkerOptions,
    ) -> Result<Self, OutputError> {
        let shared = Arc::new(Shared {
            name,
            counters,
            reopen: AtomicBool::new(false),
            deadline,
            drop_log: RateLog::new(LOG_INTERVAL),
            fail_log: RateLog::new(LOG_INTERVAL),
            slow_log: RateLog::new(LOG_INTERVAL),
        });
        // Unbounded channel, bounded by `pending`: a bounded std channel would allocate its
        // whole capacity up front, which for the "unbounded" default is wasteful.
        let (tx, rx) = mpsc::channel();
        let worker_shared = shared.clone();
        let join = std::thread::Builder::new()
            .name(format!("output-{name}"))
            .spawn(move || run(sink, rx, worker_shared, opts.timeout, opts.buffered))
            .map_err(|source| OutputError::Spawn { sink: name, source })?;
        Ok(Self {
            shared,
            tx,
            capacity: opts.capacity,
            join: Mutex::new(Some(join)),
        })
    }

    pub(crate) fn name(&self) -> &'static str {
        self.shared.name
    }

    /// Queues the alert or drops it (counted, logged rate-limited). Never blocks.
    pub(crate) fn offer(&self, alert: &Arc<OutputAlert>) {
        let c = &self.shared.counters;
        if c.pending.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            c.pending.fetch_sub(1, Ordering::AcqRel);
            self.dropped("queue full");
            return;
        }
        if self.tx.send(Some(alert.clone())).is_err() {
            c.pending.fetch_sub(1, Ordering::AcqRel);
            self.dropped("worker stopped");
        }
    }

    /// An alert sent after shutdown: dropped, counted and logged like a full queue.
    pub(crate) fn offer_closed(&self) {
        self.dropped("outputs shut down");
    }

    fn dropped(&self, why: &str) {
        self.shared
            .counters
            .dropped_queue_full
            .fetch_add(1, Ordering::Relaxed);
        if let Some(n) = self.shared.drop_log.record() {
            tracing::warn!(
                sink = self.shared.name,
                dropped = n,
                total = self
                    .shared
                    .counters
                    .dropped_queue_full
                    .load(Ordering::Relaxed),
                capacity = self.capacity,
                "output queue: dropped {n} alert(s) ({why}); the sink is too slow or down"
            );
        }
    }

    pub(crate) fn request_reopen(&self) {
        self.shared.reopen.store(true, Ordering::Release);
    }

    /// Asks the worker to finish once it has handled what is queued.
    pub(crate) fn close(&self) {
        let _ = self.tx.send(None);
    }

    pub(crate) fn is_finished(&self) -> bool {
        match self.join.lock() {
            Ok(g) => g.as_ref().is_none_or(|j| j.is_finished()),
            Err(_) => true,
        }
    }

    /// Joins a finished worker; a worker still busy past the deadline is left detached.
    pub(crate) fn join_if_finished(&self) {
        if let Ok(mut g) = self.join.lock() {
            if g.as_ref().is_some_and(|j| j.is_finished()) {
                if let Some(j) = g.take() {
                    if j.join().is_err() {
                        tracing::error!(sink = self.shared.name, "output worker panicked");
                    }
                }
            }
        }
    }

    /// Logs what the rate limiter held back, so that the log's totals are complete.
    pub(crate) fn log_final_summary(&self) {
        let n = self.shared.drop_log.take_unreported();
        if n > 0 {
            tracing::warn!(
                sink = self.shared.name,
                dropped = n,
                "output queue: dropped {n} more alert(s) since the last report"
            );
        }
        let n = self.shared.fail_log.take_unreported();
        if n > 0 {
            tracing::warn!(
                sink = self.shared.name,
                failed = n,
                "output: {n} more failed deliveries since the last report"
            );
        }
    }

    pub(crate) fn pending(&self) -> u64 {
        self.shared.counters.pending.load(Ordering::Acquire) as u64
    }

    pub(crate) fn stats(&self) -> SinkStats {
        let c = &self.shared.counters;
        SinkStats {
            name: self.shared.name,
            sent: c.sent.load(Ordering::Relaxed),
            dropped_queue_full: c.dropped_queue_full.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
            restarts: c.restarts.load(Ordering::Relaxed),
            queued: self.pending(),
        }
    }
}

fn run(
    mut sink: Box<dyn Sink>,
    rx: Receiver<Msg>,
    sh: Arc<Shared>,
    timeout: Duration,
    buffered: bool,
) {
    let c = sh.counters.clone();
    // buffered_outputs false: alerts written but not yet flushed (more were
    // queued behind them). They count as sent, or failed, when the flush says.
    let mut deferred: u64 = 0;
    loop {
        let msg = match rx.try_recv() {
            Ok(m) => m,
            Err(TryRecvError::Empty) => {
                // Sinks flush when the queue runs dry: batches under load, prompt delivery
                // when idle.
                if buffered || deferred > 0 {
                    let t0 = Instant::now();
                    let flushed = sink.flush();
                    note_slow(&sh, t0.elapsed(), timeout);
                    settle(&sh, flushed, std::mem::take(&mut deferred), buffered);
                }
                // A short nap before parking: in a stream of alerts the next ones arrive
                // meanwhile, so the detector's send finds this thread awake and does not pay
                // a futex wake-up per alert. An idle sink parks after one nap.
                std::thread::sleep(NAP);
                match rx.try_recv() {
                    Ok(m) => m,
                    Err(TryRecvError::Empty) => match rx.recv() {
                        Ok(m) => m,
                        Err(_) => break,
                    },
                    Err(TryRecvError::Disconnected) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        let Some(alert) = msg else { break };
        if past(&sh.deadline) {
            // Left in `pending`: shutdown reports it as undelivered.
            break;
        }
        if sh.reopen.swap(false, Ordering::AcqRel) {
            // What the old file or process still buffers is settled by its
            // own flush: a reopen must not carry it over as sent.
            if buffered || deferred > 0 {
                settle(&sh, sink.flush(), std::mem::take(&mut deferred), buffered);
            }
            match sink.reopen() {
                Ok(()) => tracing::info!(sink = sh.name, "output reopened"),
                Err(e) => failed(&sh, &e),
            }
        }
        let t0 = Instant::now();
        let mut result = sink.deliver(&alert);
        // How many alerts this result decides: this one, plus the deferred
        // ones a flush also carries.
        let mut settles = 1;
        if result.is_ok() && !buffered {
            // buffered_outputs false: each alert is flushed, unless more are already
            // queued behind it; then the flush comes when the queue runs dry, microseconds
            // later, and one write carries the batch.
            if c.pending.load(Ordering::Acquire) > 1 {
                deferred += 1;
                settles = 0;
            } else {
                settles += std::mem::take(&mut deferred);
                result = sink.flush();
            }
        }
        let took = t0.elapsed();
        match result {
            Ok(()) => {
                c.sent.fetch_add(settles, Ordering::Relaxed);
                note_slow(&sh, took, timeout);
            }
            Err(e) => {
                if matches!(e, DeliverError::Timeout(_)) {
                    c.timeouts.fetch_add(1, Ordering::Relaxed);
                }
                // The deferred alerts are counted failed with it: a failed
                // file or process is closed with what it buffered, and none
                // of them may count as sent. (Some may still reach the output,
                // through a write-through or a retry: counted failed, never
                // the other way round.)
                failed_n(&sh, &e, settles.max(1) + std::mem::take(&mut deferred));
            }
        }
        c.pending.fetch_sub(1, Ordering::AcqRel);
    }
    settle(&sh, sink.flush(), deferred, buffered);
    sink.close();
}

/// A delivery or flush that took `output_timeout` or longer: counted, and
/// logged at a limited rate.
fn note_slow(sh: &Shared, took: Duration, timeout: Duration) {
    if took < timeout {
        return;
    }
    sh.counters.timeouts.fetch_add(1, Ordering::Relaxed);
    if let Some(n) = sh.slow_log.record() {
        tracing::warn!(
            sink = sh.name,
            count = n,
            "output: {n} alert(s) took longer than output_timeout ({} ms, last {} ms)",
            timeout.as_millis(),
            took.as_millis()
        );
    }
}

/// Counts the outcome of a flush that carried `deferred` unflushed alerts.
/// Buffered mode counts alerts as sent when written, as Falco does, and a
/// failed flush once; unbuffered, the flush decides each deferred alert.
fn settle(sh: &Shared, flushed: Result<(), DeliverError>, deferred: u64, buffered: bool) {
    match flushed {
        Ok(()) => {
            sh.counters.sent.fetch_add(deferred, Ordering::Relaxed);
        }
        Err(e) if buffered => failed_n(sh, &e, deferred.max(1)),
        // Nothing deferred: what the failed flush held was counted already.
        Err(_) if deferred == 0 => {}
        Err(e) => failed_n(sh, &e, deferred),
    }
}

fn failed(sh: &Shared, e: &DeliverError) {
    failed_n(sh, e, 1);
}

fn failed_n(sh: &Shared, e: &DeliverError, n: u64) {
    sh.counters.failed.fetch_add(n, Ordering::Relaxed);
    if let Some(n) = sh.fail_log.record() {
        tracing::warn!(
            sink = sh.name,
            failed = n,
            total = sh.counters.failed.load(Ordering::Relaxed),
            "output: {n} failed deliveries; last error: {}",
            e.message()
        );
    }
}

/// For sinks: an io::Error as a delivery failure.
pub(crate) fn io_failed(what: &str, e: &std::io::Error) -> DeliverError {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            DeliverError::Timeout(format!("{what}: {}", io_message(e)))
        }
        _ => DeliverError::Failed(format!("{what}: {}", io_message(e))),
    }
}
