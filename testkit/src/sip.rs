//! SIP messages as the tests send them: just the headers the agent pairs
//! on, with addresses from the benchmarking range (never anyone's real
//! network), and the smallest exchange that makes one latency sample.

use std::{net::UdpSocket, time::Duration};

use crate::namespace::Netns;

/// A SIP request as a test sends it. The branch names the call and `CSeq`,
/// so retransmissions of one request stay recognisable.
#[must_use]
pub fn request(method: &str, call_id: &str, cseq: u32, via_host: &str) -> String {
    format!(
        "{method} sip:bob@198.18.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {via_host};branch=z9hG4bK-{call_id}-{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@198.18.0.1>;tag=a1\r\nTo: <sip:bob@198.18.0.1>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

/// The answer to [`request`] of `method`, `call_id` and `cseq`.
#[must_use]
pub fn response(status: u16, reason: &str, method: &str, call_id: &str, cseq: u32) -> String {
    format!(
        "SIP/2.0 {status} {reason}\r\nVia: SIP/2.0/UDP 198.18.0.1;branch=z9hG4bK-{call_id}-{cseq}\r\nFrom: <sip:alice@198.18.0.1>;tag=a1\r\nTo: <sip:bob@198.18.0.1>;tag=b1\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

/// The value of header `name` (any case) in `msg`; panics when absent.
#[must_use]
pub fn header(msg: &str, name: &str) -> String {
    msg.lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no {name} in {msg}"))
}

/// One OPTIONS from `from` (in `caller`) to `to` (in `callee`), answered
/// 200 by `callee`: one `response` sample where the answer leaves.
pub fn exchange(
    caller: &Netns,
    from: &'static str,
    callee: &Netns,
    to: &'static str,
    call_id: &'static str,
) {
    let server = callee.run(move || {
        let s = UdpSocket::bind(format!("{to}:5060")).expect("bind callee");
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let mut buf = [0u8; 2048];
        let (_, peer) = s.recv_from(&mut buf).expect("request");
        s.send_to(response(200, "OK", "OPTIONS", call_id, 1).as_bytes(), peer)
            .expect("answer");
    });
    std::thread::sleep(Duration::from_millis(100));
    caller
        .run(move || {
            let s = UdpSocket::bind(format!("{from}:0")).expect("bind caller");
            s.set_read_timeout(Some(Duration::from_secs(5))).ok();
            s.send_to(
                request("OPTIONS", call_id, 1, from).as_bytes(),
                format!("{to}:5060"),
            )
            .expect("send");
            let mut buf = [0u8; 2048];
            s.recv_from(&mut buf).expect("response");
        })
        .join()
        .expect("caller");
    server.join().expect("callee");
}

#[cfg(test)]
mod tests {
    use agent_common::sip::{Outcome, Scan, Scanner, hash::call_id_hash, method, scan::COMPLETE};

    use super::*;

    fn scan(msg: &str) -> Scan {
        let mut s = Scanner::new();
        assert_eq!(s.feed_all(msg.as_bytes()), COMPLETE, "{msg}");
        match s.outcome() {
            Outcome::Complete(scan) => scan,
            other => panic!("{other:?} for {msg}"),
        }
    }

    #[test]
    fn the_kernel_scanner_pairs_what_the_builders_make() {
        let req = scan(&request("INVITE", "kit-1@198.18.0.1", 3, "198.18.0.2"));
        assert!(!req.is_response);
        assert_eq!(req.method, method::INVITE);
        assert_eq!((req.cseq, req.status), (3, 0));
        assert_eq!(req.call_hash, call_id_hash(b"kit-1@198.18.0.1"));
        let resp = scan(&response(
            407,
            "Proxy Authentication Required",
            "INVITE",
            "kit-1@198.18.0.1",
            3,
        ));
        assert!(resp.is_response);
        assert_eq!(
            (resp.status, resp.cseq, resp.method),
            (407, 3, method::INVITE)
        );
        assert_eq!(resp.call_hash, req.call_hash);
        let reg = scan(&request("REGISTER", "kit-2@198.18.0.1", 7, "198.18.0.2"));
        assert_eq!((reg.method, reg.cseq), (method::REGISTER, 7));
        assert_ne!(reg.call_hash, req.call_hash);
    }

    #[test]
    fn headers_are_found_in_any_case() {
        let msg = request("OPTIONS", "kit-3@198.18.0.1", 1, "198.18.0.2");
        assert_eq!(header(&msg, "call-id"), "kit-3@198.18.0.1");
        assert_eq!(header(&msg, "CSeq"), "1 OPTIONS");
    }
}
