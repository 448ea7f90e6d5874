//! The scanner and the reference agree: on every fuzz seed (RFC 4475 in
//! spirit, and the messages of agent-common's scan corpus), on each seed cut
//! short at every length, and on hand-picked cases whose answer is written
//! down here from RFC 3261.

use std::path::Path;

use agent_common::sip::{Outcome, Scan, hash::call_id_hash, method};
use sipref::{Divergence, compare, compare_with, reference};

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/scanner");
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("seed entry").path();
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&path).expect("read seed"))
        })
        .collect();
    seeds.sort();
    assert!(
        seeds.len() >= 60,
        "only {} seeds in {}",
        seeds.len(),
        dir.display()
    );
    seeds
}

fn agree(name: &str, msg: &[u8]) -> Outcome {
    match compare(msg) {
        Ok(outcome) => outcome,
        Err(d) => panic!("{name}: {d:?} on b\"{}\"", msg.escape_ascii()),
    }
}

#[test]
fn the_strict_reference_agrees_on_every_seed() {
    let mut complete = 0;
    for (name, msg) in seeds() {
        if matches!(agree(&name, &msg), Outcome::Complete(_)) {
            complete += 1;
        }
    }
    // Most torture messages are pairable: the scanner reads only what it needs.
    assert!(complete >= 50, "only {complete} seeds complete");
}

#[test]
fn every_truncation_of_every_seed_agrees() {
    for (name, msg) in seeds() {
        for n in 0..=msg.len().min(1200) {
            agree(&format!("{name}[..{n}]"), &msg[..n]);
        }
    }
}

#[test]
fn the_seeds_give_what_rfc_4475_expects() {
    let by_name: std::collections::HashMap<String, Vec<u8>> = seeds().into_iter().collect();
    let outcome = |name: &str| reference(&by_name[name]);
    let complete = |name: &str, call_id: &str, cseq: u32, m: u8, status: u16| {
        assert_eq!(
            outcome(name),
            Outcome::Complete(Scan {
                call_hash: call_id_hash(call_id.as_bytes()),
                cseq,
                status,
                method: m,
                is_response: status != 0,
            }),
            "{name}"
        );
    };
    complete(
        "4475-wsinv",
        "wsinv.7734hq@192.0.2.33",
        21,
        method::INVITE,
        0,
    );
    complete("4475-esc01", "esc01.2398fjq039", 88, method::INVITE, 0);
    complete("4475-esc02", "esc02.uo3n4", 711, method::OTHER, 0);
    complete(
        "4475-noreason",
        "noreason.asndj203insdf99223ndf",
        35,
        method::INVITE,
        100,
    );
    complete(
        "4475-noreason-nosp",
        "noreason-nosp.a8",
        2,
        method::INVITE,
        180,
    );
    complete("4475-dblreq", "dblreq.0ha0isn", 8, method::REGISTER, 0);
    // The first Call-ID and CSeq win; the scanner stops before the repeats.
    complete(
        "4475-multi01",
        "multi01.98asdh@192.0.2.1",
        5,
        method::INVITE,
        0,
    );
    // The Request-URI is not read.
    complete(
        "4475-lwsstart",
        "lwsstart.dfknq234oi243099adsdfnawe3@example.net",
        1_893_884,
        method::INVITE,
        0,
    );
    complete(
        "4475-cseq-max",
        "cseq-max.a",
        2_147_483_647,
        method::INVITE,
        0,
    );
    for name in ["4475-badvers", "4475-bigcode", "corpus-refused-00"] {
        assert_eq!(outcome(name), Outcome::NotSip, "{name}");
    }
    for name in [
        "4475-scalar02",
        "4475-scalarlg",
        "4475-mismatch01",
        "4475-mismatch02",
        "4475-insuf",
        "4475-cseq-2p31",
    ] {
        assert_eq!(outcome(name), Outcome::Malformed, "{name}");
    }
}

