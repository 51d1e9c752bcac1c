//! Retention by age and by size, oldest first, run on the writer thread.
//!
//! Size accounting: the database file never grows while it has free pages,
//! so keeping the *used* pages ((page_count - freelist_count) * page_size)
//! under a budget keeps the file under it too; the WAL gets its own budget
//! (checkpointed often and truncated to `journal_size_limit`), and the budget
//! for the database is the cap minus the WAL's share.

use std::time::Duration;

use rusqlite::{params, Connection};

use crate::error::StoreError;
use crate::timefmt::now_ns;

/// Rows per delete transaction: short transactions so inserts (same thread)
/// and checkpoints are not held up for long.
const DELETE_CHUNK: i64 = 10_000;
/// Most rows one size pass deletes before letting the next batch in.
const SIZE_PASS_MAX: i64 = 100_000;
const SHM_ALLOWANCE: u64 = 128 * 1024;

pub(crate) struct RetentionPolicy {
    max_age: Option<Duration>,
    max_bytes: Option<u64>,
    wal_budget: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub deleted_age: u64,
    pub deleted_size: u64,
    /// Newest event time of any alert retention has deleted (ever), ns;
    /// i64::MIN when nothing was deleted.
    pub deleted_upto_ns: i64,
    /// Bytes used by pages holding data, after this pass.
    pub used_bytes: u64,
}

impl RetentionPolicy {
    pub(crate) fn new(max_age: Option<Duration>, max_bytes: Option<u64>) -> RetentionPolicy {
        // An eighth of the cap for the WAL, within [256 KiB, 128 MiB]. Half
        // of it triggers a checkpoint; the other half absorbs the batch that
        // crosses the mark. Big checkpoints matter under storms: index pages
        // dirtied by many batches are copied into the database once.
        let wal_budget = max_bytes.map_or(128 << 20, |b| (b / 8).clamp(256 << 10, 128 << 20));
        RetentionPolicy {
            max_age,
            max_bytes,
            wal_budget,
        }
    }

    /// WAL limits that make the size cap hold between our own checks.
    /// Returns the WAL size, in frames, past which a checkpoint is due (the
    /// writer's WAL hook hands it to the checkpoint thread).
    pub(crate) fn apply_pragmas(&self, conn: &Connection) -> rusqlite::Result<i64> {
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        conn.query_row(
            &format!("PRAGMA journal_size_limit = {}", self.wal_budget),
            [],
            |_| Ok(()),
        )?;
        Ok((self.wal_budget as i64 / page_size.max(512) / 4).max(16))
    }

    /// Bytes the database (not WAL) may use.
    fn db_budget(&self) -> Option<u64> {
        self.max_bytes
            .map(|cap| cap.saturating_sub(self.wal_budget + SHM_ALLOWANCE))
    }
}

pub(crate) fn load_floor(conn: &Connection) -> rusqlite::Result<i64> {
    Ok(super::schema::meta_get(conn, "deleted_upto_ns")?.unwrap_or(i64::MIN))
}

struct Pages {
    page_size: u64,
    count: u64,
    free: u64,
}

impl Pages {
    fn read(conn: &Connection) -> rusqlite::Result<Pages> {
        let q = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
        Ok(Pages {
            page_size: q("PRAGMA page_size")? as u64,
            count: q("PRAGMA page_count")? as u64,
            free: q("PRAGMA freelist_count")? as u64,
        })
    }
    fn used(&self) -> u64 {
        self.count.saturating_sub(self.free) * self.page_size
    }
    fn file(&self) -> u64 {
        self.count * self.page_size
    }
}

/// Deletes up to `n` oldest alerts (optionally only those older than
/// `before`) in one transaction, raising the persisted floor.
fn delete_oldest(conn: &Connection, n: i64, before: Option<i64>) -> rusqlite::Result<(u64, i64)> {
    let before = before.unwrap_or(i64::MAX);
    let tx = conn.unchecked_transaction()?;
    let max_t: Option<i64> = tx.query_row(
        "SELECT max(time_ns) FROM (SELECT time_ns FROM alerts WHERE time_ns < ?1 \
         ORDER BY time_ns, id LIMIT ?2)",
        params![before, n],
        |r| r.get(0),
    )?;
    let Some(max_t) = max_t else {
        return Ok((0, i64::MIN));
    };
    let deleted = tx.execute(
        "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE time_ns < ?1 \
         ORDER BY time_ns, id LIMIT ?2)",
        params![before, n],
    )?;
    super::schema::meta_raise(&tx, "deleted_upto_ns", max_t)?;
    tx.commit()?;
    Ok((deleted as u64, max_t))
}

