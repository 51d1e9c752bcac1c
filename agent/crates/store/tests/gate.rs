//! The runtime gate verdict and the fan-out merge, without a store.

mod common;

use common::{alert, T0};
use saker_store::gate::{coverage_gaps, MAX_GATE_ALERTS};
use saker_store::{
    merge_verdicts, runtime_verdict, AgentAnswer, AttachInterval, Coverage, DropReport, GateAlert,
    GateContext, GateRequest, GateWindow, Priority, RuntimeVerdict,
};

const SEC: i64 = 1_000_000_000;
const NOW: i64 = T0 + 600 * SEC;

fn req(thr: Priority) -> GateRequest {
    GateRequest {
        namespace: "shadow-abc".into(),
        since_ns: T0,
        until_ns: None,
        threshold: thr,
    }
}

fn attached() -> Coverage {
    Coverage {
        attached: vec![AttachInterval {
            start_ns: T0 - 3600 * SEC,
            end_ns: None,
        }],
        ..Default::default()
    }
}

fn window(prios: &[Priority]) -> GateWindow {
    let mut w = GateWindow::default();
    for (i, p) in prios.iter().enumerate() {
        w.counts[usize::from(p.as_u8())] += 1;
        let a = alert(
            i as u64,
            T0 + i as i64 * SEC,
            Some("shadow-abc"),
            Some("p"),
            *p,
        );
        w.alerts.push(GateAlert {
            id: i as i64 + 1,
            time_ns: a.time_ns,
            priority: *p,
            json: a.json,
        });
    }
    w.alerts.reverse();
    w
}

fn ctx() -> GateContext {
    GateContext {
        agent_namespace: Some("saker".into()),
    }
}

fn verdict(w: &GateWindow, cov: &Coverage, thr: Priority) -> RuntimeVerdict {
    runtime_verdict(&req(thr), &ctx(), w, cov, NOW)
}

#[test]
fn clean_window_passes_with_the_exact_shape() {
    let v = verdict(&window(&[]), &attached(), Priority::Warning);
    let text = serde_json::to_string(&v).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    // Wire order is the documented order (Value sorts keys, so check the text).
    let pos = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
    let keys = [
        "tool",
        "passed",
        "skipped",
        "reason",
        "namespace_filter",
        "falco_namespace",
        "label_selector",
        "since_timestamp",
        "since_minutes",
        "severity_threshold",
        "alert_count",
        "summary",
        "alerts",
        "raw_lines_count",
        "stderr",
    ];
    assert!(keys.windows(2).all(|w| pos(w[0]) < pos(w[1])), "{text}");
    assert_eq!(json.as_object().unwrap().len(), keys.len());
    assert_eq!(
        json,
        serde_json::json!({
            "tool": "falco", "passed": true, "skipped": false, "reason": null,
            "namespace_filter": "shadow-abc", "falco_namespace": "saker", "label_selector": null,
            "since_timestamp": "2026-09-21T14:13:20+00:00", "since_minutes": 10,
            "severity_threshold": "WARNING", "alert_count": 0,
            "summary": {"critical": 0, "error": 0, "warning": 0, "other": 0},
            "alerts": [], "raw_lines_count": 0, "stderr": ""
        })
    );
}

#[test]
fn alert_at_threshold_fails() {
    let w = window(&[Priority::Warning, Priority::Notice, Priority::Critical]);
    let v = verdict(&w, &attached(), Priority::Warning);
    assert!(!v.passed && !v.skipped);
    assert_eq!(v.alert_count, 2);
    assert_eq!(v.raw_lines_count, 3);
    assert_eq!(
        (
            v.summary.critical,
            v.summary.error,
            v.summary.warning,
            v.summary.other
        ),
        (1, 0, 1, 1)
    );
    assert_eq!(v.alerts.len(), 3, "below-threshold alerts are listed too");
    let first: serde_json::Value = serde_json::from_str(v.alerts[0].get()).unwrap();
    assert_eq!(
        first["priority"], "Critical",
        "alerts are the Falco JSON objects, newest first"
    );
    assert!(v
        .reason
        .unwrap()
        .contains("Found 2 Falco alert(s) at or above WARNING"));
}

