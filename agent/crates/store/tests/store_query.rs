//! Round trip, filters at their boundaries, cursor paging under arrivals.

mod common;

use common::{alert, cfg, put_all, T0};
use saker_store::{Priority, Query, Store};

const SEC: i64 = 1_000_000_000;

fn q() -> Query {
    Query::default()
}

#[test]
fn round_trip_keeps_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(dir.path())).unwrap();
    let a = alert(
        1,
        T0,
        Some("shadow-abc"),
        Some("web-7d9f-x2"),
        Priority::Critical,
    );
    let mut host = alert(2, T0 + 1, None, None, Priority::Notice);
    host.container_id = None;
    put_all(&store, [a.clone(), host.clone()]);
    let page = store.query(&q()).unwrap();
    assert_eq!(page.alerts.len(), 2);
    assert_eq!(page.alerts[0].alert, host);
    assert_eq!(page.alerts[1].alert, a);
    assert!(page.alerts[0].id > page.alerts[1].id);
    // The JSON is returned byte for byte.
    let back: serde_json::Value = serde_json::from_str(&page.alerts[1].alert.json).unwrap();
    assert_eq!(back["output_fields"]["k8s.ns.name"], "shadow-abc");
    assert_eq!(store.get(page.alerts[1].id).unwrap().unwrap().alert, a);
    assert_eq!(page.next_cursor, None);
}

#[test]
fn since_inclusive_until_exclusive_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(dir.path())).unwrap();
    let mut all = Vec::new();
    for i in 0..40u64 {
        let ns = if i % 2 == 0 { "team-a" } else { "team-b" };
        let pod = format!("pod-{}", i % 4);
        let p = Priority::from_u8((i % 8) as u8).unwrap();
        all.push(alert(i, T0 + i as i64 * SEC, Some(ns), Some(&pod), p));
    }
    put_all(&store, all.clone());

    let times = |q: &Query| -> Vec<i64> {
        store
            .query(q)
            .unwrap()
            .alerts
            .iter()
            .map(|r| (r.alert.time_ns - T0) / SEC)
            .collect()
    };
    let window = Query {
        since_ns: Some(T0 + 10 * SEC),
        until_ns: Some(T0 + 20 * SEC),
        ..q()
    };
    assert_eq!(times(&window), (10..20).rev().collect::<Vec<_>>());

    let ns = Query {
        namespace: Some("team-a".into()),
        ..window.clone()
    };
    assert_eq!(times(&ns), vec![18, 16, 14, 12, 10]);

    let pod = Query {
        pod: Some("pod-1".into()),
        ..q()
    };
    assert_eq!(times(&pod), vec![37, 33, 29, 25, 21, 17, 13, 9, 5, 1]);

    let cid = all[3].container_id.clone();
    let by_container = Query {
        container: cid.clone(),
        ..q()
    };
    assert!(store
        .query(&by_container)
        .unwrap()
        .alerts
        .iter()
        .all(|r| r.alert.container_id == cid));
    assert_eq!(store.query(&by_container).unwrap().alerts.len(), 6);

    let ns_pod_rule = Query {
        namespace: Some("team-b".into()),
        pod: Some("pod-1".into()),
        rule: Some("Terminal shell in container".into()),
        since_ns: Some(T0 + 5 * SEC),
        ..q()
    };
    assert_eq!(times(&ns_pod_rule), vec![37, 33, 29, 25, 21, 17, 13, 9, 5]);
    let mismatch = Query {
        namespace: Some("team-a".into()),
        pod: Some("pod-1".into()),
        ..q()
    };
    assert!(times(&mismatch).is_empty());

    let rule = Query {
        rule: Some("Terminal shell in container".into()),
        ..q()
    };
    assert_eq!(times(&rule).len(), 20);

    // min_priority is "at least this severe": Error keeps Emergency..Error.
    let sev = Query {
        min_priority: Some(Priority::Error),
        ..q()
    };
    let got = store.query(&sev).unwrap();
    assert_eq!(got.alerts.len(), 20);
    assert!(got
        .alerts
        .iter()
        .all(|r| r.alert.priority <= Priority::Error));

    let none = Query {
        namespace: Some("x' OR 1=1 --".into()),
        ..q()
    };
    assert!(store.query(&none).unwrap().alerts.is_empty());
}

