//! Run the shared scanner over the payload copy in `SCAN_BUF`, message by
//! message, and pair each message it completes.
//!
//! Two nested `bpf_loop`s: the outer one steps over the messages of a
//! payload (one for a datagram, up to `SEGMENT_MESSAGES_MAX` for a TCP
//! segment), the inner one feeds it part of a word of eight bytes at a
//! time (the rest of the word where it skips). `bpf_loop` lets the
//! verifier check each callback once instead of unrolling a loop over
//! every byte, and both reach their state through the per-CPU map rather
//! than the context pointer, so 4 KiB scans stay far below the limits.

use core::ffi::c_void;

use agent_common::{
    config::SCAN_BUF_LEN,
    counters::Drop,
    sip::{
        Outcome, Scanner,
        scan::{COMPLETE, CONTINUE, HEADERS_END, PART_BYTES},
    },
};
use aya_ebpf::helpers::generated::bpf_loop;

use crate::{SCAN_BUF, ScanBuf, packet::Packet, pairing, stats};

#[expect(clippy::cast_possible_truncation, reason = "SCAN_BUF_LEN fits u32")]
pub const BUF_LEN: u32 = SCAN_BUF_LEN as u32;
const _: () = assert!(SCAN_BUF_LEN.is_power_of_two());

/// `ScanBuf::step` after the message loop: a message ended and the next
/// one was set up, but the loop's bound was reached first.
pub const MORE_MESSAGES: u8 = 0xff;

/// Feed the bytes from `cursor` to the end of its aligned word, or
/// [`PART_BYTES`] of them one by one ([`Scanner::feed_part`]); returning 1
/// stops the loop. `pos` ends up just after the byte the scanner stopped
/// on. Where the scanner allows it (inside a value it does not read: most
/// of a message) the rest of a word goes by in one step.
extern "C" fn scan_part(_index: u64, _ctx: *mut c_void) -> i64 {
    let Some(buf) = SCAN_BUF.get_ptr_mut(0) else {
        return 1;
    };
    // SAFETY: per-CPU map value, only this program run touches it.
    let lc = unsafe { &mut *buf };
    let len = lc.len;
    let cursor = lc.cursor;
    if cursor >= len {
        return 1;
    }
    let start = cursor & !7;
    let end = core::cmp::min(len - start, 8);
    let at = (start & (BUF_LEN - 8)) as usize;
    // SAFETY: `at` is a multiple of 8 inside `data`, which sits at an
    // 8-byte-aligned offset of the map value; bytes past `len` in the
    // last word are read but not fed.
    #[expect(
        clippy::cast_ptr_alignment,
        reason = "`at` is a multiple of 8 and `data` 8-byte aligned (asserted in main.rs)"
    )]
    let word = unsafe { core::ptr::read(lc.data.as_ptr().add(at).cast::<u64>()) };
    let (step, k) = lc.scanner.feed_part(u64::from_le(word), cursor & 7, end);
    if step != CONTINUE {
        lc.step = step;
        lc.pos = start + k;
        return 1;
    }
    lc.cursor = start + k;
    i64::from(start + k >= len)
}

/// One message: scan from `from`, pair it if it completes, and for a
/// framed scan set up the next message after its body.
extern "C" fn next_message(_index: u64, _ctx: *mut c_void) -> i64 {
    let Some(buf) = SCAN_BUF.get_ptr_mut(0) else {
        return 1;
    };
    // SAFETY: per-CPU map value, only this program run touches it.
    let lc = unsafe { &mut *buf };
    lc.step = CONTINUE;
    lc.pos = lc.len;
    if lc.from >= lc.len {
        return 1;
    }
    lc.cursor = lc.from;
    // A word takes at most 8 / PART_BYTES steps, from any byte of it.
    let steps = (lc.len - (lc.from & !7)).div_ceil(8) * (8 / PART_BYTES);
    // SAFETY: the callback reaches its state through the map, not the ctx.
    unsafe {
        bpf_loop(steps, scan_part as *mut c_void, core::ptr::null_mut(), 0);
    }
    // Re-borrow: the helper call ended the previous borrow's life.
    // SAFETY: as above.
    let lc = unsafe { &mut *buf };
    if lc.step == COMPLETE {
        pair(lc);
        return 1;
    }
    if lc.step != HEADERS_END {
        return 1;
    }
    if matches!(lc.scanner.outcome(), Outcome::Complete(_)) {
        pair(lc);
    } else {
        stats::drop(Drop::ParseFailed);
    }
    let next = lc.pos.saturating_add(lc.scanner.body_len());
    lc.pos = next;
    if next >= lc.len {
        // The caller tells the end of the segment from a body that goes on.
        return 1;
    }
    lc.from = next;
    lc.scanner = Scanner::framed();
    lc.step = MORE_MESSAGES;
    0
}

