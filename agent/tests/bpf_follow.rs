//! Pods come and go: the agent on the host side attaches to a veth that
//! appears after it started, and once a veth is gone its series leave
//! `/metrics` after `--forget-after` (cardinality stays bounded on a node
//! whose pods are scaled in and out), while the other pods' stay.

use std::time::Duration;

use testkit::{Agent, Netns, eventually, exchange, node_with_bridge, plug, privileged};

/// The binary under test (only this crate's tests know its path).
const AGENT: &str = env!("CARGO_BIN_EXE_siplat-agent");

const CALLER: &str = "198.18.30.3";
const FIRST: &str = "198.18.30.2";
const LATER: &str = "198.18.30.4";

#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
fn follows_veths_as_pods_come_and_go() {
    if !privileged("follows_veths_as_pods_come_and_go") {
        return;
    }
    let node = node_with_bridge("slt-f-node");
    let caller = Netns::new("slt-f-c");
    let first = Netns::new("slt-f-a");
    plug(&node, "vfc", &caller, &format!("{CALLER}/24"));
    plug(&node, "vfa", &first, &format!("{FIRST}/24"));
    let agent = Agent::start(
        AGENT,
        &node,
        9575,
        &[
            "--iface",
            "vf*",
            "--placement",
            "host",
            "--forget-after",
            "2",
        ],
    );
    agent.wait_attached(2, Duration::from_secs(30));
    exchange(&caller, CALLER, &first, FIRST, "follow-1");

    // A pod started after the agent: picked up at the next rescan.
    let later = Netns::new("slt-f-b");
    plug(&node, "vfb", &later, &format!("{LATER}/24"));
    agent.wait_attached(3, Duration::from_secs(30));
    exchange(&caller, CALLER, &later, LATER, "follow-2");
    let has = |iface: &str| {
        agent
            .metrics()
            .has("siplat_sip_latency_seconds_count", &[("iface", iface)])
    };
    assert!(
        eventually(Duration::from_secs(5), || has("vfa") && has("vfb")),
        "{}",
        agent.get("/metrics")
    );

    // The first pod goes (its netns and so its veth): detached at once,
    // its series kept for the grace period, then removed.
    drop(first);
    assert!(
        eventually(Duration::from_secs(10), || agent
            .metrics()
            .value("siplat_agent_attached_interfaces", &[])
            == 2.0),
        "the gone veth stayed attached: {}",
        agent.log_text()
    );
    assert!(has("vfa"), "removed before the grace period");
    assert!(
        eventually(Duration::from_secs(10), || !has("vfa")),
        "series of the gone veth stayed: {}",
        agent.get("/metrics")
    );
    assert!(has("vfb"), "{}", agent.get("/metrics"));
    assert!(
        agent
            .log_text()
            .contains("removed the series of a gone interface"),
        "{}",
        agent.log_text()
    );
}
