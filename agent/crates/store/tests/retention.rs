//! Age and size retention; disk use stays under the cap.

mod common;

use std::time::Duration;

use common::{alert, cfg, put_all};
use saker_store::{timefmt::now_ns, Coverage, GateContext, GateRequest, Priority, Query, Store};

const SEC: i64 = 1_000_000_000;

#[test]
fn age_retention_deletes_old_alerts_and_the_gate_notices() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(dir.path());
    c.max_age = Some(Duration::from_secs(3600));
    let store = Store::open(c).unwrap();
    let now = now_ns();
    let old: Vec<_> = (0..50u64)
        .map(|i| {
            alert(
                i,
                now - 7200 * SEC + i as i64,
                Some("ns"),
                None,
                Priority::Error,
            )
        })
        .collect();
    let new: Vec<_> = (50..60u64)
        .map(|i| {
            alert(
                i,
                now - 60 * SEC + i as i64,
                Some("ns"),
                None,
                Priority::Error,
            )
        })
        .collect();
    put_all(&store, old.into_iter().chain(new));
    // The scheduled pass may already have run after the first batch; the
    // counters add up either way.
    let r = store.run_retention().unwrap();
    assert!(r.deleted_age <= 50);
    assert!(r.deleted_upto_ns >= now - 7200 * SEC);
    let left = store.query(&Query::default()).unwrap().alerts;
    assert_eq!(left.len(), 10);
    assert!(left.iter().all(|a| a.alert.time_ns > now - 3600 * SEC));
    assert_eq!(store.stats().retention_deleted_age, 50);

    // dims rows of deleted alerts are pruned; a pruned combination comes back
    // with a fresh row when it recurs.
    let dims = |dir: &std::path::Path| -> i64 {
        let c = rusqlite::Connection::open(dir.join("alerts.db")).unwrap();
        c.query_row("SELECT count(*) FROM dims", [], |r| r.get(0))
            .unwrap()
    };
    let distinct: std::collections::HashSet<_> = left
        .iter()
        .map(|a| (a.alert.container_id.clone(), a.alert.rule.clone()))
        .collect();
    assert_eq!(dims(dir.path()), distinct.len() as i64);
    let mut back = alert(1, now, Some("ns"), None, Priority::Error);
    back.container_id = Some("pruned0000001".into());
    put_all(&store, [back.clone()]);
    let q = Query {
        container: back.container_id.clone(),
        ..Default::default()
    };
    assert_eq!(store.query(&q).unwrap().alerts.len(), 1);

    // A gate window reaching back into deleted history cannot be vouched for.
    let cov = Coverage {
        attached: vec![saker_store::AttachInterval {
            start_ns: 0,
            end_ns: None,
        }],
        ..Default::default()
    };
    let ctx = GateContext::default();
    let long = GateRequest {
        namespace: "ns".into(),
        since_ns: now - 3 * 3600 * SEC,
        until_ns: None,
        threshold: Priority::Critical,
    };
    assert!(store.gate_runtime(&long, &cov, &ctx, now).unwrap().skipped);
    let short = GateRequest {
        since_ns: now - 600 * SEC,
        until_ns: None,
        ..long
    };
    let v = store.gate_runtime(&short, &cov, &ctx, now).unwrap();
    assert!(v.passed && !v.skipped, "{:?}", v.reason);
    assert_eq!(v.raw_lines_count, 11);

    // The floor is persisted: still known after a restart.
    drop(store);
    let mut c = cfg(dir.path());
    c.max_age = Some(Duration::from_secs(3600));
    let store = Store::open(c).unwrap();
    let long = GateRequest {
        namespace: "ns".into(),
        since_ns: now - 3 * 3600 * SEC,
        until_ns: None,
        threshold: Priority::Critical,
    };
    assert!(store.gate_runtime(&long, &cov, &ctx, now).unwrap().skipped);
}

#[test]
fn size_retention_keeps_disk_under_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let cap: u64 = 2 << 20;
    let mut c = cfg(dir.path());
    c.max_bytes = Some(cap);
    c.batch_max = 64;
    let store = Store::open(c).unwrap();
    let now = now_ns();
    let mut max_seen = 0;
    for round in 0..20u64 {
        let batch: Vec<_> = (0..1000u64)
            .map(|i| {
                let seq = round * 1000 + i;
                alert(
                    seq,
                    now - 100_000 * SEC + seq as i64 * SEC,
                    Some(&format!("ns-{}", seq % 10)),
                    Some("pod"),
                    Priority::Notice,
                )
            })
            .collect();
        put_all(&store, batch);
        let used = store.disk_usage();
        max_seen = max_seen.max(used);
        assert!(used <= cap, "round {round}: disk {used} > cap {cap}");
    }
    let st = store.stats();
    assert!(st.retention_deleted_size > 10_000, "{st:?}");
    assert_eq!(st.committed, 20_000);
    // Oldest went first: the newest alert is still there, the oldest is not.
    let newest = store
        .query(&Query {
            limit: 1,
            ..Default::default()
        })
        .unwrap()
        .alerts;
    assert_eq!(newest[0].alert.time_ns, now - 100_000 * SEC + 19_999 * SEC);
    assert!(store.get(1).unwrap().is_none());
    let oldest_left = store
        .query(&Query {
            until_ns: Some(now - 100_000 * SEC + 19_000 * SEC),
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    assert!(oldest_left
        .alerts
        .iter()
        .all(|a| a.id > st.retention_deleted_size as i64));
    eprintln!(
        "cap {cap}, max disk seen {max_seen}, deleted {}",
        st.retention_deleted_size
    );
}

#[test]
fn lowering_the_cap_shrinks_the_files() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(cfg(dir.path())).unwrap();
        let now = now_ns();
        put_all(
            &store,
            (0..8000u64).map(|i| {
                alert(
                    i,
                    now - 1000 * SEC + i as i64,
                    Some("ns"),
                    None,
                    Priority::Notice,
                )
            }),
        );
        assert!(store.disk_usage() > 6 << 20, "{}", store.disk_usage());
    }
    let cap: u64 = 3 << 20;
    let mut c = cfg(dir.path());
    c.max_bytes = Some(cap);
    let store = Store::open(c).unwrap();
    for _ in 0..4 {
        store.run_retention().unwrap();
    }
    assert!(
        store.disk_usage() <= cap,
        "disk {} > cap {cap}",
        store.disk_usage()
    );
    assert!(!store.query(&Query::default()).unwrap().alerts.is_empty());
}
