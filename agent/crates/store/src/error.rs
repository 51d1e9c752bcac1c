//! Errors. Start-up errors name the file and the way out, because an
//! operator reads them in a crash-looping pod's log.

use std::path::PathBuf;

const RESET_HINT: &str =
    "the agent refuses to start; inspect the file, or run with --store-reset to move it aside";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store directory {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("store file {path} is unreadable: {source}; {RESET_HINT}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("store file {path} is corrupt: {detail}; {RESET_HINT}")]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "store file {path} has schema version {found}, newer than this saker supports ({supported}); \
         use a newer saker or --store-reset"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("store file {path} is an SQLite database but not a saker store; {RESET_HINT}")]
    Foreign { path: PathBuf },
    #[error("store {path} is in use by another process (lock held)")]
    Locked { path: PathBuf },
    #[error("store is closed")]
    Closed,
    #[error("store query failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store writer thread failed: {0}")]
    Thread(String),
}

/// Why `StoreWriter::try_send` did not take an alert. Every drop is counted
/// in `StoreStats` and remembered for gate coverage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Dropped {
    #[error("store write queue full; alert dropped")]
    QueueFull,
    #[error("store closed; alert dropped")]
    Closed,
}
