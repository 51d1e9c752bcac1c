//! Opening the database file: sanity checks that turn a damaged store into a
//! clear error naming the file, the schema, and its version (`user_version`).

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::error::StoreError;

/// Bump when the schema changes, and add a step to `migrate`.
pub const SCHEMA_VERSION: i64 = 1;

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

/// Opens (creating if absent) the writer connection and brings the schema to
/// `SCHEMA_VERSION`, or explains why it cannot.
pub fn open_writer(
    path: &Path,
    sync: SyncMode,
    check: StartupCheck,
) -> Result<Connection, StoreError> {
    check_header(path)?;
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
    // One transaction per step, so a crash mid-migration leaves the old version.
    if from < 1 {
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA_V1} PRAGMA user_version = 1; COMMIT;"
        ))?;
    }
    Ok(())
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
    // query latency flat while the writer is busy.
    conn.execute_batch(
        "PRAGMA query_only = ON; PRAGMA cache_size = -16384; PRAGMA mmap_size = 268435456;",
    )?;
    Ok(conn)
}
