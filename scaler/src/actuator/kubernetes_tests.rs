//! The exact requests against a mock API server (tower-test), as
//! kube-rs/controller-rs tests its reconciler.

use http::{Request, Response};
use kube::client::Body;

use super::*;

fn scale_json(spec: i32, status: i32) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "sip-proxy", "namespace": "ims"},
        "spec": {"replicas": spec},
        "status": {"replicas": status}
    }))
    .expect("json")
}

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

fn mock(kind: TargetKind) -> (Kubernetes, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    (Kubernetes::new(client, kind, "ims", "sip-proxy"), handle)
}

#[tokio::test]
async fn patches_the_statefulset_scale_subresource() {
    let (mut k, mut handle) = mock(TargetKind::StatefulSet);
    let server = tokio::spawn(async move {
        let (req, send) = handle.next_request().await.expect("a request");
        assert_eq!(req.method(), http::Method::PATCH);
        assert_eq!(
            req.uri().path(),
            "/apis/apps/v1/namespaces/ims/statefulsets/sip-proxy/scale"
        );
        assert_eq!(req.uri().query(), Some("&fieldManager=siplat-scaler"));
        assert_eq!(
            req.headers()
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.to_str().expect("ascii")),
            Some("application/merge-patch+json")
        );
        let body = req.into_body().collect_bytes().await.expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json body");
        assert_eq!(body, serde_json::json!({"spec": {"replicas": 4}}));
        send.send_response(
            Response::builder()
                .body(Body::from(scale_json(4, 3)))
                .expect("response"),
        );
    });
    k.scale(4).await.expect("patch");
    server.await.expect("server checks");
}

#[tokio::test]
async fn reads_the_deployment_scale_subresource() {
    let (mut k, mut handle) = mock(TargetKind::Deployment);
    let server = tokio::spawn(async move {
        let (req, send) = handle.next_request().await.expect("a request");
        assert_eq!(req.method(), http::Method::GET);
        assert_eq!(
            req.uri().path(),
            "/apis/apps/v1/namespaces/ims/deployments/sip-proxy/scale"
        );
        send.send_response(
            Response::builder()
                .body(Body::from(scale_json(5, 4)))
                .expect("response"),
        );
    });
    let s = k.state().await.expect("get");
    assert_eq!((s.replicas, s.ready), (5, 4));
    server.await.expect("server checks");
}

#[tokio::test]
async fn api_errors_surface() {
    let (mut k, mut handle) = mock(TargetKind::StatefulSet);
    let server = tokio::spawn(async move {
        let (_, send) = handle.next_request().await.expect("a request");
        let status = serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": "statefulsets.apps \"sip-proxy\" is forbidden", "reason": "Forbidden", "code": 403
        });
        send.send_response(
            Response::builder()
                .status(403)
                .body(Body::from(serde_json::to_vec(&status).expect("json")))
                .expect("response"),
        );
    });
    let err = k.scale(2).await.expect_err("forbidden");
    assert!(matches!(err, ActuatorError::Kube(_)), "{err}");
    server.await.expect("server");
}

const SELECTOR: &str = "app.kubernetes.io/name=sip-proxy";

/// A scale subresource as a `StatefulSet`'s reports it: with the pod selector.
fn scale_with_selector() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": "sip-proxy", "namespace": "ims"},
        "spec": {"replicas": 3},
        "status": {"replicas": 3, "selector": SELECTOR}
    }))
    .expect("json")
}

/// A proxy pod: its Kamailio container's CPU limit in the spec and, when
/// the kubelet reported it, the one it runs with.
fn pod(name: &str, phase: &str, spec_cpu: &str, running_cpu: Option<&str>) -> serde_json::Value {
    let mut pod = serde_json::json!({
        "metadata": {"name": name, "namespace": "ims"},
        "spec": {"containers": [
            {"name": "agent", "resources": {"limits": {"cpu": "500m"}}},
            {"name": "kamailio", "resources": {"limits": {"cpu": spec_cpu}, "requests": {"cpu": spec_cpu}}}
        ]},
        "status": {"phase": phase}
    });
    if let Some(cpu) = running_cpu {
        pod["status"]["containerStatuses"] = serde_json::json!([{
            "name": "kamailio", "image": "kamailio", "imageID": "", "ready": true, "restartCount": 0,
            "resources": {"limits": {"cpu": cpu}, "requests": {"cpu": cpu}}
        }]);
    }
    pod
}

fn pod_list(pods: &[serde_json::Value]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": pods
    }))
    .expect("json")
}

fn respond(send: tower_test::mock::SendResponse<Response<Body>>, body: Vec<u8>) {
    send.send_response(
        Response::builder()
            .body(Body::from(body))
            .expect("response"),
    );
}

