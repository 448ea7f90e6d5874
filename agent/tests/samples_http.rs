//! `/samples` on its own listener: the JSON is the array one serde call
//! over the same samples writes, the main listener only points there, `off`
//! binds nothing, and reads over the cap get 503 and are counted.

mod samples_common;

use std::{
    io::{BufRead as _, BufReader, Write as _},
    net::TcpStream,
    time::{Duration, Instant},
};

use agent::{config::SamplesListen, samples::SampleStore, samples_api};
use samples_common::{full_store, get, record, serve};

#[test]
fn the_json_is_one_serde_array_of_the_newest_samples() {
    // More than two copy chunks, so the joins between chunks are covered.
    let store = full_store(600);
    let served = serve(store.clone(), samples_api::MAX_CONCURRENT_REQUESTS);
    for (query, limit) in [
        ("?limit=7", 7),
        ("?limit=600", 600),
        ("", 1000),
        ("?limit=0", 0),
    ] {
        let (status, body) = get(served.samples, &format!("/samples{query}"));
        assert_eq!(status, 200);
        let want = serde_json::to_string(&store.newest(limit)).expect("json");
        assert_eq!(body, want, "/samples{query}");
    }
    let resp = samples_common::client()
        .get(&format!("http://{}/samples?limit=2", served.samples))
        .call()
        .expect("get");
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let records: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&resp.into_string().expect("body")).expect("json array");
    let keys: Vec<&str> = records[0].keys().map(String::as_str).collect();
    let mut want = [
        "ts_ns",
        "unix_ns",
        "latency_ns",
        "kind",
        "method",
        "status",
        "cseq",
        "txn",
        "iface",
        "first_iface",
        "src",
        "dst",
        "sport",
        "dport",
        "proto",
        "k8s_namespace",
        "k8s_pod",
    ];
    want.sort_unstable();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(keys, want, "the fields of a sample with pod labels");
    assert_eq!(records[0]["src"], "10.20.2.98", "{:?}", records[0]);

    let empty = serve(
        std::sync::Arc::new(SampleStore::new(10)),
        samples_api::MAX_CONCURRENT_REQUESTS,
    );
    assert_eq!(get(empty.samples, "/samples"), (200, "[]".to_owned()));
}

#[test]
fn the_main_listener_only_points_at_the_samples_listener() {
    let store = full_store(10);
    let served = serve(store, samples_api::MAX_CONCURRENT_REQUESTS);
    let (status, body) = get(served.main, "/samples?limit=10");
    assert_eq!(status, 404);
    assert!(body.contains("--samples-listen"), "{body}");
    assert!(
        !body.contains("10.20."),
        "no sample on the main listener: {body}"
    );
    assert_eq!(get(served.main, "/healthz"), (200, "ok\n".to_owned()));
    assert_eq!(get(served.samples, "/metrics").0, 404);
}

#[test]
fn off_binds_no_samples_listener() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let metrics = agent::metrics::Metrics::new(1.2, true, false, 30).expect("metrics");
    let state = samples_api::SamplesState::new(
        std::sync::Arc::new(SampleStore::new(1)),
        metrics.samples_rejected.clone(),
    );
    let served = runtime
        .block_on(samples_api::spawn(SamplesListen(None), state))
        .expect("off is not an error");
    assert!(served.is_none(), "off must not listen");
}

/// A request whose client reads nothing past the status line, so its
/// writer stays busy (100k samples are far more than the socket buffers).
fn held_read(addr: std::net::SocketAddr) -> TcpStream {
    let mut conn = TcpStream::connect(addr).expect("connect");
    write!(
        conn,
        "GET /samples?limit=100000 HTTP/1.1\r\nHost: agent\r\n\r\n"
    )
    .expect("write");
    let mut status = String::new();
    BufReader::new(conn.try_clone().expect("clone"))
        .read_line(&mut status)
        .expect("status line");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    conn
}

#[test]
fn reads_over_the_cap_get_503_and_are_counted_until_one_ends() {
    let store = full_store(100_000);
    let served = serve(store, samples_api::MAX_CONCURRENT_REQUESTS);
    let held: Vec<TcpStream> = (0..samples_api::MAX_CONCURRENT_REQUESTS)
        .map(|_| held_read(served.samples))
        .collect();
    for _ in 0..2 {
        let resp = match samples_common::client()
            .get(&format!("http://{}/samples?limit=1", served.samples))
            .call()
        {
            Err(ureq::Error::Status(503, resp)) => resp,
            other => panic!("want 503 over the cap, got {other:?}"),
        };
        assert_eq!(resp.header("retry-after"), Some("1"));
        let body = resp.into_string().expect("body");
        assert!(body.contains("retry"), "{body}");
    }
    let text = served.metrics.encode().expect("metrics");
    assert!(
        text.lines()
            .any(|l| l == "siplat_agent_samples_requests_rejected_total 2"),
        "{text}"
    );
    // A client that leaves gives its place back.
    drop(held);
    let start = Instant::now();
    loop {
        let (status, body) = get(served.samples, "/samples?limit=1");
        if status == 200 {
            assert_eq!(
                body,
                serde_json::to_string(&[record(99_999)]).expect("json")
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the cap stayed full after its clients left: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
