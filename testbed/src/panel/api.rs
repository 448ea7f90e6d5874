//! The panel's HTTP routes. JSON in and out; every error is
//! `{"error": "..."}` with a status that says whose fault it is (400 bad
//! input, 404, 409 a run already in progress, 503 cannot run here).

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, Query, State, WebSocketUpgrade},
    http::{StatusCode, header},
    response::{
        IntoResponse, Response,
        sse::{Event as SseEvent, KeepAlive, Sse},
    },
    routing::{get, post, put},
};
use futures_util::{Stream, StreamExt as _, stream};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::{App, PanelError, assets, catalog, history, prom, protocol, runs};

type Shared = State<Arc<App>>;

impl IntoResponse for PanelError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Busy(_) => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &self {
            Self::Io { what, source } => format!("{what}: {source}"),
            other => other.to_string(),
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

pub fn router(app: Arc<App>) -> Router {
    let body_limit = app.limits.max_upload + 4096;
    Router::new()
        .route("/", get(|| async { assets::page("index.html") }))
        .route("/app.js", get(|| async { assets::page("app.js") }))
        .route("/app.css", get(|| async { assets::page("app.css") }))
        .route("/api/config", get(config))
        .route("/api/scenarios", get(scenarios))
        .route("/api/scenarios/{name}", put(upload))
        .route("/api/runs", get(list_runs).post(start))
        .route("/api/runs/stop", post(stop))
        .route("/api/runs/{id}", get(run_detail))
        .route("/api/runs/{id}/run.svg", get(run_plot))
        .route("/api/live", get(live))
        .route("/api/events", get(events))
        .route(protocol::PATH, get(controller_ws))
        .route("/api/controller", get(controller_view))
        .route("/api/controller/play", post(controller_play))
        .route("/api/controller/stop", post(controller_stop))
        .route("/api/prometheus", get(prometheus))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(app)
}

async fn config(State(app): Shared) -> impl IntoResponse {
    Json(json!({
        "prometheus": app.prometheus,
        "root": ::netns::is_root(),
        "max_run_s": app.limits.max_run_s,
        "max_rate": app.limits.max_rate,
        "max_upload": app.limits.max_upload,
        "queries": prom::QUERIES.iter().map(|(n, u, q)| json!({"name": n, "unit": u, "query": q})).collect::<Vec<_>>(),
    }))
}

async fn scenarios(State(app): Shared) -> impl IntoResponse {
    Json(catalog::list(&app.data.join("scenarios")))
}

async fn upload(
    State(app): Shared,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, PanelError> {
    let entry = catalog::upload(&app.data.join("scenarios"), &name, &body, &app.limits)?;
    Ok((StatusCode::CREATED, Json(entry)))
}

async fn start(
    State(app): Shared,
    body: Result<Json<runs::RunSpec>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, PanelError> {
    let Json(spec) = body.map_err(|e| PanelError::invalid(e.body_text()))?;
    let app2 = Arc::clone(&app);
    let snap = tokio::task::spawn_blocking(move || {
        app2.runs
            .start(spec, &app2.data.join("scenarios"), &app2.limits)
    })
    .await
    .map_err(|e| PanelError::Unavailable(e.to_string()))??;
    Ok((StatusCode::ACCEPTED, Json(snap)))
}

async fn stop(State(app): Shared) -> Result<impl IntoResponse, PanelError> {
    let id = app.runs.stop()?;
    Ok(Json(json!({ "stopping": id })))
}

async fn list_runs(State(app): Shared) -> impl IntoResponse {
    let dir = app.data.join("runs");
    let mut items = tokio::task::spawn_blocking(move || history::list(&dir))
        .await
        .unwrap_or_default();
    // A run without an outcome that is not the one in the slot was cut
    // short by the panel's own end (kill -9, power): say so.
    let current = app.runs.snapshot().map(|s| s.id);
    for it in items
        .iter_mut()
        .filter(|i| i.outcome.is_none() && current.as_deref() != Some(i.meta.id.as_str()))
    {
        it.outcome = Some(runs::Outcome {
            outcome: "interrupted".into(),
            error: Some("the panel ended while it played; `siplat-testbed down` cleans up".into()),
            finished_unix: it.meta.started_unix,
        });
    }
    Json(items)
}

async fn run_detail(
    State(app): Shared,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, PanelError> {
    Ok(Json(history::detail(&app.data.join("runs"), &id)?))
}

async fn run_plot(State(app): Shared, Path(id): Path<String>) -> Result<Response, PanelError> {
    let svg = history::plot(&app.data.join("runs"), &id)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

async fn live(State(app): Shared) -> impl IntoResponse {
    Json(app.runs.snapshot())
}

/// Server-sent events: first the run in the slot as it stands (a page
/// opened mid-run draws what it missed), then every phase, second and end.
async fn events(State(app): Shared) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = app.runs.subscribe();
    let snapshot = SseEvent::default()
        .event("snapshot")
        .json_data(app.runs.snapshot())
        .unwrap_or_default();
    let updates = stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    let data = SseEvent::default()
                        .event("run")
                        .json_data(&ev)
                        .unwrap_or_default();
                    return Some((Ok(data), rx));
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream::once(async { Ok(snapshot) }).chain(updates))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
}

async fn controller_ws(State(app): Shared, ws: WebSocketUpgrade) -> Response {
    let controller = app.controller.clone();
    ws.on_upgrade(move |socket| controller.serve(socket))
}

async fn controller_view(State(app): Shared) -> impl IntoResponse {
    Json(app.controller.view())
}

/// A play on the callers of one pool.
#[derive(Deserialize)]
struct PlayRequest {
    #[serde(flatten)]
    choice: catalog::Choice,
    #[serde(default = "default_pool")]
    pool: String,
}

fn default_pool() -> String {
    protocol::DEFAULT_POOL.to_owned()
}

#[derive(Deserialize)]
struct PoolQuery {
    #[serde(default = "default_pool")]
    pool: String,
}

async fn controller_play(
    State(app): Shared,
    body: Result<Json<PlayRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<impl IntoResponse, PanelError> {
    let Json(req) = body.map_err(|e| PanelError::invalid(e.body_text()))?;
    if !protocol::valid_pool(&req.pool) {
        return Err(PanelError::invalid(format!(
            "pool `{}`: 1-64 letters, digits, '-' or '_'",
            req.pool
        )));
    }
    let rates = catalog::rates(&app.data.join("scenarios"), &req.choice, &app.limits)?;
    let seconds = rates.len();
    let id = app
        .controller
        .play(&tokio::runtime::Handle::current(), &req.pool, rates)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "play": id, "duration_s": seconds })),
    ))
}

