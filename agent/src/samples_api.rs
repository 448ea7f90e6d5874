//! `/samples` on a listener of its own (`--samples-listen`, loopback by
//! default): raw samples carry caller addresses, and the main listener sits
//! on every node address (host network, where `NetworkPolicy` does not
//! apply).
//!
//! A read must not starve the ring-buffer reader, the probes or the pod's
//! memory limit: it copies the store in short chunks under the lock, turns
//! each chunk into JSON off the async workers, and streams it; a few reads
//! run at once and the rest are turned away.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use http_body_util::{Channel, channel::Sender};
use prometheus::IntCounter;
use serde::Deserialize;
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore, mpsc},
    task::JoinHandle,
};
use tracing::warn;

use crate::{
    config::SamplesListen,
    samples::{SampleRecord, SampleStore},
};

/// Most samples one request returns (the default `--samples-capacity`).
pub const MAX_SAMPLES_PER_REQUEST: usize = 100_000;

/// Reads served at once. Each costs a thread serialising at full speed for
/// as long as its client reads (at a lower priority); on a node with a core or two, four keep the
/// probes and the ring-buffer reader answered.
pub const MAX_CONCURRENT_REQUESTS: usize = 4;

/// Samples copied per lock: the ring-buffer reader waits for at most one
/// chunk's copy, never a whole read.
const CHUNK_SAMPLES: usize = 128;

/// Nice value of the serialising threads: the probes and the ring-buffer
/// reader come first when the CPU is short.
const SERIALIZER_NICE: i32 = 10;

/// Serialised chunks waiting for a slow client, per request (with the one
/// being built and hyper's write buffer, the memory a read holds).
const CHUNKS_BUFFERED: usize = 2;

#[derive(Clone)]
pub struct SamplesState {
    store: Arc<SampleStore>,
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    rejected: IntCounter,
}

impl SamplesState {
    /// `rejected` counts the requests turned away at the cap,
    /// `MAX_CONCURRENT_REQUESTS`.
    #[must_use]
    pub fn new(store: Arc<SampleStore>, rejected: IntCounter) -> Self {
        Self {
            store,
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT_REQUESTS)),
            max_concurrent: MAX_CONCURRENT_REQUESTS,
            rejected,
        }
    }

    /// Another cap (at least 1).
    #[must_use]
    pub fn max_concurrent(mut self, n: usize) -> Self {
        self.max_concurrent = n.max(1);
        self.permits = Arc::new(Semaphore::new(self.max_concurrent));
        self
    }
}

pub fn router(state: SamplesState) -> Router {
    Router::new()
        .route("/samples", get(samples))
        .with_state(state)
}

/// A running samples listener: its bound address and its server task.
pub type Served = (SocketAddr, JoinHandle<std::io::Result<()>>);

/// Bind `listen` and serve `/samples` there until the task is aborted
/// (port 0 picks one); nothing with `off`.
pub async fn spawn(listen: SamplesListen, state: SamplesState) -> std::io::Result<Option<Served>> {
    let Some(addr) = listen.0 else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = router(state);
    Ok(Some((
        bound,
        tokio::spawn(async move { axum::serve(listener, app).await }),
    )))
}

#[derive(Deserialize)]
struct SamplesQuery {
    limit: Option<usize>,
}

/// Newest samples, oldest first; at most `MAX_SAMPLES_PER_REQUEST`.
///
/// Over the cap the answer is 503 at once rather than a queue: a queued
/// request holds its connection and memory while it waits, and the callers
/// (offline analysis, the testbed) retry.
async fn samples(State(state): State<SamplesState>, Query(q): Query<SamplesQuery>) -> Response {
    let Ok(permit) = state.permits.clone().try_acquire_owned() else {
        state.rejected.inc();
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            format!(
                "{} /samples requests are being served, the most at once; retry in a second\n",
                state.max_concurrent
            ),
        )
            .into_response();
    };
    let limit = q.limit.unwrap_or(1000).min(MAX_SAMPLES_PER_REQUEST);
    let (tx, body) = Channel::<Bytes, std::io::Error>::new(CHUNKS_BUFFERED);
    tokio::spawn(stream_json(state.store.clone(), limit, tx, permit));
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::new(body),
    )
        .into_response()
}

/// The JSON array serde would write for the whole read, chunk by chunk,
/// until the client goes away; the permit is held until then.
///
/// Chunks are copied here, on an async worker at normal priority, and
/// serialised on a thread of its own at a lower one: a thread holding the
/// store's lock is never one the scheduler puts last.
async fn stream_json(
    store: Arc<SampleStore>,
    limit: usize,
    mut tx: Sender<Bytes, std::io::Error>,
    _permit: OwnedSemaphorePermit,
) {
    let (to_json, chunks) = mpsc::channel::<Vec<SampleRecord>>(1);
    let (to_body, mut json) = mpsc::channel::<Vec<u8>>(1);
    let spawned = std::thread::Builder::new()
        .name("samples-json".into())
        .spawn(move || serialize(chunks, &to_body));
    if let Err(e) = spawned {
        tx.abort(e);
        return;
    }
    if tx.send_data(Bytes::from_static(b"[")).await.is_err() {
        return;
    }
    let mut cursor = store.cursor(limit);
    loop {
        let mut records = Vec::with_capacity(CHUNK_SAMPLES);
        if !store.next_chunk(&mut cursor, CHUNK_SAMPLES, &mut records) {
            break;
        }
        if to_json.send(records).await.is_err() {
            break;
        }
        let Some(chunk) = json.recv().await else {
            // The client sees a broken transfer, not a short array.
            tx.abort(std::io::Error::other("serialising /samples failed"));
            return;
        };
        if tx.send_data(Bytes::from(chunk)).await.is_err() {
            return;
        }
    }
    // A client gone at the last chunk needs nothing more.
    let _ = tx.send_data(Bytes::from_static(b"]")).await;
}

/// Serialise chunks, joined by commas, until the sender is done; stops
/// without an answer on an error.
fn serialize(mut chunks: mpsc::Receiver<Vec<SampleRecord>>, to_body: &mpsc::Sender<Vec<u8>>) {
    // SAFETY: plain setpriority(2) on the calling thread (Linux nice values
    // are per thread); failing leaves the default priority.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, SERIALIZER_NICE) };
    let mut first = true;
    while let Some(records) = chunks.blocking_recv() {
        let mut buf = Vec::with_capacity(records.len() * 384);
        for record in &records {
            if !first {
                buf.push(b',');
            }
            first = false;
            if let Err(e) = serde_json::to_writer(&mut buf, record) {
                warn!(error = %e, "cannot serialise a sample for /samples");
                return;
            }
        }
        if to_body.blocking_send(buf).is_err() {
            return;
        }
    }
}