#[test]
fn paging_is_stable_while_alerts_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(dir.path())).unwrap();
    // Several alerts share a timestamp, so the id tiebreak is exercised.
    let first: Vec<_> = (0..95u64)
        .map(|i| {
            alert(
                i,
                T0 + (i as i64 / 3) * SEC,
                Some("ns"),
                Some("p"),
                Priority::Warning,
            )
        })
        .collect();
    put_all(&store, first);
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut extra = 1000;
    loop {
        let page = store
            .query(&Query {
                namespace: Some("ns".into()),
                limit: 10,
                cursor,
                ..q()
            })
            .unwrap();
        seen.extend(page.alerts.iter().map(|r| r.id));
        // New alerts, both newer and (late-arriving) inside the range already paged.
        put_all(
            &store,
            [
                alert(
                    extra,
                    T0 + 1_000 * SEC,
                    Some("ns"),
                    Some("p"),
                    Priority::Warning,
                ),
                alert(
                    extra + 1,
                    T0 + 40 * SEC,
                    Some("ns"),
                    Some("p"),
                    Priority::Warning,
                ),
            ],
        );
        extra += 2;
        match page.next_cursor {
            Some(c) => cursor = saker_store::Cursor::decode(&c),
            None => break,
        }
    }
    // Every original alert exactly once, newest first, none repeated.
    let mut sorted = seen.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "no duplicates");
    let originals: Vec<i64> = seen.iter().copied().filter(|&id| id <= 95).collect();
    assert_eq!(originals.len(), 95);
    let mut want: Vec<i64> = (1..=95).collect();
    want.sort_by_key(|&id| std::cmp::Reverse(((id - 1) / 3, id)));
    assert_eq!(originals, want);
}

#[test]
fn limit_and_cursor_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(dir.path())).unwrap();
    put_all(
        &store,
        (0..5u64).map(|i| alert(i, T0 + i as i64, Some("ns"), None, Priority::Error)),
    );
    let p = store.query(&Query { limit: 5, ..q() }).unwrap();
    assert_eq!(p.alerts.len(), 5);
    assert_eq!(p.next_cursor, None, "exactly a full page has no next page");
    let p = store.query(&Query { limit: 4, ..q() }).unwrap();
    let c = p.next_cursor.expect("cursor");
    let rest = store
        .query(&Query {
            limit: 4,
            cursor: saker_store::Cursor::decode(&c),
            ..q()
        })
        .unwrap();
    assert_eq!(rest.alerts.len(), 1);
    assert_eq!(rest.alerts[0].alert.time_ns, T0);
}

#[test]
fn acks_and_hook_report_committed_ids() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(dir.path())).unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    store.set_commit_hook(move |c| s2.lock().unwrap().push(c));
    let w = store.writer();
    for i in 0..100u64 {
        w.try_send(alert(i, T0, Some("ns"), None, Priority::Notice))
            .unwrap();
    }
    assert_eq!(
        store
            .acks()
            .wait_for(100, std::time::Duration::from_secs(10)),
        100
    );
    let commits = seen.lock().unwrap().clone();
    assert_eq!(commits.first().unwrap().first_id, 1);
    assert_eq!(commits.last().unwrap().last_id, 100);
    assert_eq!(commits.iter().map(|c| c.count).sum::<u64>(), 100);
    for pair in commits.windows(2) {
        assert_eq!(pair[0].last_id + 1, pair[1].first_id);
    }
    let st = store.stats();
    assert_eq!(
        (st.enqueued, st.committed, st.dropped_queue_full),
        (100, 100, 0)
    );
    assert_eq!(st.last_committed_id, 100);
}

#[test]
fn full_queue_is_counted_not_silent() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(dir.path());
    c.queue_capacity = 4;
    let store = Store::open(c).unwrap();
    let w = store.writer();
    let mut dropped = 0u64;
    for i in 0..20_000u64 {
        if w.try_send(alert(i, T0, Some("ns"), None, Priority::Notice))
            .is_err()
        {
            dropped += 1;
        }
    }
    store.flush().unwrap();
    let st = store.stats();
    assert!(dropped > 0, "a 4-slot queue must overflow under 20k sends");
    assert_eq!(st.dropped_queue_full, dropped);
    assert_eq!(st.enqueued + st.dropped_queue_full, 20_000);
    assert_eq!(st.committed, st.enqueued);
    store.close();
    assert_eq!(
        w.try_send(alert(0, T0, None, None, Priority::Debug)),
        Err(saker_store::Dropped::Closed)
    );
    assert_eq!(store.stats().dropped_closed, 1);
}

#[test]
fn ids_survive_reopen_and_are_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(cfg(dir.path())).unwrap();
        put_all(
            &store,
            (0..3u64).map(|i| alert(i, T0, Some("ns"), None, Priority::Notice)),
        );
    }
    let store = Store::open(cfg(dir.path())).unwrap();
    assert_eq!(store.acks().last_id(), 3);
    put_all(&store, [alert(9, T0, Some("ns"), None, Priority::Notice)]);
    assert_eq!(store.query(&q()).unwrap().alerts[0].id, 4);
}

