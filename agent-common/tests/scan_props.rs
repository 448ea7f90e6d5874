//! Property tests of the shared scanner: messages are generated from their
//! parts (so the expected Call-ID hash, `CSeq` and method are known without a
//! second parser), with header order, name case, compact forms, whitespace,
//! folding, line ends and Via chains drawn at random. Arbitrary bytes and
//! every truncation must never produce a wrong answer.

use std::fmt::Write as _;

use agent_common::sip::{Outcome, Scan, Scanner, hash::call_id_hash, method, scan::CONTINUE};
use proptest::prelude::*;

fn scan(msg: &[u8]) -> Outcome {
    let mut s = Scanner::new();
    s.feed_all(msg);
    s.outcome()
}

/// The scan fed as the kernel feeds it: words of eight bytes through
/// `feed_word`, the message `shift` bytes into the first word, garbage
/// after its end.
fn scan_skipping(msg: &[u8], shift: usize) -> Outcome {
    let mut buf = vec![0xa5; shift];
    buf.extend_from_slice(msg);
    let len = buf.len();
    buf.resize(len.next_multiple_of(8) + 8, b'\n');
    let mut s = Scanner::new();
    let mut start = 0;
    while start < len {
        let word = u64::from_le_bytes(buf[start..start + 8].try_into().expect("8 bytes"));
        let first = u32::try_from(shift.saturating_sub(start)).expect("small");
        let end = u32::try_from((len - start).min(8)).expect("small");
        if s.feed_word(word, first, end).0 != CONTINUE {
            break;
        }
        start += 8;
    }
    s.outcome()
}

const METHODS: &[&str] = &[
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "REGISTER",
    "OPTIONS",
    "PRACK",
    "UPDATE",
    "NEWMETHOD",
];

/// One generated message and what the scanner must find in it.
#[derive(Debug, Clone)]
struct Generated {
    bytes: Vec<u8>,
    want: Scan,
    /// Byte offset of the `CSeq` method token.
    cseq_method_at: usize,
}

