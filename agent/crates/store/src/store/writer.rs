//! The single writer thread: drains a bounded queue into batched
//! transactions, publishes what is acknowledged, and runs retention between
//! batches (so deletes never contend with inserts for the write lock).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};

use super::dims::{self, Dims};
use super::retention::{self, RetentionPolicy, RetentionReport};
use super::StoreConfig;
use crate::alert::StoredAlert;
use crate::error::{Dropped, StoreError};
use crate::gate::DropReport;
use crate::timefmt::NS_PER_SEC;

pub(crate) enum Msg {
    Alert(StoredAlert),
    Flush(SyncSender<()>),
    Retention(SyncSender<Result<RetentionReport, StoreError>>),
    Shutdown,
}

/// One committed batch: ids `first_id..=last_id`, contiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitInfo {
    pub first_id: i64,
    pub last_id: i64,
    pub count: u64,
}

/// Counters for /metrics. Nothing the store loses goes uncounted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub enqueued: u64,
    pub committed: u64,
    pub batches: u64,
    /// Refused by `try_send` because the queue was full.
    pub dropped_queue_full: u64,
    /// Refused because the store was closed.
    pub dropped_closed: u64,
    /// Taken, but the transaction failed (disk full, I/O error).
    pub write_failed: u64,
    pub retention_deleted_age: u64,
    pub retention_deleted_size: u64,
    pub last_committed_id: i64,
    pub queue_capacity: u64,
    pub disk_bytes: u64,
}

type Hook = Box<dyn Fn(CommitInfo) + Send>;

/// Minute buckets of event time for alerts the store lost, so the gate can
/// refuse to vouch for those windows. Bounded: a week of minutes.
const DROP_BUCKET_NS: i64 = 60 * NS_PER_SEC;
const DROP_BUCKETS_MAX: usize = 7 * 24 * 60;

pub(crate) struct Shared {
    enqueued: AtomicU64,
    committed: AtomicU64,
    batches: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_closed: AtomicU64,
    write_failed: AtomicU64,
    deleted_age: AtomicU64,
    deleted_size: AtomicU64,
    deleted_upto_ns: AtomicI64,
    queue_capacity: u64,
    last_id: Mutex<i64>,
    acked: Condvar,
    hook: Mutex<Option<Hook>>,
    drops: Mutex<VecDeque<(i64, u64)>>,
}

impl Shared {
    pub(crate) fn new(cfg: &StoreConfig, last_id: i64, deleted_upto_ns: i64) -> Shared {
        Shared {
            enqueued: AtomicU64::new(0),
            committed: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            dropped_queue_full: AtomicU64::new(0),
            dropped_closed: AtomicU64::new(0),
            write_failed: AtomicU64::new(0),
            deleted_age: AtomicU64::new(0),
            deleted_size: AtomicU64::new(0),
            deleted_upto_ns: AtomicI64::new(deleted_upto_ns),
            queue_capacity: cfg.queue_capacity as u64,
            last_id: Mutex::new(last_id),
            acked: Condvar::new(),
            hook: Mutex::new(None),
            drops: Mutex::new(VecDeque::new()),
        }
    }

    pub(crate) fn stats(&self, disk_bytes: u64) -> StoreStats {
        StoreStats {
            enqueued: self.enqueued.load(Relaxed),
            committed: self.committed.load(Relaxed),
            batches: self.batches.load(Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Relaxed),
            dropped_closed: self.dropped_closed.load(Relaxed),
            write_failed: self.write_failed.load(Relaxed),
            retention_deleted_age: self.deleted_age.load(Relaxed),
            retention_deleted_size: self.deleted_size.load(Relaxed),
            last_committed_id: self.last_acked(),
            queue_capacity: self.queue_capacity,
            disk_bytes,
        }
    }

    pub(crate) fn set_hook(&self, hook: Hook) {
        if let Ok(mut h) = self.hook.lock() {
            *h = Some(hook);
        }
    }

    fn last_acked(&self) -> i64 {
        self.last_id.lock().map_or(0, |g| *g)
    }

    pub(crate) fn deleted_upto_ns(&self) -> i64 {
        self.deleted_upto_ns.load(Relaxed)
    }

    fn note_drop(&self, time_ns: i64, n: u64) {
        let bucket = time_ns.div_euclid(DROP_BUCKET_NS);
        if let Ok(mut d) = self.drops.lock() {
            match d.iter_mut().rev().take(4).find(|(b, _)| *b == bucket) {
                Some((_, c)) => *c += n,
                None => d.push_back((bucket, n)),
            }
            while d.len() > DROP_BUCKETS_MAX {
                d.pop_front();
            }
        }
    }

