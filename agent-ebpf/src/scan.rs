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

/// State shared with the loop callback (lives on the program's stack).
#[repr(C)]
struct LoopCtx {
    scanner: Scanner,
    len: u32,
    step: u8,
}

#[expect(clippy::cast_possible_truncation, reason = "SCAN_BUF_LEN fits u32")]
const BUF_LEN: u32 = SCAN_BUF_LEN as u32;
#[expect(clippy::cast_possible_truncation, reason = "SCAN_CHUNK fits u32")]
const CHUNK: u32 = SCAN_CHUNK as u32;
const _: () = assert!(SCAN_BUF_LEN.is_power_of_two());

/// Feed one chunk of the payload; returning 1 stops the loop.
extern "C" fn scan_chunk(index: u64, ctx: *mut c_void) -> i64 {
    // SAFETY: bpf_loop hands back the pointer we gave it.
    let lc = unsafe { &mut *ctx.cast::<LoopCtx>() };
    let Some(buf) = SCAN_BUF.get_ptr(0) else {
        return 1;
    };
    #[expect(clippy::cast_possible_truncation, reason = "index < BUF_LEN / CHUNK")]
    let base = (index as u32).wrapping_mul(CHUNK);
    let mut j = 0;
    while j < CHUNK {
        let i = base + j;
        if i >= lc.len {
            return 1;
        }
        // SAFETY: the mask keeps the index inside the buffer.
        let b = unsafe { (*buf).data[(i & (BUF_LEN - 1)) as usize] };
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
    let n = if len > BUF_LEN { BUF_LEN } else { len };
    if !pkt.load_raw(flow.payload_off, buf.cast(), n) {
        stats::drop(Drop::BadHeaders);
        return None;
    }
    // SAFETY: n >= 1, so byte 0 was written.
    let first = unsafe { (*buf).data[0] };
    if first == b'\r' || first == b'\n' {
        // RFC 5626 CRLF keep-alive: not a message.
        return None;
    }
    let mut lc = LoopCtx {
        scanner: Scanner::new(),
        len: n,
        step: CONTINUE,
    };
    // SAFETY: the callback only touches `lc` through the pointer we pass.
    unsafe {
        bpf_loop(
            n.div_ceil(CHUNK),
            scan_chunk as *mut c_void,
            (&raw mut lc).cast(),
            0,
        );
    }
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
