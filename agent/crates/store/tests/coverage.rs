//! Gate coverage persisted in the store: after a restart (clean or kill -9)
//! a window the previous run watched is still vouched for, and the gap
//! between its last durable heartbeat and the new attach is not.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{alert, cfg, put_all, T0};
use saker_store::{
    CoverageTracker, GateContext, GateRequest, Priority, Query, RuntimeVerdict, Store,
};

const SEC: i64 = 1_000_000_000;
const KEEP: Duration = Duration::from_secs(30 * 86_400);

fn gate(
    store: &Store,
    t: &CoverageTracker,
    ns: &str,
    since: i64,
    until: Option<i64>,
    now: i64,
) -> RuntimeVerdict {
    let req = GateRequest {
        namespace: ns.into(),
        since_ns: since,
        until_ns: until,
        threshold: Priority::Warning,
    };
    store
        .gate_runtime(&req, &t.snapshot(), &GateContext::default(), now)
        .unwrap()
}

fn clean(v: &RuntimeVerdict) -> bool {
    v.passed && !v.skipped
}

#[test]
fn coverage_survives_a_clean_restart_and_the_gap_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(cfg(dir.path())).unwrap();
        let t = CoverageTracker::new(KEEP);
        t.persist_to(&store);
        t.attached(T0);
        put_all(
            &store,
            [alert(
                1,
                T0 + 10 * SEC,
                Some("shadow"),
                None,
                Priority::Warning,
            )],
        );
        // The minute [T0+40s, T0+100s) of event time lost 3 events, the
        // last at T0+90s.
        t.dropped(T0 + 90 * SEC, 3, "kernel");
        t.heartbeat(T0 + 100 * SEC);
        store.flush().unwrap();
        t.detached(T0 + 120 * SEC);
        store.close();
    }
    let store = Store::open(cfg(dir.path())).unwrap();
    let t = CoverageTracker::new(KEEP);
    t.persist_to(&store);
    t.attached(T0 + 200 * SEC);
    let now = T0 + 300 * SEC;

    // Watched before the restart: judged on its alerts, not skipped.
    let v = gate(&store, &t, "shadow", T0 + 5 * SEC, Some(T0 + 35 * SEC), now);
    assert!(!v.passed && !v.skipped && v.alert_count == 1, "{v:?}");
    let v = gate(&store, &t, "other", T0, Some(T0 + 35 * SEC), now);
    assert!(clean(&v), "{:?}", v.reason);
    // The drop's minute began at +40s, but its first loss was at +90s.
    let v = gate(&store, &t, "other", T0, Some(T0 + 85 * SEC), now);
    assert!(clean(&v), "{:?}", v.reason);
    // The persisted drop still counts...
    let v = gate(
        &store,
        &t,
        "other",
        T0 + 85 * SEC,
        Some(T0 + 100 * SEC),
        now,
    );
    assert!(v.skipped, "{v:?}");
    let why = v.reason.unwrap();
    assert!(
        why.contains("3 event(s) dropped in the window (kernel;"),
        "{why}"
    );
    // ...but not after its last loss, up to the heartbeat exactly.
    let v = gate(
        &store,
        &t,
        "other",
        T0 + 95 * SEC,
        Some(T0 + 100 * SEC),
        now,
    );
    assert!(clean(&v), "{:?}", v.reason);
    let v = gate(
        &store,
        &t,
        "other",
        T0 + 95 * SEC,
        Some(T0 + 100 * SEC + 1),
        now,
    );
    assert!(v.skipped, "{v:?}");
    // The detach at +120s does not extend coverage past the heartbeat.
    let v = gate(
        &store,
        &t,
        "other",
        T0 + 105 * SEC,
        Some(T0 + 110 * SEC),
        now,
    );
    assert!(v.skipped, "{v:?}");
    // A window spanning the restart's gap is skipped, and says why.
    let v = gate(&store, &t, "other", T0 + 150 * SEC, None, now);
    assert!(v.passed && v.skipped, "{v:?}");
    let why = v.reason.unwrap();
    assert!(
        why.contains("50.0s of the window") && why.contains("agent restarted"),
        "{why}"
    );
    assert!(why.contains("stopped cleanly"), "{why}");
    // The alert before the gap still fails a window that spans it.
    let v = gate(&store, &t, "shadow", T0 + 5 * SEC, None, now);
    assert!(!v.passed && !v.skipped, "{v:?}");
    assert!(v.reason.unwrap().contains("coverage is also incomplete"));
    // After the new attach: covered again.
    let v = gate(&store, &t, "other", T0 + 200 * SEC, None, now);
    assert!(clean(&v), "{:?}", v.reason);
}