fn name_case(name: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<bool>(), name.len()).prop_map(move |upper| {
        name.chars()
            .zip(upper)
            .map(|(c, u)| {
                if u {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    })
}

/// Whitespace a header allows around its colon and between value parts:
/// spaces, tabs, or a fold (line end + whitespace).
fn lws(eol: &'static str, allow_empty: bool) -> impl Strategy<Value = String> {
    let min = usize::from(!allow_empty);
    prop_oneof![
        proptest::collection::vec(prop_oneof![Just(" "), Just("\t")], min..4)
            .prop_map(|v| v.concat()),
        prop_oneof![Just(" "), Just("\t"), Just("   ")].prop_map(move |w| format!("{eol}{w}")),
    ]
}

fn call_id_value() -> impl Strategy<Value = String> {
    // RFC 3261 `word`-ish characters, with an optional "@host".
    (
        "[A-Za-z0-9.!%*_+`'~()<>:\\\\\"/\\[\\]?{}-]{1,40}",
        proptest::option::of("[a-z0-9.-]{1,20}"),
    )
        .prop_map(|(w, h)| h.map_or_else(|| w.clone(), |h| format!("{w}@{h}")))
}

fn message() -> impl Strategy<Value = Generated> {
    let eol = prop_oneof![Just("\r\n"), Just("\n")];
    (
        eol,
        any::<bool>(),
        0..METHODS.len(),
        100_u16..700,
        any::<bool>(),
    )
        .prop_flat_map(|(eol, response, m, status, compact)| {
            let call_name = if compact {
                name_case("i").boxed()
            } else {
                name_case("call-id").boxed()
            };
            (
                call_name,
                name_case("cseq"),
                proptest::collection::vec(prop_oneof![Just(" "), Just("\t")], 0..3)
                    .prop_map(|v| v.concat()),
                lws(eol, true),
                call_id_value(),
                0_u32..=0x7fff_ffff,
                lws(eol, true),
                lws(eol, false),
                proptest::collection::vec("[a-z0-9]{1,30}", 0..30),
                0_usize..8,
                any::<bool>(),
                Just((eol, response, m, status)),
            )
        })
        .prop_map(
            |(
                call_name,
                cseq_name,
                before_colon,
                after_colon,
                call_id,
                cseq,
                cseq_lead,
                cseq_gap,
                vias,
                pos,
                body,
                fixed,
            )| {
                let (eol, response, m, status) = fixed;
                let method_name = METHODS[m];
                let start = if response {
                    format!("SIP/2.0 {status} Some Reason{eol}")
                } else {
                    format!("{method_name} sip:user@198.18.0.1;transport=udp SIP/2.0{eol}")
                };
                let mut headers: Vec<String> = vias
                    .iter()
                    .map(|v| format!("Via: SIP/2.0/UDP 198.18.0.9:5060;branch=z9hG4bK{v}{eol}"))
                    .collect();
                headers.push(format!("Max-Forwards: 70{eol}"));
                headers.push(format!("Subject: Call-ID: decoy CSeq: 1 BYE{eol}"));
                let call = format!("{call_name}{before_colon}:{after_colon}{call_id}{eol}");
                let cseq_prefix = format!("{cseq_name}:{cseq_lead}{cseq}{cseq_gap}");
                let cseq_line = format!("{cseq_prefix}{method_name}{eol}");
                let p1 = pos.min(headers.len());
                headers.insert(p1, call);
                let p2 = (pos * 3 + 1) % (headers.len() + 1);
                headers.insert(p2, cseq_line);
                let cseq_method_at = start.len()
                    + headers[..p2].iter().map(String::len).sum::<usize>()
                    + cseq_prefix.len();
                let mut text = start;
                text.extend(headers);
                text.push_str(eol);
                if body {
                    let _ = write!(text, "v=0{eol}Call-ID: in-the-body{eol}");
                }
                Generated {
                    bytes: text.into_bytes(),
                    want: Scan {
                        call_hash: call_id_hash(call_id.as_bytes()),
                        cseq,
                        status: if response { status } else { 0 },
                        method: method::from_token(method_name.as_bytes()),
                        is_response: response,
                    },
                    cseq_method_at,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn generated_messages_scan_to_their_parts(g in message()) {
        prop_assert_eq!(scan(&g.bytes), Outcome::Complete(g.want), "{}", String::from_utf8_lossy(&g.bytes));
    }

    /// A cut-off message is reported as truncated, or (once the keys are
    /// behind the cut) complete with the same answer; never a wrong pair.
    #[test]
    fn every_truncation_is_truncated_or_right(g in message(), cut in any::<prop::sample::Index>()) {
        let n = cut.index(g.bytes.len());
        match scan(&g.bytes[..n]) {
            Outcome::Truncated => {}
            Outcome::Complete(s) => prop_assert_eq!(s, g.want),
            other => prop_assert!(false, "prefix {n} gave {other:?}: {}", String::from_utf8_lossy(&g.bytes[..n])),
        }
    }

    /// Without a matching CSeq method a request never pairs.
    #[test]
    fn a_request_with_another_cseq_method_is_malformed(g in message()) {
        if g.want.is_response || g.want.method == method::ACK {
            return Ok(());
        }
        let name_len = METHODS.iter().find(|m| g.bytes[g.cseq_method_at..].starts_with(m.as_bytes())).expect("method").len();
        let mut mutated = g.bytes[..g.cseq_method_at].to_vec();
        mutated.extend_from_slice(b"ACK");
        mutated.extend_from_slice(&g.bytes[g.cseq_method_at + name_len..]);
        prop_assert_eq!(scan(&mutated), Outcome::Malformed, "{}", String::from_utf8_lossy(&mutated));
    }

    /// The kernel's fast path (eight bytes at a time where the scanner
    /// allows) gives the same scan at every alignment.
    #[test]
    fn skipping_words_changes_nothing(g in message(), shift in 0_usize..8) {
        prop_assert_eq!(scan_skipping(&g.bytes, shift), Outcome::Complete(g.want), "{}", String::from_utf8_lossy(&g.bytes));
    }

    /// Arbitrary bytes: the scanner stops or runs out, never panics, and
    /// only reports a pair if the bytes start like SIP.
    #[test]
    fn arbitrary_bytes_are_handled(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut s = Scanner::new();
        let mut fed = 0;
        for &b in &bytes {
            fed += 1;
            if s.feed(b) != CONTINUE {
                break;
            }
        }
        prop_assert!(fed <= bytes.len());
        if let Outcome::Complete(_) = s.outcome() {
            let head = String::from_utf8_lossy(&bytes[..bytes.len().min(8)]).to_ascii_uppercase();
            prop_assert!(head.starts_with("SIP/2.0 ") || bytes.iter().take(33).any(|b| *b == b' '));
        }
    }
}
