//! Bad input: truncated and malformed packets, a long Via
//! chain, non-SIP traffic on the SIP port, a flood of unanswered INVITEs and
//! a full ring buffer. The agent keeps running, memory stays bounded, and
//! the counters say what happened.

use std::{
    fmt::Write as _,
    net::UdpSocket,
    os::fd::AsRawFd as _,
    time::{Duration, Instant},
};

use testkit::{Agent, Metrics, Netns, eventually, privileged, request, response, veth};

/// The binary under test (only this crate's tests know its path).
const AGENT: &str = env!("CARGO_BIN_EXE_siplat-agent");

const PROXY: &str = "198.18.23.2";
const CLIENT: &str = "198.18.23.1";
const FLOOD: usize = 100_000;
const MAX_PENDING: &str = "20000";

fn sender(ns: &Netns, packets: Vec<Vec<u8>>, pace_every: usize) {
    ns.run(move || {
        let s = UdpSocket::bind(format!("{CLIENT}:5070")).expect("bind");
        for (i, p) in packets.iter().enumerate() {
            // The veth backlog holds 1000 packets: pace so none is lost
            // before the hook.
            if pace_every > 0 && i % pace_every == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
            s.send_to(p, format!("{PROXY}:5060")).expect("send");
        }
    })
    .join()
    .expect("sender");
}

/// An Ethernet frame sent raw on `dev`: lets the test send headers the
/// socket API would never build.
fn raw_frames(ns: &Netns, dev: &'static str, frames: Vec<Vec<u8>>) {
    ns.run(move || {
        // SAFETY: plain socket/sendto calls with valid buffers.
        unsafe {
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
            assert!(fd >= 0, "AF_PACKET socket");
            let name = std::ffi::CString::new(dev).expect("cstr");
            let mut addr: libc::sockaddr_ll = std::mem::zeroed();
            addr.sll_family = u16::try_from(libc::AF_PACKET).expect("af");
            addr.sll_ifindex = i32::try_from(libc::if_nametoindex(name.as_ptr())).expect("ifindex");
            addr.sll_halen = 6;
            addr.sll_addr[..6].copy_from_slice(&[0xff; 6]);
            for f in &frames {
                let rc = libc::sendto(
                    fd,
                    f.as_ptr().cast(),
                    f.len(),
                    0,
                    (&raw const addr).cast(),
                    u32::try_from(size_of::<libc::sockaddr_ll>()).expect("len"),
                );
                assert!(rc >= 0, "sendto raw");
            }
            libc::close(fd);
        }
    })
    .join()
    .expect("raw sender");
}

