//! SIP cut into pieces, through real kernel hooks at MTU 1500: a 4 kB
//! INVITE whose Call-ID and `CSeq` come after 1.6 kB of Via headers (so
//! they sit in its second or third IP fragment), over IPv4 and IPv6, with a
//! fragmented answer; TCP segments holding two and three messages; a
//! message split over two segments inside its headers and inside its body.
//! Every message must pair, and every piece be counted for what it was.

use std::{
    fmt::Write as _,
    io::{Read as _, Write as _},
    net::{TcpListener, TcpStream, UdpSocket},
    sync::mpsc,
    time::Duration,
};

use testkit::{Agent, Metrics, Netns, eventually, privileged, response, veth};

/// The binary under test (only this crate's tests know its path).
const AGENT: &str = env!("CARGO_BIN_EXE_siplat-agent");

const UAC4: &str = "198.18.90.1";
const PROXY4: &str = "198.18.90.2";
const UAC6: &str = "2001:2:0:90::1";
const PROXY6: &str = "2001:2:0:90::2";
const CALLS: usize = 10;

fn count(m: &Metrics, labels: &[(&str, &str)]) -> f64 {
    m.value("siplat_sip_latency_seconds_count", labels)
}

fn dropped(m: &Metrics, reason: &str) -> f64 {
    m.value("siplat_dropped_total", &[("reason", reason)])
}

/// A client and a proxy namespace on one veth (MTU 1500), the agent
/// watching the proxy's end.
fn setup(tag: &str, port: u16) -> (Netns, Netns, Agent) {
    setup_with(tag, port, &[])
}

/// As [`setup`], with more agent flags.
fn setup_with(tag: &str, port: u16, flags: &[&str]) -> (Netns, Netns, Agent) {
    let client = Netns::new(&format!("slt-pc-{tag}-c"));
    let proxy = Netns::new(&format!("slt-pc-{tag}-p"));
    veth(
        &client,
        "c0",
        &format!("{UAC4}/24"),
        &proxy,
        "p0",
        &format!("{PROXY4}/24"),
    );
    client.ip(&["addr", "add", &format!("{UAC6}/64"), "dev", "c0", "nodad"]);
    proxy.ip(&["addr", "add", &format!("{PROXY6}/64"), "dev", "p0", "nodad"]);
    for (ns, dev) in [(&client, "c0"), (&proxy, "p0")] {
        ns.ip(&["link", "set", dev, "mtu", "1500"]);
    }
    let mut args = vec!["--iface", "p0"];
    args.extend_from_slice(flags);
    let agent = Agent::start(AGENT, &proxy, port, &args);
    (client, proxy, agent)
}

/// `vias` Via headers of ~80 bytes before everything else, a padding
/// header of `pad` more bytes, then Call-ID and `CSeq`, then 1.2 kB of
/// headers the scan never needs.
fn long_message(start: &str, call_id: &str, method: &str, vias: usize, pad: usize) -> String {
    let mut m = format!("{start}\r\n");
    for i in 0..vias {
        let _ = write!(
            m,
            "Via: SIP/2.0/UDP 198.18.90.{}:5060;branch=z9hG4bK-{call_id}-hop-{i:04}-padpadpad\r\n",
            i % 250
        );
    }
    let _ = write!(m, "X-Pad: {}\r\n", "p".repeat(pad));
    let _ = write!(
        m,
        "From: <sip:alice@198.18.0.1>;tag=a1\r\nTo: <sip:bob@198.18.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 {method}\r\nX-Trailer: {}\r\nContent-Length: 0\r\n\r\n",
        "t".repeat(1_200)
    );
    m
}

fn header_offset(msg: &str, name: &str) -> usize {
    msg.find(name).unwrap_or_else(|| panic!("no {name}"))
}

