//! The shared scanner against a corpus in the spirit of RFC 4475 (SIP torture
//! tests): odd case, compact forms, folded lines, whitespace where the grammar
//! allows it, long Via chains, decoy headers, and messages it must refuse.
//! The messages are written for siplat; expectations come from RFC 3261.

use std::fmt::Write as _;

use agent_common::sip::{Outcome, Scanner, hash::call_id_hash, method};

fn scan(msg: &[u8]) -> Outcome {
    let mut s = Scanner::new();
    s.feed_all(msg);
    s.outcome()
}

/// Expected result of a message the scanner must accept.
struct Want {
    call_id: &'static str,
    cseq: u32,
    method: u8,
    status: u16,
}

fn complete(name: &str, msg: &[u8], want: &Want) {
    let got = scan(msg);
    let Outcome::Complete(s) = got else {
        panic!("{name}: want complete, got {got:?}")
    };
    assert_eq!(
        s.call_hash,
        call_id_hash(want.call_id.as_bytes()),
        "{name}: Call-ID"
    );
    assert_eq!(s.cseq, want.cseq, "{name}: CSeq number");
    assert_eq!(s.method, want.method, "{name}: method");
    assert_eq!(s.status, want.status, "{name}: status");
    assert_eq!(s.is_response, want.status != 0, "{name}: response flag");
}

/// A tortuous but valid INVITE (RFC 4475 3.1.1.1 in spirit): mixed case,
/// compact and long forms, whitespace around colons, folded values.
const TORTUOUS_INVITE: &str = "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n\
TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n\
from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8\r\n\
MaX-fOrWaRdS: 0068\r\n\
Call-ID\r\n : 0ha0isndaksdj@192.0.2.1\r\n\
Content-Length   : 150\r\n\
cseq: 0009\r\n  INVITE\r\n\
Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw\r\n\
s :\r\n\
NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n\
v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239\r\n\
m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33\r\n\
\r\n\
v=0\r\n";

#[test]
fn tortuous_invite_with_folding_before_the_colon_and_in_cseq() {
    // "Call-ID\r\n : value": the name is folded away from its colon.
    complete(
        "tortuous",
        TORTUOUS_INVITE.as_bytes(),
        &Want {
            call_id: "0ha0isndaksdj@192.0.2.1",
            cseq: 9,
            method: method::INVITE,
            status: 0,
        },
    );
}

#[test]
fn compact_forms_and_any_case() {
    let cases: &[(&str, &str)] = &[
        ("i:abc@x\r\nCSeq: 1 INVITE\r\n", "compact i, no space"),
        (
            "I  :   abc@x\r\ncseq:1 INVITE\r\n",
            "upper I, spaces before colon",
        ),
        ("CALL-ID: abc@x\r\nCSEQ: 1 INVITE\r\n", "upper long forms"),
        ("cAlL-iD:\tabc@x\r\ncSeQ:\t1\tINVITE\r\n", "odd case, tabs"),
        (
            "CSeq: 1 INVITE\r\nCall-ID: abc@x\r\n",
            "CSeq before Call-ID",
        ),
        (
            "Call-ID: abc@x   \r\nCSeq: 1 INVITE   \r\n",
            "trailing whitespace",
        ),
        (
            "Call-ID:\r\n abc@x\r\nCSeq:\r\n\t1\r\n INVITE\r\n",
            "values folded onto the next line",
        ),
    ];
    for (headers, name) in cases {
        let msg = format!(
            "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n{headers}\r\n"
        );
        complete(
            name,
            msg.as_bytes(),
            &Want {
                call_id: "abc@x",
                cseq: 1,
                method: method::INVITE,
                status: 0,
            },
        );
    }
}

#[test]
fn bare_lf_line_ends() {
    let msg = "SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nCall-ID: lf@x\nCSeq: 7 BYE\n\n";
    complete(
        "bare LF",
        msg.as_bytes(),
        &Want {
            call_id: "lf@x",
            cseq: 7,
            method: method::BYE,
            status: 200,
        },
    );
}

#[test]
fn decoys_are_not_call_id_or_cseq() {
    // Header names that start like ours, and our names inside other values.
    let msg = "INVITE sip:bob@example.com SIP/2.0\r\n\
Subject: Call-ID: fake@decoy\r\n\
Call-Info: <http://example.com/decoy>\r\n\
Identity: \"decoy\"\r\n\
CSeq-Extension: 99 BYE\r\n\
X-Call-ID: fake2@decoy\r\n\
Call ID: fake3@decoy\r\n\
i: real@x\r\n\
CSeq: 4 INVITE\r\n\r\n";
    complete(
        "decoys",
        msg.as_bytes(),
        &Want {
            call_id: "real@x",
            cseq: 4,
            method: method::INVITE,
            status: 0,
        },
    );
}

#[test]
fn first_occurrence_of_a_repeated_header_wins() {
    let msg =
        "INVITE sip:b@x SIP/2.0\r\nCall-ID: first@x\r\nCall-ID: second@x\r\nCSeq: 2 INVITE\r\n\r\n";
    complete(
        "repeated",
        msg.as_bytes(),
        &Want {
            call_id: "first@x",
            cseq: 2,
            method: method::INVITE,
            status: 0,
        },
    );
}

