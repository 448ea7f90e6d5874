//! Keys and values of the `PENDING` LRU map: what the kernel remembers about a
//! message until its answer or relayed copy leaves.

use crate::sample::{KIND_RESPONSE, KIND_ROUND_TRIP};

/// `PendingKey::kind`: a request that arrived, waiting for its response or
/// relayed copy.
pub const KEY_REQUEST: u8 = 1;
/// `PendingKey::kind`: a response that arrived, waiting for its relayed copy.
pub const KEY_RESPONSE: u8 = 2;

/// Transaction key: (hash of Call-ID, `CSeq` number, `CSeq` method) within one
/// pairing scope. Responses waiting to be relayed also carry their status so
/// that a 180 and a 200 of one transaction are separate entries.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PendingKey {
    pub call_hash: u64,
    pub cseq: u32,
    pub scope: u32,
    /// 0 for `KEY_REQUEST`.
    pub status: u16,
    pub method: u8,
    pub kind: u8,
    pub _pad: u32,
}

const _: () = assert!(size_of::<PendingKey>() == 24);

/// `PendingTxn::flags`: the request has been relayed once already; from
/// then on its answers are the next hop's (see [`answer_kind`]).
pub const TXN_RELAYED: u32 = 1;
/// `PendingTxn::flags` bits 8..14: status classes (1xx..6xx) already answered,
/// so a retransmitted or second provisional response gives no second sample.
pub const TXN_CLASS_SHIFT: u32 = 8;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PendingTxn {
    /// `bpf_ktime_get_ns()` when the message first arrived.
    pub ts_ns: u64,
    pub ifindex: u32,
    pub flags: u32,
    /// Times the message arrived again while pending.
    pub retransmissions: u32,
    pub _pad: u32,
}

const _: () = assert!(size_of::<PendingTxn>() == 24);

#[inline(always)]
#[must_use]
pub const fn class_bit(status: u16) -> u32 {
    let class = status / 100;
    if class >= 1 && class <= 6 {
        1 << (TXN_CLASS_SHIFT + class as u32)
    } else {
        0
    }
}

/// What a response leaving the proxy makes of its request's pending entry:
/// the sample kind to emit, if any, and the entry's new flags.
///
/// The rule: a response is the proxy's own answer (`KIND_RESPONSE`, once per
/// status class) only while the request has not been relayed and the
/// response was not seen arriving (`response_relayed`: it paired as
/// `relay_response`). Otherwise the answer came from downstream: the final
/// one gives `KIND_ROUND_TRIP`, provisional ones nothing (their relay is
/// timed as `relay_response`). A final response retires the entry in both
/// cases, so each transaction gives at most one final sample.
#[inline(always)]
#[must_use]
pub const fn answer_kind(flags: u32, status: u16, response_relayed: bool) -> (Option<u8>, u32) {
    if response_relayed || flags & TXN_RELAYED != 0 {
        let kind = if status >= 200 {
            Some(KIND_ROUND_TRIP)
        } else {
            None
        };
        return (kind, flags);
    }
    let bit = class_bit(status);
    if flags & bit == 0 {
        (Some(KIND_RESPONSE), flags | bit)
    } else {
        (None, flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRESH: u32 = 0;

    #[test]
    fn own_answers_are_responses_once_per_class() {
        let (kind, flags) = answer_kind(FRESH, 100, false);
        assert_eq!(kind, Some(KIND_RESPONSE));
        // A retransmitted 100 gives no second sample.
        assert_eq!(answer_kind(flags, 100, false), (None, flags));
        // The proxy's own 407 after its own 100: a second class.
        assert_eq!(answer_kind(flags, 407, false).0, Some(KIND_RESPONSE));
    }

    #[test]
    fn trying_before_the_relay_is_a_response_and_the_relayed_200_a_round_trip() {
        let (kind, flags) = answer_kind(FRESH, 100, false);
        assert_eq!(kind, Some(KIND_RESPONSE));
        let flags = flags | TXN_RELAYED;
        // The callee's 180 and 200, relayed back: never `response`.
        assert_eq!(answer_kind(flags, 180, true), (None, flags));
        assert_eq!(answer_kind(flags, 200, true).0, Some(KIND_ROUND_TRIP));
    }

    #[test]
    fn a_final_answer_after_the_relay_is_a_round_trip_even_if_generated() {
        // E.g. the proxy's 408 when the next hop never answered.
        assert_eq!(
            answer_kind(TXN_RELAYED, 408, false).0,
            Some(KIND_ROUND_TRIP)
        );
        // And a provisional one after the relay gives nothing.
        assert_eq!(answer_kind(TXN_RELAYED, 100, false).0, None);
    }

    #[test]
    fn a_response_seen_arriving_is_never_a_response() {
        // The relay of the request was missed, the response's arrival was not.
        assert_eq!(answer_kind(FRESH, 183, true), (None, FRESH));
        assert_eq!(answer_kind(FRESH, 486, true).0, Some(KIND_ROUND_TRIP));
    }
}

#[cfg(feature = "user")]
mod user {
    // SAFETY: repr(C), integers only, padding made explicit.
    unsafe impl aya::Pod for super::PendingKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::PendingTxn {}
}
