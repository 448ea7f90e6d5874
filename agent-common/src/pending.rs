//! Keys and values of the `PENDING` LRU map: what the kernel remembers about a
//! message until its answer or relayed copy leaves.

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

/// `PendingTxn::flags`: the request has been relayed once already.
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

#[cfg(feature = "user")]
mod user {
    // SAFETY: repr(C), integers only, padding made explicit.
    unsafe impl aya::Pod for super::PendingKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::PendingTxn {}
}
