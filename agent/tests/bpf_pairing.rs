//! Pairing: hand-made SIP with known delays through real
//! kernel hooks in namespaces; the exported histograms and P99 must match
//! what was sent, for every kind, inside the proxy's namespace and on the
//! host side of pod veths.

use std::{
    net::UdpSocket,
    sync::mpsc,
    time::{Duration, Instant},
};

use testkit::{
    Agent, Metrics, Netns, eventually, node_with_bridge, plug, privileged, request, response,
    sip::header,
    timing::{self, Span, since, timed},
    veth,
};

/// The binary under test (only this crate's tests know its path).
const AGENT: &str = env!("CARGO_BIN_EXE_siplat-agent");

const CALLS: usize = 40;
const TRYING_DELAY: Duration = Duration::from_millis(5);
const RELAY_DELAY: Duration = Duration::from_millis(50);
const RESPONSE_RELAY_DELAY: Duration = Duration::from_millis(20);
const REGISTER_DELAY: Duration = Duration::from_millis(10);
/// Tolerance between the sent delays and the exported P99.
const TOLERANCE: f64 = 1e-3;

/// Delays the proxy side actually produced, per measured pair.
#[derive(Default, Debug)]
struct Produced {
    trying: Vec<Span>,
    relay_request: Vec<Span>,
    relay_response: Vec<Span>,
    final_response: Vec<Span>,
    register: Vec<Span>,
}