#[test]
fn long_via_chain_before_and_after_the_keys() {
    let vias: String = (0..40).fold(String::new(), |mut s, i| {
        let _ = write!(s, "Via: SIP/2.0/UDP 198.18.0.{i}:5060;branch=z9hG4bK-{i:06}-abcdefghij;received=198.18.1.{i}\r\n");
        s
    });
    assert!(vias.len() > 1400, "a chain longer than one Ethernet frame");
    let before =
        format!("INVITE sip:b@x SIP/2.0\r\n{vias}Call-ID: late@x\r\nCSeq: 3 INVITE\r\n\r\n");
    complete(
        "vias first",
        before.as_bytes(),
        &Want {
            call_id: "late@x",
            cseq: 3,
            method: method::INVITE,
            status: 0,
        },
    );
    let after = format!("SIP/2.0 180 Ringing\r\ni: early@x\r\nCSeq: 3 INVITE\r\n{vias}\r\n");
    complete(
        "vias after",
        after.as_bytes(),
        &Want {
            call_id: "early@x",
            cseq: 3,
            method: method::INVITE,
            status: 180,
        },
    );
}

#[test]
fn methods_and_statuses() {
    for (m, code) in [
        ("REGISTER", method::REGISTER),
        ("OPTIONS", method::OPTIONS),
        ("SUBSCRIBE", method::SUBSCRIBE),
        ("PRACK", method::PRACK),
        ("NEWMETHOD", method::OTHER),
        ("invite", method::OTHER),
    ] {
        let msg = format!("{m} sip:b@x SIP/2.0\r\nCall-ID: m@x\r\nCSeq: 5 {m}\r\n\r\n");
        complete(
            m,
            msg.as_bytes(),
            &Want {
                call_id: "m@x",
                cseq: 5,
                method: code,
                status: 0,
            },
        );
    }
    for status in [100_u16, 183, 299, 401, 407, 486, 503, 606, 699] {
        let msg =
            format!("SIP/2.0 {status} Whatever It Says\r\nCall-ID: s@x\r\nCSeq: 1 INVITE\r\n\r\n");
        complete(
            "status",
            msg.as_bytes(),
            &Want {
                call_id: "s@x",
                cseq: 1,
                method: method::INVITE,
                status,
            },
        );
    }
    // The version is matched without regard to case (RFC 3261 7.1: SIP-Version is case-insensitive).
    complete(
        "lower-case version",
        b"SIP/2.0 200 OK\r\nCall-ID: v@x\r\nCSeq: 1 BYE\r\n\r\n",
        &Want {
            call_id: "v@x",
            cseq: 1,
            method: method::BYE,
            status: 200,
        },
    );
    complete(
        "lower-case request version",
        b"BYE sip:b@x sip/2.0\r\nCall-ID: v@x\r\nCSeq: 1 BYE\r\n\r\n",
        &Want {
            call_id: "v@x",
            cseq: 1,
            method: method::BYE,
            status: 0,
        },
    );
}

#[test]
fn refused_messages() {
    let not_sip: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"INVITE sip:b@x SIP/7.0\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\n\r\n", // RFC 4475 3.1.2.17 (unknown version)
        b"SIP/2.0 99 Too Small\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\n\r\n",
        b"SIP/2.0 700 Too Big\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\n\r\n",
        b"SIP/2.0 2000 Four Digits\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\n\r\n",
        b" INVITE sip:b@x SIP/2.0\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", // a TLS ClientHello on 5060
        b"INV\xc3\x89TE sip:b@x SIP/2.0\r\n\r\n",
    ];
    for msg in not_sip {
        assert_eq!(
            scan(msg),
            Outcome::NotSip,
            "{:?}",
            String::from_utf8_lossy(msg)
        );
    }
    let malformed: &[&[u8]] = &[
        // RFC 4475 3.1.2.3-like: CSeq method does not match the request.
        b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 ACK\r\n\r\n",
        b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\n\r\n",
        b"INVITE sip:b@x SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n",
        b"INVITE sip:b@x SIP/2.0\r\nCall-ID:   \r\nCSeq: 1 INVITE\r\n\r\n",
        // RFC 4475 3.1.2.4-like: CSeq number beyond 2**31 - 1.
        b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCSeq: 36893488147419103232 INVITE\r\n\r\n",
        b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCSeq: 2147483648 INVITE\r\n\r\n",
        b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCSeq: -1 INVITE\r\n\r\n",
        b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 INVITE extra\r\n\r\n",
        b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCSeq: INVITE\r\n\r\n",
        // The body is never read: keys after the blank line do not count.
        b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\n\r\nCSeq: 1 INVITE\r\n",
    ];
    for msg in malformed {
        assert_eq!(
            scan(msg),
            Outcome::Malformed,
            "{:?}",
            String::from_utf8_lossy(msg)
        );
    }
    assert_eq!(
        scan(b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 INV"),
        Outcome::Truncated
    );
    assert_eq!(scan(b""), Outcome::Truncated);
    assert_eq!(scan(b"SIP/2.0 2"), Outcome::Truncated);
}

#[test]
fn the_largest_allowed_cseq() {
    let msg = b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCSeq: 2147483647 INVITE\r\n\r\n";
    complete(
        "cseq max",
        msg,
        &Want {
            call_id: "a",
            cseq: 2_147_483_647,
            method: method::INVITE,
            status: 0,
        },
    );
}
