//! siplat kernel program: pairs SIP messages by Call-ID and `CSeq` at TC (and
//! optionally XDP) and pushes latency samples to a ring buffer.
//!
//! Work per packet is bounded: headers are read at fixed offsets, the SIP
//! scan runs in a `bpf_loop` over at most `SCAN_BUF_LEN` bytes and stops at
//! the first Call-ID and `CSeq` (on TCP, at the end of each message's
//! headers, for at most `SEGMENT_MESSAGES_MAX` messages). A message cut
//! across IP fragments or TCP segments resumes from the scanner's state.
//! Every packet we give up on bumps a counter.
#![no_std]
#![no_main]

mod packet;
mod pairing;
mod reassembly;
mod scan;
mod stats;

use agent_common::{
    config::{
        IFACE_MIRRORED, IFACES_MAX_ENTRIES, IfaceConfig, PENDING_MAX_ENTRIES, PORT_BITMAP_WORDS,
        SAMPLES_RINGBUF_BYTES, SCAN_BUF_LEN,
    },
    counters::{COUNTERS_LEN, Drop},
    pending::{PendingKey, PendingTxn},
    reassembly::{
        FRAGS_MAX_ENTRIES, FragKey, FragState, STREAMS_MAX_ENTRIES, StreamKey, StreamState,
    },
};
use aya_ebpf::{
    bindings::{TC_ACT_UNSPEC, xdp_action},
    helpers::bpf_ktime_get_ns,
    macros::{classifier, map, xdp},
    maps::{HashMap, LruHashMap, PerCpuArray, RingBuf},
    programs::{TcContext, XdpContext},
};

use crate::packet::{Flow, PIECE_LATER, PIECE_WHOLE, Packet, SkbPacket, XdpPacket, is_tcp};

/// Interfaces we watch, by ifindex; the agent fills it as it attaches.
#[map]
static IFACES: HashMap<u32, IfaceConfig> = HashMap::with_max_entries(IFACES_MAX_ENTRIES, 0);

/// SIP ports (source or destination) as bits: port `p` is bit `p % 64` of
/// word `p / 64`. Set by the agent before loading (read-only data).
#[unsafe(no_mangle)]
static SIP_PORT_BITMAP: [u64; PORT_BITMAP_WORDS] = [0; PORT_BITMAP_WORDS];

/// Messages waiting for their answer or relayed copy. LRU so a flood of
/// unanswered requests evicts the oldest instead of blocking new ones.
#[map]
static PENDING: LruHashMap<PendingKey, PendingTxn> =
    LruHashMap::with_max_entries(PENDING_MAX_ENTRIES, 0);

#[map]
static SAMPLES: RingBuf = RingBuf::with_byte_size(SAMPLES_RINGBUF_BYTES, 0);

#[map]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(COUNTERS_LEN, 0);

/// Scans of IP fragments waiting for the next fragment of their datagram.
#[map]
static FRAGS: LruHashMap<FragKey, FragState> = LruHashMap::with_max_entries(FRAGS_MAX_ENTRIES, 0);

/// TCP streams whose last segment ended inside a message.
#[map]
static STREAMS: LruHashMap<StreamKey, StreamState> =
    LruHashMap::with_max_entries(STREAMS_MAX_ENTRIES, 0);

/// Scratch copy of the SIP payload (too big for the 512-byte stack), the
/// scanner's state and what pairing needs to know about the packet. Keeping
/// the state in a map value rather than on the stack makes the verifier
/// treat it as unknown, so it checks the scan callbacks once instead of
/// following every concrete state they could take.
#[repr(C, align(8))]
pub struct ScanBuf {
    pub scanner: agent_common::sip::Scanner,
    pub flow: Flow,
    pub arrived_ns: u64,
    pub scope: u32,
    pub ifindex: u32,
    /// Bytes copied into `data`.
    pub len: u32,
    /// Where the current message's scan starts.
    pub from: u32,
    /// Just after the byte the scan stopped on.
    pub pos: u32,
    /// Where the scan's next step starts.
    pub cursor: u32,
    pub step: u8,
    pub arriving: u8,
    pub _pad: [u8; 6],
    /// Keys and values of the reassembly maps are built here, not on the
    /// 512-byte stack.
    pub frag_key: FragKey,
    pub frag: FragState,
    pub stream_key: StreamKey,
    pub stream: StreamState,
    pub data: [u8; SCAN_BUF_LEN],
}

