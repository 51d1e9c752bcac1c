//! HTTP routes for the store: `GET /v1/alerts` and `GET /v1/gate/runtime`,
//! as an axum `Router` the agent's server merges with /healthz and friends.
//!
//! Input errors are 400 with `{"error": ..., "parameter": ...}`, never 500.
//! Store calls block, so they run on tokio's blocking pool, at most
//! `MAX_INFLIGHT` at once: a client flooding queries gets 429 instead of
//! taking CPU from detection.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query as QueryParams, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::Semaphore;

use crate::gate::{raw_json, Coverage, GateContext, RuntimeVerdict};
use crate::query::{GateRequest, ParamError, Query};
use crate::store::Store;
use crate::timefmt::now_ns;

/// Concurrent store queries served; more get 429.
pub const MAX_INFLIGHT: usize = 8;

/// Supplies the pipeline's view of capture coverage at query time.
pub type CoverageFn = Arc<dyn Fn() -> Coverage + Send + Sync>;

#[derive(Clone)]
pub struct ApiState {
    store: Arc<Store>,
    coverage: CoverageFn,
    ctx: GateContext,
    permits: Arc<Semaphore>,
}

impl ApiState {
    pub fn new(store: Arc<Store>, coverage: CoverageFn, ctx: GateContext) -> ApiState {
        ApiState {
            store,
            coverage,
            ctx,
            permits: Arc::new(Semaphore::new(MAX_INFLIGHT)),
        }
    }
}

/// `/v1/alerts` and `/v1/gate/runtime`.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/alerts", get(alerts))
        .route("/v1/gate/runtime", get(gate_runtime))
        .with_state(state)
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter: Option<&'a str>,
}

/// Every way a request can fail, each with its status.
enum ApiError {
    Param(ParamError),
    Busy,
    Store(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, msg, parameter) = match &self {
            ApiError::Param(e) => (
                StatusCode::BAD_REQUEST,
                e.to_string(),
                Some(e.parameter.as_str()),
            ),
            ApiError::Busy => (
                StatusCode::TOO_MANY_REQUESTS,
                "too many concurrent store queries".to_owned(),
                None,
            ),
            // The store, not the input: 503 so clients retry; never a 500.
            ApiError::Store(m) => (StatusCode::SERVICE_UNAVAILABLE, m.clone(), None),
        };
        let mut r = (
            status,
            Json(ErrorBody {
                error: &msg,
                parameter,
            }),
        )
            .into_response();
        if matches!(self, ApiError::Busy) {
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        r
    }
}

type Params = Result<QueryParams<Vec<(String, String)>>, QueryRejection>;

/// The decoded pairs, or a 400 when the query string itself does not decode.
fn pairs(params: Params) -> Result<Vec<(String, String)>, ApiError> {
    params.map(|QueryParams(p)| p).map_err(|e| {
        ApiError::Param(ParamError::new(
            "query",
            format!("malformed query string: {e}"),
        ))
    })
}

/// Runs a store call on the blocking pool under the in-flight limit.
async fn blocking<T: Send + 'static>(
    state: &ApiState,
    f: impl FnOnce(&Store) -> Result<T, crate::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let permit = state
        .permits
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Busy)?;
    let store = state.store.clone();
    let out = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f(&store)
    })
    .await;
    match out {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "store query failed");
            Err(ApiError::Store(e.to_string()))
        }
        Err(e) => Err(ApiError::Store(format!("store query aborted: {e}"))),
    }
}

#[derive(Serialize)]
struct AlertsBody {
    /// Falco JSON objects, newest first.
    alerts: Vec<Box<RawValue>>,
    next_cursor: Option<String>,
}

async fn alerts(
    State(state): State<ApiState>,
    params: Params,
) -> Result<Json<AlertsBody>, ApiError> {
    let pairs = pairs(params)?;
    let q = Query::from_params(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        now_ns(),
    )
    .map_err(ApiError::Param)?;
    let page = blocking(&state, move |s| s.query(&q)).await?;
    Ok(Json(AlertsBody {
        alerts: page
            .alerts
            .iter()
            .map(|a| raw_json(&a.alert.json))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

async fn gate_runtime(
    State(state): State<ApiState>,
    params: Params,
) -> Result<Json<RuntimeVerdict>, ApiError> {
    let pairs = pairs(params)?;
    let now = now_ns();
    let req = GateRequest::from_params(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())), now)
        .map_err(ApiError::Param)?;
    let coverage = (state.coverage)();
    let ctx = state.ctx.clone();
    let v = blocking(&state, move |s| s.gate_runtime(&req, &coverage, &ctx, now)).await?;
    Ok(Json(v))
}
