//! Opening the database file: sanity checks that turn a damaged store into a
//! clear error naming the file, the schema, and its version (`user_version`).

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::error::StoreError;

/// Bump when the schema changes, and add a step to `migrate`.
/// 1: alerts, dims, meta. 2: one (dim, time_ns, priority) index serves the
/// namespace (gate), pod, container and rule filters; persisted coverage.
pub const SCHEMA_VERSION: i64 = 2;

const SCHEMA_V1: &str = "
CREATE TABLE alerts (
    -- AUTOINCREMENT: ids are never reused even after retention empties the
    -- table, so cursors and acknowledged ids stay unambiguous.
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ns      INTEGER NOT NULL,
    priority     INTEGER NOT NULL,
    rule         TEXT NOT NULL,
    source       TEXT NOT NULL,
    hostname     TEXT NOT NULL,
    namespace    TEXT,
    pod          TEXT,
    container_id TEXT,
    -- dims.id of (namespace, pod, container_id, rule): see alerts_dim_time.
    dim          INTEGER NOT NULL,
    json         TEXT NOT NULL
);
-- Each index ends in time_ns and (implicitly) the rowid, so a filter plus
-- ORDER BY time_ns DESC, id DESC walks one index backwards with no sort.
CREATE INDEX alerts_time ON alerts(time_ns);
-- The gate query (namespace = ? AND time_ns >= ? GROUP BY priority) is
-- answered from this index alone: priority is the trailing column.
CREATE INDEX alerts_ns_time ON alerts(namespace, time_ns, priority);
-- Pod, container and rule share one index through the small dims table:
-- every secondary index costs the writer ~2 us per alert, and three of them
-- kept inserts under 100k/s. A pod/container/rule filter becomes
-- dim IN (SELECT id FROM dims WHERE ...), a few index ranges merged by time.
CREATE INDEX alerts_dim_time ON alerts(dim, time_ns);
-- No priority index: priority has 8 values, so (priority, time_ns) cannot
-- return newest-first without sorting every match; min_priority is a
-- residual test on a time-ordered scan, and the gate reads it from the
-- namespace index above.
CREATE TABLE dims (
    id           INTEGER PRIMARY KEY,
    namespace    TEXT,
    pod          TEXT,
    container_id TEXT,
    rule         TEXT NOT NULL
);
CREATE INDEX dims_key ON dims(namespace, pod, container_id, rule);
CREATE INDEX dims_pod ON dims(pod);
CREATE INDEX dims_container ON dims(container_id);
CREATE INDEX dims_rule ON dims(rule);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
";

/// Version 1 → 2. Everything here is cheap on a full store except building
/// the new index (one sort of the existing rows, a few seconds per million).
const SCHEMA_V2: &str = "
-- The namespace index was the writer's most expensive (text keys, one
-- insertion point per namespace): ~3 us of ~9.5 us per alert at 1M rows.
-- The namespace is already a dims column, so the gate and namespace
-- queries go through the dims index like pod, container and rule do, and
-- priority joins that index so the gate's per-priority counts stay
-- index-only.
DROP INDEX alerts_ns_time;
DROP INDEX alerts_dim_time;
CREATE INDEX alerts_dim_time ON alerts(dim, time_ns, priority);
-- Gate coverage that must outlive the process (see `coverage` in the
-- store module): one row per capture attach. end_ns only ever advances to
-- a heartbeat that was committed after every alert the agent produced up
-- to that time, so after kill -9 the interval ends at what was durably
-- observed. clean = 1 once the agent detached in an orderly way.
CREATE TABLE coverage_attach (
    id       INTEGER PRIMARY KEY,
    start_ns INTEGER NOT NULL,
    end_ns   INTEGER NOT NULL,
    clean    INTEGER NOT NULL DEFAULT 0
);
-- Lost events per category and minute of event time: the losses lie in
-- [first_ns, time_ns] (first_ns NULL: anywhere in the minute up to time_ns).
CREATE TABLE coverage_drops (
    category TEXT NOT NULL,
    minute   INTEGER NOT NULL,
    time_ns  INTEGER NOT NULL,
    first_ns INTEGER,
    count    INTEGER NOT NULL,
    PRIMARY KEY (category, minute)
) WITHOUT ROWID;
";

/// How much to verify at start. `Quick` reads every page (PRAGMA
/// quick_check): about a second per GB here, paid once at start so damage is
/// found before the agent claims to be storing alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartupCheck {
    /// Header, schema and version only.
    Header,
    #[default]
    Quick,
}

