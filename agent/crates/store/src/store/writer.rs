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
    /// Coverage heartbeat: every event up to this time was processed and its
    /// alerts were queued before this message, so once it commits (in the
    /// same transaction as those alerts or a later one) the persisted
    /// attach interval may end here.
    Heartbeat(i64),
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
/// Category of the store's own losses in `coverage_drops`.
pub(crate) const STORE_DROP_CATEGORY: &str = "store";

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
    /// Coverage facts waiting for the writer's next transaction. Only facts
    /// that shrink what is vouched for go here (a lost drop record would
    /// over-vouch, so they are persisted before any later heartbeat);
    /// extending coverage goes through the ordered queue (`Msg::Heartbeat`).
    coverage: Mutex<Vec<CovChange>>,
}

/// A change to persisted coverage, applied by the writer thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CovChange {
    /// Capture attached at this time: a new interval, ending there until a
    /// heartbeat moves it.
    Attach(i64),
    /// The agent detached in an orderly way; the end stays at the last heartbeat.
    Detach,
    Drop(DropReport),
    /// History before this time is forgotten.
    Prune(i64),
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
            coverage: Mutex::new(Vec::new()),
        }
    }

    /// Adds store drops loaded from disk (minute buckets), oldest first.
    pub(crate) fn load_drops(&self, buckets: &[(i64, u64)]) {
        if let Ok(mut d) = self.drops.lock() {
            for &(b, n) in buckets {
                d.push_back((b, n));
            }
            while d.len() > DROP_BUCKETS_MAX {
                d.pop_front();
            }
        }
    }

    pub(crate) fn push_coverage(&self, c: CovChange) {
        match c {
            CovChange::Drop(d) => self.push_drop(d.time_ns, d.count, &d.category, d.first_ns),
            other => self.coverage_list().push(other),
        }
    }

    fn coverage_list(&self) -> std::sync::MutexGuard<'_, Vec<CovChange>> {
        // Poisoned: the vector is still valid; losing a drop would over-vouch.
        self.coverage.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops coalesce per category and minute, so a storm of lost alerts
    /// while the writer is stuck costs one entry per minute, not per alert,
    /// and allocates only for a new one.
    fn push_drop(&self, time_ns: i64, count: u64, category: &str, first_ns: Option<i64>) {
        let mut g = self.coverage_list();
        let minute = time_ns.div_euclid(DROP_BUCKET_NS);
        let same = g.iter_mut().rev().take(8).find_map(|x| match x {
            CovChange::Drop(e)
                if e.category == category && e.time_ns.div_euclid(DROP_BUCKET_NS) == minute =>
            {
                Some(e)
            }
            _ => None,
        });
        match same {
            Some(e) => {
                e.count = e.count.saturating_add(count);
                e.time_ns = e.time_ns.max(time_ns);
                e.first_ns = match (e.first_ns, first_ns) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    _ => None,
                };
            }
            None => g.push(CovChange::Drop(DropReport {
                time_ns,
                count,
                category: category.to_owned(),
                first_ns,
            })),
        }
    }

    fn take_coverage(&self) -> Vec<CovChange> {
        std::mem::take(&mut *self.coverage_list())
    }

    /// Puts changes back in front after a failed transaction.
    fn restore_coverage(&self, mut older: Vec<CovChange>) {
        let mut g = self.coverage_list();
        older.append(&mut g);
        *g = older;
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
        // Persisted too, so a restarted agent still refuses that minute.
        self.push_drop(time_ns, n, STORE_DROP_CATEGORY, Some(time_ns));
    }

    /// Store-side losses whose minute overlaps [since, end), as drop reports.
    pub(crate) fn drops_in(&self, since_ns: i64, end_ns: i64) -> Vec<DropReport> {
        let first = since_ns.div_euclid(DROP_BUCKET_NS);
        let Ok(d) = self.drops.lock() else {
            return Vec::new();
        };
        d.iter()
            .filter(|(b, _)| *b >= first && b.saturating_mul(DROP_BUCKET_NS) < end_ns)
            .map(|&(b, count)| DropReport {
                // Start of the minute, clamped into the window: the drop may
                // have been anywhere in that minute, so count it as inside.
                time_ns: (b.saturating_mul(DROP_BUCKET_NS)).max(since_ns),
                count,
                category: STORE_DROP_CATEGORY.into(),
                first_ns: None,
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

/// The coverage tracker's way into the store: facts that shrink coverage go
/// to the pending list, heartbeats through the ordered queue.
#[derive(Clone)]
pub(crate) struct CoverageSink {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
}

impl CoverageSink {
    pub(crate) fn new(tx: SyncSender<Msg>, shared: Arc<Shared>) -> CoverageSink {
        CoverageSink { tx, shared }
    }

    pub(crate) fn push(&self, c: CovChange) {
        self.shared.push_coverage(c);
    }

    /// Never blocks: with the queue full the heartbeat is skipped, which only
    /// leaves the persisted interval shorter until the next one.
    pub(crate) fn heartbeat(&self, time_ns: i64) {
        let _ = self.tx.try_send(Msg::Heartbeat(time_ns));
    }
}

/// Rows per INSERT statement: one statement per row paid for preparing the
/// VM run, the AUTOINCREMENT bookkeeping and the cursor set-up 32k times a
/// batch; 64 rows × 11 values stays far below SQLite's variable limit.
const ROWS_PER_INSERT: usize = 64;

fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO alerts (id, time_ns, priority, rule, source, hostname, namespace, pod, \
         container_id, dim, json) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?,?,?,?,?,?)");
    }
    sql
}

