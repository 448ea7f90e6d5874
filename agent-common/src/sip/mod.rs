//! The one SIP scanner: the kernel feeds it packet bytes, the agent's tests and
//! fuzzers feed it corpora, and both get the same answer.

pub mod hash;
pub mod method;
pub mod scan;

pub use scan::{Outcome, Scan, Scanner, Step};

/// Label value for `status_class`: "1xx".."6xx", or "" when there is none.
#[must_use]
pub const fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        5 => "5xx",
        6 => "6xx",
        _ => "",
    }
}
