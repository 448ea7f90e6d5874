//! Copy the SIP payload and run the shared scanner over it in a `bpf_loop`.
//!
//! `bpf_loop` lets the verifier check the chunk callback once instead of
//! unrolling a loop over every byte, so 4 KiB scans stay far below the
//! instruction limit.

use core::ffi::c_void;

use agent_common::{
    config::{SCAN_BUF_LEN, SCAN_CHUNK},
    counters::Drop,
    sip::{
        Scan, Scanner,
        scan::{COMPLETE, CONTINUE, FAIL},
    },
};
use aya_ebpf::helpers::generated::bpf_loop;

use crate::{
    SCAN_BUF,
    packet::{Flow, Packet, is_tcp},
    stats,
};

#[expect(clippy::cast_possible_truncation, reason = "SCAN_BUF_LEN fits u32")]
const BUF_LEN: u32 = SCAN_BUF_LEN as u32;
#[expect(clippy::cast_possible_truncation, reason = "SCAN_CHUNK fits u32")]
const CHUNK: u32 = SCAN_CHUNK as u32;
const _: () = assert!(SCAN_BUF_LEN.is_power_of_two());

/// Feed one chunk of the payload; returning 1 stops the loop.
extern "C" fn scan_chunk(index: u64, _ctx: *mut c_void) -> i64 {
    let Some(buf) = SCAN_BUF.get_ptr_mut(0) else {
        return 1;
    };
    // SAFETY: per-CPU map value, only this program run touches it.
    let lc = unsafe { &mut *buf };
    #[expect(clippy::cast_possible_truncation, reason = "index < BUF_LEN / CHUNK")]
    let base = (index as u32).wrapping_mul(CHUNK);
    let mut j = 0;
    while j < CHUNK {
        let i = base + j;
        if i >= lc.len {
            return 1;
        }
        // SAFETY: the mask keeps the index inside the buffer.
        let b = lc.data[(i & (BUF_LEN - 1)) as usize];
        let step = lc.scanner.feed(b);
        if step != CONTINUE {
            lc.step = step;
            return 1;
        }
        j += 1;
    }
    0
}

/// Scan the payload of `flow`. `None` when it is not a pairable SIP message
/// (the reason is counted).
#[inline(always)]
pub fn scan_payload<P: Packet>(pkt: &P, flow: &Flow) -> Option<Scan> {
    let len = flow.payload_len;
    if len == 0 {
        return None;
    }
    let buf = SCAN_BUF.get_ptr_mut(0)?;
    // SAFETY: per-CPU map value, only this program run touches it.
    let buf = unsafe { &mut *buf };
    let n = if len > BUF_LEN { BUF_LEN } else { len };
    // Re-check the bounds where the verifier sees them: LLVM's own range
    // knowledge otherwise folds the check into shifts the verifier loses.
    let n = u64::from(core::hint::black_box(n));
    if n == 0 || n > u64::from(BUF_LEN) {
        return None;
    }
    #[expect(clippy::cast_possible_truncation, reason = "n <= BUF_LEN")]
    let n = n as u32;
    if !pkt.load_raw(flow.payload_off, buf.data.as_mut_ptr().cast(), n) {
        stats::drop(Drop::BadHeaders);
        return None;
    }
    let first = buf.data[0];
    if first == b'\r' || first == b'\n' {
        // RFC 5626 CRLF keep-alive: not a message.
        return None;
    }
    buf.scanner = Scanner::new();
    buf.len = n;
    buf.step = CONTINUE;
    // SAFETY: the callback reaches its state through the map, not the ctx.
    unsafe {
        bpf_loop(
            n.div_ceil(CHUNK),
            scan_chunk as *mut c_void,
            core::ptr::null_mut(),
            0,
        );
    }
    let lc = &*buf;
    match lc.step {
        COMPLETE => return Some(lc.scanner.scan()),
        FAIL => {
            if !lc.scanner.failed_not_sip() {
                stats::drop(Drop::ParseFailed);
            } else if !is_tcp(flow) {
                // A TCP segment that does not start a message is a
                // continuation, not an error.
                stats::drop(Drop::NotSip);
            }
        }
        _ => {
            if len > n {
                stats::drop(Drop::TooLong);
            } else if lc.scanner.saw_start_line() || !is_tcp(flow) {
                stats::drop(Drop::Truncated);
            }
        }
    }
    None
}
