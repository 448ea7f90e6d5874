//! Stopping and failing runs started through the panel's API (root): a
//! stopped run still ends with its summary, a run whose scaler refuses its
//! policy is reported failed with the scaler's reason, and after either
//! the slot is free, the testbed is down and no caller is left.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use serde_json::Value;
use testkit::{panel::Panel, privileged};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_siplat-testbed"))
}

fn data(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("siplat-panel-{name}-{}", std::process::id()))
}

/// The history entry of run `id` once it has an outcome.
fn finished(panel: &Panel, id: &str, timeout: Duration) -> Value {
    let start = Instant::now();
    loop {
        let d = panel.get(&format!("/api/runs/{id}"));
        if !d["outcome"].is_null() && panel.get("/api/live").is_null() {
            return d;
        }
        assert!(start.elapsed() < timeout, "run {id} did not end: {d}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn nothing_left() {
    assert!(
        !netns::list().iter().any(|n| n.starts_with("tb-")),
        "the testbed is down"
    );
    let callers = testkit::sh_out(&["pgrep", "-f", "siplat-testbed caller --testbed"]);
    assert!(callers.trim().is_empty(), "callers left: {callers}");
}

#[test]
#[ignore = "needs root (testbed): cargo xtask test"]
fn a_stopped_run_ends_with_its_summary_and_nothing_left() {
    if !privileged("a_stopped_run_ends_with_its_summary_and_nothing_left") {
        return;
    }
    let panel = Panel::start(&bin(), &data("stop"), &[]);
    let (code, snap) = panel.send(
        "POST",
        "/api/runs",
        r#"{"scenario":"family:flash-crowd","seed":3,"compress":60,"policy":"static:replicas=1"}"#,
    );
    assert_eq!(code, 202, "{snap}");
    let id = snap["id"].as_str().expect("id").to_owned();
    let start = Instant::now();
    while panel.get("/api/live")["rows"]
        .as_array()
        .is_none_or(|r| r.len() < 5)
    {
        assert!(start.elapsed() < Duration::from_secs(90), "no live rows");
        std::thread::sleep(Duration::from_millis(500));
    }
    let (code, body) = panel.send("POST", "/api/runs/stop", "");
    assert_eq!(code, 200, "{body}");
    let d = finished(&panel, &id, Duration::from_secs(120));
    assert_eq!(d["outcome"]["outcome"], "stopped", "{d}");
    let played = d["summary"]["played_s"].as_u64().expect("summary");
    assert!(
        (5..100).contains(&played),
        "stopped early: {played} of 120 s"
    );
    nothing_left();
}

#[test]
#[ignore = "needs root (testbed): cargo xtask test"]
fn a_failing_run_says_why_and_leaves_nothing_behind() {
    if !privileged("a_failing_run_says_why_and_leaves_nothing_behind") {
        return;
    }
    let panel = Panel::start(&bin(), &data("fail"), &[]);
    // The panel checks the policy name; its parameters are the scaler's to
    // refuse, and it refuses this one at start.
    let (code, snap) = panel.send(
        "POST",
        "/api/runs",
        r#"{"scenario":"family:step","compress":60,"policy":"qos:cooldown=abc"}"#,
    );
    assert_eq!(code, 202, "{snap}");
    let id = snap["id"].as_str().expect("id").to_owned();
    let d = finished(&panel, &id, Duration::from_secs(90));
    assert_eq!(d["outcome"]["outcome"], "failed", "{d}");
    let why = d["outcome"]["error"].as_str().unwrap_or_default();
    assert!(
        why.contains("siplat-scaler"),
        "the reason names the step: {why}"
    );
    eprintln!("failed as expected: {why}");
    nothing_left();
}