/// One retention pass. `age`: also apply the age limit (scheduled passes);
/// the size check runs after every batch and must be cheap when under cap.
pub(crate) fn enforce(
    conn: &Connection,
    policy: &RetentionPolicy,
    rows: i64,
    age: bool,
    ckpt_lock: &std::sync::Mutex<()>,
) -> Result<RetentionReport, StoreError> {
    let mut report = RetentionReport {
        deleted_upto_ns: i64::MIN,
        ..Default::default()
    };
    if let (true, Some(max_age)) = (age, policy.max_age) {
        let age_ns = i64::try_from(max_age.as_nanos()).unwrap_or(i64::MAX);
        let cutoff = now_ns().saturating_sub(age_ns);
        loop {
            let (n, t) = delete_oldest(conn, DELETE_CHUNK, Some(cutoff))?;
            report.deleted_age += n;
            report.deleted_upto_ns = report.deleted_upto_ns.max(t);
            if n < DELETE_CHUNK as u64 {
                break;
            }
        }
    }
    let mut pages = Pages::read(conn)?;
    let mut vacuumed = false;
    if let Some(budget) = policy.db_budget() {
        // Hysteresis: start deleting above 95% of the budget, stop at 85%,
        // so a store at its cap deletes in chunks, not on every batch.
        let high = budget / 20 * 19;
        let low = budget / 20 * 17;
        let mut rows_left = (rows - report.deleted_age as i64).max(0);
        let mut pass_deleted = 0i64;
        if pages.used() > high {
            while pages.used() > low && rows_left > 0 && pass_deleted < SIZE_PASS_MAX {
                // Rows to delete, assuming bytes per row is uniform; re-measured each round.
                let over = pages.used() - low;
                let per_row = (pages.used() / rows_left as u64).max(1);
                let n = ((over / per_row) as i64 + 1).clamp(64, DELETE_CHUNK);
                let (d, t) = delete_oldest(conn, n, None)?;
                if d == 0 {
                    break;
                }
                report.deleted_size += d;
                report.deleted_upto_ns = report.deleted_upto_ns.max(t);
                rows_left -= d as i64;
                pass_deleted += d as i64;
                pages = Pages::read(conn)?;
            }
        }
        // The file only needs shrinking when it exceeds the budget (e.g. the
        // cap was lowered); otherwise free pages are reused by new inserts.
        if pages.file() > budget && pages.free > 0 {
            // Each step frees one page and yields an empty row: step to the end.
            let mut stmt = conn.prepare("PRAGMA incremental_vacuum(4096)")?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
            pages = Pages::read(conn)?;
            vacuumed = true;
        }
    }
    if vacuumed
        || report.deleted_age + report.deleted_size > 0
        || wal_bytes(conn) > policy.wal_budget
    {
        // Best effort: readers holding an old snapshot can keep part of the
        // WAL alive; the next pass retries. After the background pass in
        // progress, if any (SQLite runs one checkpoint at a time and would
        // refuse this one); that pass has copied most frames already.
        let _g = ckpt_lock.lock().unwrap_or_else(|p| p.into_inner());
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
    if report.deleted_upto_ns == i64::MIN {
        report.deleted_upto_ns = load_floor(conn)?;
    } else {
        report.deleted_upto_ns = report.deleted_upto_ns.max(load_floor(conn)?);
    }
    report.used_bytes = pages.used();
    Ok(report)
}

fn wal_bytes(conn: &Connection) -> u64 {
    conn.path()
        .and_then(|p| std::fs::metadata(format!("{p}-wal")).ok())
        .map_or(0, |m| m.len())
}
