//! The shared SIP scanner against the plain reference parser (`sipref`),
//! and against itself fed in two pieces; the framed (TCP) scan against a
//! plain reading of where headers end and what Content-Length says, and
//! against itself cut anywhere: any disagreement is a crash.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(divergence) = sipref::compare(data) {
        panic!("{divergence:?} on b\"{}\"", data.escape_ascii());
    }
    if let Err(divergence) = sipref::framing::compare_framed(data, sipref::split_point(data)) {
        panic!("framed: {divergence} on b\"{}\"", data.escape_ascii());
    }
});