    /// Store-side losses whose minute overlaps [since, ∞), as drop reports.
    pub(crate) fn drops_since(&self, since_ns: i64) -> Vec<DropReport> {
        let first = since_ns.div_euclid(DROP_BUCKET_NS);
        let Ok(d) = self.drops.lock() else {
            return Vec::new();
        };
        d.iter()
            .filter(|(b, _)| *b >= first)
            .map(|&(b, count)| DropReport {
                // Start of the minute, clamped into the window: the drop may
                // have been anywhere in that minute, so count it as inside.
                time_ns: (b.saturating_mul(DROP_BUCKET_NS)).max(since_ns),
                count,
                category: "store".into(),
            })
            .collect()
    }
}

/// Waits on acknowledgements: the id of the last committed alert.
#[derive(Clone)]
pub struct AckWatch {
    shared: Arc<Shared>,
}

impl AckWatch {
    pub(crate) fn new(shared: Arc<Shared>) -> AckWatch {
        AckWatch { shared }
    }

    pub fn last_id(&self) -> i64 {
        self.shared.last_acked()
    }

    /// Blocks until an id >= `id` is acknowledged or `timeout` passes;
    /// returns the last acknowledged id.
    pub fn wait_for(&self, id: i64, timeout: Duration) -> i64 {
        let Ok(g) = self.shared.last_id.lock() else {
            return 0;
        };
        match self
            .shared
            .acked
            .wait_timeout_while(g, timeout, |v| *v < id)
        {
            Ok((g, _)) => *g,
            Err(_) => 0,
        }
    }
}

/// The pipeline's handle. `try_send` never blocks: a full queue drops the
/// alert, counts it, and marks its minute so the gate will not vouch for it.
#[derive(Clone)]
pub struct StoreWriter {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
}

impl StoreWriter {
    pub(crate) fn new(tx: SyncSender<Msg>, shared: Arc<Shared>) -> StoreWriter {
        StoreWriter { tx, shared }
    }

    /// Waits for room instead of dropping: for offline use (`saker replay`,
    /// imports, benchmarks), never on the detection path.
    pub fn send_blocking(&self, alert: StoredAlert) -> Result<(), Dropped> {
        let t = alert.time_ns;
        match self.tx.send(Msg::Alert(alert)) {
            Ok(()) => {
                self.shared.enqueued.fetch_add(1, Relaxed);
                Ok(())
            }
            Err(_) => {
                self.shared.dropped_closed.fetch_add(1, Relaxed);
                self.shared.note_drop(t, 1);
                Err(Dropped::Closed)
            }
        }
    }

    pub fn try_send(&self, alert: StoredAlert) -> Result<(), Dropped> {
        let t = alert.time_ns;
        match self.tx.try_send(Msg::Alert(alert)) {
            Ok(()) => {
                self.shared.enqueued.fetch_add(1, Relaxed);
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                self.shared.dropped_queue_full.fetch_add(1, Relaxed);
                self.shared.note_drop(t, 1);
                Err(Dropped::QueueFull)
            }
            Err(TrySendError::Disconnected(_)) => {
                self.shared.dropped_closed.fetch_add(1, Relaxed);
                self.shared.note_drop(t, 1);
                Err(Dropped::Closed)
            }
        }
    }
}

/// What the writer thread owns.
pub(crate) struct WriterState {
    conn: Connection,
    policy: RetentionPolicy,
    batch_max: usize,
    interval: Duration,
    pub(crate) last_id: i64,
    pub(crate) deleted_upto_ns: i64,
    rows: i64,
    dims: Dims,
    deleted_since_prune: u64,
}

