//! Ages out the kernel's reassembly state: scans waiting for a datagram's
//! next IP fragment, and TCP streams stopped inside a message. Both maps
//! are LRU, so a piece that never comes cannot pin memory, but the kernel
//! never learns it is gone; here the waits that outlived their timeout are
//! deleted and counted (`outcome="expired"`), so a lost fragment or a
//! stalled stream shows up instead of vanishing into an eviction.
//!
//! Both maps are small (a few thousand entries at most, and only while a
//! message is in flight), so each sweep reads them whole, in batches.

use std::os::fd::AsFd as _;

use agent_common::reassembly::{FRAG_TIMEOUT_NS, FragKey, FragState, StreamKey, StreamState};
use aya::maps::{HashMap as BpfHashMap, IterableMap as _, MapData};
use tracing::warn;

use crate::{
    map_batch::{self, Batches},
    metrics::Metrics,
};

/// Entries per batched lookup.
const CHUNK: usize = 1024;

pub struct Ageing {
    frags: BpfHashMap<MapData, FragKey, FragState>,
    streams: BpfHashMap<MapData, StreamKey, StreamState>,
    /// How long a stream may stop inside a message: the transaction
    /// timeout, as the proxy itself would give up on it by then.
    stream_timeout_ns: u64,
    frag_batches: Batches<FragKey, FragState>,
    stream_batches: Batches<StreamKey, StreamState>,
    old_frags: Vec<FragKey>,
    old_streams: Vec<StreamKey>,
}

impl Ageing {
    #[must_use]
    pub fn new(
        frags: BpfHashMap<MapData, FragKey, FragState>,
        streams: BpfHashMap<MapData, StreamKey, StreamState>,
        stream_timeout_ns: u64,
    ) -> Self {
        Self {
            frags,
            streams,
            stream_timeout_ns,
            frag_batches: Batches::new(CHUNK),
            stream_batches: Batches::new(CHUNK),
            old_frags: Vec::new(),
            old_streams: Vec::new(),
        }
    }

    /// Delete and count what waited too long at `now` (monotonic ns).
    pub fn sweep(&mut self, now: u64, metrics: &Metrics) {
        let frags = expire(
            &self.frags,
            &mut self.frag_batches,
            &mut self.old_frags,
            |s: &FragState| s.done == 0 && now.saturating_sub(s.ts_ns) > FRAG_TIMEOUT_NS,
            |s: &FragState| s.done != 0 && now.saturating_sub(s.ts_ns) > FRAG_TIMEOUT_NS,
        );
        let timeout = self.stream_timeout_ns;
        let streams = expire(
            &self.streams,
            &mut self.stream_batches,
            &mut self.old_streams,
            |s: &StreamState| now.saturating_sub(s.ts_ns) > timeout,
            |_| false,
        );
        metrics.add_reassembly_expired(frags, streams);
    }
}

/// One whole walk of `map`: entries `lost` says are a wait that failed are
/// deleted and counted, entries `stale` says are an old marker are deleted
/// only. Returns the count.
fn expire<K: aya::Pod + Default, V: aya::Pod + Default>(
    map: &BpfHashMap<MapData, K, V>,
    batches: &mut Batches<K, V>,
    old: &mut Vec<K>,
    lost: impl Fn(&V) -> bool,
    stale: impl Fn(&V) -> bool,
) -> u64 {
    let fd = map.map().fd().as_fd();
    old.clear();
    let mut markers = Vec::new();
    batches.restart();
    loop {
        match batches.step(fd, CHUNK, |k, v| {
            if lost(v) {
                old.push(*k);
            } else if stale(v) {
                markers.push(*k);
            }
        }) {
            Ok((n, end)) if !end && n > 0 => {}
            Ok(_) => break,
            Err(e) => {
                warn!(error = %e, "batched read of a reassembly map failed");
                return 0;
            }
        }
    }
    let mut expired = 0;
    if let Err(e) = map_batch::delete(fd, old, |_| expired += 1) {
        warn!(error = %e, "batched delete from a reassembly map failed");
    }
    if let Err(e) = map_batch::delete(fd, &markers, |_| {}) {
        warn!(error = %e, "batched delete from a reassembly map failed");
    }
    expired
}
