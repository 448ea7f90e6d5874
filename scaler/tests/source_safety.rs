//! Prometheus down, empty result, NaN and stale
//! samples never lead to a scale-down, and each leaves a clear log line
//! and a `siplat_scaler_source_errors_total{reason}` count; one agent down
//! among several blocks the scale-down only (`reason="partial"`).

mod common;

use std::{sync::Arc, time::Duration};

use common::{LogBuffer, dead_addr, serve, serve_scrapes};
use scaler::{
    actuator::sim::SimActuator,
    control::Controller,
    metrics::ScalerMetrics,
    policy::{
        Needs, Observation, Policy, Proposal,
        safety::{Safety, SafetyConfig},
        spec::{BuildContext, PolicySpec},
    },
    source::{
        Source,
        agents::{Agents, AgentsConfig},
        prometheus::{Prometheus, PrometheusConfig},
    },
};

/// A policy that always wants one replica less: only safety stands between
/// it and a scale-down.
struct AlwaysDown;

impl Policy for AlwaysDown {
    fn name(&self) -> String {
        "always-down".to_owned()
    }
    fn needs(&self) -> Needs {
        Needs {
            p99: true,
            rate: true,
            cpu: false,
        }
    }
    fn propose(&mut self, obs: &Observation) -> Proposal {
        Proposal::new(
            obs.current_replicas.saturating_sub(1),
            "test_down",
            "always down",
        )
    }
}

fn prom_answer(p99: &str, rate: &str, age: &str) -> common::Handler {
    let (p99, rate, age) = (p99.to_owned(), rate.to_owned(), age.to_owned());
    Arc::new(move |path: &str| {
        let vector = |v: &str| {
            if v.is_empty() {
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#.to_owned()
            } else {
                format!(
                    r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[1764070000.0,"{v}"]}}]}}}}"#
                )
            }
        };
        let body = if path.contains("histogram_quantile") {
            vector(&p99)
        } else if path.contains("time%28%29") {
            vector(&age)
        } else if path.contains("siplat_sip_messages_total") {
            vector(&rate)
        } else {
            return (404, "not found".to_owned());
        };
        (200, body)
    })
}

fn prometheus(addr: std::net::SocketAddr) -> Box<dyn Source> {
    Box::new(Prometheus::new(PrometheusConfig {
        url: format!("http://{addr}"),
        window: "1m".to_owned(),
        selector: r#"method="INVITE""#.to_owned(),
        rate_metric: "siplat_sip_messages_total".to_owned(),
        rate_selector: r#"direction="in",type="request",method="INVITE""#.to_owned(),
        cpu_query: None,
        timeout: Duration::from_secs(2),
    }))
}

fn controller(source: Box<dyn Source>) -> Controller {
    let mut safety = SafetyConfig::bounds_only(1, 10);
    safety.stale_after = Duration::from_secs(60);
    Controller {
        source,
        policy: Box::new(AlwaysDown),
        safety: Safety::new(safety),
        actuator: Box::new(SimActuator::new(5, Duration::ZERO)),
        metrics: ScalerMetrics::new(),
        stale_after: Duration::from_secs(60),
    }
}

async fn one_round(source: Box<dyn Source>) -> (u32, &'static str, String, String) {
    let logs = LogBuffer::default();
    let _guard = logs.install();
    let mut c = controller(source);
    let d = c.tick(100.0).await.expect("a decision");
    (d.replicas, d.reason, logs.text(), c.metrics.render())
}

