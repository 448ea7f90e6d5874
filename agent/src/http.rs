//! The main HTTP face: /metrics, /healthz, /readyz (`/samples` has a
//! listener of its own, `samples_api`).

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{metrics::Metrics, samples::monotonic_ns};

#[derive(Clone)]
pub struct AppState {
    pub metrics: Arc<Metrics>,
    /// Program loaded, the first interface scan done and attached to every
    /// interface `--iface` selects.
    pub ready: Arc<AtomicBool>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/samples", get(samples_elsewhere))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Response {
    state
        .metrics
        .refresh_quantiles(monotonic_ns() / 1_000_000_000);
    match state.metrics.encode() {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.ready.load(Ordering::Relaxed) {
        "ready\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "loading\n").into_response()
    }
}

/// A 404 that names the new place, for callers of the old address; not a
/// redirect, which would send them to their own loopback.
async fn samples_elsewhere() -> Response {
    (
        StatusCode::NOT_FOUND,
        "/samples is served on the --samples-listen address (default 127.0.0.1:9561), not here\n",
    )
        .into_response()
}