#[test]
fn below_threshold_alerts_pass_and_are_returned() {
    let w = window(&[Priority::Warning, Priority::Error, Priority::Notice]);
    let v = verdict(&w, &attached(), Priority::Critical);
    assert!(v.passed && !v.skipped);
    assert_eq!(
        v.alert_count, 0,
        "CRITICAL threshold: nothing at or above it"
    );
    assert_eq!(v.alerts.len(), 3);
    assert_eq!(v.raw_lines_count, 3);
    assert_eq!(v.reason, None);
    assert_eq!(v.severity_threshold, "CRITICAL");
}

#[test]
fn summary_buckets() {
    let all = Priority::ALL;
    let v = verdict(&window(&all), &attached(), Priority::Debug);
    assert_eq!(
        (
            v.summary.critical,
            v.summary.error,
            v.summary.warning,
            v.summary.other
        ),
        (3, 1, 1, 3)
    );
    assert_eq!(v.alert_count, 8);
}

#[test]
fn skipped_when_the_agent_cannot_vouch() {
    let w = window(&[Priority::Notice]);
    // No data source at all: fail open, loudly.
    let v = verdict(&w, &Coverage::default(), Priority::Warning);
    assert!(v.passed && v.skipped);
    assert!(
        v.reason.as_deref().unwrap().contains("never attached"),
        "{:?}",
        v.reason
    );

    // Attached only for the second half of the window.
    let half = Coverage {
        attached: vec![AttachInterval {
            start_ns: T0 + 300 * SEC,
            end_ns: None,
        }],
        ..Default::default()
    };
    let v = verdict(&w, &half, Priority::Warning);
    assert!(v.passed && v.skipped);
    assert!(
        v.reason.as_deref().unwrap().contains("300.0s"),
        "{:?}",
        v.reason
    );

    // Detached and re-attached: the hole in the middle counts.
    let hole = Coverage {
        attached: vec![
            AttachInterval {
                start_ns: T0 - SEC,
                end_ns: Some(T0 + 10 * SEC),
            },
            AttachInterval {
                start_ns: T0 + 12 * SEC,
                end_ns: None,
            },
        ],
        ..Default::default()
    };
    assert!(verdict(&w, &hole, Priority::Warning).skipped);

    // Drops inside the window skip; drops before it do not.
    let mut dropped = attached();
    dropped.drops.push(DropReport {
        time_ns: T0 - SEC,
        count: 5,
        category: "ring_full".into(),
        first_ns: None,
    });
    assert!(!verdict(&w, &dropped, Priority::Warning).skipped);
    dropped.drops.push(DropReport {
        time_ns: T0 + SEC,
        count: 7,
        category: "ring_full".into(),
        first_ns: None,
    });
    let v = verdict(&w, &dropped, Priority::Warning);
    assert!(v.skipped && v.reason.as_deref().unwrap().contains("7 event(s) dropped"));

    // Retention deleted part of the window.
    let mut gone = attached();
    gone.deleted_upto_ns = Some(T0 + SEC);
    assert!(verdict(&w, &gone, Priority::Warning).skipped);
    gone.deleted_upto_ns = Some(T0 - 1);
    assert!(!verdict(&w, &gone, Priority::Warning).skipped);
}

#[test]
fn alerts_fail_even_with_incomplete_coverage() {
    let w = window(&[Priority::Critical]);
    let v = verdict(&w, &Coverage::default(), Priority::Warning);
    assert!(!v.passed);
    assert!(
        !v.skipped,
        "skipped implies passed: a fail-open reader must not skip a real alert"
    );
    assert!(v.reason.unwrap().contains("coverage is also incomplete"));
}

#[test]
fn coverage_edges() {
    let exact = Coverage {
        attached: vec![AttachInterval {
            start_ns: T0,
            end_ns: Some(NOW),
        }],
        ..Default::default()
    };
    assert!(coverage_gaps(&exact, T0, NOW).is_empty());
    let late = Coverage {
        attached: vec![AttachInterval {
            start_ns: T0 + 1,
            end_ns: None,
        }],
        ..Default::default()
    };
    assert_eq!(coverage_gaps(&late, T0, NOW).len(), 1);
    let ended = Coverage {
        attached: vec![AttachInterval {
            start_ns: T0,
            end_ns: Some(NOW - 1),
        }],
        ..Default::default()
    };
    assert_eq!(coverage_gaps(&ended, T0, NOW).len(), 1);
    // A window starting in the future has nothing to vouch for.
    assert!(coverage_gaps(&exact, NOW + SEC, NOW).is_empty());
}

