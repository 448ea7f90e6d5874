//! `/metrics` and `/healthz` of `siplat-scaler run`.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};

use crate::metrics::ScalerMetrics;

/// Liveness: the loop stamps each finished round.
#[derive(Clone, Default)]
pub struct Heartbeat(Arc<AtomicU64>);

impl Heartbeat {
    pub fn beat(&self) {
        self.0.store(now_ms(), Ordering::Relaxed);
    }

    /// Healthy before the first round, and while rounds keep coming.
    #[must_use]
    pub fn healthy(&self, max_gap: Duration) -> bool {
        let last = self.0.load(Ordering::Relaxed);
        last == 0 || now_ms().saturating_sub(last) <= max_gap.as_millis() as u64
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Clone)]
struct AppState {
    metrics: ScalerMetrics,
    heartbeat: Heartbeat,
    max_gap: Duration,
}

pub fn router(metrics: ScalerMetrics, heartbeat: Heartbeat, max_gap: Duration) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .with_state(AppState {
            metrics,
            heartbeat,
            max_gap,
        })
}

async fn metrics_handler(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        s.metrics.render(),
    )
}

async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    if s.heartbeat.healthy(s.max_gap) {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "control loop stalled\n")
    }
}

pub async fn serve(listen: SocketAddr, app: Router) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app).await
}