impl WriterState {
    pub(crate) fn load(conn: Connection, cfg: &StoreConfig) -> rusqlite::Result<WriterState> {
        let last_id: i64 = conn
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'alerts'",
                [],
                |r| r.get(0),
            )
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(0),
                e => Err(e),
            })?;
        let rows: i64 = conn.query_row("SELECT count(*) FROM alerts", [], |r| r.get(0))?;
        let deleted_upto_ns = retention::load_floor(&conn)?;
        let policy = RetentionPolicy::new(cfg.max_age, cfg.max_bytes);
        policy.apply_pragmas(&conn)?;
        Ok(WriterState {
            conn,
            policy,
            batch_max: cfg.batch_max.max(1),
            interval: cfg.retention_interval.max(Duration::from_millis(10)),
            last_id,
            deleted_upto_ns,
            rows,
            dims: Dims::default(),
            deleted_since_prune: 0,
        })
    }

    fn commit(&mut self, batch: &[StoredAlert]) -> rusqlite::Result<CommitInfo> {
        let out = self.try_commit(batch);
        if out.is_err() {
            // Rolled back: dims rows created in it are gone.
            self.dims.clear();
        }
        out
    }

    fn try_commit(&mut self, batch: &[StoredAlert]) -> rusqlite::Result<CommitInfo> {
        let tx = self.conn.transaction()?;
        let mut first_id = 0;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO alerts (time_ns, priority, rule, source, hostname, namespace, pod, \
                 container_id, dim, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for (i, a) in batch.iter().enumerate() {
                let dim = self.dims.resolve(&tx, a)?;
                stmt.execute(params![
                    a.time_ns,
                    a.priority.as_u8(),
                    a.rule,
                    a.source,
                    a.hostname,
                    a.namespace,
                    a.pod,
                    a.container_id,
                    dim,
                    a.json,
                ])?;
                if i == 0 {
                    first_id = tx.last_insert_rowid();
                }
            }
        }
        let last_id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(CommitInfo {
            first_id,
            last_id,
            count: batch.len() as u64,
        })
    }

    fn retention(&mut self, shared: &Shared, age: bool) -> Result<RetentionReport, StoreError> {
        let r = retention::enforce(&self.conn, &self.policy, self.rows, age)?;
        self.rows -= (r.deleted_age + r.deleted_size) as i64;
        // On the scheduled pass only: it scans dims, cheap but not per batch.
        if age && r.deleted_age + r.deleted_size + self.deleted_since_prune > 0 {
            dims::prune(&self.conn)?;
            self.dims.clear();
            self.deleted_since_prune = 0;
        } else {
            self.deleted_since_prune += r.deleted_age + r.deleted_size;
        }
        shared.deleted_age.fetch_add(r.deleted_age, Relaxed);
        shared.deleted_size.fetch_add(r.deleted_size, Relaxed);
        if r.deleted_upto_ns > self.deleted_upto_ns {
            self.deleted_upto_ns = r.deleted_upto_ns;
            shared.deleted_upto_ns.store(r.deleted_upto_ns, Relaxed);
        }
        Ok(r)
    }
}

pub(crate) fn run(mut st: WriterState, rx: Receiver<Msg>, shared: Arc<Shared>) {
    let mut batch: Vec<StoredAlert> = Vec::with_capacity(st.batch_max);
    let mut next_age_check = Instant::now();
    loop {
        let wait = next_age_check.saturating_duration_since(Instant::now());
        let first = match rx.recv_timeout(wait) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        // Drain what is already queued into one transaction: under load the
        // batches grow by themselves, when idle each alert commits at once.
        let mut control = None;
        match first {
            Some(Msg::Alert(a)) => batch.push(a),
            Some(other) => control = Some(other),
            None => {}
        }
        while control.is_none() && batch.len() < st.batch_max {
            match rx.try_recv() {
                Ok(Msg::Alert(a)) => batch.push(a),
                Ok(other) => control = Some(other),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            write_batch(&mut st, &shared, &batch);
            batch.clear();
            if let Err(e) = st.retention(&shared, false) {
                tracing::warn!(error = %e, "store size retention failed");
            }
        }
        if Instant::now() >= next_age_check {
            if let Err(e) = st.retention(&shared, true) {
                tracing::warn!(error = %e, "store retention failed");
            }
            next_age_check = Instant::now() + st.interval;
        }
        match control {
            Some(Msg::Flush(reply)) => {
                let _ = reply.send(());
            }
            Some(Msg::Retention(reply)) => {
                let _ = reply.send(st.retention(&shared, true));
            }
            Some(Msg::Shutdown) => break,
            Some(Msg::Alert(_)) | None => {}
        }
    }
    // Commit whatever was queued before shutdown; senders may still hold
    // clones, so take only what is there now.
    while let Ok(Msg::Alert(a)) = rx.try_recv() {
        batch.push(a);
        if batch.len() >= st.batch_max {
            write_batch(&mut st, &shared, &batch);
            batch.clear();
        }
    }
    if !batch.is_empty() {
        write_batch(&mut st, &shared, &batch);
    }
    let _ = st.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
}

fn write_batch(st: &mut WriterState, shared: &Shared, batch: &[StoredAlert]) {
    match st.commit(batch) {
        Ok(info) => {
            st.rows += info.count as i64;
            st.last_id = info.last_id;
            shared.committed.fetch_add(info.count, Relaxed);
            shared.batches.fetch_add(1, Relaxed);
            // Hook first, then waiters: whoever wakes on an ack sees the
            // hook's effects for that batch.
            if let Ok(h) = shared.hook.lock() {
                if let Some(h) = h.as_ref() {
                    h(info);
                }
            }
            if let Ok(mut g) = shared.last_id.lock() {
                *g = info.last_id;
            }
            shared.acked.notify_all();
        }
        Err(e) => {
            // Lost, but not silently: counted, logged, and the gate will see
            // the gap in these alerts' minutes.
            tracing::error!(error = %e, alerts = batch.len(), "store batch commit failed");
            shared.write_failed.fetch_add(batch.len() as u64, Relaxed);
            for a in batch {
                shared.note_drop(a.time_ns, 1);
            }
        }
    }
}