/// Nearest-rank P99, the agent's definition.
fn p99(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "small counts"
    )]
    let rank = ((0.99 * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn sleep_until(t: Instant) {
    if let Some(d) = t.checked_duration_since(Instant::now()) {
        std::thread::sleep(d);
    }
}

fn udp(addr: &str) -> UdpSocket {
    let s = UdpSocket::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    timing::enable(&s);
    s
}

/// A datagram, its sender and when the kernel received it (the moment the
/// agent's hook saw it, give or take microseconds).
fn recv(s: &UdpSocket) -> (String, std::net::SocketAddr, Instant) {
    let mut buf = [0u8; 4096];
    let (n, from, at) = timing::recv(s, &mut buf);
    (
        String::from_utf8_lossy(&buf[..n]).into_owned(),
        from.expect("datagram sender"),
        at,
    )
}

/// Plays UAC, proxy and UAS. `uac`, `proxy`, `uas` are namespaces and
/// addresses; the proxy has one address towards each side.
fn play(
    uac: &Netns,
    uac_addr: &'static str,
    proxy: &Netns,
    proxy_a: &'static str,
    proxy_b: &'static str,
    uas: &Netns,
    uas_addr: &'static str,
) -> Produced {
    let (ready_tx, ready_rx) = mpsc::channel();
    let uas_ready = ready_tx.clone();
    let uas_thread = uas.run(move || {
        let s = udp(&format!("{uas_addr}:5060"));
        uas_ready.send(()).expect("ready");
        for _ in 0..CALLS {
            let (msg, from, _) = recv(&s);
            let call_id = header(&msg, "Call-ID");
            s.send_to(response(200, "OK", "INVITE", &call_id, 1).as_bytes(), from)
                .expect("send 200");
        }
    });
    let proxy_thread = proxy.run(move || {
        timing::prompt_thread();
        let front = udp(&format!("{proxy_a}:5060"));
        // Relays leave from another port so one address can play both sides.
        let back = udp(&format!("{proxy_b}:5064"));
        ready_tx.send(()).expect("ready");
        let mut p = Produced::default();
        for _ in 0..CALLS {
            // INVITE in: 100 after 5 ms, relay after 50 ms.
            let (msg, caller, t0) = recv(&front);
            let call_id = header(&msg, "Call-ID");
            sleep_until(t0 + TRYING_DELAY);
            p.trying.push(timed(t0, || {
                front
                    .send_to(
                        response(100, "Trying", "INVITE", &call_id, 1).as_bytes(),
                        caller,
                    )
                    .expect("100");
            }));
            sleep_until(t0 + RELAY_DELAY);
            p.relay_request.push(timed(t0, || {
                back.send_to(msg.as_bytes(), format!("{uas_addr}:5060"))
                    .expect("relay");
            }));
            // 200 in from the UAS: relay it back after 20 ms.
            let (ok, _, t1) = recv(&back);
            sleep_until(t1 + RESPONSE_RELAY_DELAY);
            let relayed = timed(t1, || {
                front.send_to(ok.as_bytes(), caller).expect("relay 200");
            });
            p.relay_response.push(relayed);
            p.final_response.push(since(t0, relayed, t1));
            // REGISTER answered directly after 10 ms.
            let (reg, caller, t2) = recv(&front);
            let call_id = header(&reg, "Call-ID");
            sleep_until(t2 + REGISTER_DELAY);
            p.register.push(timed(t2, || {
                front
                    .send_to(
                        response(200, "OK", "REGISTER", &call_id, 7).as_bytes(),
                        caller,
                    )
                    .expect("reg 200");
            }));
        }
        p
    });
    ready_rx.recv().expect("uas ready");
    ready_rx.recv().expect("proxy ready");
    let proxy_dst = format!("{proxy_a}:5060");
    uac.run(move || {
        let s = udp(&format!("{uac_addr}:5080"));
        for i in 0..CALLS {
            let call_id = format!("synthetic-{i}@198.18.0.1");
            s.send_to(
                request("INVITE", &call_id, 1, uac_addr).as_bytes(),
                &proxy_dst,
            )
            .expect("INVITE");
            let (trying, _, _) = recv(&s);
            assert!(trying.starts_with("SIP/2.0 100"), "{trying}");
            let (ok, _, _) = recv(&s);
            assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
            let reg_id = format!("reg-{i}@198.18.0.1");
            s.send_to(
                request("REGISTER", &reg_id, 7, uac_addr).as_bytes(),
                &proxy_dst,
            )
            .expect("REGISTER");
            let (ok, _, _) = recv(&s);
            assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
        }
    })
    .join()
    .expect("uac");
    uas_thread.join().expect("uas");
    proxy_thread.join().expect("proxy")
}

/// Nearest rank is monotone: if every true delay lies in its span, the true
/// P99 lies between the P99 of the spans' starts and that of their ends.
fn assert_p99(m: &Metrics, kind: &str, method: &str, produced: &[Span]) {
    let lo = p99(&produced.iter().map(|s| s.lo).collect::<Vec<_>>());
    let hi = p99(&produced.iter().map(|s| s.hi).collect::<Vec<_>>());
    let got = m.value(
        "siplat_sip_latency_p99_seconds",
        &[("kind", kind), ("method", method)],
    );
    assert!(
        got >= lo - TOLERANCE && got <= hi + TOLERANCE,
        "P99 {kind} {method}: exported {got:.6} s, sent between {lo:.6} and {hi:.6} s \
         (tolerance {TOLERANCE})"
    );
}

fn count(m: &Metrics, labels: &[(&str, &str)]) -> f64 {
    m.value("siplat_sip_latency_seconds_count", labels)
}

/// Addresses of one in-namespace run: hosts as they go into a socket address
/// (IPv6 in brackets) and the CIDRs for `ip addr`.
struct Plan {
    tag: &'static str,
    port: u16,
    uac: (&'static str, &'static str),
    proxy_front: (&'static str, &'static str),
    proxy_back: (&'static str, &'static str),
    uas: (&'static str, &'static str),
    agent_args: &'static [&'static str],
}

fn addr(ns: &Netns, dev: &str, cidr: &str) {
    if cidr.contains(':') {
        // No duplicate address detection: the address is usable at once.
        ns.ip(&["addr", "add", cidr, "dev", dev, "nodad"]);
    } else {
        ns.ip(&["addr", "add", cidr, "dev", dev]);
    }
}

#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
fn pairs_inside_the_proxy_namespace(plan: &Plan) {
    let uac = Netns::new(&format!("slt-p-uac-{}", plan.tag));
    let proxy = Netns::new(&format!("slt-p-proxy-{}", plan.tag));
    let uas = Netns::new(&format!("slt-p-uas-{}", plan.tag));
    veth(&uac, "c0", "", &proxy, "p0", "");
    veth(&proxy, "p1", "", &uas, "s0", "");
    addr(&uac, "c0", plan.uac.1);
    addr(&proxy, "p0", plan.proxy_front.1);
    addr(&proxy, "p1", plan.proxy_back.1);
    addr(&uas, "s0", plan.uas.1);
    // Both proxy interfaces are one proxy: a request in on p0 and out on p1 pairs.
    let mut args = vec!["--iface", "p*", "--placement", "pod"];
    args.extend_from_slice(plan.agent_args);
    let agent = Agent::start(AGENT, &proxy, plan.port, &args);
    agent.wait_attached(2, Duration::from_secs(30));

    let produced = play(
        &uac,
        plan.uac.0,
        &proxy,
        plan.proxy_front.0,
        plan.proxy_back.0,
        &uas,
        plan.uas.0,
    );
    let n = CALLS as f64;
    assert!(
        eventually(Duration::from_secs(5), || count(
            &agent.metrics(),
            &[("kind", "response"), ("method", "REGISTER")]
        ) >= n),
        "samples did not arrive: {}",
        agent.get("/metrics")
    );
    let m = agent.metrics();
    assert_eq!(
        count(
            &m,
            &[
                ("kind", "response"),
                ("method", "INVITE"),
                ("status_class", "1xx")
            ]
        ),
        n,
        "{}",
        m.text
    );
    // The 200 came from the UAS: not the proxy's answer, but the relayed
    // INVITE's round trip.
    assert_eq!(
        count(
            &m,
            &[
                ("kind", "response"),
                ("method", "INVITE"),
                ("status_class", "2xx")
            ]
        ),
        0.0
    );
    assert_eq!(
        count(
            &m,
            &[
                ("kind", "round_trip"),
                ("method", "INVITE"),
                ("status_class", "2xx")
            ]
        ),
        n
    );
    assert_eq!(
        count(
            &m,
            &[
                ("kind", "relay_request"),
                ("method", "INVITE"),
                ("status_class", "")
            ]
        ),
        n
    );
    assert_eq!(
        count(
            &m,
            &[
                ("kind", "relay_response"),
                ("method", "INVITE"),
                ("status_class", "2xx")
            ]
        ),
        n
    );
    assert_eq!(
        count(
            &m,
            &[
                ("kind", "response"),
                ("method", "REGISTER"),
                ("status_class", "2xx")
            ]
        ),
        n
    );
    // The relayed INVITE left by p1, its answer by p0.
    assert_eq!(count(&m, &[("kind", "relay_request"), ("iface", "p1")]), n);
    assert_eq!(count(&m, &[("kind", "relay_response"), ("iface", "p0")]), n);

    assert_p99(&m, "response", "INVITE", &produced.trying);
    assert_p99(&m, "round_trip", "INVITE", &produced.final_response);
    assert_p99(&m, "relay_request", "INVITE", &produced.relay_request);
    assert_p99(&m, "relay_response", "INVITE", &produced.relay_response);
    assert_p99(&m, "response", "REGISTER", &produced.register);
    // The 5 ms answers sit in the right part of the histogram.
    let sum_1xx = m.value(
        "siplat_sip_latency_seconds_sum",
        &[("kind", "response"), ("status_class", "1xx")],
    );
    let mean_lo = produced.trying.iter().map(|s| s.lo).sum::<f64>() / n;
    let mean_hi = produced.trying.iter().map(|s| s.hi).sum::<f64>() / n;
    let mean = sum_1xx / n;
    assert!(
        mean > mean_lo - TOLERANCE && mean < mean_hi + TOLERANCE,
        "mean 1xx {mean} vs sent between {mean_lo} and {mean_hi}"
    );
    assert_eq!(m.value("siplat_sip_retransmissions_total", &[]), 0.0);
    assert_eq!(m.value("siplat_dropped_total", &[]), 0.0, "{}", m.text);

    // /samples carries the same pairs, newest last, without the Call-ID.
    let samples: Vec<serde_json::Value> =
        serde_json::from_str(&agent.samples(100_000)).expect("json");
    assert_eq!(samples.len(), CALLS * 5);
    assert!(
        !agent.samples(100_000).contains("synthetic-"),
        "Call-ID leaked into /samples"
    );
    assert!(
        !m.text.contains("synthetic-") && !m.text.contains("198.18."),
        "personal data in metrics"
    );
}

#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
fn pairs_inside_the_proxy_namespace_ipv4_tc() {
    if privileged("pairs_inside_the_proxy_namespace_ipv4_tc") {
        pairs_inside_the_proxy_namespace(&Plan {
            tag: "v4",
            port: 9561,
            uac: ("198.18.20.1", "198.18.20.1/24"),
            proxy_front: ("198.18.20.2", "198.18.20.2/24"),
            proxy_back: ("198.18.21.2", "198.18.21.2/24"),
            uas: ("198.18.21.1", "198.18.21.1/24"),
            agent_args: &[],
        });
    }
}

#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
fn pairs_inside_the_proxy_namespace_ipv4_xdp() {
    if privileged("pairs_inside_the_proxy_namespace_ipv4_xdp") {
        pairs_inside_the_proxy_namespace(&Plan {
            tag: "xdp",
            port: 9569,
            uac: ("198.18.26.1", "198.18.26.1/24"),
            proxy_front: ("198.18.26.2", "198.18.26.2/24"),
            proxy_back: ("198.18.27.2", "198.18.27.2/24"),
            uas: ("198.18.27.1", "198.18.27.1/24"),
            agent_args: &["--xdp"],
        });
    }
}

/// IPv6 from the benchmarking prefix `2001:2::/48` (RFC 5180), the
/// counterpart of 198.18.0.0/15.
#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
fn pairs_inside_the_proxy_namespace_ipv6() {
    if privileged("pairs_inside_the_proxy_namespace_ipv6") {
        pairs_inside_the_proxy_namespace(&Plan {
            tag: "v6",
            port: 9570,
            uac: ("[2001:2:0:20::1]", "2001:2:0:20::1/64"),
            proxy_front: ("[2001:2:0:20::2]", "2001:2:0:20::2/64"),
            proxy_back: ("[2001:2:0:21::2]", "2001:2:0:21::2/64"),
            uas: ("[2001:2:0:21::1]", "2001:2:0:21::1/64"),
            agent_args: &[],
        });
    }
}

/// SIP over TCP where each message is one segment.
#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
fn pairs_sip_over_tcp() {
    use std::io::{Read as _, Write as _};
    if !privileged("pairs_sip_over_tcp") {
        return;
    }
    let client = Netns::new("slt-p-tcp-c");
    let proxy = Netns::new("slt-p-tcp-p");
    veth(
        &client,
        "c0",
        "198.18.28.1/24",
        &proxy,
        "p0",
        "198.18.28.2/24",
    );
    let agent = Agent::start(AGENT, &proxy, 9571, &["--iface", "p0"]);
    let (tx, rx) = mpsc::channel();
    let server = proxy.run(move || {
        timing::prompt_thread();
        let l = std::net::TcpListener::bind("198.18.28.2:5060").expect("listen");
        // Accepted connections inherit the flag, so no segment goes unstamped.
        timing::enable(&l);
        tx.send(()).expect("ready");
        let (mut conn, _) = l.accept().expect("accept");
        conn.set_nodelay(true).expect("nodelay");
        let mut produced = Vec::new();
        for i in 0..10 {
            let mut buf = [0u8; 4096];
            let (n, _, t0) = timing::recv(&conn, &mut buf);
            assert!(
                buf[..n].starts_with(b"INVITE"),
                "{}",
                String::from_utf8_lossy(&buf[..n])
            );
            sleep_until(t0 + TRYING_DELAY);
            produced.push(timed(t0, || {
                conn.write_all(
                    response(100, "Trying", "INVITE", &format!("tcp-{i}@198.18.0.1"), 1).as_bytes(),
                )
                .expect("write");
            }));
        }
        produced
    });
    rx.recv().expect("server ready");
    client
        .run(|| {
            let mut c = std::net::TcpStream::connect("198.18.28.2:5060").expect("connect");
            c.set_nodelay(true).expect("nodelay");
            for i in 0..10 {
                c.write_all(
                    request("INVITE", &format!("tcp-{i}@198.18.0.1"), 1, "198.18.28.1").as_bytes(),
                )
                .expect("write");
                let mut buf = [0u8; 4096];
                let n = c.read(&mut buf).expect("read");
                assert!(buf[..n].starts_with(b"SIP/2.0 100"));
            }
        })
        .join()
        .expect("client");
    let produced = server.join().expect("server");
    assert!(
        eventually(Duration::from_secs(5), || count(
            &agent.metrics(),
            &[("kind", "response")]
        ) >= 10.0),
        "{}",
        agent.get("/metrics")
    );
    let m = agent.metrics();
    assert_eq!(
        count(
            &m,
            &[
                ("kind", "response"),
                ("method", "INVITE"),
                ("status_class", "1xx")
            ]
        ),
        10.0
    );
    assert_p99(&m, "response", "INVITE", &produced);
    let samples = agent.samples(100);
    assert_eq!(
        samples.matches("\"proto\":\"tcp\"").count(),
        10,
        "{samples}"
    );
    // Pure ACK segments of the handshake carry no payload: nothing dropped.
    assert_eq!(m.value("siplat_dropped_total", &[]), 0.0, "{}", m.text);
}

#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
fn pairs_per_pod_on_the_host_side() {
    if !privileged("pairs_per_pod_on_the_host_side") {
        return;
    }
    // A node namespace with a bridge and three pods: C (caller), A (proxy), B (callee).
    let node = node_with_bridge("slt-h-node");
    let pod_c = Netns::new("slt-h-c");
    let pod_a = Netns::new("slt-h-a");
    let pod_b = Netns::new("slt-h-b");
    plug(&node, "vpc", &pod_c, "198.18.22.3/24");
    plug(&node, "vpa", &pod_a, "198.18.22.2/24");
    plug(&node, "vpb", &pod_b, "198.18.22.4/24");
    let agent = Agent::start(
        AGENT,
        &node,
        9562,
        &["--iface", "vp*", "--placement", "host"],
    );
    agent.wait_attached(3, Duration::from_secs(30));
    // Pod A relays between C and B over its single interface.
    let produced = play(
        &pod_c,
        "198.18.22.3",
        &pod_a,
        "198.18.22.2",
        "198.18.22.2",
        &pod_b,
        "198.18.22.4",
    );
    let n = CALLS as f64;
    assert!(
        eventually(Duration::from_secs(5), || count(
            &agent.metrics(),
            &[("kind", "response"), ("method", "REGISTER")]
        ) >= n),
        "samples did not arrive: {}",
        agent.get("/metrics")
    );
    let m = agent.metrics();
    // Pod A relayed each INVITE once: a message leaving one pod and entering
    // another is never a relay, and never a retransmission.
    assert_eq!(count(&m, &[("kind", "relay_request")]), n, "{}", m.text);
    assert_eq!(count(&m, &[("kind", "relay_request"), ("iface", "vpa")]), n);
    assert_eq!(count(&m, &[("kind", "relay_response")]), n);
    assert_eq!(
        count(&m, &[("kind", "relay_response"), ("iface", "vpa")]),
        n
    );
    // A's own answer is its 100; B's 200 relayed by A is A's round trip.
    assert_eq!(
        count(
            &m,
            &[("kind", "response"), ("iface", "vpa"), ("method", "INVITE")]
        ),
        n
    );
    assert_eq!(count(&m, &[("kind", "round_trip"), ("iface", "vpa")]), n);
    // Pod B answered the INVITEs it got; C answered nothing.
    assert_eq!(count(&m, &[("kind", "response"), ("iface", "vpb")]), n);
    assert_eq!(count(&m, &[("iface", "vpc")]), 0.0);
    assert_eq!(
        m.value("siplat_sip_retransmissions_total", &[]),
        0.0,
        "{}",
        m.text
    );
    assert_p99(&m, "relay_request", "INVITE", &produced.relay_request);
    assert_p99(&m, "relay_response", "INVITE", &produced.relay_response);
    assert_p99(&m, "round_trip", "INVITE", &produced.final_response);
}