#[test]
fn persisted_drops_keep_their_count_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let drops = |store: &Store| {
        let mut d: Vec<(i64, u64)> = store
            .persisted_coverage()
            .drops
            .iter()
            .map(|d| (d.time_ns, d.count))
            .collect();
        d.sort();
        d
    };
    for run in 0..4 {
        let store = Store::open(cfg(dir.path())).unwrap();
        let t = CoverageTracker::new(KEEP);
        if run == 1 {
            // Known before the store was opened: persisted once, too.
            t.dropped(T0 + 250 * SEC, 2, "kernel");
        }
        t.persist_to(&store);
        if run == 0 {
            t.attached(T0);
            t.dropped(T0 + 90 * SEC, 3, "kernel");
            t.heartbeat(T0 + 100 * SEC);
        }
        store.flush().unwrap();
        store.close();
        drop(store);
        let store = Store::open(cfg(dir.path())).unwrap();
        let want: &[(i64, u64)] = if run == 0 {
            &[(T0 + 90 * SEC, 3)]
        } else {
            &[(T0 + 90 * SEC, 3), (T0 + 250 * SEC, 2)]
        };
        assert_eq!(drops(&store), want, "after run {run}");
        store.close();
    }
}

#[test]
fn a_heartbeat_committed_with_its_detach_still_extends_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(dir.path())).unwrap();
    let t = CoverageTracker::new(KEEP);
    t.persist_to(&store);
    // A short run: attach, one heartbeat, a clean stop, likely one commit.
    t.attached(T0);
    t.heartbeat(T0 + 5 * SEC);
    t.detached(T0 + 6 * SEC);
    store.flush().unwrap();
    store.close();
    drop(store);
    let store = Store::open(cfg(dir.path())).unwrap();
    let c = store.persisted_coverage();
    assert_eq!(c.attached.len(), 1, "{c:?}");
    assert_eq!(c.attached[0].start_ns, T0);
    assert_eq!(c.attached[0].end_ns, Some(T0 + 5 * SEC), "{c:?}");
}

#[test]
fn heartbeats_do_not_outrun_alerts_and_only_attached_runs_count() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(dir.path())).unwrap();
    let t = CoverageTracker::new(KEEP);
    t.persist_to(&store);
    // Not attached: a heartbeat proves nothing.
    t.heartbeat(T0);
    store.flush().unwrap();
    assert!(store.persisted_coverage().attached.is_empty());
    t.attached(T0 + SEC);
    // A heartbeat before the attach is ignored too.
    t.heartbeat(T0);
    store.flush().unwrap();
    store.close();
    drop(store);
    let store = Store::open(cfg(dir.path())).unwrap();
    let c = store.persisted_coverage();
    // The interval exists but nothing after its start was proven: empty.
    assert!(c.attached.is_empty(), "{c:?}");
    assert_eq!(c.stops.len(), 1);
    assert!(!c.stops[0].clean, "never detached");
}

#[test]
fn prune_is_persisted_and_pruned_history_is_not_vouched_for() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(cfg(dir.path())).unwrap();
        let t = CoverageTracker::new(Duration::from_secs(60));
        t.persist_to(&store);
        t.attached(T0);
        t.dropped(T0 + SEC, 1, "kernel");
        t.heartbeat(T0 + 2 * SEC);
        store.flush().unwrap();
        t.prune(T0 + 1000 * SEC);
        store.flush().unwrap();
    }
    let store = Store::open(cfg(dir.path())).unwrap();
    let c = store.persisted_coverage();
    assert!(c.drops.is_empty(), "{c:?}");
    assert_eq!(c.deleted_upto_ns, Some(T0 + 940 * SEC));
    let t = CoverageTracker::new(Duration::from_secs(60));
    t.persist_to(&store);
    t.attached(T0 - SEC);
    let v = gate(&store, &t, "ns", T0, None, T0 + 1000 * SEC);
    assert!(v.skipped && v.reason.unwrap().contains("retention"));
}

/// Offers 2,000 alerts at T0+30s to a store opened with a one-slot queue:
/// some are refused, and each refusal is a store drop in that minute.
fn overflow_the_queue(store: &Store) -> u64 {
    let w = store.writer();
    let mut refused = 0;
    for i in 0..2000 {
        let a = alert(i, T0 + 30 * SEC, Some("ns"), None, Priority::Notice);
        refused += u64::from(w.try_send(a).is_err());
    }
    assert!(refused > 0, "the queue never filled");
    refused
}