/// SQLite's synchronous setting; see `StoreConfig::sync` for what each means
/// for an acknowledged alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    #[default]
    Normal,
    Full,
}

fn corrupt(path: &Path, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        detail: detail.to_string(),
    }
}

/// Classifies an SQLite error met while opening: damage vs. permissions.
fn open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::*;
    match e.sqlite_error_code() {
        Some(NotADatabase | DatabaseCorrupt) => corrupt(path, e),
        _ => StoreError::Unreadable {
            path: path.to_owned(),
            source: Box::new(e),
        },
    }
}

/// The first 16 bytes of every SQLite file; checked ourselves so a file of
/// garbage is reported as such before SQLite is asked anything.
fn check_header(path: &Path) -> Result<(), StoreError> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(StoreError::Unreadable {
                path: path.to_owned(),
                source: Box::new(e),
            })
        }
    };
    let mut head = [0u8; 16];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => {
                return Err(StoreError::Unreadable {
                    path: path.to_owned(),
                    source: Box::new(e),
                })
            }
        }
    }
    // An empty file is what a crash during the very first open leaves: it
    // holds nothing, so initialising it wipes nothing.
    if n == 0 {
        return Ok(());
    }
    if n < head.len() || &head != b"SQLite format 3\0" {
        return Err(corrupt(path, "not an SQLite database (bad file header)"));
    }
    Ok(())
}

/// A watermark kept in `meta` (`deleted_upto_ns`, `coverage_pruned_upto_ns`).
pub(crate) fn meta_get(conn: &Connection, key: &str) -> rusqlite::Result<Option<i64>> {
    use rusqlite::OptionalExtension;
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

/// Raises a `meta` watermark to `value`; it never goes back.
pub(crate) fn meta_raise(conn: &Connection, key: &str, value: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) \
         ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
        rusqlite::params![key, value],
    )?;
    Ok(())
}

/// Process-wide SQLite settings, applied before the first connection.
///
/// Memory statistics off: with them on (SQLite's default) every allocation
/// and free takes one global mutex, and the readers (whose page cache is
/// rebuilt at each query while the writer commits) and the writer then
/// queue on it; when its holder is preempted on a busy machine, every
/// query waits a scheduler slice. It was the gate's p99 under writes.
/// Nothing here reads those statistics.
pub(crate) fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config with an int argument, as the option
        // expects; SQLite refuses it (SQLITE_MISUSE) rather than misbehaving
        // once initialised, e.g. if another part of the process opened a
        // database first.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::ffi::c_int,
            )
        };
        if rc != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(rc, "SQLite already initialised; memory statistics stay on");
        }
    });
}

/// Opens (creating if absent) the writer connection and brings the schema to
/// `SCHEMA_VERSION`, or explains why it cannot.
pub fn open_writer(
    path: &Path,
    sync: SyncMode,
    check: StartupCheck,
) -> Result<Connection, StoreError> {
    check_header(path)?;
    configure_sqlite();
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| open_error(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(2))
        .map_err(|e| open_error(path, e))?;

    let (version, tables) = read_schema_state(&conn).map_err(|e| open_error(path, e))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version == 0 && tables > 0 {
        return Err(StoreError::Foreign {
            path: path.to_owned(),
        });
    }
    if check == StartupCheck::Quick && tables > 0 {
        quick_check(&conn, path)?;
    }
    if version == 0 {
        // auto_vacuum must be chosen before the first table exists; INCREMENTAL
        // lets size retention hand freed pages back to the filesystem.
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")
            .map_err(|e| open_error(path, e))?;
    }
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unreadable {
            path: path.to_owned(),
            source: format!("cannot switch to WAL journal mode (got {mode})").into(),
        });
    }
    let sync_sql = match sync {
        SyncMode::Normal => "PRAGMA synchronous = NORMAL;",
        SyncMode::Full => "PRAGMA synchronous = FULL;",
    };
    conn.execute_batch(sync_sql)
        .map_err(|e| open_error(path, e))?;
    // Inserts touch one leaf page per index at scattered keys (1,000
    // namespaces, pods...): a 64 MiB cache keeps those hot instead of
    // re-reading them through the kernel on every row.
    conn.execute_batch("PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;")
        .map_err(|e| open_error(path, e))?;
    if version < SCHEMA_VERSION {
        migrate(&conn, version).map_err(|e| open_error(path, e))?;
    }
    Ok(conn)
}

