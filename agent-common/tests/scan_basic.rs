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

/// Cut a stream into messages as the kernel does on TCP: a framed scan to
/// the end of the headers, then the body skipped by its length.
fn frames(stream: &[u8]) -> Vec<(Outcome, usize)> {
    use agent_common::sip::scan::HEADERS_END;
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < stream.len() {
        let mut s = Scanner::framed();
        let mut end = None;
        for (i, &b) in stream[pos..].iter().enumerate() {
            let step = s.feed(b);
            if step == HEADERS_END {
                end = Some(pos + i + 1 + s.body_len() as usize);
                break;
            }
            if step != agent_common::sip::scan::CONTINUE {
                break;
            }
        }
        out.push((s.outcome(), end.unwrap_or(stream.len())));
        match end {
            Some(e) => pos = e,
            None => break,
        }
    }
    out
}

#[test]
fn a_framed_scan_finds_every_message_of_a_stream() {
    let body = "SIP/2.0 200 OK\r\nCall-ID: decoy\r\nCSeq: 9 INVITE\r\n\r\n";
    let notify = format!(
        "NOTIFY sip:a SIP/2.0\r\nCall-ID: n1\r\nCSeq: 3 NOTIFY\r\nContent-Type: message/sipfrag\r\nl: {}\r\n\r\n{body}",
        body.len()
    );
    let stream = format!(
        "\r\n\r\nSIP/2.0 180 Ringing\r\ni: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n{notify}SIP/2.0 486 Busy Here\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length:  0 \r\n\r\n"
    );
    let got = frames(stream.as_bytes());
    let scans: Vec<_> = got
        .iter()
        .map(|(o, _)| match o {
            Outcome::Complete(s) => (s.status, s.cseq, s.method),
            other => panic!("{other:?}"),
        })
        .collect();
    // The sipfrag body's decoy 200 is skipped, not read as a response.
    assert_eq!(
        scans,
        [
            (180, 1, method::INVITE),
            (0, 3, method::NOTIFY),
            (486, 1, method::INVITE)
        ]
    );
    assert_eq!(got.last().map(|g| g.1), Some(stream.len()));
}

#[test]
fn a_framed_scan_skips_an_unpairable_message_and_refuses_a_bad_length() {
    let stream = "OPTIONS sip:a SIP/2.0\r\nContent-Length: 4\r\n\r\nbodyBYE sip:a SIP/2.0\r\nCall-ID: b\r\nCSeq: 2 BYE\r\n\r\n";
    let got = frames(stream.as_bytes());
    assert_eq!(got[0].0, Outcome::Malformed);
    assert!(matches!(got[1].0, Outcome::Complete(s) if s.method == method::BYE));
    for bad in ["-1", "x", "99999999999", ""] {
        let msg = format!(
            "BYE sip:a SIP/2.0\r\nCall-ID: b\r\nCSeq: 2 BYE\r\nContent-Length: {bad}\r\n\r\n"
        );
        assert_eq!(frames(msg.as_bytes())[0].0, Outcome::Malformed, "{bad:?}");
        // A datagram's length is the packet's: the same header is ignored.
        assert!(matches!(scan(&msg), Outcome::Complete(_)), "{bad:?}");
    }
}

/// The scan fed a word at a time from `shift` bytes into the first word,
/// as the kernel feeds its buffer.
fn scan_words(msg: &[u8], shift: usize) -> Outcome {
    let mut buf = vec![0u8; shift];
    buf.extend_from_slice(msg);
    let len = buf.len();
    buf.resize(len.next_multiple_of(8) + 8, 0);
    let mut s = Scanner::new();
    for start in (0..len).step_by(8) {
        let word = u64::from_le_bytes(buf[start..start + 8].try_into().expect("8 bytes"));
        let first = u32::try_from(shift.saturating_sub(start)).expect("small");
        let end = u32::try_from((len - start).min(8)).expect("small");
        if s.feed_word(word, first, end).0 != agent_common::sip::scan::CONTINUE {
            break;
        }
    }
    s.outcome()
}