/// Copies WAL frames into the database on its own thread and connection.
///
/// On the writer's thread a checkpoint was a third of its CPU time, plus
/// the wait for the database fsync that ends it, and the gate's tail
/// latency followed those checkpoints; here they overlap with the next
/// batch. PASSIVE never waits for the writer or readers. While the writer
/// keeps committing, the WAL cannot restart behind a concurrent checkpoint,
/// so it still grows: past its budget the writer's TRUNCATE (retention)
/// resets it, after the pass in progress (`lock`), with most frames already
/// copied. Durability is unchanged: a checkpoint copies only committed
/// frames, and SQLite keeps them in the WAL until the database file holding
/// them is synced.
pub(crate) struct Checkpointer {
    tx: Option<SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    lock: Arc<Mutex<()>>,
}

impl Checkpointer {
    /// `None` (logged) if its connection or thread cannot be had; the
    /// writer then checkpoints itself, as SQLite does by default.
    fn start(path: &std::path::Path) -> Option<Checkpointer> {
        let conn = super::schema::open_checkpointer(path)
            .map_err(|e| tracing::warn!(error = %e, "store checkpoint thread: no connection"))
            .ok()?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let lock = Arc::new(Mutex::new(()));
        let held = lock.clone();
        let thread = std::thread::Builder::new()
            .name("saker-store-ckpt".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    let _g = held.lock().unwrap_or_else(|p| p.into_inner());
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "store checkpoint failed");
                    }
                }
            })
            .map_err(|e| tracing::warn!(error = %e, "store checkpoint thread did not start"))
            .ok()?;
        Some(Checkpointer {
            tx: Some(tx),
            thread: Some(thread),
            lock,
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
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
    /// coverage_attach row of this run's open interval.
    open_attach: Option<i64>,
    checkpointer: Option<Checkpointer>,
    /// Held by whoever checkpoints (see `Checkpointer`).
    ckpt_lock: Arc<Mutex<()>>,
}

impl WriterState {
    pub(crate) fn load(mut conn: Connection, cfg: &StoreConfig) -> rusqlite::Result<WriterState> {
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
        let ckpt_frames = policy.apply_pragmas(&conn)?;
        let checkpointer = conn
            .path()
            .filter(|p| !p.is_empty())
            .and_then(|p| Checkpointer::start(std::path::Path::new(p)));
        match checkpointer.as_ref().and_then(|c| c.tx.clone()) {
            Some(notify) => {
                // Replaces SQLite's autocheckpoint (itself a WAL hook), which
                // would run the checkpoint on this thread inside COMMIT. A
                // full slot means a pass is already due, covering this too.
                conn.wal_hook(Some(
                    move |_: &mut rusqlite::hooks::Wal, frames: std::ffi::c_int| {
                        if i64::from(frames) >= ckpt_frames {
                            let _ = notify.try_send(());
                        }
                        Ok(())
                    },
                ))?;
            }
            None => {
                conn.query_row(
                    &format!("PRAGMA wal_autocheckpoint = {}", ckpt_frames * 2),
                    [],
                    |_| Ok(()),
                )?;
            }
        }
        let ckpt_lock = checkpointer
            .as_ref()
            .map_or_else(|| Arc::new(Mutex::new(())), |c| c.lock.clone());
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
            open_attach: None,
            checkpointer,
            ckpt_lock,
        })
    }

    /// One transaction: the batch, the pending coverage changes, then the
    /// heartbeat (so it never commits before the alerts queued ahead of it).
    fn commit(
        &mut self,
        batch: &[StoredAlert],
        coverage: &[CovChange],
        heartbeat: Option<i64>,
    ) -> rusqlite::Result<CommitInfo> {
        let open_before = self.open_attach;
        let out = self.try_commit(batch, coverage, heartbeat);
        if out.is_err() {
            // Rolled back: dims rows and an attach row created in it are gone.
            self.dims.clear();
            self.open_attach = open_before;
        }
        out
    }

    fn try_commit(
        &mut self,
        batch: &[StoredAlert],
        coverage: &[CovChange],
        heartbeat: Option<i64>,
    ) -> rusqlite::Result<CommitInfo> {
        let tx = self.conn.transaction()?;
        // Ids are assigned here rather than by SQLite, so a batch is one
        // contiguous range by construction (AUTOINCREMENT still records
        // the highest, keeping ids unique across retention emptying the table).
        let first_id = self.last_id + 1;
        for (c, chunk) in batch.chunks(ROWS_PER_INSERT).enumerate() {
            // The full chunk's SQL is built once; it is the cache's key.
            static FULL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            let rest;
            let sql = if chunk.len() == ROWS_PER_INSERT {
                FULL.get_or_init(|| insert_sql(ROWS_PER_INSERT)).as_str()
            } else {
                rest = insert_sql(chunk.len());
                rest.as_str()
            };
            let mut stmt = tx.prepare_cached(sql)?;
            let mut col = 1;
            for (i, a) in chunk.iter().enumerate() {
                let dim = self.dims.resolve(&tx, a)?;
                let id = first_id + (c * ROWS_PER_INSERT + i) as i64;
                stmt.raw_bind_parameter(col, id)?;
                stmt.raw_bind_parameter(col + 1, a.time_ns)?;
                stmt.raw_bind_parameter(col + 2, a.priority.as_u8())?;
                stmt.raw_bind_parameter(col + 3, a.rule.as_str())?;
                stmt.raw_bind_parameter(col + 4, a.source.as_str())?;
                stmt.raw_bind_parameter(col + 5, a.hostname.as_str())?;
                stmt.raw_bind_parameter(col + 6, a.namespace.as_deref())?;
                stmt.raw_bind_parameter(col + 7, a.pod.as_deref())?;
                stmt.raw_bind_parameter(col + 8, a.container_id.as_deref())?;
                stmt.raw_bind_parameter(col + 9, dim)?;
                stmt.raw_bind_parameter(col + 10, a.json.as_str())?;
                col += 11;
            }
            stmt.raw_execute()?;
        }
        // The heartbeat extends the interval it was sent in: the latest one
        // that started by its time. It is applied to the open interval just
        // before a change closes it, unless an attach still to come in this
        // commit started by then; else at the end. (Applied to an interval
        // that started after it, max() leaves that interval as it was.)
        let mut beat = heartbeat;
        for (i, c) in coverage.iter().enumerate() {
            if let (Some(t), Some(id)) = (beat, self.open_attach) {
                let closes = matches!(c, CovChange::Attach(_) | CovChange::Detach);
                let later_owner = coverage[i..]
                    .iter()
                    .any(|c| matches!(c, CovChange::Attach(start) if *start <= t));
                if closes && !later_owner {
                    extend_attach(&tx, id, t)?;
                    beat = None;
                }
            }
            apply_coverage(&tx, &mut self.open_attach, c)?;
        }
        if let (Some(t), Some(id)) = (beat, self.open_attach) {
            extend_attach(&tx, id, t)?;
        }
        tx.commit()?;
        let count = batch.len() as u64;
        Ok(CommitInfo {
            first_id,
            last_id: self.last_id + count as i64,
            count,
        })
    }

    fn retention(&mut self, shared: &Shared, age: bool) -> Result<RetentionReport, StoreError> {
        let r = retention::enforce(&self.conn, &self.policy, self.rows, age, &self.ckpt_lock)?;
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

/// A heartbeat at `t` for attach interval `id`.
fn extend_attach(tx: &Connection, id: i64, t: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE coverage_attach SET end_ns = max(end_ns, ?1) WHERE id = ?2")?
        .execute(params![t, id])?;
    Ok(())
}

fn apply_coverage(
    tx: &Connection,
    open_attach: &mut Option<i64>,
    c: &CovChange,
) -> rusqlite::Result<()> {
    match c {
        CovChange::Attach(start) => {
            if let Some(id) = open_attach.take() {
                // Attached again without a detach: the old interval
                // simply ends at its last heartbeat.
                tx.execute(
                    "UPDATE coverage_attach SET clean = 1 WHERE id = ?1",
                    params![id],
                )?;
            }
            tx.execute(
                "INSERT INTO coverage_attach (start_ns, end_ns, clean) VALUES (?1, ?1, 0)",
                params![start],
            )?;
            *open_attach = Some(tx.last_insert_rowid());
        }
        CovChange::Detach => {
            if let Some(id) = open_attach.take() {
                tx.execute(
                    "UPDATE coverage_attach SET clean = 1 WHERE id = ?1",
                    params![id],
                )?;
            }
        }
        CovChange::Drop(d) => {
            tx.prepare_cached(
                // min() of a NULL is NULL: an unknown start stays unknown.
                "INSERT INTO coverage_drops (category, minute, time_ns, first_ns, count) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(category, minute) DO UPDATE SET \
                 time_ns = max(time_ns, excluded.time_ns), \
                 first_ns = min(first_ns, excluded.first_ns), count = count + excluded.count",
            )?
            .execute(params![
                d.category,
                d.time_ns.div_euclid(DROP_BUCKET_NS),
                d.time_ns,
                d.first_ns,
                i64::try_from(d.count).unwrap_or(i64::MAX),
            ])?;
        }
        CovChange::Prune(cutoff) => {
            tx.execute(
                "DELETE FROM coverage_attach WHERE end_ns < ?1 AND id IS NOT ?2",
                params![cutoff, *open_attach],
            )?;
            tx.execute(
                "DELETE FROM coverage_drops WHERE time_ns < ?1",
                params![cutoff],
            )?;
            super::schema::meta_raise(tx, "coverage_pruned_upto_ns", *cutoff)?;
        }
    }
    Ok(())
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
        let mut heartbeat = None;
        match first {
            Some(Msg::Alert(a)) => batch.push(a),
            Some(Msg::Heartbeat(t)) => heartbeat = Some(t),
            Some(other) => control = Some(other),
            None => {}
        }
        while control.is_none() && batch.len() < st.batch_max {
            match rx.try_recv() {
                Ok(Msg::Alert(a)) => batch.push(a),
                // Heartbeats ride along with the batch: it holds every alert
                // queued before them.
                Ok(Msg::Heartbeat(t)) => heartbeat = heartbeat.max(Some(t)),
                Ok(other) => control = Some(other),
                Err(_) => break,
            }
        }
        let wrote = !batch.is_empty();
        if wrote || heartbeat.is_some() || matches!(control, Some(Msg::Flush(_) | Msg::Shutdown)) {
            write_batch(&mut st, &shared, &batch, heartbeat);
            batch.clear();
        }
        if wrote {
            if let Err(e) = st.retention(&shared, false) {
                tracing::warn!(error = %e, "store size retention failed");
            }
        }
        if Instant::now() >= next_age_check {
            // Idle: coverage facts still get to disk without an alert to carry them.
            write_batch(&mut st, &shared, &[], None);
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
            Some(Msg::Alert(_) | Msg::Heartbeat(_)) | None => {}
        }
    }
    // Commit whatever was queued before shutdown; senders may still hold
    // clones, so take only what is there now.
    let mut heartbeat = None;
    loop {
        match rx.try_recv() {
            Ok(Msg::Alert(a)) => batch.push(a),
            Ok(Msg::Heartbeat(t)) => heartbeat = heartbeat.max(Some(t)),
            Ok(_) => continue,
            Err(_) => break,
        }
        if batch.len() >= st.batch_max {
            write_batch(&mut st, &shared, &batch, heartbeat.take());
            batch.clear();
        }
    }
    write_batch(&mut st, &shared, &batch, heartbeat);
    // Stop the checkpoint thread before the last TRUNCATE; the WAL hook
    // holds a sender to it, so it goes first or the join never returns.
    type Hook = fn(&mut rusqlite::hooks::Wal, std::ffi::c_int) -> rusqlite::Result<()>;
    let _ = st.conn.wal_hook(None::<Hook>);
    drop(st.checkpointer.take());
    let _ = st.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
}

fn write_batch(
    st: &mut WriterState,
    shared: &Shared,
    batch: &[StoredAlert],
    heartbeat: Option<i64>,
) {
    let coverage = shared.take_coverage();
    if batch.is_empty() && coverage.is_empty() && (heartbeat.is_none() || st.open_attach.is_none())
    {
        return;
    }
    match st.commit(batch, &coverage, heartbeat) {
        Ok(_) if batch.is_empty() => {}
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
            // Coverage facts are retried with the next transaction; the
            // heartbeat is not (it would vouch for the alerts lost here).
            shared.restore_coverage(coverage);
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
