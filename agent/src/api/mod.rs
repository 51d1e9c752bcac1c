//! The HTTP API on one port (Falco's 8765 by default): `/healthz`,
//! `/versions`, `/metrics`, and the alert history: `/v1/alerts`,
//! `/v1/alerts/stream` and `/v1/gate/runtime`.
//!
//! When a token or TLS is configured it is enforced on every endpoint except
//! `/healthz`, which Kubernetes probes without credentials.

mod auth;
mod stream;
mod tls;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::agent::options::ApiOptions;
use crate::agent::sinks::StreamTx;
use crate::agent::Shared;

/// What the handlers read.
#[derive(Clone)]
pub struct ApiState {
    pub shared: Arc<Shared>,
    pub outputs: Arc<saker_outputs::Outputs>,
    pub store: Option<Arc<saker_store::Store>>,
    pub stream: StreamTx,
}

async fn healthz(State(s): State<ApiState>) -> Response {
    if !s.shared.rules_loaded() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "rules not loaded"})),
        )
            .into_response();
    }
    if !s.shared.attached() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "capture not attached"})),
        )
            .into_response();
    }
    Json(serde_json::json!({"status": "ok"})).into_response()
}

async fn versions() -> Json<serde_json::Value> {
    let (maj, min, patch) = saker_rules::ENGINE_VERSION;
    Json(serde_json::json!({
        "saker_version": env!("CARGO_PKG_VERSION"),
        "engine_version": format!("{maj}.{min}.{patch}"),
        "engine_version_semver": format!("{maj}.{min}.{patch}"),
        "driver": "saker-ebpf (syscall tracepoints)",
        "machine": std::env::consts::ARCH,
    }))
}

async fn metrics(State(s): State<ApiState>) -> Response {
    let text = crate::metrics::render(&crate::metrics::Inputs {
        shared: &s.shared,
        outputs: s.outputs.stats(),
        store: s.store.as_ref().map(|st| st.stats()),
    });
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// The router, with auth applied to everything but `/healthz`.
pub fn router(state: ApiState, token: Option<Arc<auth::Token>>, rate_limit: u32) -> Router {
    let mut protected = Router::new()
        .route("/versions", get(versions))
        .route("/metrics", get(metrics))
        .route("/v1/alerts/stream", get(stream::handler))
        .with_state(state.clone());
    if let Some(store) = &state.store {
        let ctx = saker_store::GateContext {
            agent_namespace: std::env::var("POD_NAMESPACE").ok(),
        };
        let shared = state.shared.clone();
        let coverage: saker_store::api::CoverageFn = Arc::new(move || shared.coverage.snapshot());
        protected = protected.merge(saker_store::api::router(saker_store::api::ApiState::new(
            store.clone(),
            coverage,
            ctx,
        )));
    }
    let protected = protected.layer(axum::middleware::from_fn_with_state(
        auth::Guard::new(token, rate_limit),
        auth::check,
    ));
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(state)
        .merge(protected)
}

/// Binds and serves until the task is dropped.
pub async fn serve(
    opts: &ApiOptions,
    state: ApiState,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let token = match &opts.token_file {
        Some(path) => Some(Arc::new(auth::Token::load(path)?)),
        None => None,
    };
    let app = router(state, token, opts.rate_limit);
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| anyhow::anyhow!("api.listen {}: {e}", opts.listen))?;
    tracing::info!(listen = %opts.listen, tls = opts.tls_cert.is_some(), "API listening");
    match (&opts.tls_cert, &opts.tls_key) {
        (Some(cert), Some(key)) => {
            let acceptor = tls::acceptor(cert, key, opts.tls_client_ca.as_deref())?;
            Ok(tokio::spawn(tls::serve(listener, acceptor, app)))
        }
        (None, None) => Ok(tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "API server stopped");
            }
        })),
        _ => anyhow::bail!("api.tls: cert and key must be given together"),
    }
}