/// Large INVITEs over UDP: the Call-ID in the second fragment for some, in
/// the third for others; the proxy answers each with a small 100 and a
/// large 486 whose Call-ID is also past the first fragment.
fn fragmented(uac: &'static str, proxy_addr: &'static str, tag: &str, port: u16) {
    let (client, proxy, agent) = setup(tag, port);
    let (tx, rx) = mpsc::channel();
    let server = proxy.run(move || {
        let s = UdpSocket::bind(format!("{proxy_addr}:5060")).expect("bind proxy");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        tx.send(()).expect("ready");
        let mut buf = vec![0u8; 16 << 10];
        for _ in 0..CALLS {
            let (n, peer) = s.recv_from(&mut buf).expect("INVITE");
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let call_id = testkit::sip::header(&msg, "Call-ID");
            s.send_to(
                response(100, "Trying", "INVITE", &call_id, 1).as_bytes(),
                peer,
            )
            .expect("100");
            let busy = long_message("SIP/2.0 486 Busy Here", &call_id, "INVITE", 20, 200);
            s.send_to(busy.as_bytes(), peer).expect("486");
        }
    });
    rx.recv().expect("server ready");
    client
        .run(move || {
            let s = UdpSocket::bind(format!("{uac}:0")).expect("bind uac");
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            let mut buf = vec![0u8; 16 << 10];
            for i in 0..CALLS {
                let call_id = format!("frag-{i}@198.18.0.1");
                // 20 Vias (~1.7 kB) before Call-ID: in the second
                // fragment; with 1.5 kB more, in the third.
                let pad = if i % 2 == 0 { 100 } else { 1_500 };
                let inv = long_message(
                    "INVITE sip:bob@198.18.0.1 SIP/2.0",
                    &call_id,
                    "INVITE",
                    20,
                    pad,
                );
                let at = header_offset(&inv, "Call-ID");
                assert!(at > 1_600 && (pad < 1_000 || at > 3_000), "{at}");
                assert!((3_000..5_000).contains(&inv.len()), "{}", inv.len());
                s.send_to(inv.as_bytes(), format!("{proxy_addr}:5060"))
                    .expect("send");
                for _ in 0..2 {
                    s.recv(&mut buf).expect("answer");
                }
            }
        })
        .join()
        .expect("client");
    server.join().expect("server");
    // Samples stream in; the kernel's counters are folded in every sweep.
    #[expect(clippy::cast_precision_loss, reason = "small counts")]
    let want = |m: &Metrics| {
        count(m, &[("kind", "response"), ("method", "INVITE")]) >= 2.0 * CALLS as f64
            && m.value("siplat_sip_messages_total", &[]) >= 3.0 * CALLS as f64
    };
    assert!(
        eventually(Duration::from_secs(5), || want(&agent.metrics())),
        "{}",
        agent.get("/metrics")
    );
    let m = agent.metrics();
    #[expect(clippy::cast_precision_loss, reason = "small counts")]
    let calls = CALLS as f64;
    assert_eq!(
        count(&m, &[("kind", "response"), ("status_class", "1xx")]),
        calls
    );
    assert_eq!(
        count(&m, &[("kind", "response"), ("status_class", "4xx")]),
        calls
    );
    let frags = |o: &str| m.value("siplat_ip_fragments_total", &[("outcome", o)]);
    // Each INVITE and each 486 waits in at least one fragment.
    assert!(frags("saved") >= 2.0 * calls, "{}", m.text);
    assert!(frags("resumed") >= 2.0 * calls, "{}", m.text);
    assert_eq!(
        frags("out_of_order") + frags("state_full"),
        0.0,
        "{}",
        m.text
    );
    for reason in [
        "fragment",
        "truncated",
        "too_long",
        "parse_failed",
        "not_sip",
    ] {
        assert_eq!(dropped(&m, reason), 0.0, "{reason}: {}", m.text);
    }
}

#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
fn pairs_invites_whose_call_id_is_in_a_later_ipv4_fragment() {
    if !privileged("pairs_invites_whose_call_id_is_in_a_later_ipv4_fragment") {
        return;
    }
    fragmented(UAC4, PROXY4, "f4", 9620);
}

#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
fn pairs_invites_whose_call_id_is_in_a_later_ipv6_fragment() {
    if !privileged("pairs_invites_whose_call_id_is_in_a_later_ipv6_fragment") {
        return;
    }
    fragmented("[2001:2:0:90::1]", "[2001:2:0:90::2]", "f6", 9622);
}

/// Read SIP messages off a stream, framed by Content-Length as a proxy does.
struct Framer {
    conn: TcpStream,
    pending: Vec<u8>,
}

impl Framer {
    /// A connection as both sides use it: no Nagle delay (each write is a
    /// segment), a read timeout, a writer and a framing reader.
    fn split(conn: TcpStream) -> (TcpStream, Self) {
        conn.set_nodelay(true).expect("nodelay");
        conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let writer = conn.try_clone().expect("clone");
        (
            writer,
            Self {
                conn,
                pending: Vec::new(),
            },
        )
    }

