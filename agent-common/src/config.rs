//! Map names, sizes and the per-interface configuration the agent writes.

/// Words of the kernel's SIP port bitmap (one bit per port).
pub const PORT_BITMAP_WORDS: usize = 1024;

/// The kernel's SIP port bitmap for `ports`.
#[must_use]
pub fn port_bitmap(ports: &[u16]) -> [u64; PORT_BITMAP_WORDS] {
    let mut words = [0u64; PORT_BITMAP_WORDS];
    for &p in ports {
        words[usize::from(p >> 6)] |= 1 << (p & 63);
    }
    words
}

/// Most interfaces one agent watches at once.
pub const IFACES_MAX_ENTRIES: u32 = 1024;

/// Pending transactions (requests waiting for an answer or a relay, responses
/// waiting for a relay). At 1,000 calls/s with ~6 live entries per call for
/// Timer B (32 s) a proxy needs ~200k; entries beyond this are evicted
/// oldest-first and counted.
pub const PENDING_MAX_ENTRIES: u32 = 262_144;

/// Ring buffer for latency samples: 4 MiB holds ~50k samples, more than a
/// second of samples at 10k messages/s if the reader stalls.
pub const SAMPLES_RINGBUF_BYTES: u32 = 4 << 20;

/// The kernel wakes the reader only once this much is waiting; otherwise the
/// reader drains on a timer (`SAMPLES_DRAIN_INTERVAL_MS`). A wakeup per sample
/// costs an `irq_work` + cross-CPU wakeup *inside the proxy's send path*: on a
/// VM that delayed every sampled egress packet by ~20 us.
pub const SAMPLES_WAKEUP_BYTES: u64 = 64 << 10;

/// How often userspace drains the ring buffer without a wakeup; bounds how
/// stale /metrics can be (far below a scrape interval).
pub const SAMPLES_DRAIN_INTERVAL_MS: u64 = 10;

/// Bytes of SIP payload the kernel copies and scans. The scanner stops as soon
/// as it has the start line, `Call-ID` and `CSeq`, so only messages whose two
/// headers sit beyond this offset are lost (counted as truncated).
pub const SCAN_BUF_LEN: usize = 4096;

/// SIP messages read from one TCP segment; more are counted
/// (`segment_overflow`). A 1,448-byte segment holds at most ~4 minimal
/// responses, so this bounds the work without losing real traffic.
pub const SEGMENT_MESSAGES_MAX: u32 = 8;

/// Map names, shared so the agent finds what the kernel program declares.
pub mod maps {
    pub const IFACES: &str = "IFACES";
    /// Not a map: the global the agent sets before loading.
    pub const SIP_PORT_BITMAP: &str = "SIP_PORT_BITMAP";
    pub const PENDING: &str = "PENDING";
    pub const SAMPLES: &str = "SAMPLES";
    pub const COUNTERS: &str = "COUNTERS";
    pub const FRAGS: &str = "FRAGS";
    pub const STREAMS: &str = "STREAMS";
}

/// Program names, as the agent looks them up in the object.
pub mod programs {
    pub const TC_INGRESS: &str = "sip_tc_ingress";
    pub const TC_EGRESS: &str = "sip_tc_egress";
    pub const XDP_INGRESS: &str = "sip_xdp_ingress";
    /// An empty TC program, the benchmark's baseline (never attached by the
    /// agent).
    pub const TC_EMPTY: &str = "sip_tc_empty";
}

/// `IfaceConfig::flags`: this interface is the host side of a pod's veth, so
/// its egress is the pod's ingress and the other way round.
pub const IFACE_MIRRORED: u32 = 1;

/// How the kernel treats packets on one interface. Interfaces without an entry
/// are passed through untouched.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfaceConfig {
    /// Pairing scope: messages only pair within one scope. Inside a proxy's
    /// network namespace every interface shares one scope (the proxy); on the
    /// host side each pod's veth is its own scope.
    pub scope: u32,
    /// `IFACE_*` bits.
    pub flags: u32,
}

const _: () = assert!(size_of::<IfaceConfig>() == 8);

#[cfg(feature = "user")]
// SAFETY: repr(C), plain integers, no padding.
unsafe impl aya::Pod for IfaceConfig {}