#[tokio::test]
async fn healthy_input_lets_the_policy_scale_down() {
    let addr = serve(prom_answer("0.05", "12.5", "3")).await;
    let (replicas, reason, _, metrics) = one_round(prometheus(addr)).await;
    assert_eq!(
        (replicas, reason),
        (4, "test_down"),
        "the harness does allow a scale-down"
    );
    assert!(
        metrics.contains(r#"siplat_scaler_source_errors_total{reason="connect"} 0"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("siplat_scaler_desired_replicas 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn prometheus_down() {
    let (replicas, reason, logs, metrics) = one_round(prometheus(dead_addr().await)).await;
    assert_eq!((replicas, reason), (5, "hold_input_missing"));
    assert!(
        logs.contains("input unavailable: no scale-down this round"),
        "{logs}"
    );
    assert!(
        logs.contains("reason=\"connect\"") || logs.contains("reason=connect"),
        "{logs}"
    );
    assert!(
        metrics.contains(r#"siplat_scaler_source_errors_total{reason="connect"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"siplat_scaler_decisions_total{reason="hold_input_missing"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn empty_result() {
    let addr = serve(prom_answer("", "12.5", "3")).await;
    let (replicas, reason, logs, metrics) = one_round(prometheus(addr)).await;
    assert_eq!((replicas, reason), (5, "hold_input_missing"));
    assert!(
        logs.contains("input empty: no scale-down this round"),
        "{logs}"
    );
    assert!(
        metrics.contains(r#"siplat_scaler_source_errors_total{reason="empty"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn nan_p99() {
    let addr = serve(prom_answer("NaN", "12.5", "3")).await;
    let (replicas, reason, logs, metrics) = one_round(prometheus(addr)).await;
    assert_eq!((replicas, reason), (5, "hold_input_nan"));
    assert!(
        logs.contains("input nan: no scale-down this round"),
        "{logs}"
    );
    assert!(
        metrics.contains(r#"siplat_scaler_source_errors_total{reason="nan"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("siplat_scaler_input_p99_seconds NaN"),
        "{metrics}"
    );
}

#[tokio::test]
async fn stale_samples() {
    let addr = serve(prom_answer("0.05", "12.5", "900")).await;
    let (replicas, reason, logs, metrics) = one_round(prometheus(addr)).await;
    assert_eq!((replicas, reason), (5, "hold_input_stale"));
    assert!(
        logs.contains("input stale: no scale-down this round"),
        "{logs}"
    );
    assert!(
        metrics.contains(r#"siplat_scaler_source_errors_total{reason="stale"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn prometheus_error_status_and_bad_json() {
    let addr = serve(Arc::new(|_: &str| (503, "overloaded".to_owned()))).await;
    let (replicas, _, _, metrics) = one_round(prometheus(addr)).await;
    assert_eq!(replicas, 5);
    assert!(
        metrics.contains(r#"siplat_scaler_source_errors_total{reason="http_status"} 1"#),
        "{metrics}"
    );
    let addr = serve(Arc::new(|_: &str| (200, "{not json".to_owned()))).await;
    let (replicas, _, _, metrics) = one_round(prometheus(addr)).await;
    assert_eq!(replicas, 5);
    assert!(
        metrics.contains(r#"siplat_scaler_source_errors_total{reason="parse"} 1"#),
        "{metrics}"
    );
}

fn agent_text(fast: u64, slow: u64, invites: u64) -> String {
    agent_text_slow_under(0.5, fast, slow, invites)
}

/// `agent_text` whose slow observations fall under `slow_le` seconds.
fn agent_text_slow_under(slow_le: f64, fast: u64, slow: u64, invites: u64) -> String {
    let total = fast + slow;
    format!(
        "# TYPE siplat_sip_latency_seconds histogram
siplat_sip_latency_seconds_bucket{{kind=\"response\",method=\"INVITE\",status_class=\"4xx\",iface=\"vp1\",le=\"0.01\"}} {fast}
siplat_sip_latency_seconds_bucket{{kind=\"response\",method=\"INVITE\",status_class=\"4xx\",iface=\"vp1\",le=\"{slow_le}\"}} {total}
siplat_sip_latency_seconds_bucket{{kind=\"response\",method=\"INVITE\",status_class=\"4xx\",iface=\"vp1\",le=\"+Inf\"}} {total}
siplat_sip_latency_seconds_bucket{{kind=\"response\",method=\"REGISTER\",status_class=\"4xx\",iface=\"vp1\",le=\"0.01\"}} 0
siplat_sip_latency_seconds_bucket{{kind=\"response\",method=\"REGISTER\",status_class=\"4xx\",iface=\"vp1\",le=\"+Inf\"}} 999
siplat_sip_messages_total{{direction=\"in\",method=\"INVITE\",type=\"request\"}} {invites}
siplat_sip_messages_total{{direction=\"out\",method=\"INVITE\",type=\"request\"}} 77
"
    )
}

#[tokio::test]
async fn agents_source_computes_p99_and_rate_from_deltas() {
    let addr = serve_scrapes(vec![agent_text(1000, 0, 500), agent_text(1990, 10, 800)]).await;
    let mut agents = Agents::new(AgentsConfig {
        urls: vec![format!("http://{addr}")],
        selector: r#"method="INVITE",iface=~"vp.*""#.to_owned(),
        rate_metric: "siplat_sip_messages_total".to_owned(),
        rate_selector: r#"direction="in",type="request",method="INVITE""#.to_owned(),
        timeout: Duration::from_secs(2),
    })
    .expect("selectors");
    let first = agents.read().await.expect("first scrape");
    assert_eq!(
        (first.p99_s, first.rate),
        (None, None),
        "no deltas after one scrape"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = agents.read().await.expect("second scrape");
    // Deltas: 990 fast, 10 slow -> the 99th percentile is the 0.01 bound.
    let p99 = second.p99_s.expect("p99");
    assert!((p99 - 0.01).abs() < 1e-9, "{p99}");
    let rate = second.rate.expect("rate");
    assert!(
        rate > 300.0 / 0.5 && rate < 300.0 / 0.19,
        "300 INVITEs in ~0.2 s: {rate}"
    );
}

#[tokio::test]
async fn agent_down_holds() {
    let agents = Agents::new(AgentsConfig {
        urls: vec![format!("http://{}", dead_addr().await)],
        selector: String::new(),
        rate_metric: "siplat_sip_messages_total".to_owned(),
        rate_selector: String::new(),
        timeout: Duration::from_secs(2),
    })
    .expect("selectors");
    let (replicas, reason, logs, metrics) = one_round(Box::new(agents)).await;
    assert_eq!((replicas, reason), (5, "hold_input_missing"));
    assert!(logs.contains("no scale-down"), "{logs}");
    assert!(
        metrics.contains(r#"siplat_scaler_source_errors_total{reason="connect"} 1"#),
        "{metrics}"
    );
}

/// Double every sample value of an exposition (a second scrape whose
/// deltas equal the first one's totals).
fn doubled(text: &str) -> String {
    text.lines()
        .map(|l| match l.rsplit_once(' ') {
            Some((head, v)) if !l.starts_with('#') => {
                let v: f64 = v.parse().expect("number");
                format!("{head} {}\n", v * 2.0)
            }
            _ => format!("{l}\n"),
        })
        .collect()
}

/// The exposition of the real agent on the local testbed (load balancer and
/// one proxy, under load): the selector keeps the proxy's series only, and
/// the calls counted once per call at the proxy.
#[tokio::test]
async fn agents_source_on_a_real_testbed_exposition() {
    let text = include_str!("fixtures/agent-testbed-metrics.txt").to_owned();
    let addr = serve_scrapes(vec![text.clone(), doubled(&text)]).await;
    let mut agents = Agents::new(AgentsConfig {
        urls: vec![format!("http://{addr}")],
        selector: r#"method="INVITE",iface=~"tbv-p.*""#.to_owned(),
        rate_metric: "siplat_sip_latency_seconds_count".to_owned(),
        rate_selector: r#"kind="relay_request",method="INVITE",iface=~"tbv-p.*""#.to_owned(),
        timeout: Duration::from_secs(2),
    })
    .expect("selectors");
    agents.read().await.expect("first scrape");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = agents.read().await.expect("second scrape");
    let p99 = r.p99_s.expect("p99 of the proxy's INVITE transactions");
    assert!(p99 > 0.1 && p99 < 10.0, "throttled proxy under load: {p99}");
    let rate = r.rate.expect("rate");
    // 346 relayed INVITEs at the proxy between scrapes at least 0.5 s apart.
    assert!(rate > 346.0 / 3.0 && rate < 346.0 / 0.49, "{rate}");
}

/// The real `qos` policy (no settle times or cooldown, so only safety can
/// hold it) over agents at `urls`, from 5 replicas.
fn qos_over_agents(urls: Vec<String>) -> Controller {
    let ctx = BuildContext {
        min_replicas: 1,
        max_replicas: 10,
        p99_target_s: 1.0,
        interval_s: 2.0,
        boot_s: 0.0,
    };
    let spec = PolicySpec::parse_list("qos:settle=0,p99-settle=0,cooldown=0").expect("spec");
    let (policy, safety) = spec[0].build(&ctx).expect("qos");
    let agents = Agents::new(AgentsConfig {
        urls,
        selector: r#"method="INVITE",iface=~"vp.*""#.to_owned(),
        rate_metric: "siplat_sip_messages_total".to_owned(),
        rate_selector: r#"direction="in",type="request",method="INVITE""#.to_owned(),
        timeout: Duration::from_secs(2),
    })
    .expect("selectors");
    Controller {
        stale_after: safety.stale_after,
        source: Box::new(agents),
        policy,
        safety: Safety::new(safety),
        actuator: Box::new(SimActuator::new(5, Duration::ZERO)),
        metrics: ScalerMetrics::new(),
    }
}

/// Two rounds 200 ms apart (the first only primes the deltas); the second
/// round's decision, the logs and the metrics.
async fn second_round(mut c: Controller) -> (u32, &'static str, String, String) {
    let logs = LogBuffer::default();
    let _guard = logs.install();
    c.tick(100.0).await.expect("first decision");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let d = c.tick(102.0).await.expect("second decision");
    (d.replicas, d.reason, logs.text(), c.metrics.render())
}

/// ~10 INVITEs/s with every P99 far under the target: `qos` wants 2.
async fn calm_agent() -> String {
    let addr = serve_scrapes(vec![agent_text(1000, 0, 500), agent_text(1990, 10, 502)]).await;
    format!("http://{addr}")
}

#[tokio::test]
async fn all_agents_calm_lets_qos_scale_down() {
    let c = qos_over_agents(vec![calm_agent().await, calm_agent().await]);
    let (replicas, reason, _, metrics) = second_round(c).await;
    assert_eq!(
        (replicas, reason),
        (4, "step_limit"),
        "complete data may go down (qos wants 3, one step at a time)"
    );
    assert!(
        metrics.contains(r#"siplat_scaler_source_errors_total{reason="partial"} 0"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn one_agent_down_blocks_scale_down() {
    let dead = format!("http://{}", dead_addr().await);
    let c = qos_over_agents(vec![calm_agent().await, dead.clone()]);
    let (replicas, reason, logs, metrics) = second_round(c).await;
    assert_eq!((replicas, reason), (5, "hold_input_partial"));
    assert!(
        metrics.contains(r#"siplat_scaler_source_errors_total{reason="partial"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"siplat_scaler_decisions_total{reason="hold_input_partial"} 1"#),
        "{metrics}"
    );
    let line = logs
        .lines()
        .find(|l| l.contains("input partial: scale-up only this round"))
        .unwrap_or_else(|| panic!("no partial line: {logs}"));
    assert!(line.contains(&dead), "names the dead agent: {line}");
}

#[tokio::test]
async fn one_agent_down_still_scales_up_on_a_slow_p99() {
    let slow = serve_scrapes(vec![
        agent_text_slow_under(2.5, 0, 0, 500),
        agent_text_slow_under(2.5, 0, 100, 502),
    ])
    .await;
    let dead = format!("http://{}", dead_addr().await);
    let c = qos_over_agents(vec![dead, format!("http://{slow}")]);
    let (replicas, reason, _, metrics) = second_round(c).await;
    assert_eq!(
        (replicas, reason),
        (8, "p99_over_target"),
        "P99 ~2.5 s over 1 s: +50 %"
    );
    assert!(
        metrics.contains(r#"siplat_scaler_source_errors_total{reason="partial"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("siplat_scaler_desired_replicas 8"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_agent_back_from_an_outage_counts_from_its_next_scrape() {
    let flaky = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let calls = flaky.clone();
    let texts = [
        agent_text(1000, 0, 500),
        agent_text(1990, 10, 502),
        agent_text(2980, 20, 504),
        agent_text(3970, 30, 506),
    ];
    // Answers, fails once, then answers again.
    let addr = serve(Arc::new(move |_: &str| {
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) as usize;
        if n == 1 {
            (503, "restarting".to_owned())
        } else {
            (200, texts[n.min(3)].clone())
        }
    }))
    .await;
    let mut agents = Agents::new(AgentsConfig {
        urls: vec![calm_agent().await, format!("http://{addr}")],
        selector: r#"method="INVITE""#.to_owned(),
        rate_metric: "siplat_sip_messages_total".to_owned(),
        rate_selector: r#"direction="in",type="request",method="INVITE""#.to_owned(),
        timeout: Duration::from_secs(2),
    })
    .expect("selectors");
    let mut rounds = Vec::new();
    for _ in 0..4 {
        rounds.push(agents.read().await.expect("a reading").missing.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Primed; down; back (first scrape again); complete.
    assert_eq!(rounds, [0, 1, 1, 0]);
    assert_eq!(flaky.load(std::sync::atomic::Ordering::SeqCst), 4);
}
