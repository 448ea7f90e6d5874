use std::{os::unix::fs::PermissionsExt as _, path::PathBuf, time::Duration};

use testbed::status::ProxyState;

use super::*;

/// What the real testbed prints with `n` active proxies and one draining,
/// written through the contract type (no hand-made JSON).
pub(crate) fn status_json(n: u32, cpu: impl Fn(u32) -> f64) -> String {
    let proxy = |i: u32, state| ProxyStatus {
        name: format!("sip-proxy-{i}"),
        addr: format!("198.19.10.{i}"),
        iface: format!("vp{i}"),
        state,
        cpu_usage_seconds: cpu(i),
        cpu_limit_millis: 30,
    };
    let status = Status {
        agent_url: "http://198.19.0.1:9660".to_owned(),
        lb: "198.19.1.1:5060".to_owned(),
        proxies: (1..=n)
            .map(|i| proxy(i, ProxyState::Active))
            .chain([proxy(99, ProxyState::Draining)])
            .collect(),
    };
    serde_json::to_string(&status).expect("status json")
}

/// A fake `testbed` command: records its arguments, keeps the proxy count
/// and the CPU limit in files, prints a status like the real one (its
/// limit, 30m in the files, swapped for the last `resize`).
fn fake_testbed(tag: &str) -> (PathBuf, PathBuf) {
    let dir =
        std::env::temp_dir().join(format!("siplat-fake-testbed-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let script = dir.join("testbed");
    let log = dir.join("calls.log");
    let body = format!(
        r#"#!/bin/sh
echo "$@" >> {log}
[ "$1" = --quiet ] && shift
state={dir}/n
[ -f "$state" ] || echo 2 > "$state"
case "$1" in
  scale) echo "$2" > "$state" ;;
  resize) limit=${{3%m}}; echo "$limit" > {dir}/limit ;;
  status)
    n=$(cat "$state")
    [ "$n" = fail ] && exit 3
    limit=$(cat {dir}/limit 2>/dev/null || echo 30)
    sed "s/\"cpu_limit_millis\":30/\"cpu_limit_millis\":$limit/g" {dir}/status-$n.json
    ;;
  *) echo "unknown $1" >&2; exit 2 ;;
esac
"#,
        log = log.display(),
        dir = dir.display()
    );
    for n in 0..=10 {
        std::fs::write(
            dir.join(format!("status-{n}.json")),
            status_json(n, f64::from),
        )
        .expect("write status");
    }
    std::fs::write(&script, body).expect("write script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (script, log)
}

/// Run the fake through `sh` rather than exec'ing the file we just wrote:
/// a test thread forking meanwhile can still hold its write descriptor, and
/// exec then fails with "Text file busy".
fn run_with_sh(script: &std::path::Path, extra: &str) -> String {
    format!("sh {}{extra}", script.display())
}

#[tokio::test]
async fn scale_and_status_run_the_testbed_command() {
    let (script, log) = fake_testbed("scale");
    let mut tb = LocalTestbed::new(&run_with_sh(&script, " --quiet")).expect("cmd");
    let s = tb.state().await.expect("status");
    assert_eq!(
        (s.replicas, s.ready),
        (2, 2),
        "draining proxies do not count"
    );
    assert_eq!(s.agent_urls, vec!["http://198.19.0.1:9660".to_owned()]);
    assert!(
        s.pods
            .as_ref()
            .expect("pods")
            .iter()
            .all(|p| p.cpu_millis.is_none()),
        "no delta yet"
    );
    tb.scale(4).await.expect("scale");
    let s = tb.state().await.expect("status");
    assert_eq!(s.replicas, 4);
    let calls = std::fs::read_to_string(&log).expect("log");
    assert_eq!(
        calls,
        "--quiet status --json\n--quiet scale 4\n--quiet status --json\n"
    );
    std::fs::remove_dir_all(script.parent().expect("dir")).ok();
}

#[tokio::test]
async fn resize_runs_the_testbed_command_and_state_reads_the_limit() {
    let (script, log) = fake_testbed("resize");
    let mut tb = LocalTestbed::new(&run_with_sh(&script, " --quiet")).expect("cmd");
    assert_eq!(tb.state().await.expect("status").cpu_limit_millis, Some(30));
    tb.resize(90).await.expect("resize");
    assert_eq!(tb.state().await.expect("status").cpu_limit_millis, Some(90));
    let calls = std::fs::read_to_string(&log).expect("log");
    assert_eq!(
        calls,
        "--quiet status --json\n--quiet resize --cpu-limit 90m\n--quiet status --json\n"
    );
    std::fs::remove_dir_all(script.parent().expect("dir")).ok();
}

#[test]
fn tier_limit_is_the_lowest_of_the_active_proxies() {
    let mut tb = LocalTestbed::new("true").expect("cmd");
    let mut status: Status = serde_json::from_str(&status_json(3, f64::from)).expect("status");
    let limits = [60, 90, 70, 20];
    for (p, limit) in status.proxies.iter_mut().zip(limits) {
        p.cpu_limit_millis = limit;
    }
    // The draining proxy (last) does not count, however low its limit.
    let now = Instant::now();
    assert_eq!(tb.tier_state(&status, now).cpu_limit_millis, Some(60));
    status.proxies[0].cpu_limit_millis = 0;
    assert_eq!(
        tb.tier_state(&status, now).cpu_limit_millis,
        None,
        "an unlimited proxy: no tier limit"
    );
}

#[tokio::test]
async fn failing_testbed_is_an_error_with_stderr() {
    let (script, _) = fake_testbed("fail");
    let dir = script.parent().expect("dir").to_path_buf();
    std::fs::write(dir.join("n"), "fail").expect("state");
    let mut tb = LocalTestbed::new(&run_with_sh(&script, "")).expect("cmd");
    let err = tb.state().await.expect_err("exit 3");
    assert!(matches!(err, ActuatorError::Command { .. }), "{err}");
    let err = tb.scale(0).await;
    assert!(err.is_ok(), "scale itself works");
    let err = LocalTestbed::new("/nonexistent/testbed")
        .expect("cmd")
        .state()
        .await
        .expect_err("spawn fails");
    assert!(matches!(err, ActuatorError::Spawn { .. }));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn cpu_millicores_from_cumulative_seconds() {
    let mut tb = LocalTestbed::new("true").expect("cmd");
    let t0 = Instant::now();
    let status =
        |cpu: f64| -> Status { serde_json::from_str(&status_json(1, |_| cpu)).expect("status") };
    assert_eq!(
        tb.tier_state(&status(10.0), t0).pods.expect("pods")[0].cpu_millis,
        None
    );
    let later = tb.tier_state(&status(10.3), t0 + Duration::from_secs(15));
    let millis = later.pods.expect("pods")[0].cpu_millis.expect("delta");
    assert!(
        (millis - 20.0).abs() < 1e-6,
        "0.3 s CPU in 15 s = 20 m, got {millis}"
    );
}

#[test]
fn booting_proxies_are_replicas_that_are_not_ready() {
    let mut tb = LocalTestbed::new("true").expect("cmd");
    let mut status: Status = serde_json::from_str(&status_json(3, f64::from)).expect("status");
    status.proxies[2].state = ProxyState::Booting;
    let s = tb.tier_state(&status, Instant::now());
    assert_eq!(
        (s.replicas, s.ready),
        (3, 2),
        "a booting proxy is asked for, not ready; the draining one is neither"
    );
    let pods = s.pods.expect("pods");
    assert_eq!(pods.iter().filter(|p| p.ready).count(), 2, "{pods:?}");
    assert_eq!(pods.len(), 3, "{pods:?}");
}
