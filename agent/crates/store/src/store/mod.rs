//! The embedded alert store: one SQLite database in `store.path`.
//!
//! Why SQLite (rusqlite, bundled) rather than redb: the job is secondary
//! indexes plus range scans over several of them (namespace, pod, container,
//! rule, priority, each with time), which SQLite's query planner and composite
//! indexes give us for free; in redb each index would be a hand-maintained
//! table kept consistent by our code. SQLite's WAL also gives concurrent
//! readers next to one writer, crash recovery that is decades old, and files
//! an operator can open with the `sqlite3` shell when something looks wrong.
//!
//! What "acknowledged" means: an alert is acknowledged when the transaction
//! holding its batch has committed (the commit hook and `AckWatch` fire only
//! after COMMIT returns). With WAL and `synchronous=NORMAL` (the default) the
//! committed frames have been written to the WAL file, so they survive the
//! agent being killed (kill -9, OOM killer, panic): the kernel holds the
//! bytes. Power loss or a kernel crash can lose the last commits; that same
//! event also stops capture, and the gate then reports the window as skipped
//! (capture was not attached), so the verdict stays honest. `SyncMode::Full`
//! adds an fsync per batch for those who need power-loss durability; batching
//! keeps its cost to one fsync per batch, not per alert.

mod coverage_db;
mod dims;
mod read;
mod retention;
mod schema;
mod writer;

pub use read::{GateAlert, GateWindow, QueryPage};
pub use retention::RetentionReport;
pub use schema::{StartupCheck, SyncMode, SCHEMA_VERSION};
pub use writer::{AckWatch, CommitInfo, StoreStats, StoreWriter};
pub(crate) use writer::{CovChange, CoverageSink};

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::alert::AlertRecord;
use crate::error::StoreError;
use crate::gate::{runtime_verdict, Coverage, GateContext, RuntimeVerdict};
use crate::query::{GateRequest, Query};

pub const DB_FILE: &str = "alerts.db";
const LOCK_FILE: &str = "store.lock";

#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Directory holding `alerts.db` (plus its -wal and -shm files).
    pub path: PathBuf,
    /// Delete alerts older than this. `None` keeps them until the size cap.
    pub max_age: Option<Duration>,
    /// Keep the database files (db + wal + shm) under this many bytes,
    /// deleting oldest alerts first. `None` for no cap.
    pub max_bytes: Option<u64>,
    /// Bounded queue between the pipeline and the writer thread; when full,
    /// alerts are dropped and counted rather than blocking detection.
    pub queue_capacity: usize,
    /// Most alerts per transaction.
    pub batch_max: usize,
    pub sync: SyncMode,
    /// How often age retention runs (size is checked after every batch).
    pub retention_interval: Duration,
    pub startup_check: StartupCheck,
}

impl StoreConfig {
    pub fn new(path: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            path: path.into(),
            max_age: Some(Duration::from_secs(7 * 86_400)),
            max_bytes: Some(1 << 30),
            queue_capacity: 65_536,
            batch_max: 32_768,
            sync: SyncMode::Normal,
            retention_interval: Duration::from_secs(30),
            startup_check: StartupCheck::Quick,
        }
    }
}

/// Handle to an open store. Queries run on pooled read connections from the
/// calling thread (use `spawn_blocking` from async code); writes go through
/// `StoreWriter` to the single writer thread.
pub struct Store {
    shared: Arc<writer::Shared>,
    tx: SyncSender<writer::Msg>,
    thread: Mutex<Option<JoinHandle<()>>>,
    readers: read::ReaderPool,
    db_path: PathBuf,
    /// Coverage of earlier runs, as read at open.
    persisted: Coverage,
    // Held for the store's lifetime: a second agent on the same directory
    // gets `StoreError::Locked` instead of two writers racing.
    _lock: File,
}

