//! What one simulated run yields, and the comparison table.

use std::fmt::Write as _;

/// One second of a run (kept when asked, for plots and CSV).
#[derive(Debug, Clone, PartialEq)]
pub struct SecondRow {
    pub t: u64,
    /// INVITEs that arrived in this second.
    pub rate: f64,
    /// Replicas costing money: booting, active, or draining a queue.
    pub replicas: u32,
    /// Replicas taking traffic.
    pub ready: u32,
    /// P99 over the trailing window ending with this second.
    pub p99_s: Option<f64>,
    /// Mean CPU of the active replicas, millicores.
    pub cpu_millis: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimResult {
    pub policy: String,
    /// Seconds whose trailing-window P99 exceeded the target.
    pub violation_seconds: u64,
    pub replica_seconds: f64,
    pub scale_actions: u32,
    pub worst_p99_seconds: f64,
    pub calls: u64,
    /// Calls that found no proxy or a queue beyond Timer B.
    pub dropped_calls: u64,
    pub seconds: Vec<SecondRow>,
}

impl SimResult {
    #[must_use]
    pub fn new(policy: String) -> Self {
        Self {
            policy,
            violation_seconds: 0,
            replica_seconds: 0.0,
            scale_actions: 0,
            worst_p99_seconds: 0.0,
            calls: 0,
            dropped_calls: 0,
            seconds: Vec::new(),
        }
    }

    pub fn add_second(
        &mut self,
        row: SecondRow,
        target_s: f64,
        calls: u64,
        dropped: u64,
        keep: bool,
    ) {
        if let Some(p) = row.p99_s {
            if p > target_s {
                self.violation_seconds += 1;
            }
            self.worst_p99_seconds = self.worst_p99_seconds.max(p);
        }
        self.replica_seconds += f64::from(row.replicas);
        self.calls += calls;
        self.dropped_calls += dropped;
        if keep {
            self.seconds.push(row);
        }
    }

    /// Mean replicas over the run.
    #[must_use]
    pub fn mean_replicas(&self, duration_s: usize) -> f64 {
        self.replica_seconds / duration_s.max(1) as f64
    }
}

/// The comparison table `simulate` prints.
#[must_use]
pub fn table(results: &[SimResult], duration_s: usize) -> String {
    let width = results
        .iter()
        .map(|r| r.policy.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:>10}  {:>14}  {:>13}  {:>13}  {:>13}  {:>9}",
        "policy",
        "violation_s",
        "replica_s",
        "mean_replicas",
        "scale_actions",
        "worst_p99_s",
        "dropped",
    );
    for r in results {
        let _ = writeln!(
            out,
            "{:<width$}  {:>10}  {:>14.0}  {:>13.2}  {:>13}  {:>13.3}  {:>9}",
            r.policy,
            r.violation_seconds,
            r.replica_seconds,
            r.mean_replicas(duration_s),
            r.scale_actions,
            r.worst_p99_seconds,
            r.dropped_calls,
        );
    }
    out
}
