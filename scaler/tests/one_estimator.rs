//! The P99 the scaler acts on and the P99 the demo judges a run by come
//! from the same histogram through the same estimate: one agent exposition,
//! read by the scaler's agents source and by the testbed's per-second
//! reader, written to and judged from the per-second CSV as the demo does.

mod common;

use std::{fmt::Write as _, time::Duration};

use common::serve_scrapes;
use scaler::source::{
    Source,
    agents::{Agents, AgentsConfig},
};
use scenario::run::{Run, Second, from_csv, to_csv};
use testbed::metrics::Histograms;

/// Two proxies and the load balancer; `grow` INVITE samples land in the
/// (0.1, 0.5] bucket on each proxy, and proxy 2 restarted in between when
/// `restarted` (its counters fell).
fn exposition(fast: u64, slow: u64, restarted: bool) -> String {
    let mut text = String::new();
    for (iface, scale) in [("tbv-p1", 1), ("tbv-p2", u64::from(!restarted))] {
        let (f, s) = (fast * scale + u64::from(restarted) * 3, slow * scale);
        for (le, count) in [("0.1", f), ("0.5", f + s), ("2", f + s), ("+Inf", f + s)] {
            let _ = writeln!(
                text,
                "siplat_sip_latency_seconds_bucket{{iface=\"{iface}\",kind=\"response\",method=\"INVITE\",status_class=\"4xx\",le=\"{le}\"}} {count}"
            );
        }
    }
    // The load balancer's own hop: slow, and neither reader may count it.
    for le in ["0.1", "0.5", "2", "+Inf"] {
        let count = if le == "0.1" || le == "0.5" { 0 } else { 5000 };
        let _ = writeln!(
            text,
            "siplat_sip_latency_seconds_bucket{{iface=\"tbv-lb\",kind=\"response\",method=\"INVITE\",status_class=\"4xx\",le=\"{le}\"}} {count}"
        );
    }
    text.push_str(
        "siplat_sip_messages_total{direction=\"in\",method=\"INVITE\",type=\"request\"} 10\n",
    );
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scaler_and_the_demo_read_one_histogram_alike() {
    let before = exposition(900, 5, false);
    let after = exposition(1890, 25, true);
    let addr = serve_scrapes(vec![before.clone(), after.clone()]).await;
    // The selector the demo gives the scaler.
    let mut agents = Agents::new(AgentsConfig {
        urls: vec![format!("http://{addr}")],
        selector: r#"method="INVITE",iface=~"tbv-p.*""#.to_owned(),
        rate_metric: "siplat_sip_messages_total".to_owned(),
        rate_selector: r#"method="INVITE""#.to_owned(),
        timeout: Duration::from_secs(2),
    })
    .expect("selectors");
    agents.read().await.expect("first scrape");
    let scaler_p99 = agents
        .read()
        .await
        .expect("second scrape")
        .p99_s
        .expect("p99");

    let testbed_p99 = Histograms::parse(&after)
        .quantile_since(&Histograms::parse(&before), None, 0.99)
        .expect("p99");
    assert!(
        (scaler_p99 - testbed_p99).abs() < 1e-12,
        "scaler {scaler_p99} vs testbed {testbed_p99}"
    );
    // Interpolated inside (0.1, 0.5], not that bucket's upper bound (which
    // a second estimator once reported), and without the LB's 2 s.
    assert!(testbed_p99 > 0.1 && testbed_p99 < 0.45, "{testbed_p99}");

    // The demo judges the run from the per-second CSV the driver writes.
    let rows = vec![Second {
        t: 30,
        rate: 10.0,
        replicas: 2,
        ready: 2,
        p99_s: Some(testbed_p99),
        cpu_millis: 20.0,
        failed_calls: 0,
        allocated_millis: 60.0,
    }];
    let judged = Run::judge(
        "qos".into(),
        &from_csv(&to_csv(&rows)).expect("csv"),
        scaler_p99 - 1e-3,
        20,
    );
    assert_eq!(judged.violation_seconds, 1);
    assert!((judged.worst_p99_seconds - scaler_p99).abs() < 1e-6);
    let judged = Run::judge("qos".into(), &rows, scaler_p99 + 1e-3, 20);
    assert_eq!(judged.violation_seconds, 0);
}
