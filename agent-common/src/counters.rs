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
    /// Non-first IP fragments: their UDP header is in another packet.
    Fragment = 7,
}

pub const DROP_COUNT: usize = 8;

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
];

/// Bookkeeping of the pending map, so userspace can derive evictions:
/// `evicted = inserted - retired - expired - live`.
pub const PENDING_INSERTED: u32 = 16;
pub const PENDING_RETIRED: u32 = 17;
/// A response left matching neither a pending request nor an arrived copy
/// of itself (e.g. the request came before the agent started, or the proxy
/// originated it). Index 19 is free.
pub const UNPAIRED_RESPONSE: u32 = 18;
/// Packets examined on a watched interface and SIP port.
pub const PACKETS_SEEN: u32 = 20;

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
const _: () = assert!(PACKETS_SEEN < MESSAGES_BASE);
