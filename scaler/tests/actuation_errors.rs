//! A scale or resize call the API refuses (403 RBAC, 409 conflict) or a
//! testbed command that fails is counted in
//! `siplat_scaler_actuation_errors_total` by reason, leaves the
//! desired-replicas and CPU-limit gauges and the decision counter as they
//! were, and is tried again the next round.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use common::LogBuffer;
use http::{Method, Request, Response};
use kube::{Client, client::Body};
use scaler::{
    actuator::{
        ActFuture, Actuator, ActuatorError, TierState,
        kubernetes::{Kubernetes, TargetKind},
        local::LocalTestbed,
    },
    control::Controller,
    metrics::ScalerMetrics,
    policy::{
        Needs, Observation, Policy, Proposal,
        safety::{CpuBounds, Safety, SafetyConfig},
    },
    source::{Reading, Source, SourceFuture},
};

/// Healthy input every round.
struct Healthy;

impl Source for Healthy {
    fn read(&mut self) -> SourceFuture<'_> {
        Box::pin(async {
            Ok(Reading {
                p99_s: Some(0.2),
                rate: Some(10.0),
                ..Reading::default()
            })
        })
    }
    fn describe(&self) -> String {
        "healthy".to_owned()
    }
}

/// Wants whatever the test last stored.
struct Wants(Arc<AtomicU32>);

impl Policy for Wants {
    fn name(&self) -> String {
        "wants".to_owned()
    }
    fn needs(&self) -> Needs {
        Needs {
            p99: true,
            rate: true,
            cpu: false,
        }
    }
    fn propose(&mut self, _: &Observation) -> Proposal {
        Proposal::new(self.0.load(Ordering::SeqCst), "test_wants", "")
    }
}

fn scale_json(spec: i32) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "sip-proxy", "namespace": "ims"},
        "spec": {"replicas": spec},
        "status": {"replicas": spec}
    }))
    .expect("json")
}

fn status_json(code: u16, reason: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": format!("scale of sip-proxy: {reason}"), "reason": reason, "code": code
    }))
    .expect("json")
}

/// A mock API server: every round reads a scale of 3; the patches get
/// `patch_answers` in order, and each must ask for 5 replicas.
fn kubernetes(patch_answers: Vec<(u16, Vec<u8>)>) -> (Kubernetes, tokio::task::JoinHandle<()>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let k = Kubernetes::new(
        Client::new(service, "default"),
        TargetKind::StatefulSet,
        "ims",
        "sip-proxy",
    );
    let server = tokio::spawn(async move {
        let mut answers = patch_answers.into_iter();
        while let Some((req, send)) = handle.next_request().await {
            let (status, body) = if req.method() == Method::GET {
                (200, scale_json(3))
            } else {
                assert_eq!(req.method(), Method::PATCH);
                let body = req.into_body().collect_bytes().await.expect("body");
                let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
                assert_eq!(
                    body,
                    serde_json::json!({"spec": {"replicas": 5}}),
                    "a retry"
                );
                answers.next().expect("no PATCH beyond the script")
            };
            send.send_response(
                Response::builder()
                    .status(status)
                    .body(Body::from(body))
                    .expect("response"),
            );
        }
    });
    (k, server)
}

fn metric(metrics: &str, line_start: &str) -> String {
    metrics
        .lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("no {line_start}: {metrics}"))
        .to_owned()
}