    fn next(&mut self) -> String {
        loop {
            // Keep-alives between messages are skipped (RFC 5626).
            while self
                .pending
                .first()
                .is_some_and(|b| matches!(b, b'\r' | b'\n'))
            {
                self.pending.remove(0);
            }
            let text = String::from_utf8_lossy(&self.pending).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let headers = &text[..end];
                let body: usize = headers
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length:"))
                    .map_or(0, |v| v.trim().parse().expect("length"));
                let total = end + 4 + body;
                if self.pending.len() >= total {
                    let msg: Vec<u8> = self.pending.drain(..total).collect();
                    return String::from_utf8_lossy(&msg).into_owned();
                }
            }
            let mut buf = [0u8; 8192];
            let n = self.conn.read(&mut buf).expect("read");
            assert!(n > 0, "stream closed");
            self.pending.extend_from_slice(&buf[..n]);
        }
    }
}

fn tcp_request(method: &str, call_id: &str, body: &str) -> String {
    format!(
        "{method} sip:bob@198.18.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP {UAC4};branch=z9hG4bK-{call_id}\r\nFrom: <sip:alice@198.18.0.1>;tag=a1\r\nTo: <sip:bob@198.18.0.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 {method}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn tcp_response(status: u16, reason: &str, method: &str, call_id: &str) -> String {
    response(status, reason, method, call_id, 1)
}

/// The proxy's side of the TCP exchange: answers as it reads, the
/// INVITE's three responses in one write.
fn tcp_proxy(ready: &mpsc::Sender<()>) {
    let l = TcpListener::bind(format!("{PROXY4}:5060")).expect("listen");
    ready.send(()).expect("ready");
    let (conn, _) = l.accept().expect("accept");
    let (mut writer, mut framer) = Framer::split(conn);
    for i in 0..CALLS {
        // Two requests in one segment: an INVITE and an OPTIONS.
        for _ in 0..2 {
            let msg = framer.next();
            let call_id = testkit::sip::header(&msg, "Call-ID");
            if msg.starts_with("OPTIONS") {
                writer
                    .write_all(tcp_response(200, "OK", "OPTIONS", &call_id).as_bytes())
                    .expect("200");
                continue;
            }
            // Three responses in one segment: 100, 180, 486.
            let three = [
                tcp_response(100, "Trying", "INVITE", &call_id),
                tcp_response(180, "Ringing", "INVITE", &call_id),
                tcp_response(486, "Busy Here", "INVITE", &call_id),
            ]
            .concat();
            writer.write_all(three.as_bytes()).expect("three");
        }
        // A NOTIFY whose sipfrag body holds a status line, split in
        // its headers; then a BYE split in its body's neighbour.
        let notify = framer.next();
        assert!(notify.starts_with("NOTIFY"), "{notify}");
        let call_id = testkit::sip::header(&notify, "Call-ID");
        writer
            .write_all(tcp_response(200, "OK", "NOTIFY", &call_id).as_bytes())
            .expect("200");
        let bye = framer.next();
        assert!(bye.starts_with("BYE"), "{i}: {bye}");
        let call_id = testkit::sip::header(&bye, "Call-ID");
        writer
            .write_all(tcp_response(200, "OK", "BYE", &call_id).as_bytes())
            .expect("200");
    }
}

/// The caller's side: two requests in one write, a keep-alive, a NOTIFY
/// cut inside its Call-ID, a BYE cut inside its body.
fn tcp_client(sdp: &str) {
    let conn = TcpStream::connect(format!("{PROXY4}:5060")).expect("connect");
    let (mut writer, mut framer) = Framer::split(conn);
    let pause = || std::thread::sleep(Duration::from_millis(30));
    for i in 0..CALLS {
        let two = [
            tcp_request("INVITE", &format!("tcp-inv-{i}@198.18.0.1"), sdp),
            tcp_request("OPTIONS", &format!("tcp-opt-{i}@198.18.0.1"), ""),
        ]
        .concat();
        writer.write_all(two.as_bytes()).expect("two");
        for _ in 0..4 {
            framer.next();
        }
        // A keep-alive ping between messages.
        writer.write_all(b"\r\n\r\n").expect("ping");
        pause();
        let frag = "SIP/2.0 200 OK\r\nCall-ID: decoy\r\nCSeq: 1 INVITE\r\n\r\n";
        let notify = format!(
            "NOTIFY sip:a@198.18.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP {UAC4};branch=z9hG4bK-n{i}\r\nCall-ID: tcp-ntf-{i}@198.18.0.1\r\nCSeq: 1 NOTIFY\r\nContent-Type: message/sipfrag\r\nContent-Length: {}\r\n\r\n{frag}",
            frag.len()
        );
        // Cut inside the Call-ID value.
        let cut = notify.find("tcp-ntf").expect("call-id") + 4;
        writer
            .write_all(&notify.as_bytes()[..cut])
            .expect("first half");
        pause();
        // The rest of the NOTIFY and its body, then half a BYE's
        // headers: the next segment starts inside the BYE.
        let bye = tcp_request("BYE", &format!("tcp-bye-{i}@198.18.0.1"), sdp);
        let bye_cut = bye.len() - sdp.len() / 2;
        let rest = [&notify.as_bytes()[cut..], &bye.as_bytes()[..bye_cut]].concat();
        writer.write_all(&rest).expect("second half");
        pause();
        writer
            .write_all(&bye.as_bytes()[bye_cut..])
            .expect("bye's end");
        for _ in 0..2 {
            let answer = framer.next();
            assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
        }
    }
}

/// SIP over TCP as a proxy meets it: several messages per segment, one
/// message over two segments, bodies (an SDP, a sipfrag holding a status
/// line) and keep-alives between messages.
#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
fn pairs_every_message_of_a_segment_and_across_segments() {
    if !privileged("pairs_every_message_of_a_segment_and_across_segments") {
        return;
    }
    let (client, proxy, agent) = setup("tcp", 9624);
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 {UAC4}\r\ns=-\r\n{}",
        "a=x\r\n".repeat(60)
    );
    let (tx, rx) = mpsc::channel();
    let server = proxy.run(move || tcp_proxy(&tx));
    rx.recv().expect("server ready");
    let body = sdp.clone();
    client
        .run(move || tcp_client(&body))
        .join()
        .expect("client");
    server.join().expect("server");
    #[expect(clippy::cast_precision_loss, reason = "small counts")]
    let calls = CALLS as f64;
    // Samples stream in; the kernel's counters are folded in every sweep.
    let done = |m: &Metrics| {
        count(m, &[("kind", "response")]) >= 5.0 * calls
            && m.value("siplat_sip_messages_total", &[]) >= 10.0 * calls
    };
    assert!(
        eventually(Duration::from_secs(5), || done(&agent.metrics())),
        "{}",
        agent.get("/metrics")
    );
    let m = agent.metrics();
    let response = |method: &str, class: &str| {
        count(
            &m,
            &[
                ("kind", "response"),
                ("method", method),
                ("status_class", class),
            ],
        )
    };
    // 100 and 180 share a class: one sample; the 486 is the other.
    assert_eq!(response("INVITE", "1xx"), calls, "{}", m.text);
    assert_eq!(response("INVITE", "4xx"), calls, "{}", m.text);
    assert_eq!(response("OPTIONS", "2xx"), calls, "{}", m.text);
    assert_eq!(response("NOTIFY", "2xx"), calls, "{}", m.text);
    assert_eq!(response("BYE", "2xx"), calls, "{}", m.text);
    // The sipfrag's status line was a body, never a response.
    assert_eq!(count(&m, &[]), 5.0 * calls, "{}", m.text);
    assert_eq!(
        m.value("siplat_sip_unpaired_responses_total", &[]),
        0.0,
        "{}",
        m.text
    );
    let messages = |dir: &str, ty: &str| {
        m.value(
            "siplat_sip_messages_total",
            &[("direction", dir), ("type", ty)],
        )
    };
    assert_eq!(messages("in", "request"), 4.0 * calls, "{}", m.text);
    assert_eq!(messages("out", "response"), 6.0 * calls, "{}", m.text);
    assert_eq!(
        m.value("siplat_sip_keepalives_total", &[]),
        calls,
        "{}",
        m.text
    );
    let segments = |o: &str| m.value("siplat_tcp_segments_total", &[("outcome", o)]);
    // The NOTIFY's first half and the BYE's head wait; both go on.
    assert!(segments("saved") >= 2.0 * calls, "{}", m.text);
    assert!(segments("resumed") >= 2.0 * calls, "{}", m.text);
    for reason in [
        "segment_overflow",
        "stream_gap",
        "truncated",
        "too_long",
        "parse_failed",
        "not_sip",
    ] {
        assert_eq!(dropped(&m, reason), 0.0, "{reason}: {}", m.text);
    }
}