fn read_schema_state(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        [],
        |r| r.get(0),
    )?;
    Ok((version, tables))
}

fn quick_check(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare("PRAGMA quick_check(5)")
        .map_err(|e| open_error(path, e))?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|it| it.collect())
        .map_err(|e| open_error(path, e))?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        Err(corrupt(path, rows.join("; ")))
    }
}

fn migrate(conn: &Connection, from: i64) -> rusqlite::Result<()> {
    migrate_to(conn, from, SCHEMA_VERSION)
}

fn migrate_to(conn: &Connection, from: i64, to: i64) -> rusqlite::Result<()> {
    // One transaction per step, so a crash mid-migration leaves the
    // previous version, and the next start resumes from there.
    if from < 1 && to >= 1 {
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA_V1} PRAGMA user_version = 1; COMMIT;"
        ))?;
    }
    if from < 2 && to >= 2 {
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA_V2} PRAGMA user_version = 2; COMMIT;"
        ))?;
    }
    Ok(())
}

/// The checkpoint thread's connection: read-write (a checkpoint writes the
/// database file) but it never runs a statement that changes data. No busy
/// wait: PASSIVE checkpoints give up instead of waiting.
pub fn open_checkpointer(path: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

/// A connection for queries. `query_only` makes a bug in the read path unable
/// to write; WAL lets it read while the writer commits.
pub fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(2))?;
    // mmap: page reads without a syscall and copy each, which keeps gate
    // query latency flat while the writer is busy. Bounded on purpose: each
    // connection remaps when the file grows past its mapping, and that
    // munmap takes the process's mmap lock for writing, stalling every
    // thread's page faults (a 2 GiB mapping tripled the gate's p99). Past
    // 256 MiB the mapping stops changing; pages beyond it are read.
    conn.execute_batch(
        "PRAGMA query_only = ON; PRAGMA cache_size = -16384; PRAGMA mmap_size = 268435456;",
    )?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{GateRequest, Query};
    use crate::store::{Store, StoreConfig};
    use crate::Priority;

    /// A store written by the previous version (schema 1, with its rows)
    /// opens, migrates in place, and answers the same queries.
    #[test]
    fn version_1_store_migrates_with_its_alerts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::store::DB_FILE);
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL;")
                .unwrap();
            migrate_to(&conn, 0, 1).unwrap();
            conn.execute_batch(
                "INSERT INTO dims (id, namespace, pod, container_id, rule) VALUES \
                   (1, 'shadow', 'p', 'c', 'r'), (2, 'other', NULL, NULL, 'r');
                 INSERT INTO alerts (time_ns, priority, rule, source, hostname, namespace, pod, \
                   container_id, dim, json) VALUES
                   (100, 2, 'r', 'syscall', 'h', 'shadow', 'p', 'c', 1, '{\"n\":1}'),
                   (200, 5, 'r', 'syscall', 'h', 'shadow', 'p', 'c', 1, '{\"n\":2}'),
                   (300, 4, 'r', 'syscall', 'h', 'other', NULL, NULL, 2, '{\"n\":3}');",
            )
            .unwrap();
        }
        let mut cfg = StoreConfig::new(dir.path());
        cfg.max_age = None;
        let store = Store::open(cfg).unwrap();
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let old_index: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'alerts_ns_time'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old_index, 0);
        let page = store
            .query(&Query {
                namespace: Some("shadow".into()),
                ..Query::default()
            })
            .unwrap();
        let jsons: Vec<&str> = page.alerts.iter().map(|a| a.alert.json.as_str()).collect();
        assert_eq!(jsons, [r#"{"n":2}"#, r#"{"n":1}"#]);
        let w = store
            .gate_window(
                &GateRequest {
                    namespace: "shadow".into(),
                    since_ns: 100,
                    until_ns: None,
                    threshold: Priority::Warning,
                },
                10,
            )
            .unwrap();
        assert_eq!(w.total(), 2);
        assert_eq!(w.counts[2], 1);
        // New ids continue after the old ones; coverage starts empty.
        assert!(store.persisted_coverage().attached.is_empty());
        let mut a = crate::StoredAlert::from_falco_json(
            r#"{"time":"2026-01-01T00:00:00Z","rule":"r","priority":"Notice","output_fields":{"k8s.ns.name":"shadow"}}"#,
        )
        .unwrap();
        a.time_ns = 400;
        store.writer().send_blocking(a).unwrap();
        store.flush().unwrap();
        assert_eq!(store.acks().last_id(), 4);
    }
}
