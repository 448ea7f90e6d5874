//! Chaining: the agent's hooks never hide a packet from the programs after
//! them. Two agents on one interface both count every message, in TCX and
//! in netlink mode; stopping one leaves the other's hooks in place and
//! counting; a netlink agent restarted after SIGKILL beside a live one
//! replaces only its predecessor's filters; an interface the agent was
//! asked to watch but cannot attach to keeps `/readyz` failing and is
//! counted.

use std::{net::UdpSocket, time::Duration};

use hooks::siplat_hooks;
use testkit::{Agent, Netns, privileged, request, response, sip::header, veth, wait_for};

mod hooks;

/// The binary under test (only this crate's tests know its path).
const AGENT: &str = env!("CARGO_BIN_EXE_siplat-agent");

/// Requests per round; each is answered, so an agent on the proxy's
/// interface counts as many in as out.
const MESSAGES: usize = 100;

/// `MESSAGES` OPTIONS from `client` to `server`'s 5060, each answered 200.
fn round(client: &Netns, from: &'static str, server: &Netns, to: &'static str, round: u32) {
    let answer = server.run(move || {
        let s = UdpSocket::bind(format!("{to}:5060")).expect("bind server");
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let mut buf = [0u8; 2048];
        for _ in 0..MESSAGES {
            let (n, peer) = s.recv_from(&mut buf).expect("request");
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let call_id = header(&msg, "Call-ID");
            s.send_to(response(200, "OK", "OPTIONS", &call_id, 1).as_bytes(), peer)
                .expect("answer");
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    client
        .run(move || {
            let s = UdpSocket::bind(format!("{from}:0")).expect("bind client");
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = [0u8; 2048];
            for i in 0..MESSAGES {
                let call_id = format!("chain-{round}-{i}@{from}");
                s.send_to(
                    request("OPTIONS", &call_id, 1, from).as_bytes(),
                    format!("{to}:5060"),
                )
                .expect("send");
                s.recv_from(&mut buf).expect("answer");
            }
        })
        .join()
        .expect("client");
    answer.join().expect("server");
}

/// SIP messages `agent` counted, (in, out).
fn counted(agent: &Agent) -> (f64, f64) {
    let m = agent.metrics();
    let name = "siplat_sip_messages_total";
    (
        m.value(name, &[("direction", "in"), ("type", "request")]),
        m.value(name, &[("direction", "out"), ("type", "response")]),
    )
}

/// Wait until `agent` has counted `n` requests in and `n` responses out,
/// and not more.
fn wait_counted(agent: &Agent, what: &str, n: usize) {
    #[expect(clippy::cast_precision_loss, reason = "small counts")]
    let want = n as f64;
    let result = testkit::eventually(Duration::from_secs(5), || counted(agent) == (want, want));
    assert!(
        result,
        "{what}: counted (in, out) {:?} of {n} each; log:\n{}",
        counted(agent),
        agent.log_text()
    );
}

/// Two agents in `mode` on the proxy side of a veth, the client at `from`
/// and the proxy at `to`; the agents listen on `ports` (and the port after
/// each for `/samples`).
fn two_agents(mode: &str, from: &'static str, to: &'static str, ports: (u16, u16)) {
    let client = Netns::new(&format!("slc-c-{mode}"));
    let proxy = Netns::new(&format!("slc-p-{mode}"));
    veth(
        &client,
        "c0",
        &format!("{from}/24"),
        &proxy,
        "c1",
        &format!("{to}/24"),
    );
    let args = ["--iface", "c1", "--tc-mode", mode];
    let mut first = Agent::start(AGENT, &proxy, ports.0, &args);
    let second = Agent::start(AGENT, &proxy, ports.1, &args);
    let both = siplat_hooks(&proxy, "c1");
    assert_eq!(
        both.len(),
        4,
        "{mode}: two agents, two hooks each: {both:#?}"
    );

    round(&client, from, &proxy, to, 1);
    wait_counted(&first, &format!("{mode}: first agent"), MESSAGES);
    wait_counted(&second, &format!("{mode}: second agent"), MESSAGES);

    first.stop(libc::SIGTERM);
    let left = siplat_hooks(&proxy, "c1");
    assert_eq!(
        left.len(),
        2,
        "{mode}: the second agent's hooks must stay: {left:#?}"
    );
    round(&client, from, &proxy, to, 2);
    wait_counted(
        &second,
        &format!("{mode}: second agent after the first stopped"),
        2 * MESSAGES,
    );
    assert_eq!(
        second.get("/readyz"),
        "ready\n",
        "{mode}: {}",
        second.log_text()
    );
    drop(second);
    let after = siplat_hooks(&proxy, "c1");
    assert!(after.is_empty(), "{mode}: left behind: {after:#?}");
}

#[test]
#[ignore = "needs root: run by cargo xtask test"]
fn two_tcx_agents_both_see_every_message() {
    if !privileged("two_tcx_agents_both_see_every_message") {
        return;
    }
    two_agents("tcx", "198.18.70.1", "198.18.70.2", (9600, 9602));
}

#[test]
#[ignore = "needs root: run by cargo xtask test"]
fn two_netlink_agents_both_see_every_message() {
    if !privileged("two_netlink_agents_both_see_every_message") {
        return;
    }
    two_agents("netlink", "198.18.71.1", "198.18.71.2", (9604, 9606));
}

/// A netlink agent killed beside a live one leaves its filters behind; the
/// agent that takes its place replaces those, and only those.
#[test]
#[ignore = "needs root: run by cargo xtask test"]
fn a_restarted_netlink_agent_replaces_only_the_killed_ones_filters() {
    if !privileged("a_restarted_netlink_agent_replaces_only_the_killed_ones_filters") {
        return;
    }
    let client = Netns::new("slc-c-restart");
    let proxy = Netns::new("slc-p-restart");
    let (from, to) = ("198.18.73.1", "198.18.73.2");
    veth(
        &client,
        "c0",
        &format!("{from}/24"),
        &proxy,
        "c1",
        &format!("{to}/24"),
    );
    let args = ["--iface", "c1", "--tc-mode", "netlink"];
    let live = Agent::start(AGENT, &proxy, 9608, &args);
    let mut killed = Agent::start(AGENT, &proxy, 9610, &args);
    killed.stop(libc::SIGKILL);
    let left = siplat_hooks(&proxy, "c1");
    assert_eq!(left.len(), 4, "netlink filters outlive SIGKILL: {left:#?}");
    let after = Agent::start(AGENT, &proxy, 9612, &args);
    let now = siplat_hooks(&proxy, "c1");
    assert_eq!(
        now.len(),
        4,
        "stale pair replaced, live pair kept: {now:#?}"
    );
    round(&client, from, &proxy, to, 1);
    wait_counted(&live, "the live agent", MESSAGES);
    wait_counted(&after, "the restarted agent", MESSAGES);
    assert!(
        after.log_text().contains("removed a stale filter"),
        "{}",
        after.log_text()
    );
}

/// A legacy `ingress` qdisc holds the slot clsact needs, so netlink attach
/// fails on that interface until it goes: a failure an operator can cause
/// too, and one the agent cannot work around.
#[test]
#[ignore = "needs root: run by cargo xtask test"]
fn readyz_fails_while_an_expected_attach_fails() {
    if !privileged("readyz_fails_while_an_expected_attach_fails") {
        return;
    }
    let client = Netns::new("slc-c-ready");
    let proxy = Netns::new("slc-p-ready");
    veth(
        &client,
        "c0",
        "198.18.72.1/24",
        &proxy,
        "c1",
        "198.18.72.2/24",
    );
    let qdisc = proxy.exec(&["tc", "qdisc", "add", "dev", "c1", "ingress"]);
    assert!(qdisc.is_empty(), "add ingress qdisc: {qdisc}");
    let agent = Agent::spawn(
        AGENT,
        &proxy,
        9614,
        &["--iface", "c1", "--tc-mode", "netlink"],
        &[],
    );
    let errors = || {
        agent
            .try_get("/metrics")
            .map(|t| testkit::Metrics::parse(&t).value("siplat_agent_attach_errors_total", &[]))
            .unwrap_or_default()
    };
    wait_for("two failed attaches", Duration::from_secs(10), || {
        errors() >= 2.0
    });
    assert_ne!(agent.get("/readyz"), "ready\n", "{}", agent.log_text());
    assert_eq!(
        agent
            .metrics()
            .value("siplat_agent_attached_interfaces", &[]),
        0.0
    );
    assert!(
        agent.log_text().contains("attach failed"),
        "{}",
        agent.log_text()
    );

    let qdisc = proxy.exec(&["tc", "qdisc", "del", "dev", "c1", "ingress"]);
    assert!(qdisc.is_empty(), "delete ingress qdisc: {qdisc}");
    agent.wait_attached(1, Duration::from_secs(30));
    wait_for("ready after the attach", Duration::from_secs(5), || {
        agent.get("/readyz") == "ready\n"
    });
    let settled = errors();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        (errors() - settled).abs() < f64::EPSILON,
        "errors still counted after attaching"
    );
}
