//! `siplat-scaler run --source agents --actuator local` end to end against
//! a fake testbed command and a canned agent: the path `cargo xtask demo`
//! uses, without the testbed.

mod common;

use std::{
    os::unix::fs::PermissionsExt as _,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::serve;
use testbed::status::{ProxyState, ProxyStatus, Status};

fn agent_scrape(n: u64) -> String {
    // Every scrape adds 200 INVITEs, 3 % of them slow (up to 2 s): P99 > 1 s.
    let fast = n * 194;
    let total = n * 200;
    format!(
        "siplat_sip_latency_seconds_bucket{{kind=\"response\",method=\"INVITE\",status_class=\"4xx\",iface=\"vp1\",le=\"0.01\"}} {fast}
siplat_sip_latency_seconds_bucket{{kind=\"response\",method=\"INVITE\",status_class=\"4xx\",iface=\"vp1\",le=\"2\"}} {total}
siplat_sip_latency_seconds_bucket{{kind=\"response\",method=\"INVITE\",status_class=\"4xx\",iface=\"vp1\",le=\"+Inf\"}} {total}
siplat_sip_messages_total{{direction=\"in\",method=\"INVITE\",type=\"request\"}} {total}
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_scales_the_local_testbed_on_the_agents_p99() {
    let scrapes = Arc::new(Mutex::new(0_u64));
    let agent = serve(Arc::new(move |_: &str| {
        let mut n = scrapes.lock().expect("lock");
        *n += 1;
        (200, agent_scrape(*n))
    }))
    .await;
    let dir = std::env::temp_dir().join(format!("siplat-run-local-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let script = dir.join("testbed");
    let log = dir.join("calls.log");
    write_statuses(&dir, &format!("http://{agent}"));
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
echo "$@" >> {log}
state={dir}/n
[ -f "$state" ] || echo 1 > "$state"
case "$1" in
  scale) echo "$2" > "$state" ;;
  status) cat {dir}/status-$(cat "$state").json ;;
esac
"#,
            log = log.display(),
            dir = dir.display(),
        ),
    )
    .expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let port = common::dead_addr().await.port();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_siplat-scaler"))
        .args([
            "run",
            "--source",
            "agents",
            "--actuator",
            "local",
            "--testbed-cmd",
        ])
        // Through `sh`: exec'ing a file this process just wrote can fail
        // with "Text file busy" while another test thread forks.
        .arg(format!("sh {}", script.display()))
        .args([
            "--policy",
            "qos",
            "--p99-target",
            "1s",
            "--interval",
            "300ms",
            "--duration",
            "3s",
        ])
        .args([
            "--max-replicas",
            "4",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn siplat-scaler");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let metrics = scaler::source::http::HttpGet::new(Duration::from_secs(2))
        .get(&format!("http://127.0.0.1:{port}/metrics"))
        .await
        .expect("/metrics answers");
    let metrics = String::from_utf8_lossy(&metrics).into_owned();
    assert!(
        metrics.contains("siplat_scaler_desired_replicas"),
        "{metrics}"
    );
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("run stops after --duration")
        .expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let calls = std::fs::read_to_string(&log).expect("calls");
    assert!(
        calls.lines().any(|l| l.starts_with("scale ")),
        "no scale call:\n{calls}\n{stderr}"
    );
    assert!(stderr.contains("p99_over_target"), "{stderr}");
    let last: u32 = std::fs::read_to_string(dir.join("n"))
        .expect("n")
        .trim()
        .parse()
        .expect("count");
    assert!(
        last > 1 && last <= 4,
        "scaled up within --max-replicas: {last}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// What the testbed prints with 0..=10 active proxies, written through the
/// contract type for the fake to print (no hand-made JSON).
fn write_statuses(dir: &std::path::Path, agent_url: &str) {
    for n in 0..=10 {
        let status = Status {
            agent_url: agent_url.to_owned(),
            lb: "198.19.1.1:5060".to_owned(),
            proxies: (1..=n)
                .map(|i| ProxyStatus {
                    name: format!("sip-proxy-{i}"),
                    addr: format!("198.19.10.{i}"),
                    iface: format!("vp{i}"),
                    state: ProxyState::Active,
                    cpu_usage_seconds: 1.0,
                    cpu_limit_millis: 30,
                })
                .collect(),
        };
        std::fs::write(
            dir.join(format!("status-{n}.json")),
            serde_json::to_string(&status).expect("json"),
        )
        .expect("status file");
    }
}
