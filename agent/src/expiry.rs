//! The sweeper: expires pending transactions that never got an answer (SIP
//! Timer B) and folds the kernel's per-CPU counters into the metrics.
//!
//! It runs on its own thread so that a walk of a large pending map never
//! stalls the HTTP server or the sample reader.
//!
//! The map is walked with batched lookups ([`crate::map_batch`]: up to 4096
//! entries per syscall into buffers kept across sweeps) and the expired
//! keys are deleted in batches. The per-key walk this replaces made two
//! syscalls per entry (`get_next_key`, `lookup`): 150-170 ms of CPU per
//! second with 100k pending. A batched read is still ~0.3 us of kernel time
//! per entry (the entries are scattered over the LRU's preallocated
//! elements; 30 ms for 100k), so a whole walk every second would still grow
//! with the open transactions. The walk is therefore rolling: each sweep
//! reads at most [`ENTRIES_PER_SECOND`] entries (scaled to the sweep
//! interval) and carries on where the last one stopped, so the cost is
//! bounded (7 ms/s measured with 100k pending, 2 ms/s empty) whatever the
//! map holds. What grows with the map is how late an entry may expire: one
//! pass takes `live / 16384` seconds (100k: ~6 s; the 262,144-entry cap:
//! ~16 s, on top of Timer B's 32 s).
//! Timer B is a transaction give-up time, not a latency, so seconds of
//! lateness only delay the count. A time-ordered index would avoid reading
//! live entries at all but needs a second kernel map kept in step with an
//! LRU that evicts without telling anyone.
//!
//! Evictions are derived once per pass: `inserted` read when the pass
//! starts, `retired` when it ends, `live` as counted by the pass.