/// Send only the first fragment of a UDP datagram carrying `payload` from
/// `src` to `dst`:5060, through a raw socket (the kernel fills in the IP
/// checksum): what a lost later fragment looks like at the proxy.
fn send_first_fragment(src: [u8; 4], dst: [u8; 4], id: u16, payload: &[u8]) {
    const FIRST: usize = 1_472;
    let udp_len = u16::try_from(8 + payload.len()).expect("datagram size");
    let mut pkt = Vec::with_capacity(20 + 8 + FIRST);
    let total = u16::try_from(20 + 8 + FIRST).expect("fragment size");
    pkt.extend_from_slice(&[0x45, 0]);
    pkt.extend_from_slice(&total.to_be_bytes());
    pkt.extend_from_slice(&id.to_be_bytes());
    // More fragments, offset 0.
    pkt.extend_from_slice(&0x2000_u16.to_be_bytes());
    pkt.extend_from_slice(&[64, 17, 0, 0]);
    pkt.extend_from_slice(&src);
    pkt.extend_from_slice(&dst);
    pkt.extend_from_slice(&40_000_u16.to_be_bytes());
    pkt.extend_from_slice(&5060_u16.to_be_bytes());
    pkt.extend_from_slice(&udp_len.to_be_bytes());
    // No UDP checksum (allowed over IPv4).
    pkt.extend_from_slice(&[0, 0]);
    pkt.extend_from_slice(&payload[..FIRST]);
    // SAFETY: plain socket calls on a descriptor this function owns, with
    // a sockaddr_in and a buffer that outlive them.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW);
        assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
        let mut to: libc::sockaddr_in = std::mem::zeroed();
        to.sin_family = libc::sa_family_t::try_from(libc::AF_INET).expect("family");
        to.sin_addr.s_addr = u32::from_ne_bytes(dst);
        let sent = libc::sendto(
            fd,
            pkt.as_ptr().cast(),
            pkt.len(),
            0,
            (&raw const to).cast(),
            u32::try_from(size_of::<libc::sockaddr_in>()).expect("len"),
        );
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        assert_eq!(usize::try_from(sent).ok(), Some(pkt.len()), "sendto: {err}");
    }
}

