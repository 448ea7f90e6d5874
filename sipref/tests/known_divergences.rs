//! Scanner bugs found by the reference (RFC 3261 is on the reference's
//! side), each minimized and tolerated by its named flag in
//! `sipref::Tolerate::KNOWN_SCANNER_BUGS`. These tests fail once the
//! scanner is fixed: then remove the flag (and this case) so the fuzz target
//! checks the rule strictly again.

use agent_common::sip::Outcome;
use sipref::{Tolerate, reference, reference_with, scanner};

struct Known {
    flag: &'static str,
    input: &'static [u8],
    scanner: Outcome,
    rfc: Outcome,
}

fn tolerate_only(flag: &str) -> Tolerate {
    let mut t = Tolerate::NONE;
    match flag {
        "stray_cr_dropped" => t.stray_cr_dropped = true,
        "version_tail_folded" => t.version_tail_folded = true,
        "start_line_fold_skipped" => t.start_line_fold_skipped = true,
        _ => panic!("no flag {flag}"),
    }
    assert!(
        {
            let k = Tolerate::KNOWN_SCANNER_BUGS;
            (!t.stray_cr_dropped || k.stray_cr_dropped)
                && (!t.version_tail_folded || k.version_tail_folded)
                && (!t.start_line_fold_skipped || k.start_line_fold_skipped)
        },
        "{flag} is not in KNOWN_SCANNER_BUGS"
    );
    t
}

const KNOWN: &[Known] = &[
    Known {
        // RFC 3261 20.16: CSeq = 1*DIGIT LWS Method; a CR is no digit.
        flag: "stray_cr_dropped",
        input: b"SIP/2.0 200 OK\ni: a\nCSeq: 1\r2 BYE\n\n",
        scanner: Outcome::Complete(agent_common::sip::Scan {
            call_hash: agent_common::sip::hash::fnv1a(b"a"),
            cseq: 12,
            status: 200,
            method: agent_common::sip::method::BYE,
            is_response: true,
        }),
        rfc: Outcome::Malformed,
    },
    Known {
        // RFC 3261 7.1: Request-Line = Method SP Request-URI SP SIP-Version.
        flag: "version_tail_folded",
        input: b"ACK SIP/2.0\ni: a\nCSeq: 1 ACK\n\n",
        scanner: Outcome::Complete(agent_common::sip::Scan {
            call_hash: agent_common::sip::hash::fnv1a(b"a"),
            cseq: 1,
            status: 0,
            method: agent_common::sip::method::ACK,
            is_response: false,
        }),
        rfc: Outcome::NotSip,
    },
    Known {
        // RFC 3261 7.1: SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT.
        flag: "version_tail_folded",
        input: b"ACK x SIP\x0f2.0\ni: a\nCSeq: 1 ACK\n\n",
        scanner: Outcome::Complete(agent_common::sip::Scan {
            call_hash: agent_common::sip::hash::fnv1a(b"a"),
            cseq: 1,
            status: 0,
            method: agent_common::sip::method::ACK,
            is_response: false,
        }),
        rfc: Outcome::NotSip,
    },
    Known {
        // RFC 3261 7.3.1: only header fields fold; a message-header starts
        // with a field-name.
        flag: "start_line_fold_skipped",
        input: b"SIP/2.0 200 OK\n x\ni: a\nCSeq: 1 BYE\n\n",
        scanner: Outcome::Complete(agent_common::sip::Scan {
            call_hash: agent_common::sip::hash::fnv1a(b"a"),
            cseq: 1,
            status: 200,
            method: agent_common::sip::method::BYE,
            is_response: true,
        }),
        rfc: Outcome::Malformed,
    },
];

#[test]
fn each_known_scanner_bug_still_diverges_and_only_its_flag_covers_it() {
    for k in KNOWN {
        let shown = k.input.escape_ascii().to_string();
        assert_eq!(
            reference(k.input),
            k.rfc,
            "{}: strict reference on b\"{shown}\"",
            k.flag
        );
        assert_eq!(
            scanner(k.input),
            k.scanner,
            "{}: the scanner changed on b\"{shown}\": if it is fixed, remove Tolerate::{} and this case",
            k.flag,
            k.flag
        );
        assert_eq!(
            reference_with(k.input, tolerate_only(k.flag)),
            k.scanner,
            "{}: the flag does not cover b\"{shown}\"",
            k.flag
        );
    }
}
