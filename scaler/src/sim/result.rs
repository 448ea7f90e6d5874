//! What one simulated run yields is `scenario::run::Run`, the record a
//! testbed run is judged by too; here only the text table `simulate`
//! prints.

use std::fmt::Write as _;

pub use scenario::run::{Run as SimResult, Second as SecondRow};

/// The comparison table `simulate` prints.
#[must_use]
pub fn table(results: &[SimResult]) -> String {
    let width = results
        .iter()
        .map(|r| r.policy.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:>10}  {:>14}  {:>12}  {:>13}  {:>13}  {:>14}  {:>13}  {:>9}",
        "policy",
        "violation_s",
        "replica_s",
        "cpu_s",
        "mean_replicas",
        "scale_actions",
        "resize_actions",
        "worst_p99_s",
        "dropped",
    );
    for r in results {
        let _ = writeln!(
            out,
            "{:<width$}  {:>10}  {:>14.0}  {:>12.1}  {:>13.2}  {:>13}  {:>14}  {:>13.3}  {:>9}",
            r.policy,
            r.violation_seconds,
            r.replica_seconds,
            r.cpu_seconds,
            r.mean_replicas(),
            r.scale_actions,
            r.resize_actions,
            r.worst_p99_seconds,
            r.dropped_calls,
        );
    }
    out
}