#[tokio::test]
async fn refused_scale_calls_are_counted_and_retried() {
    let logs = LogBuffer::default();
    let _guard = logs.install();
    let (k, server) = kubernetes(vec![
        (403, status_json(403, "Forbidden")),
        (409, status_json(409, "Conflict")),
        (200, scale_json(5)),
    ]);
    let want = Arc::new(AtomicU32::new(3));
    let mut c = Controller {
        source: Box::new(Healthy),
        policy: Box::new(Wants(want.clone())),
        safety: Safety::new(SafetyConfig::bounds_only(1, 10)),
        actuator: Box::new(k),
        metrics: ScalerMetrics::new(),
        stale_after: Duration::from_secs(60),
    };
    let decisions = r#"siplat_scaler_decisions_total{reason="test_wants"}"#;
    let errors = |r: &str| format!(r#"siplat_scaler_actuation_errors_total{{reason="{r}"}}"#);

    // A hold takes effect without any call.
    c.tick(0.0).await.expect("decision");
    let m = c.metrics.render();
    assert_eq!(
        metric(&m, "siplat_scaler_desired_replicas"),
        "siplat_scaler_desired_replicas 3"
    );
    assert_eq!(metric(&m, decisions), format!("{decisions} 1"));

    want.store(5, Ordering::SeqCst);
    c.tick(15.0).await.expect("decision");
    let m = c.metrics.render();
    assert_eq!(
        metric(&m, &errors("forbidden")),
        format!("{} 1", errors("forbidden"))
    );
    assert_eq!(
        metric(&m, &errors("conflict")),
        format!("{} 0", errors("conflict"))
    );
    assert_eq!(
        metric(&m, "siplat_scaler_desired_replicas"),
        "siplat_scaler_desired_replicas 3",
        "refused: the gauge keeps what the tier was last asked for"
    );
    assert_eq!(metric(&m, decisions), format!("{decisions} 1"));
    assert!(
        logs.text()
            .lines()
            .any(|l| l.contains("scaling failed") && l.contains("forbidden")),
        "{}",
        logs.text()
    );

    c.tick(30.0).await.expect("decision");
    let m = c.metrics.render();
    assert_eq!(
        metric(&m, &errors("conflict")),
        format!("{} 1", errors("conflict"))
    );
    assert_eq!(
        metric(&m, "siplat_scaler_desired_replicas"),
        "siplat_scaler_desired_replicas 3"
    );
    assert_eq!(metric(&m, decisions), format!("{decisions} 1"));

    c.tick(45.0).await.expect("decision");
    let m = c.metrics.render();
    assert_eq!(
        metric(&m, "siplat_scaler_desired_replicas"),
        "siplat_scaler_desired_replicas 5"
    );
    assert_eq!(metric(&m, decisions), format!("{decisions} 2"));
    assert_eq!(
        metric(&m, &errors("forbidden")),
        format!("{} 1", errors("forbidden"))
    );
    assert_eq!(
        metric(&m, &errors("conflict")),
        format!("{} 1", errors("conflict"))
    );
    drop(c);
    server.await.expect("every PATCH asked for 5");
}

#[tokio::test]
async fn api_reasons_are_bounded() {
    for (code, reason) in [(404, "not_found"), (504, "timeout"), (422, "other")] {
        let (mut k, _server) = kubernetes(vec![(code, status_json(code, "X"))]);
        let err = k.scale(5).await.expect_err("refused");
        assert_eq!(err.reason(), reason, "HTTP {code}");
    }
}

#[tokio::test]
async fn a_failing_testbed_command_is_a_command_error() {
    let mut t = LocalTestbed::new("false").expect("command");
    let err = t.scale(2).await.expect_err("`false scale 2` fails");
    assert_eq!(err.reason(), "command");
}

/// Three replicas whose limit changes only through `resize`, which fails
/// while `failures` lasts (a testbed command exiting non-zero).
struct Resizable {
    limit: u32,
    failures: u32,
    calls: Arc<AtomicU32>,
}

impl Actuator for Resizable {
    fn state(&mut self) -> ActFuture<'_, TierState> {
        let state = TierState {
            replicas: 3,
            ready: 3,
            cpu_limit_millis: Some(self.limit),
            ..TierState::default()
        };
        Box::pin(async move { Ok(state) })
    }
    fn scale(&mut self, _: u32) -> ActFuture<'_, ()> {
        panic!("the count never changes here")
    }
    fn resize(&mut self, cpu_millis: u32) -> ActFuture<'_, ()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let result = if self.failures > 0 {
            self.failures -= 1;
            Err(ActuatorError::Command {
                command: "siplat-testbed resize".to_owned(),
                status: "exit status: 1".to_owned(),
                stderr: "no such proxy".to_owned(),
            })
        } else {
            self.limit = cpu_millis;
            Ok(())
        };
        Box::pin(async move { result })
    }
    fn describe(&self) -> String {
        "resizable".to_owned()
    }
}

/// Keeps the count and wants a 90 m limit.
struct WantsLimit;

impl Policy for WantsLimit {
    fn name(&self) -> String {
        "wants-limit".to_owned()
    }
    fn needs(&self) -> Needs {
        Needs {
            p99: true,
            rate: true,
            cpu: false,
        }
    }
    fn propose(&mut self, obs: &Observation) -> Proposal {
        Proposal {
            cpu_limit_millis: Some(90),
            ..Proposal::new(obs.current_replicas, "test_wants", "")
        }
    }
}

#[tokio::test]
async fn a_failed_resize_is_counted_and_retried() {
    let logs = LogBuffer::default();
    let _guard = logs.install();
    let calls = Arc::new(AtomicU32::new(0));
    let mut c = Controller {
        source: Box::new(Healthy),
        policy: Box::new(WantsLimit),
        safety: Safety::new(SafetyConfig {
            cpu: Some(CpuBounds {
                base_millis: 30,
                max_millis: 120,
                max_step_up_millis: 90,
                max_step_down_millis: 30,
            }),
            ..SafetyConfig::bounds_only(1, 10)
        }),
        actuator: Box::new(Resizable {
            limit: 30,
            failures: 1,
            calls: calls.clone(),
        }),
        metrics: ScalerMetrics::new(),
        stale_after: Duration::from_secs(60),
    };
    let decisions = r#"siplat_scaler_decisions_total{reason="test_wants"}"#;
    let command = r#"siplat_scaler_actuation_errors_total{reason="command"}"#;
    let gauge = "siplat_scaler_cpu_limit_millicores";

    let d = c.tick(0.0).await.expect("decision");
    assert_eq!(d.cpu_limit_millis, Some(90));
    let m = c.metrics.render();
    assert_eq!(metric(&m, command), format!("{command} 1"));
    assert_eq!(
        metric(&m, gauge),
        format!("{gauge} 30"),
        "refused: the limit the tier has"
    );
    assert!(!m.contains(decisions), "not taken effect: {m}");
    assert!(
        logs.text()
            .lines()
            .any(|l| l.contains("resizing failed") && l.contains("command")),
        "{}",
        logs.text()
    );

    c.tick(15.0).await.expect("decision");
    let m = c.metrics.render();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "retried the next round");
    assert_eq!(metric(&m, gauge), format!("{gauge} 90"));
    assert_eq!(metric(&m, command), format!("{command} 1"));
    assert_eq!(metric(&m, decisions), format!("{decisions} 1"));

    // At the wanted limit: a hold, no call.
    c.tick(30.0).await.expect("decision");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        metric(&c.metrics.render(), decisions),
        format!("{decisions} 2")
    );
}
