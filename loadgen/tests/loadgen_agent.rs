//! The generator through two namespaces with the real agent on the
//! proxy's veth: every pair it completes is one `response` sample.

use std::{net::SocketAddr, time::Duration};

use loadgen::{Kind, OpenLoop, Responder, pace::Rate};
use testkit::{
    agent::Agent,
    namespace::{Netns, run_in, veth},
    privileged,
    wait::eventually,
};

#[test]
#[ignore = "needs root: run by cargo xtask test"]
fn every_pair_sent_is_one_sample() {
    if !privileged("every_pair_sent_is_one_sample") {
        return;
    }
    let bin = testbed::agent::binary(None).expect("siplat-agent");
    let client = Netns::new("slt-bench-tcli");
    let proxy = Netns::new("slt-bench-tprx");
    veth(
        &client,
        "sltt-c0",
        "198.18.101.1/24",
        &proxy,
        "sltt-p0",
        "198.18.101.2/24",
    );
    let agent = Agent::start(&bin, &proxy, 9770, &["--iface", "sltt-p0"]);
    let to = SocketAddr::from(([198, 18, 101, 2], 5060));
    let responder = run_in(&proxy.name, move || {
        Responder::start(to, Kind::Invite, Duration::from_secs(10))
    })
    .join()
    .expect("responder thread")
    .expect("responder");
    let run = OpenLoop {
        kind: Kind::Invite,
        rate: Rate::PerSecond(2000.0),
        count: 2000,
        limit: Duration::from_secs(5),
        first_id: 1 << 40,
        to,
        from: SocketAddr::from(([198, 18, 101, 1], 0)),
    };
    let report = run_in(&client.name, move || run.run())
        .join()
        .expect("client thread")
        .expect("client");
    let answered = responder.stop();
    assert_eq!(report.sent, 2000, "{report:?}");
    assert_eq!(report.received, 2000, "{report:?}");
    assert_eq!(answered, 2000);
    let samples = || {
        agent
            .metrics()
            .value("siplat_sip_latency_seconds_count", &[("kind", "response")])
    };
    eventually(Duration::from_secs(3), || samples() >= 2000.0);
    let m = agent.metrics();
    assert_eq!(samples(), 2000.0, "{}", m.text);
    assert_eq!(
        m.value("siplat_dropped_total", &[("reason", "ringbuf_full")]),
        0.0
    );
}
