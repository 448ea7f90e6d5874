//! The HTTP face: /metrics, /healthz, /readyz, /samples.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;

use crate::{
    metrics::Metrics,
    samples::{SampleStore, monotonic_ns},
};

#[derive(Clone)]
pub struct AppState {
    pub metrics: Arc<Metrics>,
    pub store: Arc<SampleStore>,
    /// Program loaded and the first interface scan done.
    pub ready: Arc<AtomicBool>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/samples", get(samples))
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

#[derive(Deserialize)]
struct SamplesQuery {
    limit: Option<usize>,
}

/// Newest samples, oldest first; at most `MAX_SAMPLES_PER_REQUEST`.
async fn samples(State(state): State<AppState>, Query(q): Query<SamplesQuery>) -> Response {
    let limit = q.limit.unwrap_or(1000).min(MAX_SAMPLES_PER_REQUEST);
    Json(state.store.newest(limit)).into_response()
}

pub const MAX_SAMPLES_PER_REQUEST: usize = 100_000;
