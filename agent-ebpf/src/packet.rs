//! L2-L4 headers, read at bounded offsets, for TC and XDP alike.

use core::{ffi::c_void, mem::MaybeUninit};

use agent_common::counters::Drop;
use aya_ebpf::{
    helpers::generated::{bpf_skb_load_bytes, bpf_xdp_load_bytes},
    programs::{TcContext, XdpContext},
};

use crate::{SIP_PORT_BITMAP, stats};

const ETH_HLEN: u32 = 14;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88A8;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPV6_HLEN: u32 = 40;
/// IPv6 Fragment extension header (RFC 8200 4.5).
const NEXTHDR_FRAGMENT: u8 = 44;
const IPV6_FRAG_HLEN: u32 = 8;
const UDP_HLEN: u32 = 8;
/// IPv4 fragment offset mask (the MF flag and offset share the field).
const IP_OFFSET_MASK: u16 = 0x1FFF;
const IP_MF: u16 = 0x2000;

/// A packet we can copy bytes out of, whatever the hook.
pub trait Packet {
    fn len(&self) -> u32;
    fn ifindex(&self) -> u32;
    /// Start and end of the linear packet data, for direct reads.
    fn data(&self) -> usize;
    fn data_end(&self) -> usize;
    /// Copy `len` bytes at `offset` into `dst`.
    fn load_raw(&self, offset: u32, dst: *mut c_void, len: u32) -> bool;

    /// A header at `offset`: read in place when it lies in the linear data
    /// (a bounds check, no helper call: headers nearly always do), copied
    /// by the helper otherwise.
    #[inline(always)]
    fn load<T: Copy>(&self, offset: u32) -> Option<T> {
        let at = self.data() + offset as usize;
        if at + size_of::<T>() <= self.data_end() {
            // SAFETY: checked against the end of the linear data, where the
            // verifier sees it.
            return Some(unsafe { core::ptr::read_unaligned(at as *const T) });
        }
        let mut value = MaybeUninit::<T>::uninit();
        #[expect(clippy::cast_possible_truncation, reason = "header sizes are tiny")]
        let ok = self.load_raw(offset, value.as_mut_ptr().cast(), size_of::<T>() as u32);
        // SAFETY: the helper filled every byte when it succeeded.
        ok.then(|| unsafe { value.assume_init() })
    }
}

pub struct SkbPacket<'a> {
    ctx: &'a TcContext,
}

impl<'a> SkbPacket<'a> {
    #[inline(always)]
    pub fn new(ctx: &'a TcContext) -> Self {
        Self { ctx }
    }
}

impl Packet for SkbPacket<'_> {
    #[inline(always)]
    fn len(&self) -> u32 {
        self.ctx.len()
    }

    #[inline(always)]
    fn ifindex(&self) -> u32 {
        // SAFETY: the context pointer is valid for the program's run.
        unsafe { (*self.ctx.skb.skb).ifindex }
    }

    #[inline(always)]
    fn data(&self) -> usize {
        self.ctx.data()
    }

    #[inline(always)]
    fn data_end(&self) -> usize {
        self.ctx.data_end()
    }

    #[inline(always)]
    fn load_raw(&self, offset: u32, dst: *mut c_void, len: u32) -> bool {
        // SAFETY: dst points at `len` writable bytes.
        unsafe { bpf_skb_load_bytes(self.ctx.skb.skb as *const c_void, offset, dst, len) == 0 }
    }
}

pub struct XdpPacket<'a> {
    ctx: &'a XdpContext,
}

impl<'a> XdpPacket<'a> {
    #[inline(always)]
    pub fn new(ctx: &'a XdpContext) -> Self {
        Self { ctx }
    }
}

