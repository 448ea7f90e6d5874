//! A load generator for the kernel program and the agent: SIP request /
//! response pairs over UDP, each pair one transaction with its own Call-ID,
//! or non-SIP datagrams echoed the same way.
//!
//! A client sends requests paced to a rate ([`pace`]) in `sendmmsg` batches
//! (or keeps a fixed number of round trips outstanding, a closed loop); a
//! [`responder`] answers each with `recvmmsg`/`sendmmsg`, patching the
//! request's id into a response template, so answering costs a copy, not a
//! parse. Every run is bounded in count and in time.

pub mod client;
pub mod mmsg;
pub mod pace;
pub mod payload;
pub mod responder;

pub use client::{ClosedLoop, ClosedReport, OpenLoop, OpenReport};
pub use payload::Kind;
pub use responder::Responder;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("socket {what}")]
    Socket {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not a rate: a number of messages per second above zero, or `max`")]
    Rate(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Requests in flight per sendmmsg/recvmmsg call.
pub const BATCH: usize = 64;