/// Hand-picked cases: (name, bytes, what RFC 3261 and the scanner's rules
/// say). Both sides must give exactly this.
#[test]
#[expect(clippy::too_many_lines, reason = "one table of cases")]
fn known_cases() {
    let ok = |call_id: &str, cseq: u32, m: u8, status: u16| {
        Outcome::Complete(Scan {
            call_hash: call_id_hash(call_id.as_bytes()),
            cseq,
            status,
            method: m,
            is_response: status != 0,
        })
    };
    let cases: &[(&str, &[u8], Outcome)] = &[
        (
            "plain INVITE",
            b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a@h\r\nCSeq: 1 INVITE\r\n\r\n",
            ok("a@h", 1, method::INVITE, 0),
        ),
        (
            "fold between name and colon",
            b"BYE sip:b@x SIP/2.0\nCall-ID\n  : a@h\nCSeq\t:\t7\n BYE\n\n",
            ok("a@h", 7, method::BYE, 0),
        ),
        (
            "whitespace inside a folded Call-ID is skipped",
            b"SIP/2.0 200 OK\r\ni: a\r\n @h\r\nCSeq: 3 REGISTER\r\n\r\n",
            ok("a@h", 3, method::REGISTER, 200),
        ),
        (
            "garbage after both keys is never read",
            b"SIP/2.0 486 Busy\ncseq: 9 INVITE\nCALL-ID: z\n\x00\xff no colon at all",
            ok("z", 9, method::INVITE, 486),
        ),
        (
            "leading zeros and trailing whitespace in CSeq",
            b"OPTIONS sip:x SIP/2.0\nCall-ID: o\nCSeq: 000000000042 OPTIONS \t \n\n",
            ok("o", 42, method::OPTIONS, 0),
        ),
        (
            "unknown method, compared whole",
            b"SUBSCRIBX sip:x SIP/2.0\nCall-ID: o\nCSeq: 1 SUBSCRIBX\n\n",
            ok("o", 1, method::OTHER, 0),
        ),
        (
            "HTTP",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            Outcome::NotSip,
        ),
        (
            "CRLF before the start line (a datagram starts with it)",
            b"\r\nINVITE sip:b@x SIP/2.0\r\n",
            Outcome::NotSip,
        ),
        (
            "33-byte method",
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG sip:x SIP/2.0\r\n",
            Outcome::NotSip,
        ),
        (
            "status 0xx",
            b"SIP/2.0 099 Low\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\n\r\n",
            Outcome::NotSip,
        ),
        (
            "tab between version and code",
            b"SIP/2.0\t200 OK\r\n",
            Outcome::NotSip,
        ),
        (
            "CSeq method of another case",
            b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 invite\r\n\r\n",
            Outcome::Malformed,
        ),
        (
            "CSeq without space before the method",
            b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1INVITE\r\n\r\n",
            Outcome::Malformed,
        ),
        (
            "CSeq method with a parameter",
            b"SIP/2.0 200 OK\r\nCall-ID: a\r\nCSeq: 1 INVITE;x\r\n\r\n",
            Outcome::Malformed,
        ),
        (
            "CSeq folded onto a new field",
            b"SIP/2.0 200 OK\r\nCall-ID: a\r\nCSeq: 1\r\nINVITE\r\n\r\n",
            Outcome::Malformed,
        ),
        (
            "empty Call-ID, folded",
            b"SIP/2.0 200 OK\r\nCall-ID:\r\n \r\nCSeq: 1 INVITE\r\n\r\n",
            Outcome::Malformed,
        ),
        (
            "a bad CSeq is refused before the line ends",
            b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE x",
            Outcome::Malformed,
        ),
        (
            "the last key may still be folded",
            b"SIP/2.0 200 OK\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\n",
            Outcome::Truncated,
        ),
        ("status code not ended", b"SIP/2.0 700", Outcome::Truncated),
        (
            "CSeq method not ended",
            b"BYE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 BY",
            Outcome::Truncated,
        ),
        (
            "CR of the last line end cut off",
            b"SIP/2.0 200 OK\r\nCall-ID: a\r\nCSeq: 1 INVITE\r",
            Outcome::Truncated,
        ),
        ("nothing", b"", Outcome::Truncated),
        // Found by fuzzing, once the scanner's (RFC 3261 25.1: CR only in
        // CRLF; 7.1: a Request-URI and an exact version; 7.3.1: only
        // header fields fold).
        (
            "a stray CR in the CSeq number",
            b"SIP/2.0 200 OK\ni: a\nCSeq: 1\r2 BYE\n\n",
            Outcome::Malformed,
        ),
        (
            "a stray CR in a header name",
            b"SIP/2.0 200 OK\nCall-ID\r: a\nCSeq: 1 BYE\n\n",
            Outcome::Malformed,
        ),
        (
            "no Request-URI",
            b"ACK SIP/2.0\ni: a\nCSeq: 1 ACK\n\n",
            Outcome::NotSip,
        ),
        (
            "a control byte for the version's slash",
            b"ACK x SIP\x0f2.0\ni: a\nCSeq: 1 ACK\n\n",
            Outcome::NotSip,
        ),
        (
            "a NUL for the space before the version",
            b"ACK x\x00SIP/2.0\ni: a\nCSeq: 1 ACK\n\n",
            Outcome::NotSip,
        ),
        (
            "a folded start line",
            b"SIP/2.0 200 OK\n x\ni: a\nCSeq: 1 BYE\n\n",
            Outcome::Malformed,
        ),
    ];
    for (name, msg, want) in cases {
        let got = agree(name, msg);
        assert_eq!(got, *want, "{name}");
    }
}

#[test]
fn a_divergence_is_reported_not_skipped() {
    // The comparison itself: a reference that disagrees must be caught.
    let msg = b"INVITE sip:x SIP/2.0\nCall-ID: a\nCSeq: 1 INVITE\n\n";
    assert!(compare(msg).is_ok());
    assert!(matches!(
        compare_with(msg, |_| Outcome::NotSip),
        Err(Divergence::Reference { .. })
    ));
}

#[test]
fn the_framed_scan_agrees_on_every_seed_and_stream() {
    use sipref::framing::compare_framed;
    for (name, msg) in seeds() {
        for cut in [0, 1, msg.len() / 3, msg.len()] {
            if let Err(e) = compare_framed(&msg, cut) {
                panic!("{name} cut {cut}: {e}");
            }
        }
    }
    let stream = b"\r\nINVITE sip:x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\nl: 4\r\n\r\nbody";
    let f = compare_framed(stream, 20).expect("stream");
    assert_eq!((f.stop, f.body_len), (Some(stream.len() - 4), 4));
    // A bad length is refused, not framed.
    let bad = b"BYE sip:x SIP/2.0\r\nCall-ID: a\r\nCSeq: 1 BYE\r\nContent-Length: 1x\r\n\r\n";
    assert_eq!(
        compare_framed(bad, 3).expect("bad").outcome,
        Outcome::Malformed
    );
}
