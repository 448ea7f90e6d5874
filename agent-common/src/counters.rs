//! Layout of the per-CPU `COUNTERS` array: every loss and every message the
//! kernel sees is counted here, never only logged.

use crate::sip::method::METHOD_SLOTS;

/// Reasons the kernel lost or refused something. The agent exports each as
/// `siplat_dropped_total{reason}` with the name from [`DROP_REASONS`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drop {
    /// A sample could not be reserved in the ring buffer.
    RingbufFull = 0,
    /// The pending-transaction map refused an insert.
    PendingInsertFailed = 1,
    /// A packet on a SIP port whose payload does not start like SIP.
    NotSip = 2,
    /// A SIP message whose Call-ID or `CSeq` is missing or malformed.
    ParseFailed = 3,
    /// The packet ended before the start line, Call-ID and `CSeq` were all seen.
    Truncated = 4,
    /// Call-ID or `CSeq` sits beyond the scanned prefix (`SCAN_BUF_LEN`).
    TooLong = 5,
    /// Headers the kernel could not read (short L2/L3/L4 header, options).
    BadHeaders = 6,
    /// A fragmented datagram whose scan could not go on: a fragment out of
    /// order, or no room to keep the scan (see `FRAG_*` for every outcome).
    Fragment = 7,
    /// A TCP segment with more SIP messages than one run reads
    /// (`SEGMENT_MESSAGES_MAX`): the rest of it is not paired.
    SegmentOverflow = 8,
    /// A TCP stream whose next bytes were not the ones expected (a segment
    /// we never saw): the message in flight is given up.
    StreamGap = 9,
}

pub const DROP_COUNT: usize = 10;

/// Label values for `siplat_dropped_total{reason}`, indexed by [`Drop`].
/// Userspace adds `pending_evicted` (derived from the bookkeeping below)
/// and `bad_sample`; expiries have their own counter
/// (`siplat_sip_transactions_expired_total`).
pub const DROP_REASONS: [&str; DROP_COUNT] = [
    "ringbuf_full",
    "pending_insert_failed",
    "not_sip",
    "parse_failed",
    "truncated",
    "too_long",
    "bad_headers",
    "fragment",
    "segment_overflow",
    "stream_gap",
];

/// Bookkeeping of the pending map, so userspace can derive evictions:
/// `evicted = inserted - retired - expired - live`.
pub const PENDING_INSERTED: u32 = 16;
pub const PENDING_RETIRED: u32 = 17;
/// A response left matching neither a pending request nor an arrived copy
/// of itself (e.g. the request came before the agent started, or the proxy
/// originated it).
pub const UNPAIRED_RESPONSE: u32 = 18;
/// CRLF keep-alives (RFC 5626): a datagram or segment of line ends only.
pub const KEEPALIVES: u32 = 19;

/// What became of each IP fragment on a SIP flow: `FRAG_BASE + outcome`,
/// label values in [`FRAG_OUTCOMES`].
pub const FRAG_BASE: u32 = 20;
/// A first or middle fragment ended mid-scan; the scan waits for the next.
pub const FRAG_SAVED: u32 = FRAG_BASE;
/// A later fragment carried a waiting scan on.
pub const FRAG_RESUMED: u32 = FRAG_BASE + 1;
/// A later fragment with no scan waiting: it finished in an earlier one.
pub const FRAG_SKIPPED: u32 = FRAG_BASE + 2;
/// A later fragment not at the offset the scan expected (state dropped).
pub const FRAG_OUT_OF_ORDER: u32 = FRAG_BASE + 3;
/// No room in the fragment map to keep a scan.
pub const FRAG_STATE_FULL: u32 = FRAG_BASE + 4;
pub const FRAG_OUTCOMES: [&str; 5] = ["saved", "resumed", "skipped", "out_of_order", "state_full"];

/// What became of each TCP segment that did not start and end on message
/// boundaries: `SEGMENT_BASE + outcome`, labels in [`SEGMENT_OUTCOMES`].
pub const SEGMENT_BASE: u32 = 25;
/// The segment ended inside a message; the stream's state was kept.
pub const SEGMENT_SAVED: u32 = SEGMENT_BASE;
/// The segment went on with a kept state.
pub const SEGMENT_RESUMED: u32 = SEGMENT_BASE + 1;
/// The segment repeats bytes already read (a TCP retransmission).
pub const SEGMENT_RETRANSMITTED: u32 = SEGMENT_BASE + 2;
/// No room in the stream map to keep a state.
pub const SEGMENT_STATE_FULL: u32 = SEGMENT_BASE + 3;
pub const SEGMENT_OUTCOMES: [&str; 4] = ["saved", "resumed", "retransmitted", "state_full"];

/// Messages by direction, type and method: `MESSAGES_BASE + message_index(..)`.
pub const MESSAGES_BASE: u32 = 32;
/// Retransmissions by type and method: `RETRANS_BASE + retrans_index(..)`.
pub const RETRANS_BASE: u32 = MESSAGES_BASE + 4 * METHOD_SLOTS;

pub const COUNTERS_LEN: u32 = RETRANS_BASE + 2 * METHOD_SLOTS;

/// Direction as seen by the proxy (after undoing host-side mirroring).
pub const DIR_IN: u32 = 0;
pub const DIR_OUT: u32 = 1;

#[inline(always)]
#[must_use]
pub const fn message_index(dir: u32, is_response: bool, method: u8) -> u32 {
    MESSAGES_BASE
        + dir * 2 * METHOD_SLOTS
        + (is_response as u32) * METHOD_SLOTS
        + (method as u32 % METHOD_SLOTS)
}

#[inline(always)]
#[must_use]
pub const fn retrans_index(is_response: bool, method: u8) -> u32 {
    RETRANS_BASE + (is_response as u32) * METHOD_SLOTS + (method as u32 % METHOD_SLOTS)
}

const _: () = assert!(DROP_COUNT <= PENDING_INSERTED as usize);
const _: () = assert!(SEGMENT_BASE as usize + SEGMENT_OUTCOMES.len() <= MESSAGES_BASE as usize);
const _: () = assert!(FRAG_BASE as usize + FRAG_OUTCOMES.len() <= SEGMENT_BASE as usize);
const _: () = assert!(KEEPALIVES < FRAG_BASE && UNPAIRED_RESPONSE < KEEPALIVES);
