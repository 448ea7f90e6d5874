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