impl Store {
    /// Opens or creates the store. Refuses damaged, foreign or too-new files
    /// with an error naming the file; never deletes or rewrites them.
    pub fn open(cfg: StoreConfig) -> Result<Store, StoreError> {
        let dir_err = |source| StoreError::Dir {
            path: cfg.path.clone(),
            source,
        };
        std::fs::create_dir_all(&cfg.path).map_err(dir_err)?;
        let lock_path = cfg.path.join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(dir_err)?;
        if lock.try_lock().is_err() {
            return Err(StoreError::Locked { path: cfg.path });
        }
        let db_path = cfg.path.join(DB_FILE);
        let conn = schema::open_writer(&db_path, cfg.sync, cfg.startup_check)?;
        let corrupt = |e: rusqlite::Error| StoreError::Corrupt {
            path: db_path.clone(),
            detail: e.to_string(),
        };
        let loaded = coverage_db::load(&conn).map_err(corrupt)?;
        let state = writer::WriterState::load(conn, &cfg).map_err(corrupt)?;
        let shared = Arc::new(writer::Shared::new(
            &cfg,
            state.last_id,
            state.deleted_upto_ns,
        ));
        shared.load_drops(&loaded.store_drops);
        let (tx, rx) = sync_channel(cfg.queue_capacity.max(1));
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("saker-store".into())
                .spawn(move || writer::run(state, rx, shared))
                .map_err(|e| StoreError::Thread(e.to_string()))?
        };
        let readers = read::ReaderPool::new(db_path.clone());
        readers.warm(4);
        Ok(Store {
            shared,
            tx,
            thread: Mutex::new(Some(thread)),
            readers,
            db_path,
            persisted: loaded.coverage,
            _lock: lock,
        })
    }

    /// A cheap, cloneable handle for the pipeline.
    pub fn writer(&self) -> StoreWriter {
        StoreWriter::new(self.tx.clone(), self.shared.clone())
    }

    pub fn stats(&self) -> StoreStats {
        self.shared.stats(disk_usage(&self.db_path))
    }

    /// What earlier runs of the agent could vouch for (attach intervals
    /// ending at their last durable heartbeat, drops, pruning floor), as
    /// read at open. `CoverageTracker::persist_to` merges it.
    pub fn persisted_coverage(&self) -> Coverage {
        self.persisted.clone()
    }

    pub(crate) fn coverage_sink(&self) -> CoverageSink {
        CoverageSink::new(self.tx.clone(), self.shared.clone())
    }

    /// Watch the id of the last committed (acknowledged) alert.
    pub fn acks(&self) -> AckWatch {
        AckWatch::new(self.shared.clone())
    }

    /// Called on the writer thread after each committed batch. Keep it short:
    /// the next batch waits for it.
    pub fn set_commit_hook(&self, hook: impl Fn(CommitInfo) + Send + 'static) {
        self.shared.set_hook(Box::new(hook));
    }

    /// Blocks until everything queued before this call is committed (or failed).
    pub fn flush(&self) -> Result<(), StoreError> {
        let (reply, rx) = sync_channel(1);
        self.tx
            .send(writer::Msg::Flush(reply))
            .map_err(|_| StoreError::Closed)?;
        rx.recv().map_err(|_| StoreError::Closed)
    }

    /// Runs age and size retention now (it also runs on its own schedule).
    pub fn run_retention(&self) -> Result<RetentionReport, StoreError> {
        let (reply, rx) = sync_channel(1);
        self.tx
            .send(writer::Msg::Retention(reply))
            .map_err(|_| StoreError::Closed)?;
        rx.recv().map_err(|_| StoreError::Closed)?
    }

    /// Alerts matching `q`, newest first, with the cursor for the next page.
    pub fn query(&self, q: &Query) -> Result<QueryPage, StoreError> {
        self.readers.with(|c| read::query(c, q))
    }

    /// Live tail for `/v1/alerts/stream`: up to `max` alerts with id >
    /// `after_id` matching `q`'s filters (limit and cursor ignored), oldest
    /// first. Poll with the last id returned; ids only grow, so nothing is
    /// missed or repeated, and a slow client costs no buffer: it is simply
    /// further behind (compare with `acks().last_id()` to drop it).
    pub fn tail(&self, q: &Query, after_id: i64, max: u32) -> Result<Vec<AlertRecord>, StoreError> {
        self.readers.with(|c| read::tail(c, q, after_id, max))
    }

    pub fn get(&self, id: i64) -> Result<Option<AlertRecord>, StoreError> {
        self.readers.with(|c| read::get(c, id))
    }

    /// Per-priority counts and up to `max_alerts` alerts (those at or above
    /// the threshold first) for `namespace` with time_ns >= since.
    pub fn gate_window(
        &self,
        req: &GateRequest,
        max_alerts: usize,
    ) -> Result<GateWindow, StoreError> {
        self.readers.with(|c| read::gate_window(c, req, max_alerts))
    }

    /// The `/v1/gate/runtime` answer: store data, plus what the store itself
    /// knows about gaps (its own drops and retention) merged into `coverage`.
    pub fn gate_runtime(
        &self,
        req: &GateRequest,
        coverage: &Coverage,
        ctx: &GateContext,
        now_ns: i64,
    ) -> Result<RuntimeVerdict, StoreError> {
        let window = self.gate_window(req, crate::gate::MAX_GATE_ALERTS)?;
        let mut cov = coverage.clone();
        let end = crate::gate::window_end(req, now_ns);
        cov.drops.extend(self.shared.drops_in(req.since_ns, end));
        let floor = self.shared.deleted_upto_ns();
        if floor > i64::MIN {
            cov.deleted_upto_ns = Some(cov.deleted_upto_ns.map_or(floor, |c| c.max(floor)));
        }
        Ok(runtime_verdict(req, ctx, &window, &cov, now_ns))
    }

    /// Bytes the database files take on disk now (db + wal + shm).
    pub fn disk_usage(&self) -> u64 {
        disk_usage(&self.db_path)
    }

    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// Commits what is queued, stops the writer thread. Also done on drop.
    pub fn close(&self) {
        let _ = self.tx.send(writer::Msg::Shutdown);
        let handle = self.thread.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

pub(crate) fn disk_usage(db_path: &Path) -> u64 {
    let mut total = 0;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db_path.as_os_str().to_owned();
        p.push(suffix);
        total += std::fs::metadata(PathBuf::from(p)).map_or(0, |m| m.len());
    }
    total
}