impl Packet for XdpPacket<'_> {
    #[inline(always)]
    #[expect(clippy::cast_possible_truncation, reason = "XDP frames are < 4 GiB")]
    fn len(&self) -> u32 {
        (self.ctx.data_end() - self.ctx.data()) as u32
    }

    #[inline(always)]
    fn ifindex(&self) -> u32 {
        // SAFETY: the context pointer is valid for the program's run.
        unsafe { (*self.ctx.ctx).ingress_ifindex }
    }

    #[inline(always)]
    fn data(&self) -> usize {
        self.ctx.data()
    }

    #[inline(always)]
    fn data_end(&self) -> usize {
        self.ctx.data_end()
    }

    #[inline(always)]
    fn load_raw(&self, offset: u32, dst: *mut c_void, len: u32) -> bool {
        // SAFETY: dst points at `len` writable bytes.
        unsafe { bpf_xdp_load_bytes(self.ctx.ctx, offset, dst, len) == 0 }
    }
}

/// `Flow::piece`: the packet is a whole datagram or segment.
pub const PIECE_WHOLE: u8 = 0;
/// The first fragment of a datagram (offset 0, more to come).
pub const PIECE_FIRST: u8 = 1;
/// A later fragment: no L4 header, the payload goes on from an earlier one.
pub const PIECE_LATER: u8 = 2;

/// Addresses and where the SIP payload sits. Addresses are IPv6, IPv4 as
/// v4-mapped, so samples have one shape.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Flow {
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    pub payload_off: u32,
    pub payload_len: u32,
    /// TCP sequence number of the payload's first byte.
    pub seq: u32,
    /// IP identification, for fragments.
    pub frag_id: u32,
    /// Offset of this fragment in the datagram's IP payload.
    pub frag_offset: u32,
    pub sport: u16,
    pub dport: u16,
    pub family: u8,
    pub proto: u8,
    pub piece: u8,
    /// More fragments follow this one.
    pub frag_more: u8,
}

#[inline(always)]
fn v4_mapped(addr: [u8; 4]) -> [u8; 16] {
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, addr[0], addr[1], addr[2], addr[3],
    ]
}

/// Whether `port` is one of `--sip-port`: one load from the bitmap the
/// agent set before loading, no map lookup, so the packets that are not
/// SIP (most of them) cost almost nothing.
#[inline(always)]
fn is_sip_port(port: u16) -> bool {
    // SAFETY: a read of a global; volatile so the compiler does not fold
    // the all-zero value it was built with.
    let word =
        unsafe { core::ptr::read_volatile(&raw const SIP_PORT_BITMAP[(port >> 6) as usize]) };
    (word >> (port & 63)) & 1 != 0
}

