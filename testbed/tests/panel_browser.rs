//! The panel's acceptance test: headless Chromium opens the page, starts a
//! short run on the local testbed from the form (the report's step family
//! squeezed 60x into 30 s, a static tier of two 30m proxies), sees the live
//! chart gain points while the run plays, gets a second start refused, and
//! finds the summary table when the run ends; the testbed is down again
//! afterwards. Writes the README's screenshot to target/panel-browser/.

use std::{path::PathBuf, time::Duration};

use testkit::{browser::Browser, panel::Panel, privileged};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_siplat-testbed"))
}

fn points(b: &mut Browser) -> u64 {
    b.eval("Number(document.getElementById('chart-rate').dataset.points)")
        .as_u64()
        .unwrap_or(0)
}

#[test]
#[ignore = "needs root (testbed: namespaces, cgroups, BPF): cargo xtask test"]
fn a_run_started_from_the_page_charts_live_and_ends_with_a_summary() {
    let name = "a_run_started_from_the_page_charts_live_and_ends_with_a_summary";
    if !privileged(name) || !testkit::browser::available(name) {
        return;
    }
    let data = std::env::temp_dir().join(format!("siplat-panel-browser-{}", std::process::id()));
    let panel = Panel::start(&bin(), &data, &[]);
    let mut b = Browser::launch(1280, 1800);
    b.goto(&panel.url());
    b.wait_for(
        "document.body.dataset.ready === '1'",
        Duration::from_secs(20),
    );
    b.eval(
        "(() => { const set = (id, v) => { document.getElementById(id).value = v; }; \
         set('scenario', 'family:step'); set('seed', '1'); set('compress', '60'); \
         set('rate-scale', '1'); set('policy', 'static:replicas=2'); set('p99-target', '1000'); \
         document.getElementById('start').click(); })()",
    );
    b.wait_for(
        "document.getElementById('status').textContent.startsWith('playing')",
        Duration::from_secs(60),
    );
    let (code, body) = panel.send(
        "POST",
        "/api/runs",
        r#"{"scenario":"family:step","policy":"static:replicas=1","compress":60}"#,
    );
    assert_eq!(code, 409, "a second start while one plays: {body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("already in progress"),
        "{body}"
    );
    b.wait_for(
        "Number(document.getElementById('chart-rate').dataset.points) >= 3",
        Duration::from_secs(30),
    );
    let early = points(&mut b);
    std::thread::sleep(Duration::from_secs(4));
    let later = points(&mut b);
    eprintln!("live rate chart: {early} points, then {later} four seconds later");
    assert!(
        later > early,
        "the live chart gains points ({early} -> {later})"
    );
    let summary = b.wait_for(
        "document.getElementById('summary-table') && document.getElementById('summary-table').innerText",
        Duration::from_secs(120),
    );
    let text = summary.as_str().unwrap_or_default().to_owned();
    eprintln!("summary:\n{text}");
    assert!(text.contains("P99 under target"), "{text}");
    assert!(text.contains("static:replicas=2"), "{text}");
    let heading = b.eval("document.querySelector('#live-summary h3').textContent");
    assert!(
        heading.as_str().unwrap_or("").ends_with(": done"),
        "{heading}"
    );
    b.wait_for(
        "document.querySelectorAll('#history-table tbody tr').length >= 1",
        Duration::from_secs(10),
    );
    let shot = testbed::proc::workspace_root().join("target/panel-browser/panel.png");
    b.screenshot(&shot);
    eprintln!("screenshot: {}", shot.display());
    let live = panel.get("/api/live");
    assert!(live.is_null(), "the slot is free again: {live}");
    assert!(
        !netns::list().iter().any(|n| n.starts_with("tb-")),
        "the testbed is down after the run"
    );
}