/// Ethernet + IPv4 + UDP headers with the given (possibly lying) lengths.
fn frame(ihl_words: u8, ip_total: u16, udp_len: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend([0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
    f.extend([0x40 | ihl_words, 0]);
    f.extend(ip_total.to_be_bytes());
    f.extend([0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 23, 1, 198, 18, 23, 2]);
    f.extend(5070u16.to_be_bytes());
    f.extend(5060u16.to_be_bytes());
    f.extend(udp_len.to_be_bytes());
    f.extend([0, 0]);
    f.extend_from_slice(payload);
    f
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:")
                .map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
#[expect(clippy::too_many_lines, reason = "one scenario, read top to bottom")]
fn bad_input_is_counted_and_survived() {
    if !privileged("bad_input_is_counted_and_survived") {
        return;
    }
    let client = Netns::new("slt-b-client");
    let proxy = Netns::new("slt-b-proxy");
    veth(
        &client,
        "c0",
        &format!("{CLIENT}/24"),
        &proxy,
        "p0",
        &format!("{PROXY}/24"),
    );
    // Jumbo frames, so the 1.7 kB long-Via message is not IP-fragmented.
    client.ip(&["link", "set", "c0", "mtu", "9000"]);
    proxy.ip(&["link", "set", "p0", "mtu", "9000"]);
    let agent = Agent::start(
        AGENT,
        &proxy,
        9563,
        &[
            "--iface",
            "p0",
            "--txn-timeout",
            "2",
            "--max-pending",
            MAX_PENDING,
        ],
    );
    let rss_before = rss_kib(agent.pid());

    // 1. Truncated SIP: every prefix of a valid INVITE.
    let full = request("INVITE", "trunc@198.18.0.1", 1, CLIENT);
    // The scanner stops at the first byte of the line after CSeq: any prefix
    // up to there lacks something; longer ones are complete messages.
    let cseq_end = full.find("CSeq: 1 INVITE\r\n").expect("CSeq") + "CSeq: 1 INVITE\r\n".len();
    let prefixes: Vec<Vec<u8>> = (1..=cseq_end)
        .step_by(5)
        .chain([cseq_end])
        .map(|n| full.as_bytes()[..n].to_vec())
        .collect();
    let truncated = prefixes.len();
    sender(&client, prefixes, 0);
    // 2. Not SIP on the SIP port.
    let junk: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01],
        b"hello world\r\n".to_vec(),
        vec![0u8; 200],
    ];
    let not_sip = junk.len();
    sender(&client, junk, 0);
    // 3. SIP without Call-ID, and with a CSeq method that does not match.
    let malformed: Vec<Vec<u8>> = vec![
        full.replace("Call-ID: trunc@198.18.0.1\r\n", "")
            .into_bytes(),
        full.replace("CSeq: 1 INVITE", "CSeq: 1 BYE").into_bytes(),
        full.replace("CSeq: 1 INVITE", "CSeq: x INVITE")
            .into_bytes(),
    ];
    let parse_failed = malformed.len();
    sender(&client, malformed, 0);
    // 4. Broken L3/L4 headers, sent raw.
    raw_frames(
        &client,
        "c0",
        vec![
            frame(3, 60, 40, b"INVITE"),
            frame(5, 24, 8, b"")[..38].to_vec(),
        ],
    );
    // 5. A 1400-byte Via chain before Call-ID; answered, so it must pair.
    let vias = (0..20).fold(String::new(), |mut v, i| {
        let _ = write!(v, "Via: SIP/2.0/UDP 198.18.23.{i}:5060;branch=z9hG4bK-long-via-chain-{i:04}-padding-padding\r\n");
        v
    });
    assert!(vias.len() >= 1400, "{}", vias.len());
    let long = full
        .replacen("Via:", &format!("{vias}Via:"), 1)
        .replace("trunc@", "longvia@");
    let proxy_sock = proxy
        .run(|| UdpSocket::bind(format!("{PROXY}:5060")).expect("bind proxy"))
        .join()
        .expect("bind");
    sender(&client, vec![long.into_bytes()], 0);
    let answer = response(100, "Trying", "INVITE", "longvia@198.18.0.1", 1);
    let sock = proxy_sock.try_clone().expect("clone");
    proxy
        .run(move || {
            sock.send_to(answer.as_bytes(), format!("{CLIENT}:5070"))
                .expect("answer")
        })
        .join()
        .expect("answer");

    let m = agent.metrics();
    let counted =
        |m: &Metrics, reason: &str| m.value("siplat_dropped_total", &[("reason", reason)]);
    assert!(
        eventually(Duration::from_secs(5), || counted(
            &agent.metrics(),
            "truncated"
        ) >= truncated as f64),
        "{}",
        agent.get("/metrics")
    );
    let m2 = agent.metrics();
    assert_eq!(counted(&m2, "truncated"), truncated as f64, "{}", m2.text);
    assert_eq!(counted(&m2, "not_sip"), not_sip as f64);
    assert_eq!(counted(&m2, "parse_failed"), parse_failed as f64);
    assert_eq!(counted(&m2, "bad_headers"), 2.0);
    assert_eq!(counted(&m2, "fragment"), 0.0);
    assert_eq!(
        m2.value(
            "siplat_sip_latency_seconds_count",
            &[("kind", "response"), ("method", "INVITE")]
        ),
        1.0,
        "long Via chain did not pair"
    );
    drop(m);

    // 6. A flood of unanswered INVITEs, five times the pending map.
    let flood: Vec<Vec<u8>> = (0..FLOOD)
        .map(|i| request("INVITE", &format!("flood-{i}@198.18.0.1"), 1, CLIENT).into_bytes())
        .collect();
    let started = Instant::now();
    sender(&client, flood, 200);
    eprintln!("flood of {FLOOD} INVITEs sent in {:?}", started.elapsed());
    let seen = |m: &Metrics| {
        m.value(
            "siplat_sip_messages_total",
            &[("direction", "in"), ("method", "INVITE")],
        )
    };
    // Everything that went in is accounted for: expired or evicted.
    let settled = eventually(Duration::from_secs(15), || {
        let m = agent.metrics();
        let gone = m.value(
            "siplat_sip_transactions_expired_total",
            &[("method", "INVITE")],
        ) + counted(&m, "pending_evicted");
        // Repeats of one key are retransmissions, not new entries. (The
        // long-Via INVITE got only a 100, so it expires too.)
        let retrans = m.value("siplat_sip_retransmissions_total", &[("type", "request")]);
        gone > 0.0 && gone == seen(&m) - retrans
    });
    let m3 = agent.metrics();
    assert!(settled, "flood not accounted for:\n{}", m3.text);
    let flood_seen = seen(&m3) - seen(&m2);
    assert!(
        flood_seen >= FLOOD as f64 * 0.99,
        "only {flood_seen} of {FLOOD} INVITEs reached the hook"
    );
    let max_pending: f64 = MAX_PENDING.parse().expect("number");
    assert!(
        counted(&m3, "pending_evicted") >= flood_seen - max_pending,
        "{}",
        m3.text
    );
    assert!(m3.value("siplat_sip_transactions_expired_total", &[]) <= max_pending);
    assert!(m3.value("siplat_sip_transactions_expired_total", &[]) > 0.0);

    // Still alive, still answering, memory bounded.
    assert_eq!(agent.get("/healthz"), "ok\n");
    let rss_after = rss_kib(agent.pid());
    eprintln!("agent RSS: {rss_before} KiB before, {rss_after} KiB after the flood");
    assert!(
        rss_after < rss_before + 64 * 1024,
        "RSS grew from {rss_before} to {rss_after} KiB"
    );
}

#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
fn full_ring_buffer_is_counted() {
    const PAIRS: usize = 3000;
    if !privileged("full_ring_buffer_is_counted") {
        return;
    }
    let client = Netns::new("slt-r-client");
    let proxy = Netns::new("slt-r-proxy");
    veth(
        &client,
        "c0",
        &format!("{CLIENT}/24"),
        &proxy,
        "p0",
        &format!("{PROXY}/24"),
    );
    // One page of ring buffer: ~45 samples.
    let agent = Agent::start(
        AGENT,
        &proxy,
        9564,
        &["--iface", "p0", "--ringbuf-bytes", "4096"],
    );
    let invites: Vec<Vec<u8>> = (0..PAIRS)
        .map(|i| request("INVITE", &format!("ring-{i}@198.18.0.1"), 1, CLIENT).into_bytes())
        .collect();
    sender(&client, invites, 200);
    // Answer them all in one burst from the proxy side.
    proxy
        .run(|| {
            let s = UdpSocket::bind(format!("{PROXY}:5060")).expect("bind");
            let _ = s.as_raw_fd();
            for i in 0..PAIRS {
                let r = response(100, "Trying", "INVITE", &format!("ring-{i}@198.18.0.1"), 1);
                s.send_to(r.as_bytes(), format!("{CLIENT}:5070"))
                    .expect("send");
            }
        })
        .join()
        .expect("burst");
    let total = |m: &Metrics| {
        m.value("siplat_agent_samples_total", &[])
            + m.value("siplat_dropped_total", &[("reason", "ringbuf_full")])
    };
    let paired = |m: &Metrics| {
        m.value(
            "siplat_sip_messages_total",
            &[("direction", "out"), ("type", "response")],
        ) - m.value("siplat_sip_unpaired_responses_total", &[])
    };
    assert!(
        eventually(Duration::from_secs(5), || {
            let m = agent.metrics();
            paired(&m) > 0.0 && total(&m) == paired(&m)
        }),
        "samples + ringbuf_full != paired responses:\n{}",
        agent.get("/metrics")
    );
    let m = agent.metrics();
    eprintln!(
        "{PAIRS} pairs: {} samples delivered, {} counted as ringbuf_full",
        m.value("siplat_agent_samples_total", &[]),
        m.value("siplat_dropped_total", &[("reason", "ringbuf_full")])
    );
    assert!(paired(&m) >= PAIRS as f64 * 0.99);
}
