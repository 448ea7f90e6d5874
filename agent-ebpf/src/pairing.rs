//! Pair a message with what the proxy saw before: a request with its
//! response or relayed copy, a response with its relayed copy.

use agent_common::{
    config::SAMPLES_WAKEUP_BYTES,
    counters::{
        DIR_IN, DIR_OUT, Drop, PENDING_INSERTED, PENDING_RETIRED, UNPAIRED_RESPONSE, message_index,
        retrans_index,
    },
    pending::{KEY_REQUEST, KEY_RESPONSE, PendingKey, PendingTxn, TXN_RELAYED, answer_kind},
    sample::{KIND_RELAY_REQUEST, KIND_RELAY_RESPONSE, Sample},
    sip::{Scan, method},
};
use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::bpf_ktime_get_ns,
};

use crate::{PENDING, SAMPLES, packet::Flow, stats};

/// `arrived_ns` (arrivals only) was read before the packet was parsed:
/// the earliest this host's stack shows us the packet; departures
/// are stamped in `emit`, after the lookups, the latest point before the
/// packet goes on. Both keep our own run time out of the latency.
#[inline(always)]
pub fn on_message(
    scan: &Scan,
    flow: &Flow,
    scope: u32,
    ifindex: u32,
    arriving: bool,
    arrived_ns: u64,
) {
    let dir = if arriving { DIR_IN } else { DIR_OUT };
    stats::bump(message_index(dir, scan.is_response, scan.method));
    let request_key = PendingKey {
        call_hash: scan.call_hash,
        cseq: scan.cseq,
        scope,
        status: 0,
        method: scan.method,
        kind: KEY_REQUEST,
        _pad: 0,
    };
    if !scan.is_response {
        if arriving {
            remember(&request_key, scan, arrived_ns, ifindex);
        } else {
            relay_request(&request_key, scan, flow, ifindex);
        }
        return;
    }
    let response_key = PendingKey {
        status: scan.status,
        kind: KEY_RESPONSE,
        ..request_key
    };
    if arriving {
        remember(&response_key, scan, arrived_ns, ifindex);
        return;
    }
    // The relay pair first: a response seen arriving is someone else's
    // answer, which `answer` must know.
    let relayed = relay_response(&response_key, scan, flow, ifindex);
    let answered = answer(&request_key, scan, flow, ifindex, relayed);
    if !answered && !relayed {
        stats::bump(UNPAIRED_RESPONSE);
    }
}

/// First arrival is remembered; a repeat while pending is a retransmission
/// and keeps the first timestamp.
#[inline(always)]
fn remember(key: &PendingKey, scan: &Scan, now: u64, ifindex: u32) {
    if let Some(txn) = PENDING.get_ptr_mut(key) {
        // SAFETY: valid map value pointer; a racing update only skews a count.
        unsafe { (*txn).retransmissions += 1 };
        stats::bump(retrans_index(scan.is_response, scan.method));
        return;
    }
    let txn = PendingTxn {
        ts_ns: now,
        ifindex,
        flags: 0,
        retransmissions: 0,
        _pad: 0,
    };
    if PENDING.insert(key, txn, 0).is_ok() {
        stats::bump(PENDING_INSERTED);
    } else {
        stats::drop(Drop::PendingInsertFailed);
    }
}

#[inline(always)]
fn relay_request(key: &PendingKey, scan: &Scan, flow: &Flow, ifindex: u32) {
    let Some(txn) = PENDING.get_ptr_mut(key) else {
        // The proxy originated it (or it arrived before we attached).
        return;
    };
    // SAFETY: valid map value pointer.
    let txn = unsafe { &mut *txn };
    if txn.flags & TXN_RELAYED != 0 {
        // The proxy's own retransmission (Timer A/E).
        stats::bump(retrans_index(false, scan.method));
        return;
    }
    txn.flags |= TXN_RELAYED;
    emit(
        KIND_RELAY_REQUEST,
        scan,
        flow,
        txn.ts_ns,
        txn.ifindex,
        ifindex,
    );
    if scan.method == method::ACK {
        // ACK is never answered: its pairing ends with the relay.
        retire(key);
    }
}

/// A response leaves: `response` or `round_trip` by the rule of
/// `answer_kind` (`relayed`: this response was seen arriving). The final
/// response retires the request either way.
#[inline(always)]
fn answer(key: &PendingKey, scan: &Scan, flow: &Flow, ifindex: u32, relayed: bool) -> bool {
    let Some(txn) = PENDING.get_ptr_mut(key) else {
        return false;
    };
    // SAFETY: valid map value pointer.
    let txn = unsafe { &mut *txn };
    let (kind, flags) = answer_kind(txn.flags, scan.status, relayed);
    txn.flags = flags;
    if let Some(kind) = kind {
        emit(kind, scan, flow, txn.ts_ns, txn.ifindex, ifindex);
    }
    if scan.status >= 200 {
        retire(key);
    }
    true
}

#[inline(always)]
fn relay_response(key: &PendingKey, scan: &Scan, flow: &Flow, ifindex: u32) -> bool {
    let Some(txn) = PENDING.get_ptr(key) else {
        return false;
    };
    // SAFETY: valid map value pointer; copy out before removing.
    let (ts, first_ifindex) = unsafe { ((*txn).ts_ns, (*txn).ifindex) };
    emit(KIND_RELAY_RESPONSE, scan, flow, ts, first_ifindex, ifindex);
    retire(key);
    true
}

#[inline(always)]
fn retire(key: &PendingKey) {
    if PENDING.remove(key).is_ok() {
        stats::bump(PENDING_RETIRED);
    }
}

#[inline(always)]
fn emit(kind: u8, scan: &Scan, flow: &Flow, since: u64, first_ifindex: u32, ifindex: u32) {
    // SAFETY: no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    let Some(mut entry) = SAMPLES.reserve::<Sample>(0) else {
        stats::drop(Drop::RingbufFull);
        return;
    };
    entry.write(Sample {
        ts_ns: now,
        latency_ns: now.saturating_sub(since),
        call_hash: scan.call_hash,
        saddr: flow.saddr,
        daddr: flow.daddr,
        cseq: scan.cseq,
        ifindex,
        first_ifindex,
        status: scan.status,
        sport: flow.sport,
        dport: flow.dport,
        kind,
        method: scan.method,
        family: flow.family,
        proto: flow.proto,
        _pad: [0; 2],
    });
    // Batch wakeups: see SAMPLES_WAKEUP_BYTES.
    let flags = if SAMPLES.query(u64::from(BPF_RB_AVAIL_DATA)) >= SAMPLES_WAKEUP_BYTES {
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    };
    entry.submit(u64::from(flags));
}
