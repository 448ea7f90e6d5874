//! The sweeper: expires pending transactions that never got an answer (SIP
//! Timer B) and folds the kernel's per-CPU counters into the metrics.
//!
//! It runs on its own thread because walking a large pending map is a long
//! run of syscalls that must not stall the HTTP server or the sample reader.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use agent_common::{
    counters::{PENDING_INSERTED, PENDING_RETIRED},
    pending::{KEY_RESPONSE, PendingKey, PendingTxn},
    sip::method,
};
use aya::maps::{HashMap as BpfHashMap, MapData, PerCpuArray};
use tracing::debug;

use crate::{metrics::Metrics, samples::monotonic_ns};

pub struct Sweeper {
    pub pending: BpfHashMap<MapData, PendingKey, PendingTxn>,
    pub counters: PerCpuArray<MapData, u64>,
    pub metrics: Arc<Metrics>,
    pub timeout: Duration,
    expired: u64,
    evicted: u64,
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
        }
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

    /// One pass: expire, then export counters and derived evictions.
    pub fn sweep(&mut self) {
        // Inserts are read before the walk and retirements after it, so an
        // entry that comes or goes during the walk can only make the
        // eviction estimate low, never high: a counter must not overcount.
        let inserted = self.totals_at(PENDING_INSERTED);
        let now = monotonic_ns();
        let timeout = u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX);
        let mut old = Vec::new();
        let mut live: u64 = 0;
        for entry in &self.pending {
            let Ok((key, txn)) = entry else { continue };
            live += 1;
            if now.saturating_sub(txn.ts_ns) > timeout {
                old.push(key);
            }
        }
        for key in old {
            // The kernel may have retired it meanwhile: only count our deletes.
            if self.pending.remove(&key).is_ok() {
                live = live.saturating_sub(1);
                // An ACK is never answered; its entry just ages out.
                if key.method != method::ACK || key.kind == KEY_RESPONSE {
                    self.metrics
                        .add_expired(key.kind == KEY_RESPONSE, key.method, 1);
                }
                self.expired += 1;
            }
        }
        let totals = self.totals();
        self.metrics.apply_kernel_counters(&totals);
        let retired = totals[PENDING_RETIRED as usize];
        // What went in and neither left through pairing, expiry, nor is still
        // there was evicted by the LRU.
        let evicted = inserted.saturating_sub(retired + self.expired + live);
        if evicted > self.evicted {
            self.metrics
                .add_dropped("pending_evicted", evicted - self.evicted);
            self.evicted = evicted;
        }
        debug!(
            live,
            expired = self.expired,
            evicted = self.evicted,
            "swept pending transactions"
        );
    }

    /// Sweep every `interval` until `stop` is set.
    pub fn run(mut self, interval: Duration, stop: &Arc<AtomicBool>) {
        while !stop.load(Ordering::Relaxed) {
            self.sweep();
            let mut slept = Duration::ZERO;
            while slept < interval && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                slept += Duration::from_millis(50);
            }
        }
    }
}
