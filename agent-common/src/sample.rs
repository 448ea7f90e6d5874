//! The latency sample the kernel pushes through the `SAMPLES` ring buffer.

/// A request arrived and its response left: time to answer.
pub const KIND_RESPONSE: u8 = 0;
/// A request arrived and the same request left: time to relay.
pub const KIND_RELAY_REQUEST: u8 = 1;
/// A response arrived and the same response left: time to relay it back.
pub const KIND_RELAY_RESPONSE: u8 = 2;
/// A request arrived, was relayed, and its final response left: the whole
/// transaction as the caller sees it from this proxy, next hops and callee
/// (ringing, answering) included. Not the proxy's own work: kept out of
/// `KIND_RESPONSE` so that a P99 over the proxy's kinds holds no ringing time.
pub const KIND_ROUND_TRIP: u8 = 3;
pub const KIND_COUNT: usize = 4;

/// Label values for `kind`, indexed by `KIND_*`.
pub const KIND_NAMES: [&str; KIND_COUNT] =
    ["response", "relay_request", "relay_response", "round_trip"];

/// The kinds that time the proxy's own work (every kind but `round_trip`):
/// what a latency target for scaling the proxies should be set on.
pub const PROXY_KINDS: [u8; 3] = [KIND_RESPONSE, KIND_RELAY_REQUEST, KIND_RELAY_RESPONSE];

/// One paired message. Addresses are those of the second (leaving) packet,
/// IPv4 as v4-mapped IPv6. `call_hash` identifies the call without carrying
/// the Call-ID itself.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// `bpf_ktime_get_ns()` of the leaving packet.
    pub ts_ns: u64,
    pub latency_ns: u64,
    pub call_hash: u64,
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    pub cseq: u32,
    /// Interface the second packet left by.
    pub ifindex: u32,
    /// Interface the first packet arrived on.
    pub first_ifindex: u32,
    /// Status code; 0 for `KIND_RELAY_REQUEST`.
    pub status: u16,
    pub sport: u16,
    pub dport: u16,
    pub kind: u8,
    pub method: u8,
    /// 4 or 6.
    pub family: u8,
    /// `IPPROTO_UDP` or `IPPROTO_TCP`.
    pub proto: u8,
    pub _pad: [u8; 2],
}

const _: () = assert!(size_of::<Sample>() == 80);

#[cfg(feature = "user")]
// SAFETY: repr(C), integers and byte arrays, padding made explicit.
unsafe impl aya::Pod for Sample {}