// Words of `data` are read in place, eight bytes at a time.
const _: () = assert!(core::mem::offset_of!(ScanBuf, data) % 8 == 0);

#[map]
static SCAN_BUF: PerCpuArray<ScanBuf> = PerCpuArray::with_max_entries(1, 0);

/// What both TC hooks return: we only watch, so the packet goes on to the
/// next program (`TCX_NEXT` in a TCX chain, the next filter under clsact) and
/// then to the kernel's default. In a TCX chain any other verdict, even
/// `TC_ACT_PIPE`, ends the chain and hides the packet from whatever runs
/// after us: a CNI's program, another agent.
const NEXT: i32 = TC_ACT_UNSPEC;

#[classifier]
#[expect(
    clippy::needless_pass_by_value,
    reason = "#[classifier] hands the context over by value"
)]
pub fn sip_tc_ingress(ctx: TcContext) -> i32 {
    handle(&SkbPacket::new(&ctx), false);
    NEXT
}

#[classifier]
#[expect(
    clippy::needless_pass_by_value,
    reason = "#[classifier] hands the context over by value"
)]
pub fn sip_tc_egress(ctx: TcContext) -> i32 {
    handle(&SkbPacket::new(&ctx), true);
    NEXT
}

/// Does nothing: the benchmark's baseline, the fixed cost of running any
/// TC program on a packet, measured the same way as the agent's. Never
/// attached by the agent.
#[classifier]
pub fn sip_tc_empty(_ctx: TcContext) -> i32 {
    NEXT
}

#[xdp]
#[expect(
    clippy::needless_pass_by_value,
    reason = "#[xdp] hands the context over by value"
)]
pub fn sip_xdp_ingress(ctx: XdpContext) -> u32 {
    handle(&XdpPacket::new(&ctx), false);
    xdp_action::XDP_PASS
}

/// `egress` is the hook's direction; the proxy's direction flips on the host
/// side of a pod's veth (what leaves the host end enters the pod).
#[inline(always)]
fn handle<P: Packet>(pkt: &P, egress: bool) {
    let Some(buf) = SCAN_BUF.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: per-CPU map value, only this program run touches it.
    let buf = unsafe { &mut *buf };
    // The port check comes first: a packet that is not SIP costs no map
    // lookup and no clock read.
    if packet::parse(pkt, &mut buf.flow).is_none() {
        return;
    }
    let ifindex = pkt.ifindex();
    // SAFETY: read-only lookup of a plain value.
    #[expect(
        clippy::needless_borrows_for_generic_args,
        reason = "by value the key moves to another stack slot: same code, new layout for the verifier"
    )]
    let Some(cfg) = (unsafe { IFACES.get(&ifindex) }) else {
        return;
    };
    let cfg = *cfg;
    let mirrored = cfg.flags & IFACE_MIRRORED != 0;
    let arriving = egress == mirrored;
    // Before the scan: an arrival's timestamp must not include it.
    // Departures are stamped later, in `pairing::emit`, so they skip this.
    let arrived_ns = if arriving {
        // SAFETY: no preconditions.
        unsafe { bpf_ktime_get_ns() }
    } else {
        0
    };
    buf.scope = cfg.scope;
    buf.ifindex = ifindex;
    buf.arriving = u8::from(arriving);
    buf.arrived_ns = arrived_ns;
    let piece = buf.flow.piece;
    if is_tcp(&buf.flow) {
        if piece == PIECE_WHOLE {
            reassembly::segment(pkt, buf);
        } else if piece != PIECE_LATER {
            // TCP sets DF; a fragmented segment is not followed.
            stats::drop(Drop::Fragment);
        }
    } else if piece == PIECE_LATER {
        reassembly::later_fragment(pkt, buf);
    } else {
        reassembly::datagram(pkt, buf);
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