use std::{
    os::fd::AsFd as _,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use agent_common::{
    counters::{PENDING_INSERTED, PENDING_RETIRED},
    pending::{KEY_RESPONSE, PendingKey, PendingTxn},
    sip::method,
};
use aya::maps::{HashMap as BpfHashMap, IterableMap as _, MapData, PerCpuArray};
use tracing::{debug, warn};

use crate::{
    ageing::Ageing,
    map_batch::{self, Batches},
    metrics::Metrics,
    samples::monotonic_ns,
};

/// Entries per batched lookup: 4096 keys and values are 192 KiB of buffer.
const CHUNK: usize = 4096;
/// Entries read per second of sweep interval: bounds the sweeper's CPU
/// (~0.3 us each) and sets how long a pass over a full map takes.
pub const ENTRIES_PER_SECOND: usize = 16_384;

/// A walk over the whole map, spread over sweeps.
struct Pass {
    /// `PENDING_INSERTED` when the pass started.
    inserted: u64,
    /// Entries seen and not expired by this pass.
    live: u64,
    sweeps: u32,
    took: Duration,
}

pub struct Sweeper {
    pub pending: BpfHashMap<MapData, PendingKey, PendingTxn>,
    pub counters: PerCpuArray<MapData, u64>,
    pub metrics: Arc<Metrics>,
    pub timeout: Duration,
    expired: u64,
    evicted: u64,
    batches: Batches<PendingKey, PendingTxn>,
    /// Keys found expired in this sweep; kept to reuse its allocation.
    old: Vec<PendingKey>,
    /// The kernel refused a batch operation: walk and delete key by key.
    per_key: bool,
    pass: Option<Pass>,
    /// The reassembly maps, aged on the same beat.
    ageing: Option<Ageing>,
}

impl Sweeper {
    pub fn new(
        pending: BpfHashMap<MapData, PendingKey, PendingTxn>,
        counters: PerCpuArray<MapData, u64>,
        metrics: Arc<Metrics>,
        timeout: Duration,
    ) -> Self {
        Self {
            pending,
            counters,
            metrics,
            timeout,
            expired: 0,
            evicted: 0,
            batches: Batches::new(CHUNK),
            old: Vec::new(),
            per_key: false,
            pass: None,
            ageing: None,
        }
    }

    /// Also age out the kernel's reassembly state every sweep.
    #[must_use]
    pub fn with_ageing(mut self, ageing: Ageing) -> Self {
        self.ageing = Some(ageing);
        self
    }

    /// Sum the per-CPU counters.
    fn totals(&self) -> Vec<u64> {
        (0..agent_common::counters::COUNTERS_LEN)
            .map(|i| self.totals_at(i))
            .collect()
    }

    fn totals_at(&self, index: u32) -> u64 {
        self.counters.get(&index, 0).map_or(0, |v| v.iter().sum())
    }

    /// Walk on, at most `budget` entries, keeping the keys older than
    /// `timeout` in `self.old`; returns the entries seen and whether the pass
    /// ended. Batched; per key, the whole map at once, where the kernel has
    /// no batch operations for the map (before 5.6).
    fn collect_old(&mut self, now: u64, timeout: u64, budget: usize) -> (u64, bool) {
        let is_old = |txn: &PendingTxn| now.saturating_sub(txn.ts_ns) > timeout;
        let old = &mut self.old;
        old.clear();
        if !self.per_key {
            let fd = self.pending.map().fd().as_fd();
            let mut seen = 0;
            loop {
                let step = self.batches.step(fd, budget - seen, |key, txn| {
                    if is_old(txn) {
                        old.push(*key);
                    }
                });
                match step {
                    Ok((n, end)) => {
                        seen += n;
                        if end || n == 0 || seen >= budget {
                            return (seen as u64, end);
                        }
                    }
                    Err(e) => {
                        warn!(error = %e, "batched read of the pending map failed; walking it key by key from now on");
                        self.per_key = true;
                        // This pass is over: its count is partial.
                        self.pass = None;
                        old.clear();
                        break;
                    }
                }
            }
        }
        let mut live = 0;
        for (key, txn) in self.pending.iter().flatten() {
            live += 1;
            if is_old(&txn) {
                old.push(key);
            }
        }
        (live, true)
    }

    /// Delete the keys in `self.old` and count them as expired; returns how
    /// many this call deleted (the kernel may have retired some meanwhile:
    /// only our deletes count).
    fn delete_old(&mut self) -> u64 {
        let metrics = &self.metrics;
        let mut removed = 0u64;
        let mut count = |key: &PendingKey| {
            removed += 1;
            // An ACK is never answered; its entry just ages out.
            if key.method != method::ACK || key.kind == KEY_RESPONSE {
                metrics.add_expired(key.kind == KEY_RESPONSE, key.method, 1);
            }
        };
        if !self.per_key {
            let fd = self.pending.map().fd().as_fd();
            match map_batch::delete(fd, &self.old, &mut count) {
                Ok(()) => return removed,
                Err(e) => {
                    warn!(error = %e, "batched delete from the pending map failed; deleting key by key from now on");
                    self.per_key = true;
                }
            }
        }
        for key in &self.old {
            if self.pending.remove(key).is_ok() {
                count(key);
            }
        }
        removed
    }

    /// One sweep: read on (at most `budget` entries) and expire what is
    /// old, export the kernel counters, and at a pass's end the derived
    /// evictions.
    pub fn sweep(&mut self, budget: usize) {
        // Inserts are read before a pass and retirements after it, so an
        // entry that comes or goes during the pass can only make the
        // eviction estimate low, never high: a counter must not overcount.
        if self.pass.is_none() {
            self.batches.restart();
            self.pass = Some(Pass {
                inserted: self.totals_at(PENDING_INSERTED),
                live: 0,
                sweeps: 0,
                took: Duration::ZERO,
            });
        }
        let started = Instant::now();
        let now = monotonic_ns();
        let timeout = u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX);
        let (seen, end) = self.collect_old(now, timeout, budget.max(1));
        let removed = self.delete_old();
        self.expired += removed;
        if let Some(ageing) = &mut self.ageing {
            ageing.sweep(now, &self.metrics);
        }
        let took = started.elapsed();
        let totals = self.totals();
        self.metrics.apply_kernel_counters(&totals);
        let Some(pass) = self.pass.as_mut() else {
            // The batched read failed this sweep; the next starts over.
            return;
        };
        pass.live += seen.saturating_sub(removed);
        pass.sweeps += 1;
        pass.took += took;
        if !end {
            return;
        }
        let retired = totals[PENDING_RETIRED as usize];
        // What went in and neither left through pairing, expiry, nor is still
        // there was evicted by the LRU.
        let evicted = pass
            .inserted
            .saturating_sub(retired + self.expired + pass.live);
        if evicted > self.evicted {
            self.metrics
                .add_dropped("pending_evicted", evicted - self.evicted);
            self.evicted = evicted;
        }
        debug!(
            live = pass.live,
            expired = self.expired,
            evicted = self.evicted,
            sweeps = pass.sweeps,
            took_us = pass.took.as_micros(),
            "swept pending transactions"
        );
        self.pass = None;
    }

    /// [`Sweeper::run`] on a thread of its own, named `siplat-sweeper` so
    /// that its CPU can be told from the rest (`/proc/PID/task`).
    pub fn spawn(
        self,
        interval: Duration,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("siplat-sweeper".into())
            .spawn(move || self.run(interval, &stop))
    }

    /// Sweep every `interval` until `stop` is set, reading
    /// [`ENTRIES_PER_SECOND`] entries per second of `interval`.
    pub fn run(mut self, interval: Duration, stop: &Arc<AtomicBool>) {
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a positive entry count far below usize::MAX"
        )]
        let budget = (ENTRIES_PER_SECOND as f64 * interval.as_secs_f64()).ceil() as usize;
        while !stop.load(Ordering::Relaxed) {
            self.sweep(budget);
            let mut slept = Duration::ZERO;
            while slept < interval && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                slept += Duration::from_millis(50);
            }
        }
    }
}
