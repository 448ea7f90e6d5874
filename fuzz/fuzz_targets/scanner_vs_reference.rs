//! The shared SIP scanner against the plain reference parser (`sipref`),
//! and against itself fed in two pieces: any disagreement is a crash.
//! Known, reported scanner bugs are tolerated only by their named flags in
//! `sipref::Tolerate::KNOWN_SCANNER_BUGS`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(divergence) = sipref::compare(data, sipref::Tolerate::KNOWN_SCANNER_BUGS) {
        panic!("{divergence:?} on b\"{}\"", data.escape_ascii());
    }
});