#[test]
fn store_drops_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(dir.path());
    c.queue_capacity = 1;
    {
        let store = Store::open(c.clone()).unwrap();
        let t = CoverageTracker::new(KEEP);
        t.persist_to(&store);
        t.attached(T0);
        let refused = overflow_the_queue(&store);
        store.flush().unwrap();
        // Queue empty now, so the heartbeat gets in.
        t.heartbeat(T0 + 100 * SEC);
        store.flush().unwrap();
        assert_eq!(store.stats().dropped_queue_full, refused);
    }
    let store = Store::open(c).unwrap();
    let t = CoverageTracker::new(KEEP);
    t.persist_to(&store);
    t.attached(T0 + 200 * SEC);
    let v = gate(
        &store,
        &t,
        "ns",
        T0 + 20 * SEC,
        Some(T0 + 50 * SEC),
        T0 + 300 * SEC,
    );
    assert!(v.skipped, "{v:?}");
    assert!(v.reason.unwrap().contains("dropped in the window (store;"));
    let v = gate(
        &store,
        &t,
        "ns",
        T0 + 60 * SEC,
        Some(T0 + 100 * SEC),
        T0 + 300 * SEC,
    );
    assert!(clean(&v), "{:?}", v.reason);
}

#[test]
fn store_drops_are_pruned_even_when_memory_has_nothing_to_prune() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(dir.path());
    c.queue_capacity = 1;
    {
        let store = Store::open(c.clone()).unwrap();
        let t = CoverageTracker::new(Duration::from_secs(60));
        t.persist_to(&store);
        t.attached(T0);
        overflow_the_queue(&store);
        store.flush().unwrap();
        t.heartbeat(T0 + 100 * SEC);
        store.flush().unwrap();
        let rows: i64 = rusqlite::Connection::open(dir.path().join("alerts.db"))
            .unwrap()
            .query_row("SELECT count(*) FROM coverage_drops", [], |r| r.get(0))
            .unwrap();
        assert!(rows > 0, "the store's drops are recorded");
        // Only the open interval in memory, which is kept: nothing there
        // shrinks, yet the store's own drop records are past retention.
        t.prune(T0 + 1000 * SEC);
        store.flush().unwrap();
    }
    let rows: i64 = rusqlite::Connection::open(dir.path().join("alerts.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM coverage_drops", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0, "store drop records past retention are deleted");
}

const ENV: &str = "SAKER_COVERAGE_CHILD_DIR";

/// Runs only in the child: alerts and heartbeats until killed.
#[test]
fn coverage_child() {
    let Some(dir) = std::env::var_os(ENV) else {
        return;
    };
    let store = Store::open(cfg(std::path::Path::new(&dir))).unwrap();
    let t = CoverageTracker::new(KEEP);
    t.persist_to(&store);
    t.attached(T0);
    let w = store.writer();
    for k in 1i64.. {
        let a = alert(k as u64, T0 + k * SEC, Some("ns"), None, Priority::Warning);
        while w.try_send(a.clone()).is_err() {
            std::thread::yield_now();
        }
        // Every event up to T0 + k s is handled and its alert queued.
        t.heartbeat(T0 + k * SEC + 1);
        if k % 5 == 0 {
            store.flush().unwrap();
            println!("DURABLE {k}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn after_kill_9_coverage_ends_at_the_last_durable_heartbeat() {
    if std::env::var_os(ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "coverage_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut durable = 0i64;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(k) = line.strip_prefix("DURABLE ") {
            durable = k.parse().unwrap();
            if durable >= 40 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(durable >= 40);

    let store = Store::open(cfg(dir.path())).unwrap();
    let c = store.persisted_coverage();
    assert_eq!(c.attached.len(), 1, "{c:?}");
    let end = c.attached[0].end_ns.unwrap();
    assert_eq!(c.attached[0].start_ns, T0);
    assert!(end > T0 + durable * SEC, "a flushed heartbeat was lost");
    assert!(!c.stops[0].clean);
    // Never vouches past what was stored: every alert of an event before
    // the interval's end is there.
    let stored = store
        .query(&Query {
            until_ns: Some(end),
            limit: 1000,
            ..Query::default()
        })
        .unwrap()
        .alerts
        .len() as i64;
    assert_eq!(
        stored,
        (end - 1 - T0) / SEC,
        "end {}",
        (end - T0) as f64 / 1e9
    );

    let t = CoverageTracker::new(KEEP);
    t.persist_to(&store);
    let restart = end + 30 * SEC;
    t.attached(restart);
    let now = restart + 10 * SEC;
    // Before the kill: judged on the alerts (Warning fails), not skipped.
    let v = gate(&store, &t, "ns", T0 + SEC, Some(end), now);
    assert!(!v.passed && !v.skipped, "{v:?}");
    let v = gate(&store, &t, "other", T0 + SEC, Some(end), now);
    assert!(clean(&v), "{:?}", v.reason);
    // Across the gap: skipped, with the reason.
    let v = gate(&store, &t, "other", T0 + SEC, None, now);
    assert!(v.skipped, "{v:?}");
    let why = v.reason.unwrap();
    assert!(
        why.contains("last durable heartbeat") && why.contains("did not stop cleanly"),
        "{why}"
    );
}
