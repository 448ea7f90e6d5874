//! `--pod-labels` end to end: the agent on the host side of three pod veths
//! asks a stand-in API server (plain HTTP on the node's loopback, reached
//! through `KUBECONFIG`) for the node's pods and labels each veth's series
//! with the pod that sent its packets; a pod the API does not list gets
//! empty labels and is counted.

use std::{
    io::{BufRead as _, BufReader, Write as _},
    net::TcpListener,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use testkit::{Agent, Netns, eventually, exchange, node_with_bridge, plug, privileged};

/// The binary under test (only this crate's tests know its path).
const AGENT: &str = env!("CARGO_BIN_EXE_siplat-agent");

const PROXY: &str = "198.18.29.2";
const CALLEE: &str = "198.18.29.4";
const STRANGER: &str = "198.18.29.5";
const CALLER: &str = "198.18.29.3";

/// The node's pods as the API would list them (the caller is not on the
/// list: it stands for a pod started after the last list).
fn pod_list() -> String {
    let pod = |ns: &str, name: &str, ip: &str| {
        serde_json::json!({
            "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": "c"}], "nodeName": "node-1"},
            "status": {"podIP": ip, "podIPs": [{"ip": ip}]}
        })
    };
    serde_json::json!({
        "apiVersion": "v1", "kind": "PodList", "metadata": {},
        "items": [pod("siplat", "sip-proxy-0", PROXY), pod("siplat", "sipp-callee-7", CALLEE)]
    })
    .to_string()
}

/// Answers every request with the pod list; counts requests and checks
/// each asks for this node's pods only.
fn fake_api(node: &Netns, stop: Arc<AtomicBool>, seen: Arc<AtomicUsize>) -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    node.run(move || {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        tx.send(listener.local_addr().expect("addr").port()).expect("port");
        let body = pod_list();
        while !stop.load(Ordering::Relaxed) {
            let Ok((conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            conn.set_nonblocking(false).expect("blocking");
            let mut reader = BufReader::new(conn.try_clone().expect("clone"));
            let mut line = String::new();
            reader.read_line(&mut line).expect("request line");
            assert!(
                line.starts_with("GET /api/v1/pods?")
                    && line.contains("fieldSelector=spec.nodeName%3Dnode-1"),
                "unexpected request {line}"
            );
            seen.fetch_add(1, Ordering::Relaxed);
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {}
            let mut conn = conn;
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    rx.recv_timeout(Duration::from_secs(5)).expect("api port")
}

/// A kubeconfig for the stand-in API server: plain HTTP, no credentials.
fn kubeconfig(port: u16) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join("siplat-pod-labels");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{port}\nusers:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\ncurrent-context: fake\n"
        ),
    )
    .expect("kubeconfig");
    path
}

#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
fn labels_each_veth_with_the_pod_behind_it() {
    if !privileged("labels_each_veth_with_the_pod_behind_it") {
        return;
    }
    let node = node_with_bridge("slt-k-node");
    let caller = Netns::new("slt-k-c");
    let proxy = Netns::new("slt-k-a");
    let callee = Netns::new("slt-k-b");
    let stranger = Netns::new("slt-k-d");
    node.ip(&["link", "set", "lo", "up"]);
    for (pod, host_end, addr) in [
        (&caller, "vkc", CALLER),
        (&proxy, "vka", PROXY),
        (&callee, "vkb", CALLEE),
        (&stranger, "vkd", STRANGER),
    ] {
        plug(&node, host_end, pod, &format!("{addr}/24"));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicUsize::new(0));
    let port = fake_api(&node, stop.clone(), seen.clone());
    let kubeconfig = kubeconfig(port);
    let agent = Agent::start_with_env(
        AGENT,
        &node,
        9574,
        &[
            "--iface",
            "vk*",
            "--placement",
            "host",
            "--pod-labels",
            "true",
            "--node-name",
            "node-1",
        ],
        &[("KUBECONFIG", kubeconfig.to_str().expect("utf8"))],
    );
    agent.wait_attached(4, Duration::from_secs(30));
    assert!(
        eventually(Duration::from_secs(5), || seen.load(Ordering::Relaxed) >= 1),
        "the agent never listed the pods: {}",
        agent.log_text()
    );

    exchange(&caller, CALLER, &proxy, PROXY, "pod-labels-1");
    exchange(&caller, CALLER, &callee, CALLEE, "pod-labels-2");
    exchange(&caller, CALLER, &stranger, STRANGER, "pod-labels-3");
    let count = |labels: &[(&str, &str)]| {
        agent
            .metrics()
            .value("siplat_sip_latency_seconds_count", labels)
    };
    assert!(
        eventually(Duration::from_secs(5), || count(&[("kind", "response")])
            >= 3.0),
        "samples did not arrive: {}",
        agent.get("/metrics")
    );
    let m = agent.metrics();
    assert_eq!(
        count(&[
            ("iface", "vka"),
            ("k8s_namespace", "siplat"),
            ("k8s_pod", "sip-proxy-0")
        ]),
        1.0,
        "{}",
        m.text
    );
    assert_eq!(
        count(&[("iface", "vkb"), ("k8s_pod", "sipp-callee-7")]),
        1.0,
        "{}",
        m.text
    );
    // Not listed: empty labels, counted, and a list at once (not after the
    // 10 s period) to catch a pod that just started.
    assert_eq!(
        count(&[("iface", "vkd"), ("k8s_pod", "")]),
        1.0,
        "{}",
        m.text
    );
    assert_eq!(
        m.value("siplat_agent_samples_without_pod_total", &[]),
        1.0,
        "{}",
        m.text
    );
    assert!(
        eventually(Duration::from_secs(4), || seen.load(Ordering::Relaxed) >= 2),
        "an unknown address did not trigger a list"
    );
    assert_eq!(m.value("siplat_agent_pod_list_errors_total", &[]), 0.0);
    // The lookup uses addresses; they never become labels.
    assert!(!m.text.contains("198.18.29."), "{}", m.text);
    let samples = agent.samples(10);
    assert!(samples.contains("\"k8s_pod\":\"sip-proxy-0\""), "{samples}");
    stop.store(true, Ordering::Relaxed);
}