/// The scale read and the pod list every state read and resize start with.
async fn serve_scale_and_pods(handle: &mut Handle, pods: &[serde_json::Value]) {
    let (req, send) = handle.next_request().await.expect("scale request");
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(
        req.uri().path(),
        "/apis/apps/v1/namespaces/ims/statefulsets/sip-proxy/scale"
    );
    respond(send, scale_with_selector());
    let (req, send) = handle.next_request().await.expect("pod list");
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(req.uri().path(), "/api/v1/namespaces/ims/pods");
    assert_eq!(
        req.uri().query(),
        Some("&labelSelector=app.kubernetes.io%2Fname%3Dsip-proxy")
    );
    respond(send, pod_list(pods));
}

#[tokio::test]
async fn resizes_every_running_proxy_pod_through_its_resize_subresource() {
    let (mut k, mut handle) = mock(TargetKind::StatefulSet);
    let server = tokio::spawn(async move {
        let mut deleting = pod("sip-proxy-3", "Running", "30m", None);
        deleting["metadata"]["deletionTimestamp"] = "2026-12-01T20:00:00Z".into();
        let pods = [
            pod("sip-proxy-0", "Running", "30m", Some("30m")),
            pod("sip-proxy-1", "Running", "30m", Some("30m")),
            pod("sip-proxy-2", "Pending", "30m", None),
            deleting,
        ];
        serve_scale_and_pods(&mut handle, &pods).await;
        for name in ["sip-proxy-0", "sip-proxy-1"] {
            let (req, send) = handle.next_request().await.expect("a resize");
            assert_eq!(req.method(), http::Method::PATCH);
            assert_eq!(
                req.uri().path(),
                format!("/api/v1/namespaces/ims/pods/{name}/resize")
            );
            assert_eq!(req.uri().query(), Some("&fieldManager=siplat-scaler"));
            assert_eq!(
                req.headers()
                    .get(http::header::CONTENT_TYPE)
                    .map(|v| v.to_str().expect("ascii")),
                Some("application/strategic-merge-patch+json")
            );
            let body = req.into_body().collect_bytes().await.expect("body");
            let body: serde_json::Value = serde_json::from_slice(&body).expect("json body");
            assert_eq!(
                body,
                serde_json::json!({"spec": {"containers": [{
                    "name": "kamailio",
                    "resources": {"limits": {"cpu": "90m"}, "requests": {"cpu": "90m"}}
                }]}}),
                "only the Kamailio container's CPU, limit = request"
            );
            respond(
                send,
                serde_json::to_vec(&pod(name, "Running", "90m", Some("30m"))).expect("json"),
            );
        }
        assert!(
            handle.next_request().await.is_none(),
            "no pod but the running ones is patched"
        );
    });
    k.resize(90).await.expect("resize");
    drop(k);
    server.await.expect("server checks");
}

#[tokio::test]
async fn state_reads_the_cpu_limit_the_proxy_pods_run_with() {
    let (mut k, mut handle) = mock(TargetKind::StatefulSet);
    let server = tokio::spawn(async move {
        let pods = [
            // Asked for 30m, the kubelet still runs it at 60m: 60m counts.
            pod("sip-proxy-0", "Running", "30m", Some("60m")),
            // No status resources reported yet: its spec counts.
            pod("sip-proxy-1", "Running", "90m", None),
            // Not running: not part of the tier's limit.
            pod("sip-proxy-2", "Pending", "500m", None),
        ];
        serve_scale_and_pods(&mut handle, &pods).await;
    });
    let s = k.state().await.expect("state");
    assert_eq!((s.replicas, s.ready), (3, 3));
    assert_eq!(
        s.cpu_limit_millis,
        Some(60),
        "the lowest of the running pods"
    );
    server.await.expect("server checks");
}

#[tokio::test]
async fn a_failed_pod_resize_still_resizes_the_others_and_surfaces() {
    let (mut k, mut handle) = mock(TargetKind::StatefulSet);
    let server = tokio::spawn(async move {
        let pods = [
            pod("sip-proxy-0", "Running", "30m", None),
            pod("sip-proxy-1", "Running", "30m", None),
        ];
        serve_scale_and_pods(&mut handle, &pods).await;
        let (_, send) = handle.next_request().await.expect("first resize");
        let status = serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": "pods \"sip-proxy-0\" not found", "reason": "NotFound", "code": 404
        });
        send.send_response(
            Response::builder()
                .status(404)
                .body(Body::from(serde_json::to_vec(&status).expect("json")))
                .expect("response"),
        );
        let (req, send) = handle.next_request().await.expect("second resize");
        assert_eq!(
            req.uri().path(),
            "/api/v1/namespaces/ims/pods/sip-proxy-1/resize"
        );
        respond(
            send,
            serde_json::to_vec(&pod("sip-proxy-1", "Running", "60m", None)).expect("json"),
        );
    });
    let err = k.resize(60).await.expect_err("one pod failed");
    assert!(matches!(err, ActuatorError::Kube(_)), "{err}");
    server.await.expect("server checks");
}
