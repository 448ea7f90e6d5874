//! Datagrams, their fragments and TCP segments: where a scan starts, and
//! what is kept when it runs out before the message ends.
//!
//! Keys and kept states are built in the per-CPU scratch buffer: with the
//! payload's context they would not fit the 512-byte stack.
#![expect(
    clippy::needless_borrows_for_generic_args,
    reason = "by value, keys and states would be copied onto the 512-byte stack; by reference they stay in the scratch map value"
)]

use agent_common::{
    config::SEGMENT_MESSAGES_MAX,
    counters::{
        Drop, FRAG_OUT_OF_ORDER, FRAG_RESUMED, FRAG_SAVED, FRAG_SKIPPED, FRAG_STATE_FULL,
        KEEPALIVES, SEGMENT_RESUMED, SEGMENT_RETRANSMITTED, SEGMENT_SAVED, SEGMENT_STATE_FULL,
    },
    sip::{
        Scanner,
        scan::{COMPLETE, CONTINUE, FAIL, HEADERS_END},
    },
};
use aya_ebpf::helpers::bpf_ktime_get_ns;

use crate::{
    FRAGS, STREAMS, ScanBuf,
    packet::{PIECE_FIRST, Packet},
    scan::{self, MORE_MESSAGES},
    stats,
};

const UDP_HLEN: u32 = 8;

#[inline(always)]
fn set_frag_key(buf: &mut ScanBuf) {
    buf.frag_key.saddr = buf.flow.saddr;
    buf.frag_key.daddr = buf.flow.daddr;
    buf.frag_key.id = buf.flow.frag_id;
    buf.frag_key.scope = buf.scope;
    buf.frag_key.proto = buf.flow.proto;
    buf.frag_key.family = buf.flow.family;
    buf.frag_key._pad = [0; 6];
}

#[inline(always)]
fn now() -> u64 {
    // SAFETY: no preconditions.
    unsafe { bpf_ktime_get_ns() }
}

/// A whole datagram, or the first fragment of one.
#[inline(always)]
pub fn datagram<P: Packet>(pkt: &P, buf: &mut ScanBuf) {
    let len = buf.flow.payload_len;
    let n = scan::load(pkt, buf, buf.flow.payload_off, len);
    if n == 0 {
        return;
    }
    if scan::is_keepalive(buf) {
        stats::bump(KEEPALIVES);
        return;
    }
    buf.scanner = Scanner::new();
    buf.from = 0;
    scan::run(1);
    let step = buf.step;
    let waits = step == CONTINUE && n == len;
    if buf.flow.piece == PIECE_FIRST && (step == COMPLETE || waits) {
        // Keep the scan for the next fragment if the headers go on there;
        // if it is done, keep a marker so the rest count as skipped.
        set_frag_key(buf);
        buf.frag.scanner = buf.scanner;
        buf.frag.ts_ns = now();
        buf.frag.next_offset = UDP_HLEN + n;
        buf.frag.sport = buf.flow.sport;
        buf.frag.dport = buf.flow.dport;
        buf.frag.done = u8::from(step == COMPLETE);
        buf.frag._pad = [0; 7];
        if FRAGS.insert(&buf.frag_key, &buf.frag, 0).is_ok() {
            if step != COMPLETE {
                stats::bump(FRAG_SAVED);
            }
        } else if step != COMPLETE {
            stats::bump(FRAG_STATE_FULL);
            stats::drop(Drop::Fragment);
        }
        return;
    }
    if step == FAIL {
        scan::count_failure(buf, false, true);
    } else if step != COMPLETE {
        scan::count_short(buf, len, false);
    }
}

/// A fragment after the first: it goes on with the scan its predecessor
/// left, if one is waiting.
#[inline(always)]
pub fn later_fragment<P: Packet>(pkt: &P, buf: &mut ScanBuf) {
    set_frag_key(buf);
    let Some(state) = FRAGS.get_ptr_mut(&buf.frag_key) else {
        // Not a SIP datagram's, or its first fragment was never seen: no
        // way to tell, so not counted.
        return;
    };
    // SAFETY: valid map value pointer; a racing CPU only skews a count.
    let state = unsafe { &mut *state };
    let more = buf.flow.frag_more != 0;
    if state.done != 0 {
        stats::bump(FRAG_SKIPPED);
        if !more {
            let _ = FRAGS.remove(&buf.frag_key);
        }
        return;
    }
    if state.next_offset != buf.flow.frag_offset {
        stats::bump(FRAG_OUT_OF_ORDER);
        stats::drop(Drop::Fragment);
        let _ = FRAGS.remove(&buf.frag_key);
        return;
    }
    stats::bump(FRAG_RESUMED);
    let len = buf.flow.payload_len;
    let n = scan::load(pkt, buf, buf.flow.payload_off, len);
    if n == 0 {
        let _ = FRAGS.remove(&buf.frag_key);
        return;
    }
    buf.flow.sport = state.sport;
    buf.flow.dport = state.dport;
    buf.scanner = state.scanner;
    buf.from = 0;
    scan::run(1);
    let step = buf.step;
    if step == CONTINUE && more && n == len {
        state.scanner = buf.scanner;
        state.next_offset += n;
        stats::bump(FRAG_SAVED);
        return;
    }
    if step == COMPLETE && more {
        state.done = 1;
        return;
    }
    let _ = FRAGS.remove(&buf.frag_key);
    if step == FAIL {
        scan::count_failure(buf, false, false);
    } else if step != COMPLETE {
        scan::count_short(buf, len, false);
    }
}