#[test]
fn extreme_windows_do_not_overflow() {
    let mut r = req(Priority::Warning);
    r.since_ns = i64::MIN;
    for cov in [attached(), Coverage::default()] {
        let v = runtime_verdict(&r, &ctx(), &window(&[]), &cov, i64::MAX);
        assert!(v.since_minutes > 0);
        let v = runtime_verdict(&r, &ctx(), &window(&[]), &cov, NOW);
        assert!(v.skipped || v.passed);
    }
    r.since_ns = i64::MAX;
    let v = runtime_verdict(&r, &ctx(), &window(&[]), &attached(), i64::MIN);
    assert!(v.passed && !v.skipped && v.since_minutes == 1);
}

#[test]
fn capped_alert_list_says_so() {
    let mut w = window(&[Priority::Notice]);
    w.counts[5] = (MAX_GATE_ALERTS + 5) as u64;
    let v = verdict(&w, &attached(), Priority::Warning);
    assert_eq!(v.raw_lines_count, (MAX_GATE_ALERTS + 5) as u64);
    assert!(v.stderr.contains("capped"));
}

fn answer(agent: &str, v: RuntimeVerdict) -> AgentAnswer {
    AgentAnswer {
        agent: agent.into(),
        result: Ok(v),
    }
}

#[test]
fn merge() {
    let r = req(Priority::Warning);
    let pass = verdict(&window(&[Priority::Notice]), &attached(), Priority::Warning);
    let fail = verdict(
        &window(&[Priority::Error, Priority::Debug]),
        &attached(),
        Priority::Warning,
    );
    let skip = verdict(&window(&[]), &Coverage::default(), Priority::Warning);

    let m = merge_verdicts(
        &r,
        &ctx(),
        NOW,
        vec![answer("a", pass.clone()), answer("b", pass.clone())],
    );
    assert!(m.passed && !m.skipped && m.reason.is_none());
    assert_eq!(
        (m.raw_lines_count, m.alerts.len(), m.summary.other),
        (2, 2, 2)
    );

    let m = merge_verdicts(
        &r,
        &ctx(),
        NOW,
        vec![answer("a", pass.clone()), answer("b", skip.clone())],
    );
    assert!(m.passed && m.skipped);
    assert!(m.reason.unwrap().starts_with("b: agent cannot vouch"));

    let m = merge_verdicts(
        &r,
        &ctx(),
        NOW,
        vec![
            answer("a", pass.clone()),
            answer("b", fail.clone()),
            answer("c", skip.clone()),
        ],
    );
    assert!(
        !m.passed && !m.skipped,
        "any failure fails, and failure wins over skip"
    );
    assert_eq!(m.alert_count, 1);
    assert_eq!((m.summary.error, m.summary.other), (1, 2));
    assert_eq!(m.alerts.len(), 3);
    let reason = m.reason.unwrap();
    assert!(
        reason.contains("b: Found 1") && reason.contains("c: agent cannot vouch"),
        "{reason}"
    );
    // Newest first across agents.
    let times: Vec<String> = m
        .alerts
        .iter()
        .map(|a| {
            serde_json::from_str::<serde_json::Value>(a.get()).unwrap()["time"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);

    let m = merge_verdicts(
        &r,
        &ctx(),
        NOW,
        vec![
            answer("a", pass.clone()),
            AgentAnswer {
                agent: "10.0.0.2:8765".into(),
                result: Err("connection refused".into()),
            },
        ],
    );
    assert!(
        m.passed && m.skipped,
        "an agent that does not answer cannot vouch for its node"
    );
    assert!(m.reason.unwrap().contains("unreachable"));

    let m = merge_verdicts(&r, &ctx(), NOW, vec![]);
    assert!(m.passed && m.skipped);

    // Verdicts round-trip through JSON (the CLI parses agents' answers).
    let text = serde_json::to_string(&fail).unwrap();
    let back: RuntimeVerdict = serde_json::from_str(&text).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), text);
}
