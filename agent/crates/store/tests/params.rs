//! Query-string parsing: good values, and a table of hostile ones that must
//! be rejected with the parameter named (never a panic).

use saker_store::{Cursor, GateRequest, Priority, Query};

const NOW: i64 = 1_790_000_000_000_000_000;
const SEC: i64 = 1_000_000_000;

fn parse(pairs: &[(&str, &str)]) -> Result<Query, saker_store::ParamError> {
    Query::from_params(pairs.iter().copied(), NOW)
}

#[test]
fn good_values() {
    let q = parse(&[
        ("namespace", "shadow-abc123"),
        ("pod", "web-7d9f.x2"),
        ("container", "abc123def456"),
        ("rule", "Read sensitive file untrusted"),
        ("min_priority", "wArNiNg"),
        ("since", "5m"),
        ("until", "2026-09-21T14:13:20Z"),
        ("limit", "1000"),
    ])
    .unwrap();
    assert_eq!(q.namespace.as_deref(), Some("shadow-abc123"));
    assert_eq!(q.min_priority, Some(Priority::Warning));
    assert_eq!(q.since_ns, Some(NOW - 300 * SEC));
    assert_eq!(q.until_ns, Some(NOW));
    assert_eq!(q.limit, 1000);
    assert_eq!(parse(&[]).unwrap().limit, 100);
    assert_eq!(
        parse(&[("since", "2h"), ("until", "30s")])
            .unwrap()
            .until_ns,
        Some(NOW - 30 * SEC)
    );
    assert_eq!(
        parse(&[("since", "1d")]).unwrap().since_ns,
        Some(NOW - 86_400 * SEC)
    );
    let c = Cursor {
        time_ns: NOW,
        id: 42,
    }
    .encode();
    assert_eq!(
        parse(&[("cursor", &c)]).unwrap().cursor,
        Some(Cursor {
            time_ns: NOW,
            id: 42
        })
    );
    // Rule names are free text: an injection-shaped one is only a string to match.
    assert!(parse(&[("rule", "x'); DROP TABLE alerts; --")]).is_ok());
}

#[test]
fn hostile_values_name_the_parameter() {
    let long = "a".repeat(100_000);
    let cases: &[(&str, &str)] = &[
        ("namespace", ""),
        ("namespace", "x' OR '1'='1"),
        ("namespace", "ns; DROP TABLE alerts; --"),
        ("namespace", "Shadow"),
        ("namespace", "shadow-ábc"),
        ("namespace", "-lead"),
        ("namespace", &long),
        ("namespace", "a\0b"),
        ("pod", "pod/../../etc"),
        ("pod", "pöd"),
        ("pod", ""),
        ("container", "abc def"),
        ("container", "%27%20OR%201%3D1"),
        ("container", &long),
        ("rule", ""),
        ("rule", "line\nbreak"),
        ("rule", &long),
        ("min_priority", "WARNINGS"),
        ("min_priority", "4"),
        ("min_priority", ""),
        ("min_priority", "ＷＡＲＮＩＮＧ"),
        ("min_priority", &long),
        ("since", ""),
        ("since", "yesterday"),
        ("since", "5"),
        ("since", "-5m"),
        ("since", "5y"),
        ("since", "2026-02-30T00:00:00Z"),
        ("since", "2026-09-21 14:13:20"),
        ("since", "99999999999d"),
        ("since", "１h"),
        ("since", "1e9s"),
        ("since", &long),
        ("until", "2026-13-01T00:00:00Z"),
        ("until", "now"),
        ("limit", "0"),
        ("limit", "-1"),
        ("limit", "1001"),
        ("limit", "99999999999999999999999"),
        ("limit", "1e3"),
        ("limit", "10 OR 1=1"),
        ("limit", "١٠"),
        ("limit", ""),
        ("cursor", "abc"),
        ("cursor", "' OR 1=1 --"),
        ("cursor", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"),
        ("cursor", "00000000000000000000000000000000"),
        ("cursor", &long),
        ("namespcae", "x"),
        ("", "x"),
        ("1=1", ""),
    ];
    for (k, v) in cases {
        let err = parse(&[(k, v)]).expect_err(&format!("{k}={v:.40} must be rejected"));
        assert_eq!(err.parameter, *k, "{k}={v:.40}: {err}");
        assert!(!err.message.is_empty());
    }
}

#[test]
fn combinations_are_checked() {
    let e = parse(&[("since", "1m"), ("until", "2m")]).unwrap_err();
    assert_eq!(e.parameter, "until");
    let e = parse(&[("since", "1m"), ("until", "1m")]).unwrap_err();
    assert_eq!(e.parameter, "until");
    let e = parse(&[("namespace", "a"), ("namespace", "b")]).unwrap_err();
    assert_eq!(e.parameter, "namespace");
    let many: Vec<(String, String)> = (0..40).map(|i| (format!("p{i}"), "x".into())).collect();
    let e =
        Query::from_params(many.iter().map(|(k, v)| (k.as_str(), v.as_str())), NOW).unwrap_err();
    assert!(e.parameter.starts_with('p'));
}

#[test]
fn gate_request() {
    let g = GateRequest::from_params(
        [
            ("namespace", "shadow-abc"),
            ("since", "2026-09-21T14:03:20Z"),
            ("severity_threshold", "critical"),
        ],
        NOW,
    )
    .unwrap();
    assert_eq!(g.namespace, "shadow-abc");
    assert_eq!(g.since_ns, NOW - 600 * SEC);
    assert_eq!(g.threshold, Priority::Critical);
    let d = GateRequest::from_params([("namespace", "x"), ("since", "10m")], NOW).unwrap();
    assert_eq!(d.threshold, Priority::Warning, "seed default");
    for (pairs, param) in [
        (vec![("since", "10m")], "namespace"),
        (vec![("namespace", "x")], "since"),
        (
            vec![
                ("namespace", "x"),
                ("since", "10m"),
                ("severity_threshold", "loud"),
            ],
            "severity_threshold",
        ),
        (vec![("namespace", "X'--"), ("since", "10m")], "namespace"),
        (vec![("namespace", "x"), ("since", "10 minutes")], "since"),
        (
            vec![("namespace", "x"), ("since", "10m"), ("limit", "5")],
            "limit",
        ),
    ] {
        let e = GateRequest::from_params(pairs, NOW).unwrap_err();
        assert_eq!(e.parameter, param, "{e}");
    }
}

#[test]
fn random_values_never_panic() {
    // A cheap deterministic fuzz: pseudo-random strings over an alphabet of
    // digits, units, separators, quotes and multi-byte characters.
    let alphabet: Vec<char> = "0123456789smhdZT:-+.' ;%\"\\\0é日💥\u{202e}abcxyzACW"
        .chars()
        .collect();
    let names = [
        "namespace",
        "pod",
        "container",
        "rule",
        "min_priority",
        "since",
        "until",
        "limit",
        "cursor",
        "severity_threshold",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 40) as usize;
        let v: String = (0..len)
            .map(|j| alphabet[((x >> (j % 50)) as usize + j) % alphabet.len()])
            .collect();
        let k = names[i % names.len()];
        let _ = Query::from_params([(k, v.as_str())], NOW);
        let _ = GateRequest::from_params([("namespace", "x"), ("since", v.as_str())], NOW);
        let _ = GateRequest::from_params(
            [("namespace", "x"), ("since", "5m"), (k, v.as_str())],
            i64::MIN,
        );
    }
}
