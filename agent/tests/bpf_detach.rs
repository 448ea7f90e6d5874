//! Detaching: after the agent exits, nothing of siplat is left on
//! the interfaces (no tc filter, no TCX link, no qdisc we added).

use std::time::Duration;

use hooks::hooks;
use testkit::{Agent, Netns, privileged, veth};

mod hooks;

/// The binary under test (only this crate's tests know its path).
const AGENT: &str = env!("CARGO_BIN_EXE_siplat-agent");

fn qdiscs(ns: &Netns, dev: &str) -> String {
    ns.exec(&["tc", "qdisc", "show", "dev", dev])
}

fn run(mode: &str, signal: i32, port: u16) {
    let a = Netns::new(&format!("slt-d-a-{mode}"));
    let b = Netns::new(&format!("slt-d-b-{mode}"));
    veth(&a, "d0", "198.18.24.1/24", &b, "d1", "198.18.24.2/24");
    let qdisc_before = qdiscs(&b, "d1");
    let mut agent = Agent::start(AGENT, &b, port, &["--iface", "d1", "--tc-mode", mode]);
    agent.wait_attached(1, Duration::from_secs(30));
    let attached = hooks(&b, "d1");
    assert!(
        attached.contains("sip_tc_ingress") && attached.contains("sip_tc_egress"),
        "{mode}: not attached:\n{attached}"
    );
    agent.stop(signal);
    let after = hooks(&b, "d1");
    assert!(
        !after.contains("sip_tc"),
        "{mode}: left behind after signal {signal}:\n{after}"
    );
    assert_eq!(qdiscs(&b, "d1"), qdisc_before, "{mode}: qdiscs changed");
    assert!(
        agent.log_text().contains("detached") || signal == libc::SIGKILL,
        "{}",
        agent.log_text()
    );
}

#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
fn tcx_links_are_gone_after_exit() {
    if !privileged("tcx_links_are_gone_after_exit") {
        return;
    }
    run("tcx", libc::SIGTERM, 9565);
}

#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
fn tcx_links_are_gone_even_after_sigkill() {
    if !privileged("tcx_links_are_gone_even_after_sigkill") {
        return;
    }
    run("tcx", libc::SIGKILL, 9566);
}

#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
fn netlink_filters_and_qdisc_are_gone_after_exit() {
    if !privileged("netlink_filters_and_qdisc_are_gone_after_exit") {
        return;
    }
    run("netlink", libc::SIGTERM, 9567);
}

#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
fn netlink_filters_left_by_a_killed_agent_are_cleaned_on_restart() {
    if !privileged("netlink_filters_left_by_a_killed_agent_are_cleaned_on_restart") {
        return;
    }
    let a = Netns::new("slt-d-a-restart");
    let b = Netns::new("slt-d-b-restart");
    veth(&a, "d0", "198.18.25.1/24", &b, "d1", "198.18.25.2/24");
    let mut first = Agent::start(AGENT, &b, 9568, &["--iface", "d1", "--tc-mode", "netlink"]);
    first.stop(libc::SIGKILL);
    assert!(
        hooks(&b, "d1").contains("sip_tc"),
        "netlink filters should survive SIGKILL (else this test tests nothing)"
    );
    let mut second = Agent::start(AGENT, &b, 9568, &["--iface", "d1", "--tc-mode", "netlink"]);
    let attached = hooks(&b, "d1");
    let filters = attached
        .lines()
        .filter(|l| l.contains("handle") && l.contains("sip_tc_ingress"))
        .count();
    assert_eq!(filters, 1, "stale filter not replaced:\n{attached}");
    second.stop(libc::SIGTERM);
    let after = hooks(&b, "d1");
    assert!(!after.contains("sip_tc"), "left behind:\n{after}");
}