/// What never completes is counted when it ages out: datagrams whose
/// later fragments are lost, and a TCP stream that stops inside a message
/// for longer than the transaction timeout.
#[test]
#[ignore = "needs root: BPF and network namespaces (cargo xtask test runs it)"]
fn lost_fragments_and_stalled_streams_expire_counted() {
    const LOST: u16 = 3;
    if !privileged("lost_fragments_and_stalled_streams_expire_counted") {
        return;
    }
    let (client, proxy, agent) = setup_with("age", 9626, &["--txn-timeout", "2s"]);
    let sink = proxy.run(|| {
        let s = UdpSocket::bind(format!("{PROXY4}:5060")).expect("bind");
        let l = TcpListener::bind(format!("{PROXY4}:5060")).expect("listen");
        let (mut conn, _) = l.accept().expect("accept");
        conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut buf = [0u8; 4096];
        // Hold the connection until the client is done.
        while conn.read(&mut buf).is_ok_and(|n| n > 0) {}
        drop(s);
    });
    std::thread::sleep(Duration::from_millis(200));
    client
        .run(|| {
            for i in 0..LOST {
                let inv = long_message(
                    "INVITE sip:bob@198.18.0.1 SIP/2.0",
                    &format!("lost-{i}@198.18.0.1"),
                    "INVITE",
                    20,
                    100,
                );
                send_first_fragment(
                    [198, 18, 90, 1],
                    [198, 18, 90, 2],
                    7_000 + i,
                    inv.as_bytes(),
                );
            }
            let mut c = TcpStream::connect(format!("{PROXY4}:5060")).expect("connect");
            c.set_nodelay(true).expect("nodelay");
            let msg = tcp_request("OPTIONS", "stalled@198.18.0.1", "");
            c.write_all(&msg.as_bytes()[..msg.len() / 2]).expect("half");
            // Past the 2 s timeout and a sweep or two.
            std::thread::sleep(Duration::from_secs(5));
        })
        .join()
        .expect("client");
    sink.join().expect("sink");
    let expired = |m: &Metrics| {
        (
            m.value("siplat_ip_fragments_total", &[("outcome", "expired")]),
            m.value("siplat_tcp_segments_total", &[("outcome", "expired")]),
        )
    };
    let want = (f64::from(LOST), 1.0);
    assert!(
        eventually(Duration::from_secs(5), || expired(&agent.metrics()) == want),
        "{}",
        agent.get("/metrics")
    );
    let m = agent.metrics();
    assert_eq!(
        m.value("siplat_ip_fragments_total", &[("outcome", "saved")]),
        want.0,
        "{}",
        m.text
    );
    assert_eq!(
        m.value("siplat_tcp_segments_total", &[("outcome", "saved")]),
        1.0,
        "{}",
        m.text
    );
    assert_eq!(count(&m, &[]), 0.0, "{}", m.text);
}
