//! The axum routes: answers, 400s naming the parameter, never 500 on input.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use common::{alert, cfg, put_all};
use saker_store::api::{router, ApiState};
use saker_store::timefmt::{format_falco, now_ns};
use saker_store::{AttachInterval, Coverage, GateContext, Priority, Store};

const SEC: i64 = 1_000_000_000;

fn app(store: Arc<Store>, attached: bool) -> axum::Router {
    let cov = Coverage {
        attached: if attached {
            vec![AttachInterval {
                start_ns: 0,
                end_ns: None,
            }]
        } else {
            vec![]
        },
        ..Default::default()
    };
    router(ApiState::new(
        store,
        Arc::new(move || cov.clone()),
        GateContext {
            agent_namespace: Some("saker".into()),
        },
    ))
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, serde_json::Value) {
    let resp = app
        .clone()
        .oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{uri}: body is not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, json)
}

fn setup() -> (tempfile::TempDir, Arc<Store>, i64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(cfg(dir.path())).unwrap());
    let now = now_ns();
    put_all(
        &store,
        [
            alert(
                1,
                now - 120 * SEC,
                Some("shadow-abc"),
                Some("web-1"),
                Priority::Warning,
            ),
            alert(
                2,
                now - 60 * SEC,
                Some("shadow-abc"),
                Some("web-1"),
                Priority::Notice,
            ),
            alert(
                3,
                now - 30 * SEC,
                Some("prod"),
                Some("api-1"),
                Priority::Critical,
            ),
        ],
    );
    (dir, store, now)
}

#[tokio::test]
async fn alerts_endpoint_pages_newest_first() {
    let (_d, store, _) = setup();
    let app = app(store, true);
    let (s, j) = get(&app, "/v1/alerts?namespace=shadow-abc&limit=1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(j["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(j["alerts"][0]["priority"], "Notice");
    assert_eq!(j["alerts"][0]["output_fields"]["k8s.ns.name"], "shadow-abc");
    let cursor = j["next_cursor"].as_str().unwrap().to_owned();
    let (_, j) = get(
        &app,
        &format!("/v1/alerts?namespace=shadow-abc&limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(j["alerts"][0]["priority"], "Warning");
    assert!(j["next_cursor"].is_null());
    let (_, j) = get(&app, "/v1/alerts?min_priority=critical&since=1h").await;
    assert_eq!(j["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(j["alerts"][0]["output_fields"]["k8s.ns.name"], "prod");
}

#[tokio::test]
async fn gate_endpoint() {
    let (_d, store, now) = setup();
    let app = app(store.clone(), true);
    let since = format_falco(now - 600 * SEC);
    let (s, j) = get(
        &app,
        &format!("/v1/gate/runtime?namespace=shadow-abc&since={since}&severity_threshold=WARNING"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(j["passed"], false);
    assert_eq!(j["skipped"], false);
    assert_eq!(j["alert_count"], 1);
    assert_eq!(j["raw_lines_count"], 2);
    assert_eq!(j["falco_namespace"], "saker");
    assert_eq!(j["alerts"].as_array().unwrap().len(), 2);

    let (_, j) = get(
        &app,
        &format!("/v1/gate/runtime?namespace=shadow-abc&since={since}&severity_threshold=CRITICAL"),
    )
    .await;
    assert_eq!(
        (j["passed"].as_bool(), j["alert_count"].as_u64()),
        (Some(true), Some(0))
    );

    let (_, j) = get(&app, "/v1/gate/runtime?namespace=other&since=10m").await;
    assert_eq!(
        (j["passed"].as_bool(), j["skipped"].as_bool()),
        (Some(true), Some(false))
    );

    // Extreme but valid times: answers, no overflow.
    for since in [
        "1677-09-22T00:12:44Z",
        "2262-04-11T23:47:16Z",
        "0001-01-01T00:00:00Z",
    ] {
        let (s, j) = get(
            &app,
            &format!("/v1/gate/runtime?namespace=other&since={since}"),
        )
        .await;
        assert!(
            s == StatusCode::OK || s == StatusCode::BAD_REQUEST,
            "{since}: {s} {j}"
        );
    }
    let (s, _) = get(
        &app,
        "/v1/alerts?since=1677-09-22T00:12:44Z&until=2262-04-11T23:47:16Z",
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // No capture: fail-open, explicitly.
    let detached = self::app(store, false);
    let (_, j) = get(&detached, "/v1/gate/runtime?namespace=other&since=10m").await;
    assert_eq!(
        (j["passed"].as_bool(), j["skipped"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(j["reason"].as_str().unwrap().contains("never attached"));
}

#[tokio::test]
async fn bad_input_is_400_naming_the_parameter() {
    let (_d, store, _) = setup();
    let app = app(store, true);
    let cases = [
        ("/v1/alerts?namespace=x%27%20OR%201%3D1--", "namespace"),
        ("/v1/alerts?limit=99999999999999999999", "limit"),
        ("/v1/alerts?limit=-5", "limit"),
        ("/v1/alerts?since=2026-99-99T00:00:00Z", "since"),
        ("/v1/alerts?since=%F0%9F%92%A5", "since"),
        ("/v1/alerts?until=%FF%FE", "until"),
        ("/v1/alerts?min_priority=%E2%80%AEgninraw", "min_priority"),
        ("/v1/alerts?cursor=%00%00", "cursor"),
        ("/v1/alerts?pod=a%0Ab", "pod"),
        ("/v1/alerts?rule=", "rule"),
        ("/v1/alerts?namespace=a&namespace=b", "namespace"),
        ("/v1/alerts?bogus=1", "bogus"),
        ("/v1/gate/runtime?since=10m", "namespace"),
        ("/v1/gate/runtime?namespace=x", "since"),
        (
            "/v1/gate/runtime?namespace=x&since=10m&severity_threshold=%27%3B--",
            "severity_threshold",
        ),
        (
            "/v1/gate/runtime?namespace=%E6%97%A5%E6%9C%AC&since=10m",
            "namespace",
        ),
    ];
    for (uri, param) in cases {
        let (s, j) = get(&app, uri).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {j}");
        assert_eq!(j["parameter"], param, "{uri}: {j}");
        assert!(j["error"].as_str().unwrap().contains(param), "{uri}: {j}");
    }
    // A rule name shaped like an injection is just text that matches nothing.
    let (s, j) = get(
        &app,
        "/v1/alerts?rule=x%27%29%3B%20DROP%20TABLE%20alerts%3B--",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(j["alerts"].as_array().unwrap().len(), 0);
    let (_, j) = get(&app, "/v1/alerts").await;
    assert_eq!(j["alerts"].as_array().unwrap().len(), 3, "table intact");
}
