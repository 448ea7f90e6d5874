//! Shared by the `/samples` tests: a store of synthetic samples and both of
//! the agent's listeners, served in this process on ephemeral loopback
//! ports (no program loaded, so no privileges needed).

use std::{
    io::Read as _,
    net::SocketAddr,
    sync::{Arc, atomic::AtomicBool},
    time::Duration,
};

use agent::{
    config::SamplesListen,
    http,
    metrics::Metrics,
    samples::{SampleRecord, SampleStore},
    samples_api,
};
use agent_common::sample::Sample;

/// A sample as the kernel would send it, varied by `i`; every other one has
/// pod labels, so both record shapes are in the store.
#[must_use]
pub fn record(i: u64) -> SampleRecord {
    let octet = |n: u64| u8::try_from(n % 250).expect("octet");
    let v4 = |a: u8, b: u8| {
        let mut addr = [0u8; 16];
        addr[10] = 0xff;
        addr[11] = 0xff;
        addr[12..].copy_from_slice(&[10, 20, a, b]);
        addr
    };
    let s = Sample {
        ts_ns: 5_000_000_000 + i * 1_000,
        latency_ns: 100_000 + i % 7_919,
        call_hash: i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        saddr: v4(octet(i / 250), octet(i)),
        daddr: v4(1, 2),
        cseq: u32::try_from(i % 100).expect("cseq"),
        status: if i.is_multiple_of(3) { 0 } else { 200 },
        sport: 5060,
        dport: 5060,
        kind: u8::try_from(i % 3).expect("kind"),
        method: 1,
        family: 4,
        proto: 17,
        ..Sample::default()
    };
    let mut r = SampleRecord::new(
        &s,
        "vethab12cd34".into(),
        "vethab12cd34".into(),
        1_700_000_000_000_000_000,
    );
    if i.is_multiple_of(2) {
        r.k8s_namespace = Some("siplat".into());
        r.k8s_pod = Some(format!("sip-proxy-{}", i % 8));
    }
    r
}

/// `capacity` samples, all of them filled.
#[must_use]
pub fn full_store(capacity: usize) -> Arc<SampleStore> {
    let store = Arc::new(SampleStore::new(capacity));
    for i in 0..capacity as u64 {
        store.push(record(i));
    }
    store
}

/// The agent's two listeners over `store`, on a runtime shaped like the
/// agent's on a two-core node.
pub struct Served {
    pub main: SocketAddr,
    pub samples: SocketAddr,
    pub metrics: Arc<Metrics>,
    _runtime: tokio::runtime::Runtime,
}

#[must_use]
pub fn serve(store: Arc<SampleStore>, max_concurrent: usize) -> Served {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let metrics = Arc::new(Metrics::new(1.2, true, false, 30).expect("metrics"));
    let app = http::router(http::AppState {
        metrics: metrics.clone(),
        ready: Arc::new(AtomicBool::new(true)),
    });
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind main");
    let main = listener.local_addr().expect("main addr");
    runtime.spawn(async move { axum::serve(listener, app).await });
    let state = samples_api::SamplesState::new(store, metrics.samples_rejected.clone())
        .max_concurrent(max_concurrent);
    let (samples, _task) = runtime
        .block_on(samples_api::spawn(
            SamplesListen(Some("127.0.0.1:0".parse().expect("addr"))),
            state,
        ))
        .expect("bind samples")
        .expect("samples listener on");
    Served {
        main,
        samples,
        metrics,
        _runtime: runtime,
    }
}

#[must_use]
pub fn client() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build()
}

/// Status and body of `GET http://addr path`, non-2xx answers included.
#[must_use]
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let resp = match client().get(&format!("http://{addr}{path}")).call() {
        Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("GET {path}: {e}"),
    };
    let status = resp.status();
    let mut body = String::new();
    resp.into_reader()
        .read_to_string(&mut body)
        .expect("read body");
    (status, body)
}