/// Parse L2-L4 into `flow`. `None` for anything that is not UDP/TCP on a SIP port (not
/// counted: that is most traffic) or whose headers cannot be read (counted).
#[inline(always)]
pub fn parse<P: Packet>(pkt: &P, flow: &mut Flow) -> Option<()> {
    let mut l3 = ETH_HLEN;
    let mut proto = u16::from_be_bytes(pkt.load::<[u8; 2]>(12)?);
    if proto == ETH_P_8021Q || proto == ETH_P_8021AD {
        proto = u16::from_be_bytes(pkt.load::<[u8; 2]>(16)?);
        l3 += 4;
    }
    *flow = Flow {
        saddr: [0; 16],
        daddr: [0; 16],
        payload_off: 0,
        payload_len: 0,
        seq: 0,
        frag_id: 0,
        frag_offset: 0,
        sport: 0,
        dport: 0,
        family: 0,
        proto: 0,
        piece: PIECE_WHOLE,
        frag_more: 0,
    };
    // L4 offset and length of the IP payload.
    let (l4, l4_len) = if proto == ETH_P_IP {
        let hdr = pkt.load::<[u8; 20]>(l3)?;
        let ihl = u32::from(hdr[0] & 0x0f) * 4;
        let total = u32::from(u16::from_be_bytes([hdr[2], hdr[3]]));
        let frag = u16::from_be_bytes([hdr[6], hdr[7]]);
        flow.proto = hdr[9];
        if flow.proto != IPPROTO_UDP && flow.proto != IPPROTO_TCP {
            return None;
        }
        if ihl < 20 || total < ihl {
            stats::drop(Drop::BadHeaders);
            return None;
        }
        flow.family = 4;
        flow.saddr = v4_mapped([hdr[12], hdr[13], hdr[14], hdr[15]]);
        flow.daddr = v4_mapped([hdr[16], hdr[17], hdr[18], hdr[19]]);
        flow.frag_id = u32::from(u16::from_be_bytes([hdr[4], hdr[5]]));
        flow.frag_offset = u32::from(frag & IP_OFFSET_MASK) * 8;
        flow.frag_more = u8::from(frag & IP_MF != 0);
        (l3 + ihl, total - ihl)
    } else if proto == ETH_P_IPV6 {
        let hdr = pkt.load::<[u8; 40]>(l3)?;
        flow.proto = hdr[6];
        let mut l4 = l3 + IPV6_HLEN;
        let mut l4_len = u32::from(u16::from_be_bytes([hdr[4], hdr[5]]));
        if flow.proto == NEXTHDR_FRAGMENT {
            (l4, l4_len) = ipv6_fragment(pkt, flow, l4, l4_len)?;
        }
        if flow.proto != IPPROTO_UDP && flow.proto != IPPROTO_TCP {
            return None;
        }
        flow.family = 6;
        let mut s = [0u8; 16];
        let mut d = [0u8; 16];
        s.copy_from_slice(&hdr[8..24]);
        d.copy_from_slice(&hdr[24..40]);
        flow.saddr = s;
        flow.daddr = d;
        (l4, l4_len)
    } else {
        return None;
    };

    if flow.frag_offset != 0 {
        // No L4 header here: the datagram's ports are in its first
        // fragment, and whether it is SIP is what a waiting scan says.
        flow.piece = PIECE_LATER;
        flow.payload_off = l4;
        let in_packet = pkt.len().saturating_sub(l4);
        flow.payload_len = core::cmp::min(l4_len, in_packet);
        return Some(());
    }
    if flow.frag_more != 0 {
        flow.piece = PIECE_FIRST;
    }
    let Some(ports) = pkt.load::<[u8; 4]>(l4) else {
        // UDP/TCP whose L4 header is cut off.
        stats::drop(Drop::BadHeaders);
        return None;
    };
    flow.sport = u16::from_be_bytes([ports[0], ports[1]]);
    flow.dport = u16::from_be_bytes([ports[2], ports[3]]);
    if !is_sip_port(flow.sport) && !is_sip_port(flow.dport) {
        return None;
    }
    let l4_hlen = if flow.proto == IPPROTO_UDP {
        UDP_HLEN
    } else {
        let Some(tcp) = pkt.load::<[u8; 13]>(l4) else {
            stats::drop(Drop::BadHeaders);
            return None;
        };
        flow.seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
        u32::from(tcp[12] >> 4) * 4
    };
    if l4_len < l4_hlen || l4_hlen < UDP_HLEN {
        stats::drop(Drop::BadHeaders);
        return None;
    }
    flow.payload_off = l4 + l4_hlen;
    // Trust the IP length but never read past the packet.
    let in_packet = pkt.len().saturating_sub(flow.payload_off);
    flow.payload_len = core::cmp::min(l4_len - l4_hlen, in_packet);
    Some(())
}

/// The IPv6 Fragment header at `l4`: the one extension header SIP meets (a
/// datagram over the MTU); others are not walked, SIP traffic does not use
/// them. Returns where the L4 header and payload are after it.
#[inline(always)]
fn ipv6_fragment<P: Packet>(pkt: &P, flow: &mut Flow, l4: u32, l4_len: u32) -> Option<(u32, u32)> {
    let Some(fh) = pkt.load::<[u8; 8]>(l4) else {
        stats::drop(Drop::BadHeaders);
        return None;
    };
    if l4_len < IPV6_FRAG_HLEN {
        stats::drop(Drop::BadHeaders);
        return None;
    }
    let off = u16::from_be_bytes([fh[2], fh[3]]);
    flow.proto = fh[0];
    flow.frag_offset = u32::from(off >> 3) * 8;
    flow.frag_more = u8::from(off & 1 != 0);
    flow.frag_id = u32::from_be_bytes([fh[4], fh[5], fh[6], fh[7]]);
    Some((l4 + IPV6_FRAG_HLEN, l4_len - IPV6_FRAG_HLEN))
}

#[inline(always)]
pub const fn is_tcp(flow: &Flow) -> bool {
    flow.proto == IPPROTO_TCP
}