/// Where a kept stream goes on: `None` to read the segment afresh (no
/// state, or a gap), `Some(true)` when the segment is done with.
#[inline(always)]
fn resume(buf: &mut ScanBuf) -> Option<bool> {
    let state = STREAMS.get_ptr_mut(&buf.stream_key)?;
    // SAFETY: valid map value pointer.
    let state = unsafe { &mut *state };
    let len = buf.flow.payload_len;
    #[expect(clippy::cast_possible_wrap, reason = "sequence arithmetic")]
    let ahead = buf.flow.seq.wrapping_sub(state.next_seq) as i32;
    if ahead < 0 {
        // Bytes we already read, sent again.
        stats::bump(SEGMENT_RETRANSMITTED);
        return Some(true);
    }
    if ahead > 0 {
        // Bytes we never saw: where messages start is lost.
        stats::drop(Drop::StreamGap);
        let _ = STREAMS.remove(&buf.stream_key);
        return None;
    }
    stats::bump(SEGMENT_RESUMED);
    if state.skip >= len {
        // Still inside a body.
        state.skip -= len;
        state.next_seq = state.next_seq.wrapping_add(len);
        if state.skip == 0 {
            let _ = STREAMS.remove(&buf.stream_key);
        }
        return Some(true);
    }
    if state.skip > 0 {
        buf.from = state.skip;
    } else {
        buf.scanner = state.scanner;
    }
    Some(false)
}

/// A TCP segment: every message in it, each body skipped by its length,
/// and what is left of a message at its end kept for the next segment.
#[inline(always)]
pub fn segment<P: Packet>(pkt: &P, buf: &mut ScanBuf) {
    let len = buf.flow.payload_len;
    if len == 0 {
        // A bare ACK, SYN or FIN: no bytes of the stream.
        return;
    }
    buf.stream_key.saddr = buf.flow.saddr;
    buf.stream_key.daddr = buf.flow.daddr;
    buf.stream_key.scope = buf.scope;
    buf.stream_key.sport = buf.flow.sport;
    buf.stream_key.dport = buf.flow.dport;
    buf.scanner = Scanner::framed();
    buf.from = 0;
    let resumed = match resume(buf) {
        Some(true) => return,
        Some(false) => true,
        None => false,
    };
    let n = scan::load(pkt, buf, buf.flow.payload_off, len);
    if n == 0 {
        return;
    }
    if !resumed && scan::is_keepalive(buf) {
        stats::bump(KEEPALIVES);
        return;
    }
    let first = !resumed;
    scan::run(SEGMENT_MESSAGES_MAX);
    let step = buf.step;
    // What to keep for the next segment: a body's rest, or a scan.
    let mut skip = 0;
    let mut keep = false;
    if step == MORE_MESSAGES {
        stats::drop(Drop::SegmentOverflow);
    } else if step == HEADERS_END {
        // `pos` is where the next message starts.
        if buf.pos > len {
            skip = buf.pos - len;
            keep = true;
        } else if buf.pos < len {
            // Beyond the bytes one run copies.
            stats::drop(Drop::TooLong);
        }
    } else if step == FAIL {
        scan::count_failure(buf, true, first && buf.from == 0);
    } else if step == CONTINUE {
        if n == len {
            keep = true;
        } else {
            scan::count_short(buf, len, true);
        }
    }
    if !keep {
        if resumed {
            let _ = STREAMS.remove(&buf.stream_key);
        }
        return;
    }
    buf.stream.scanner = buf.scanner;
    buf.stream.ts_ns = now();
    buf.stream.next_seq = buf.flow.seq.wrapping_add(len);
    buf.stream.skip = skip;
    if STREAMS.insert(&buf.stream_key, &buf.stream, 0).is_ok() {
        stats::bump(SEGMENT_SAVED);
    } else {
        stats::bump(SEGMENT_STATE_FULL);
    }
}