#[test]
fn second_open_of_same_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _a = Store::open(cfg(dir.path())).unwrap();
    let err = Store::open(cfg(dir.path())).err().expect("locked");
    assert!(
        matches!(err, saker_store::StoreError::Locked { .. }),
        "{err}"
    );
}

#[test]
fn tail_returns_new_matching_alerts_in_id_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(dir.path())).unwrap();
    put_all(
        &store,
        (0..10u64).map(|i| {
            let ns = if i % 3 == 0 { "watched" } else { "other" };
            alert(
                i,
                T0 + (10 - i as i64) * SEC,
                Some(ns),
                None,
                Priority::Warning,
            )
        }),
    );
    let f = Query {
        namespace: Some("watched".into()),
        ..q()
    };
    let first = store.tail(&f, 0, 2).unwrap();
    assert_eq!(first.iter().map(|r| r.id).collect::<Vec<_>>(), vec![1, 4]);
    let rest = store.tail(&f, 4, 100).unwrap();
    assert_eq!(rest.iter().map(|r| r.id).collect::<Vec<_>>(), vec![7, 10]);
    assert!(store.tail(&f, 10, 100).unwrap().is_empty());
    put_all(
        &store,
        [alert(99, T0, Some("watched"), None, Priority::Debug)],
    );
    assert_eq!(store.tail(&f, 10, 100).unwrap()[0].id, 11);
    let sev = Query {
        min_priority: Some(Priority::Error),
        ..f
    };
    assert!(store.tail(&sev, 0, 100).unwrap().is_empty());
}

#[test]
fn dense_and_sparse_dims_filters_page_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(dir.path())).unwrap();
    // 6,000 alerts of one pod (dense: walked via the time index) and 30 of
    // another (sparse: driven by the dims index), interleaved in time.
    put_all(
        &store,
        (0..6_030u64).map(|i| {
            let pod = if i % 201 == 0 { "rare" } else { "dense" };
            alert(
                i,
                T0 + i as i64 * SEC,
                Some("ns"),
                Some(pod),
                Priority::Notice,
            )
        }),
    );
    for (pod, want) in [("dense", 6_000usize), ("rare", 30)] {
        let mut q = Query {
            pod: Some(pod.into()),
            limit: 1000,
            ..q()
        };
        let mut got: Vec<i64> = Vec::new();
        loop {
            let page = store.query(&q).unwrap();
            assert!(page
                .alerts
                .iter()
                .all(|a| a.alert.pod.as_deref() == Some(pod)));
            got.extend(page.alerts.iter().map(|a| a.alert.time_ns));
            match page.next_cursor {
                Some(c) => q.cursor = saker_store::Cursor::decode(&c),
                None => break,
            }
        }
        assert_eq!(got.len(), want, "{pod}");
        assert!(
            got.windows(2).all(|w| w[0] > w[1]),
            "{pod}: newest first, no repeats"
        );
    }
}

#[test]
fn gate_window_counts_everything_and_keeps_failing_alerts_when_capped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(dir.path())).unwrap();
    // 4 Critical among 9 Notice; plus noise in another namespace and before the window.
    put_all(
        &store,
        (0..13u64).map(|i| {
            let p = if i % 4 == 0 {
                Priority::Critical
            } else {
                Priority::Notice
            };
            alert(i, T0 + i as i64 * SEC, Some("shadow"), Some("p"), p)
        }),
    );
    put_all(
        &store,
        [
            alert(100, T0 + 5 * SEC, Some("other"), None, Priority::Critical),
            alert(101, T0 - SEC, Some("shadow"), None, Priority::Critical),
        ],
    );
    let req = saker_store::GateRequest {
        namespace: "shadow".into(),
        since_ns: T0,
        until_ns: None,
        threshold: Priority::Warning,
    };
    let full = store.gate_window(&req, 100).unwrap();
    assert_eq!(full.total(), 13);
    assert_eq!(full.counts[Priority::Critical.as_u8() as usize], 4);
    assert_eq!(full.alerts.len(), 13);
    assert!(full.alerts.windows(2).all(|w| w[0].time_ns > w[1].time_ns));

    let capped = store.gate_window(&req, 6).unwrap();
    assert_eq!(capped.total(), 13, "counts are never capped");
    assert_eq!(capped.alerts.len(), 6);
    let crit = capped
        .alerts
        .iter()
        .filter(|a| a.priority == Priority::Critical)
        .count();
    assert_eq!(crit, 4, "alerts that fail the gate are listed first");
    assert!(capped
        .alerts
        .windows(2)
        .all(|w| w[0].time_ns > w[1].time_ns));
}
