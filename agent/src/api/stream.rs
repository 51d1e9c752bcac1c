//! `/v1/alerts/stream`: live alerts for SIEM pull, as NDJSON or, with
//! `Accept: text/event-stream`, as server-sent events. Same filters as
//! `/v1/alerts`. A client that falls behind the live feed is disconnected
//! rather than buffered without bound.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query as QueryString, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use saker_store::{Query, StoredAlert};
use tokio::sync::broadcast::error::RecvError;

use super::ApiState;

fn matches(q: &Query, a: &StoredAlert) -> bool {
    let eq = |want: &Option<String>, have: &Option<String>| {
        want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
    };
    eq(&q.namespace, &a.namespace)
        && eq(&q.pod, &a.pod)
        && eq(&q.container, &a.container_id)
        && q.rule.as_ref().is_none_or(|r| *r == a.rule)
        && q.min_priority.is_none_or(|p| a.priority.at_least(p))
}

fn bad(parameter: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({"error": message, "parameter": parameter})),
    )
        .into_response()
}

pub async fn handler(
    State(s): State<ApiState>,
    headers: HeaderMap,
    QueryString(params): QueryString<HashMap<String, String>>,
) -> Response {
    let from = params.get("from").map(String::as_str).unwrap_or("now");
    let filters = params
        .iter()
        .filter(|(k, _)| k.as_str() != "from")
        .map(|(k, v)| (k.as_str(), v.as_str()));
    let q = match Query::from_params(filters, saker_store::timefmt::now_ns()) {
        Ok(q) => q,
        Err(e) => return bad(&e.parameter, &e.message),
    };
    // Replay what the store has after the cursor, oldest first, then go live.
    let mut backlog: Vec<Arc<StoredAlert>> = Vec::new();
    if from != "now" {
        let Some(cursor) = saker_store::Cursor::decode(from) else {
            return bad("from", "expected `now` or a cursor returned by /v1/alerts");
        };
        let Some(store) = &s.store else {
            return bad(
                "from",
                "the store is disabled on this agent; only from=now is possible",
            );
        };
        let mut rq = q.clone();
        rq.since_ns = Some(cursor.time_ns);
        rq.cursor = None;
        rq.limit = 1000;
        match store.query(&rq) {
            Ok(page) => {
                backlog = page
                    .alerts
                    .into_iter()
                    .rev()
                    .filter(|r| (r.alert.time_ns, r.id) > (cursor.time_ns, cursor.id))
                    .map(|r| Arc::new(r.alert))
                    .collect()
            }
            Err(e) => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(serde_json::json!({"error": e.to_string()})),
                )
                    .into_response()
            }
        }
    }
    let sse = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    let mut rx = s.stream.subscribe();
    let frame = move |a: &StoredAlert| -> Bytes {
        if sse {
            Bytes::from(format!("data: {}\n\n", a.json))
        } else {
            Bytes::from(format!("{}\n", a.json))
        }
    };
    let body = async_stream(
        backlog,
        move |tx| async move {
            loop {
                match rx.recv().await {
                    Ok(a) if matches(&q, &a) => {
                        if tx.send(Ok(frame(&a))).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "alert stream client too slow; disconnected");
                        let _ = tx
                        .send(Ok(Bytes::from(format!(
                            "{}\n",
                            serde_json::json!({"error": "client too slow; disconnected", "skipped": n})
                        ))))
                        .await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        },
        frame,
    );
    let ctype = if sse {
        "text/event-stream"
    } else {
        "application/x-ndjson"
    };
    (
        [
            (header::CONTENT_TYPE, ctype),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// A body fed by a bounded channel: the producer task waits when the client
/// is slow, and the broadcast behind it notices the lag.
fn async_stream<F, Fut>(
    backlog: Vec<Arc<StoredAlert>>,
    live: F,
    frame: impl Fn(&StoredAlert) -> Bytes + Send + 'static,
) -> Body
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    tokio::spawn(async move {
        for a in &backlog {
            if tx.send(Ok(frame(a))).await.is_err() {
                return;
            }
        }
        live(tx).await;
    });
    Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
}
