use agent_common::sip::{Outcome, Scanner, hash::call_id_hash, method};

fn scan(msg: &str) -> Outcome {
    let mut s = Scanner::new();
    s.feed_all(msg.as_bytes());
    s.outcome()
}

#[test]
fn invite_and_its_response() {
    let inv = "INVITE sip:bob@198.18.0.2 SIP/2.0\r\nVia: SIP/2.0/UDP 198.18.0.1;branch=z9hG4bK1\r\nCall-ID: abc@host\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let Outcome::Complete(s) = scan(inv) else {
        panic!("{:?}", scan(inv))
    };
    assert_eq!(s.method, method::INVITE);
    assert_eq!(s.cseq, 1);
    assert!(!s.is_response);
    assert_eq!(s.call_hash, call_id_hash(b"abc@host"));
    let resp = "SIP/2.0 407 Proxy Authentication Required\r\nv: SIP/2.0/UDP x\r\ncseq :  1   INVITE\r\ni:abc@host\r\n\r\n";
    let Outcome::Complete(r) = scan(resp) else {
        panic!("{:?}", scan(resp))
    };
    assert_eq!(
        (r.status, r.method, r.cseq, r.is_response),
        (407, method::INVITE, 1, true)
    );
    assert_eq!(r.call_hash, s.call_hash);
}

#[test]
fn failures() {
    assert_eq!(scan("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Outcome::NotSip);
    assert_eq!(scan("\x00\x01binary"), Outcome::NotSip);
    assert_eq!(
        scan("INVITE sip:x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 BYE\r\n\r\n"),
        Outcome::Malformed
    );
    assert_eq!(
        scan("INVITE sip:x SIP/2.0\r\nCall-ID: a\r\n\r\n"),
        Outcome::Malformed
    );
    assert_eq!(
        scan("INVITE sip:x SIP/2.0\r\nCall-ID: a\r\nCSe"),
        Outcome::Truncated
    );
}

#[test]
fn methods_are_compared_whole() {
    let msg = |start: &str, cseq: &str| {
        format!("{start} sip:x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 {cseq}\r\n\r\n")
    };
    // Nine bytes sharing SUBSCRIBE's first eight: its own (unknown) method.
    let Outcome::Complete(s) = scan(&msg("SUBSCRIBX", "SUBSCRIBX")) else {
        panic!("a long unknown method is still pairable")
    };
    assert_eq!(s.method, method::OTHER);
    let Outcome::Complete(s) = scan(&msg("SUBSCRIBE", "SUBSCRIBE")) else {
        panic!("SUBSCRIBE")
    };
    assert_eq!(s.method, method::SUBSCRIBE);
    // A CSeq method that differs only past byte 8 is not the request's.
    assert_eq!(scan(&msg("SUBSCRIBE", "SUBSCRIBX")), Outcome::Malformed);
    assert_eq!(
        scan(&msg("LONGMETHODNAME1", "LONGMETHODNAME2")),
        Outcome::Malformed
    );
    let resp = "SIP/2.0 200 OK\r\nCall-ID: a\r\nCSeq: 1 SUBSCRIBX\r\n\r\n";
    let Outcome::Complete(r) = scan(resp) else {
        panic!("response")
    };
    assert_eq!(r.method, method::OTHER);
}
