//! The address map from real `PodList` JSON, and the exact request against
//! a mock API server (tower-test), as the scaler's Kubernetes tests do.

use std::net::{Ipv4Addr, Ipv6Addr};

use http::{Request, Response};
use kube::client::Body;

use super::*;

fn pod_list() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "PodList",
        "metadata": {"resourceVersion": "7"},
        "items": [
            {
                "metadata": {"name": "sip-proxy-0", "namespace": "siplat"},
                "spec": {"containers": [{"name": "kamailio"}], "nodeName": "node-1"},
                "status": {"podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}, {"ip": "fd00::5"}]}
            },
            {
                "metadata": {"name": "sip-loadb-abc", "namespace": "siplat"},
                "spec": {"containers": [{"name": "kamailio"}], "nodeName": "node-1"},
                "status": {"podIP": "10.1.0.6"}
            },
            {
                "metadata": {"name": "siplat-agent-x", "namespace": "siplat-system"},
                "spec": {"containers": [{"name": "agent"}], "hostNetwork": true, "nodeName": "node-1"},
                "status": {"podIP": "192.0.2.10"}
            },
            {
                "metadata": {"name": "pending", "namespace": "siplat"},
                "spec": {"containers": [{"name": "kamailio"}], "nodeName": "node-1"},
                "status": {}
            }
        ]
    })
}

fn pods() -> Vec<Pod> {
    serde_json::from_value(pod_list()["items"].clone()).expect("pods")
}

const PROXY_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 1, 0, 5));

#[test]
fn maps_every_pod_address_and_skips_the_host_network() {
    let d = Directory::default();
    d.update(&pods());
    let proxy = d.resolve(7, "cali7", PROXY_V4).expect("v4");
    assert_eq!(
        *proxy,
        PodRef {
            namespace: "siplat".into(),
            name: "sip-proxy-0".into()
        }
    );
    let v6 = IpAddr::V6("fd00::5".parse::<Ipv6Addr>().expect("v6"));
    assert_eq!(d.resolve(8, "cali8", v6).expect("v6").name, "sip-proxy-0");
    assert_eq!(
        d.resolve(9, "cali9", "10.1.0.6".parse().expect("ip"))
            .expect("lb")
            .name,
        "sip-loadb-abc"
    );
    // The node's own address (host-network pods) is nobody's veth.
    assert!(
        d.resolve(10, "cali10", "192.0.2.10".parse().expect("ip"))
            .is_none()
    );
}

#[test]
fn a_veth_keeps_its_pod_until_it_is_gone() {
    let d = Directory::default();
    d.update(&pods());
    assert!(d.resolve(7, "cali7", PROXY_V4).is_some());
    // Later packets on the same veth need no address lookup: even after the
    // pod left the list (deleted, its veth not yet removed), it keeps its name.
    d.update(&[]);
    assert_eq!(
        d.resolve(7, "cali7", PROXY_V4).expect("cached").name,
        "sip-proxy-0"
    );
    // The same index on a new veth is a new lookup.
    assert!(d.resolve(7, "cali99", PROXY_V4).is_none());
    d.update(&pods());
    assert!(d.resolve(7, "cali99", PROXY_V4).is_some());
    // Interfaces that disappeared are forgotten.
    d.retain_ifaces(&HashMap::from([(8, "cali8".to_owned())]));
    d.update(&[]);
    assert!(d.resolve(7, "cali99", PROXY_V4).is_none());
}

#[tokio::test]
async fn an_unknown_address_wakes_the_lister() {
    let d = Directory::default();
    assert!(d.resolve(3, "cali3", PROXY_V4).is_none());
    tokio::time::timeout(Duration::from_secs(1), d.unknown.notified())
        .await
        .expect("the lister is woken");
}

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// One GET of the node's pods across namespaces, nothing else.
async fn answer_one_list(handle: &mut Handle, body: &serde_json::Value) {
    let (req, send) = handle.next_request().await.expect("a request");
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(req.uri().path(), "/api/v1/pods");
    assert_eq!(
        req.uri().query(),
        Some("&fieldSelector=spec.nodeName%3Dnode-1")
    );
    send.send_response(
        Response::builder()
            .body(Body::from(serde_json::to_vec(body).expect("json")))
            .expect("response"),
    );
}

#[tokio::test]
async fn lists_the_pods_of_its_node_and_counts_failures() {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let d = Arc::new(Directory::default());
    let errors = prometheus::IntCounter::new("e", "e").expect("counter");
    let lister = tokio::spawn(run(
        d.clone(),
        client,
        "node-1".into(),
        Duration::from_millis(10),
        errors.clone(),
    ));
    answer_one_list(&mut handle, &pod_list()).await;
    // The second list fails: the map stays, the failure is counted.
    let (_, send) = handle.next_request().await.expect("second request");
    send.send_response(
        Response::builder()
            .status(403)
            .body(Body::from(
                br#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403}"#
                    .to_vec(),
            ))
            .expect("response"),
    );
    answer_one_list(&mut handle, &pod_list()).await;
    lister.abort();
    assert_eq!(errors.get(), 1);
    assert_eq!(
        d.resolve(1, "cali1", PROXY_V4).expect("listed").name,
        "sip-proxy-0"
    );
}
