//! Damaged store files: a clear error naming the file, nothing wiped; reset.

mod common;

use std::path::Path;

use common::{alert, cfg, put_all, T0};
use saker_store::{reset, Priority, Query, ResetMode, Store, StoreError};

fn db(dir: &Path) -> std::path::PathBuf {
    dir.join("alerts.db")
}

fn open_err(dir: &Path) -> StoreError {
    match Store::open(cfg(dir)) {
        Ok(_) => panic!("damaged store opened"),
        Err(e) => e,
    }
}

#[test]
fn garbage_file_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let junk: Vec<u8> = (0..10_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(db(dir.path()), &junk).unwrap();
    let e = open_err(dir.path());
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(&db(dir.path()).display().to_string()),
        "names the file: {msg}"
    );
    assert!(msg.contains("--store-reset"), "names the way out: {msg}");
    assert_eq!(
        std::fs::read(db(dir.path())).unwrap(),
        junk,
        "never silently wiped"
    );
}

#[test]
fn damaged_page_is_found_at_start() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(cfg(dir.path())).unwrap();
        put_all(
            &store,
            (0..3000u64).map(|i| alert(i, T0 + i as i64, Some("ns"), Some("p"), Priority::Error)),
        );
    }
    let mut bytes = std::fs::read(db(dir.path())).unwrap();
    assert!(bytes.len() > 40 * 4096);
    for b in &mut bytes[20 * 4096..22 * 4096] {
        *b = 0xA5;
    }
    std::fs::write(db(dir.path()), &bytes).unwrap();
    let e = open_err(dir.path());
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
    assert_eq!(
        std::fs::read(db(dir.path())).unwrap(),
        bytes,
        "left as found"
    );
}

#[test]
fn foreign_and_newer_databases_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let c = rusqlite::Connection::open(db(dir.path())).unwrap();
        c.execute_batch("CREATE TABLE users (name TEXT);").unwrap();
    }
    assert!(matches!(open_err(dir.path()), StoreError::Foreign { .. }));

    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(cfg(dir.path())).unwrap());
    {
        let c = rusqlite::Connection::open(db(dir.path())).unwrap();
        c.execute_batch("PRAGMA user_version = 99;").unwrap();
    }
    let e = open_err(dir.path());
    assert!(
        matches!(e, StoreError::SchemaTooNew { found: 99, .. }),
        "{e}"
    );
}

#[test]
fn unreadable_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(db(dir.path())).unwrap();
    let e = open_err(dir.path());
    assert!(matches!(e, StoreError::Unreadable { .. }), "{e}");
    assert!(e.to_string().contains("alerts.db"));
}

#[test]
fn reset_moves_aside_or_deletes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        db(dir.path()),
        b"definitely not sqlite, but someone's evidence",
    )
    .unwrap();
    assert!(Store::open(cfg(dir.path())).is_err());
    let report = reset(dir.path(), ResetMode::MoveAside).unwrap();
    assert_eq!(report.files.len(), 1);
    let moved = report.files[0].1.clone().unwrap();
    assert_eq!(
        std::fs::read(&moved).unwrap(),
        b"definitely not sqlite, but someone's evidence"
    );
    {
        let store = Store::open(cfg(dir.path())).unwrap();
        assert!(store.query(&Query::default()).unwrap().alerts.is_empty());
        put_all(&store, [alert(1, T0, Some("ns"), None, Priority::Notice)]);
        // Reset refuses while the store is open.
        assert!(matches!(
            reset(dir.path(), ResetMode::Delete),
            Err(StoreError::Locked { .. })
        ));
    }
    let report = reset(dir.path(), ResetMode::Delete).unwrap();
    assert!(report.files.iter().all(|(_, new)| new.is_none()));
    assert!(!db(dir.path()).exists());
    assert!(
        moved.exists(),
        "delete mode touches only the live store files"
    );
    assert!(reset(&dir.path().join("absent"), ResetMode::Delete)
        .unwrap()
        .files
        .is_empty());
}