#[inline(always)]
fn pair(lc: &ScanBuf) {
    let scan = lc.scanner.scan();
    pairing::on_message(
        &scan,
        &lc.flow,
        lc.scope,
        lc.ifindex,
        lc.arriving != 0,
        lc.arrived_ns,
    );
}

/// Copy up to `BUF_LEN` payload bytes from `offset` into the buffer; the
/// number copied, 0 when there is nothing or it cannot be read (counted).
#[inline(always)]
pub fn load<P: Packet>(pkt: &P, buf: &mut ScanBuf, offset: u32, len: u32) -> u32 {
    buf.len = 0;
    if len == 0 {
        return 0;
    }
    let n = if len > BUF_LEN { BUF_LEN } else { len };
    // Re-check the bounds where the verifier sees them: LLVM's own range
    // knowledge otherwise folds the check into shifts the verifier loses.
    let n = u64::from(core::hint::black_box(n));
    if n == 0 || n > u64::from(BUF_LEN) {
        return 0;
    }
    #[expect(clippy::cast_possible_truncation, reason = "n <= BUF_LEN")]
    let n = n as u32;
    if !pkt.load_raw(offset, buf.data.as_mut_ptr().cast(), n) {
        stats::drop(Drop::BadHeaders);
        return 0;
    }
    buf.len = n;
    n
}

/// A datagram or segment of line ends only: an RFC 5626 keep-alive
/// ("\r\n\r\n" ping, "\r\n" pong).
#[inline(always)]
pub fn is_keepalive(buf: &ScanBuf) -> bool {
    let n = buf.len;
    if n == 0 || n > 4 {
        return false;
    }
    let mut i = 0;
    while i < 4 {
        if i < n && !matches!(buf.data[i as usize], b'\r' | b'\n') {
            return false;
        }
        i += 1;
    }
    true
}

/// Run the message loop over the buffer from `from` with the scanner as
/// set up, for at most `messages` messages; see `ScanBuf::step` after.
#[inline(always)]
pub fn run(messages: u32) {
    // SAFETY: the callback reaches its state through the map, not the ctx.
    unsafe {
        bpf_loop(
            messages,
            next_message as *mut c_void,
            core::ptr::null_mut(),
            0,
        );
    }
}

/// Count why a scan that stopped without a message did so, as a datagram's
/// or a segment's. `first`: the bytes were the start of a payload nobody
/// framed for us (a TCP segment there may well be a continuation).
#[inline(always)]
pub fn count_failure(buf: &ScanBuf, tcp: bool, first: bool) {
    if buf.scanner.failed_not_sip() {
        if !tcp || !first {
            stats::drop(Drop::NotSip);
        }
    } else {
        stats::drop(Drop::ParseFailed);
    }
}

/// Count a scan that ran out of bytes: beyond the buffer, or a message
/// that ended early.
#[inline(always)]
pub fn count_short(buf: &ScanBuf, payload_len: u32, tcp: bool) {
    if payload_len > buf.len {
        stats::drop(Drop::TooLong);
    } else if buf.scanner.saw_start_line() || !tcp {
        stats::drop(Drop::Truncated);
    }
}