/// What `reset` does with the old files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetMode {
    /// Rename them to `alerts.db.broken-<unix seconds>` (and -wal, -shm) in
    /// the same directory, so nothing is lost.
    MoveAside,
    /// Delete them.
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetReport {
    /// (old path, new path or None when deleted), for each file that existed.
    pub files: Vec<(PathBuf, Option<PathBuf>)>,
}

/// `--store-reset`: the explicit, operator-requested way past a damaged store.
/// Must not run while an agent has the store open (it takes the lock).
pub fn reset(dir: &Path, mode: ResetMode) -> Result<ResetReport, StoreError> {
    let dir_err = |source| StoreError::Dir {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    if !dir.exists() {
        return Ok(ResetReport { files });
    }
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK_FILE))
        .map_err(dir_err)?;
    if lock.try_lock().is_err() {
        return Err(StoreError::Locked {
            path: dir.to_owned(),
        });
    }
    let stamp = crate::timefmt::now_ns() / crate::timefmt::NS_PER_SEC;
    // The WAL goes with the database: either alone is meaningless.
    for suffix in ["", "-wal", "-shm"] {
        let old = dir.join(format!("{DB_FILE}{suffix}"));
        if !old.exists() {
            continue;
        }
        match mode {
            ResetMode::MoveAside => {
                let new = dir.join(format!("{DB_FILE}.broken-{stamp}{suffix}"));
                std::fs::rename(&old, &new).map_err(dir_err)?;
                files.push((old, Some(new)));
            }
            ResetMode::Delete => {
                std::fs::remove_file(&old).map_err(dir_err)?;
                files.push((old, None));
            }
        }
    }
    Ok(ResetReport { files })
}
