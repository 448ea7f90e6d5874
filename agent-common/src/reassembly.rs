//! What the kernel keeps between the pieces of one SIP message: the IP
//! fragments of a datagram and the TCP segments of a stream.
//!
//! The scanner's whole state is a small `Copy` value, so a message cut
//! anywhere resumes where it stopped; nothing is buffered but that value.
//! Both maps are LRU and small: a piece that never comes lets its entry age
//! out instead of pinning memory, and userspace counts what aged out.

use crate::sip::Scanner;

/// A datagram's fragments in flight: RFC 791 / 8200 identify them by
/// addresses, protocol and identification. `scope` keeps the copies seen on
/// two of a host's veths apart.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FragKey {
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    /// IPv4's 16-bit identification widened, or IPv6's 32-bit one.
    pub id: u32,
    pub scope: u32,
    pub proto: u8,
    pub family: u8,
    pub _pad: [u8; 6],
}

const _: () = assert!(size_of::<FragKey>() == 48);

/// A scan that ran out at the end of a fragment.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FragState {
    pub scanner: Scanner,
    /// `bpf_ktime_get_ns()` of the first fragment, for userspace's ageing.
    pub ts_ns: u64,
    /// Offset in the IP payload the next fragment must start at.
    pub next_offset: u32,
    pub sport: u16,
    pub dport: u16,
    /// The scan finished; the entry stays until the last fragment so the
    /// rest are known to be a SIP datagram's and counted as skipped.
    pub done: u8,
    pub _pad: [u8; 7],
}

/// One direction of a TCP connection, within a pairing scope.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StreamKey {
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    pub scope: u32,
    pub sport: u16,
    pub dport: u16,
}

const _: () = assert!(size_of::<StreamKey>() == 40);

/// A stream that stopped inside a message: either inside its headers
/// (`skip == 0`, the scanner goes on) or inside its body (`skip` bytes of it
/// are still to come).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct StreamState {
    pub scanner: Scanner,
    pub ts_ns: u64,
    /// The sequence number the next in-order segment starts at.
    pub next_seq: u32,
    pub skip: u32,
}

const _: () = assert!(size_of::<FragState>() == 96);
const _: () = assert!(size_of::<StreamState>() == 88);

/// Fragmented datagrams followed at once.
pub const FRAGS_MAX_ENTRIES: u32 = 4096;
/// TCP streams stopped inside a message at once.
pub const STREAMS_MAX_ENTRIES: u32 = 16_384;
/// A fragment's siblings arrive within microseconds; one that waits this
/// long is lost (Linux's own reassembly gives up after 30 s, far too long
/// to hold a scan for).
pub const FRAG_TIMEOUT_NS: u64 = 2_000_000_000;

#[cfg(feature = "user")]
mod user {
    // SAFETY: repr(C), integers only, padding made explicit.
    unsafe impl aya::Pod for super::FragKey {}
    // SAFETY: repr(C), integers and the scanner (itself integers only).
    unsafe impl aya::Pod for super::FragState {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::StreamKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::StreamState {}
}