#[test]
fn feeding_words_gives_the_same_scan() {
    let long = format!(
        "INVITE sip:bob@198.18.0.1;transport=udp SIP/2.0\r\n{}Call-ID: abc@host\r\nCSeq: 1 INVITE\r\n\r\n",
        "Via: SIP/2.0/UDP 198.18.0.9:5060;branch=z9hG4bK-0123456789abcdef\r\n".repeat(10)
    );
    for msg in [
        long.as_str(),
        "SIP/2.0 200 A very long reason phrase indeed\r\ni: a\r\nCSeq: 1 BYE\r\n\r\n",
        "ACK x SIP\x0f2.0\r\ni: a\r\nCSeq: 1 ACK\r\n\r\n",
        "ACK sip:abcdefgh SIP/2.0\r\ni: a\r\nCSeq: 1 ACK\r\n\r\n",
        "ACK sip:abcdefghSIP/2.0\r\ni: a\r\nCSeq: 1 ACK\r\n\r\n",
        "SIP/2.0 200 OK\r\nX-Long: aaaaaaaa\raaaaaaaaaaa\r\ni: a\r\nCSeq: 1 BYE\r\n\r\n",
        "SIP/2.0 200 OK\r\nX-Vt: a\n\x0b\x0bbbbbbbbbbb\r\ni: a\r\nCSeq: 1 BYE\r\n\r\n",
    ] {
        for shift in 0..8 {
            assert_eq!(
                scan_words(msg.as_bytes(), shift),
                scan(msg),
                "{shift} {msg:?}"
            );
        }
    }
}

#[test]
fn a_value_nobody_reads_goes_by_the_word() {
    let after = |text: &[u8]| {
        let mut s = Scanner::new();
        s.feed_all(text);
        s
    };
    assert!(after(b"SIP/2.0 200 OK\r\nVia: ").skipping());
    // A reason phrase too.
    assert!(after(b"SIP/2.0 200 O").skipping());
    // A header that is not a key is skipped from its second byte on.
    assert!(after(b"SIP/2.0 200 OK\r\nV").skipping());
    // Call-ID's value is read, never skipped; nor a header name that may be one.
    assert!(!after(b"SIP/2.0 200 OK\r\nCall-ID: ").skipping());
    assert!(!after(b"SIP/2.0 200 OK\r\nC").skipping());
    // A CR waits for its LF.
    assert!(!after(b"SIP/2.0 200 OK\r\nVia: a\r").skipping());
    // Up to the line end, not past it: the next line's name is read.
    let mut s = after(b"SIP/2.0 200 OK\r\nVia: ");
    let (step, _) = s.feed_word(u64::from_le_bytes(*b"UDP x\r\nC"), 0, 8);
    assert_eq!(step, agent_common::sip::scan::CONTINUE);
    assert!(!s.skipping());
}

#[test]
fn a_part_feeds_at_most_part_bytes_one_by_one() {
    use agent_common::sip::scan::{CONTINUE, PART_BYTES};
    let start = b"SIP/2.0 200 OK\r\nC";
    let word = u64::from_le_bytes(*b"Call-ID:");
    let mut parts = Scanner::new();
    parts.feed_all(start);
    // A name that may be Call-ID's is read byte by byte, so the kernel's step stops after
    // PART_BYTES of it and the next one resumes there.
    let (step, k) = parts.feed_part(word, 1, 8);
    assert_eq!((step, k), (CONTINUE, 1 + PART_BYTES));
    let (step, k) = parts.feed_part(word, k, 8);
    assert_eq!((step, k), (CONTINUE, 8));
    let mut bytes = Scanner::new();
    bytes.feed_all(start);
    bytes.feed_all(b"all-ID:");
    // Both go on to the same scan: the value, then the rest of the message.
    let rest = b" abc\r\nCSeq: 1 INVITE\r\n\r\n";
    parts.feed_all(rest);
    bytes.feed_all(rest);
    assert_eq!(parts.outcome(), bytes.outcome());
    assert!(matches!(parts.outcome(), Outcome::Complete(_)));
}