async fn controller_stop(
    State(app): Shared,
    Query(q): Query<PoolQuery>,
) -> Result<impl IntoResponse, PanelError> {
    app.controller.stop(&q.pool)?;
    Ok(Json(json!({ "stopping": true })))
}

#[derive(Deserialize)]
struct PromQuery {
    url: Option<String>,
    #[serde(default = "fifteen")]
    minutes: u64,
}

fn fifteen() -> u64 {
    15
}

async fn prometheus(
    State(app): Shared,
    Query(q): Query<PromQuery>,
) -> Result<impl IntoResponse, PanelError> {
    let url = q
        .url
        .filter(|u| !u.is_empty())
        .or_else(|| app.prometheus.clone())
        .ok_or_else(|| {
            PanelError::invalid(
                "no Prometheus URL (enter one, or start the panel with --prometheus)",
            )
        })?;
    if !(1..=1440).contains(&q.minutes) {
        return Err(PanelError::invalid(format!(
            "minutes {}: from 1 to 1440",
            q.minutes
        )));
    }
    let target = prom::Target::parse(&url)?;
    let minutes = q.minutes;
    let series =
        tokio::task::spawn_blocking(move || prom::fetch(&target, minutes, crate::proc::now_unix()))
            .await
            .map_err(|e| PanelError::Unavailable(e.to_string()))?;
    Ok(Json(json!({ "url": url, "series": series })))
}
