//! The read-only deployment view against a stand-in Prometheus on loopback
//! (answers `query_range` with two points per query): the panel asks for
//! every chart's series, the page draws them, and a bad URL is refused.

use std::{
    io::{BufRead as _, BufReader, Write as _},
    net::TcpListener,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use testkit::{browser::Browser, panel::Panel};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_siplat-testbed"))
}

/// A Prometheus that answers every `query_range` with the same matrix and
/// records the request lines.
fn fake_prometheus() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut reader = BufReader::new(conn.try_clone().expect("clone"));
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            log.lock().expect("log").push(line.trim().to_owned());
            // The rest of the request, up to the blank line.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let body = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1000,"3"],[1005,"4.5"]]}]}}"#;
            let mut conn = conn;
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, seen)
}

#[test]
fn the_deployment_view_reads_prometheus_and_refuses_bad_urls() {
    let (prom, seen) = fake_prometheus();
    let data = std::env::temp_dir().join(format!("siplat-panel-prom-{}", std::process::id()));
    let panel = Panel::start(&bin(), &data, &["--prometheus", &format!("http://{prom}")]);
    let r = panel.get("/api/prometheus?minutes=5");
    let series = r["series"].as_array().expect("series");
    assert_eq!(series.len(), 5, "{r}");
    for s in series {
        assert!(s["error"].is_null(), "{s}");
        assert_eq!(s["points"].as_array().map(Vec::len), Some(2), "{s}");
    }
    let requests = seen.lock().expect("seen").clone();
    assert!(
        requests
            .iter()
            .any(|l| l.contains("/api/v1/query_range?query=histogram_quantile")),
        "{requests:?}"
    );
    for bad in ["https%3A%2F%2Fx%3A1", "http%3A%2F%2Fu%3Ap%40x%3A1"] {
        let (code, body) = panel.send("GET", &format!("/api/prometheus?url={bad}"), "");
        assert_eq!(code, 400, "{bad}: {body}");
    }
    if !testkit::browser::available("the_deployment_view_reads_prometheus_and_refuses_bad_urls") {
        return;
    }
    let mut b = Browser::launch(1280, 900);
    b.goto(&panel.url());
    b.wait_for(
        "document.body.dataset.ready === '1'",
        Duration::from_secs(20),
    );
    b.eval("document.getElementById('prom-load').click()");
    let drawn = b.wait_for(
        "document.querySelectorAll('#prom-charts svg[data-points=\"2\"]').length",
        Duration::from_secs(10),
    );
    assert_eq!(drawn.as_u64(), Some(5), "five charts with two points each");
}
