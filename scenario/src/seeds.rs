//! One policy over many seeds, summarised. A single seed's arrivals and
//! hashing decide a knee-close run either way, so a comparison is only
//! honest with the spread over seeds beside the mean.

use std::fmt::Write as _;

use crate::run::Run;

/// Mean, extremes and population standard deviation of one figure over
/// the seeds (population: the seeds run are the whole sample reported).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    pub std: f64,
}

impl Spread {
    /// The spread of `values`; all zero when there are none.
    #[must_use]
    pub fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Self {
            mean,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            std: var.sqrt(),
        }
    }
}

/// What one policy achieved over a set of seeds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeedSummary {
    pub policy: String,
    pub seeds: Vec<u64>,
    pub violation_seconds: Spread,
    pub replica_seconds: Spread,
    pub cpu_seconds: Spread,
    pub scale_actions: Spread,
    pub resize_actions: Spread,
    pub worst_p99_seconds: Spread,
    pub dropped_calls: Spread,
}

impl SeedSummary {
    /// Summarise `runs`, one per seed, in the order of `seeds`.
    #[must_use]
    pub fn of(policy: &str, seeds: &[u64], runs: &[Run]) -> Self {
        let spread = |f: fn(&Run) -> f64| Spread::of(&runs.iter().map(f).collect::<Vec<_>>());
        Self {
            policy: policy.to_owned(),
            seeds: seeds.to_vec(),
            violation_seconds: spread(|r| r.violation_seconds as f64),
            replica_seconds: spread(|r| r.replica_seconds),
            cpu_seconds: spread(|r| r.cpu_seconds),
            scale_actions: spread(|r| f64::from(r.scale_actions)),
            resize_actions: spread(|r| f64::from(r.resize_actions)),
            worst_p99_seconds: spread(|r| r.worst_p99_seconds),
            dropped_calls: spread(|r| r.dropped_calls as f64),
        }
    }

    /// Seeds as text: `1000..=1009` when consecutive, else a list.
    #[must_use]
    pub fn seed_range(&self) -> String {
        match (self.seeds.first(), self.seeds.last()) {
            (Some(a), Some(b)) if self.seeds.windows(2).all(|w| w[1] == w[0] + 1) => {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}..={b}")
                }
            }
            _ => {
                let list: Vec<String> = self.seeds.iter().map(u64::to_string).collect();
                list.join(",")
            }
        }
    }
}

/// The text table of summaries: each figure as its mean with the
/// min-max range and the standard deviation over the seeds.
#[must_use]
pub fn table(summaries: &[SeedSummary]) -> String {
    let width = summaries
        .iter()
        .map(|s| s.policy.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let cell = |s: &Spread, digits: usize| {
        format!(
            "{:.digits$} [{:.digits$}-{:.digits$}] ±{:.digits$}",
            s.mean, s.min, s.max, s.std
        )
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<width$}  {:>5}  {:>28}  {:>34}  {:>30}  {:>22}  {:>22}  {:>28}",
        "policy",
        "seeds",
        "violation_s mean [min-max] ±std",
        "replica_s",
        "cpu_s",
        "scale_actions",
        "resize_actions",
        "worst_p99_s",
    );
    for s in summaries {
        let _ = writeln!(
            out,
            "{:<width$}  {:>5}  {:>28}  {:>34}  {:>30}  {:>22}  {:>22}  {:>28}",
            s.policy,
            s.seeds.len(),
            cell(&s.violation_seconds, 1),
            cell(&s.replica_seconds, 0),
            cell(&s.cpu_seconds, 1),
            cell(&s.scale_actions, 1),
            cell(&s.resize_actions, 1),
            cell(&s.worst_p99_seconds, 3),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(violations: u64, replica_seconds: f64, worst: f64) -> Run {
        let mut r = Run::new("p".into());
        r.violation_seconds = violations;
        r.replica_seconds = replica_seconds;
        r.cpu_seconds = replica_seconds * 0.03;
        r.scale_actions = 2;
        r.worst_p99_seconds = worst;
        r
    }

    #[test]
    fn spread_over_a_known_set() {
        let s = Spread::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!((s.mean, s.min, s.max, s.std), (5.0, 2.0, 9.0, 2.0));
        assert_eq!(Spread::of(&[]), Spread::default());
    }

    #[test]
    fn summary_means_and_maxima_over_seeds() {
        let runs = [run(0, 100.0, 0.5), run(6, 200.0, 2.0), run(3, 300.0, 1.0)];
        let s = SeedSummary::of("qos", &[1000, 1001, 1002], &runs);
        assert_eq!(s.violation_seconds.mean, 3.0);
        assert_eq!(s.violation_seconds.max, 6.0);
        assert_eq!(s.violation_seconds.min, 0.0);
        assert_eq!(s.replica_seconds.mean, 200.0);
        assert!((s.cpu_seconds.mean - 6.0).abs() < 1e-9);
        assert_eq!(s.worst_p99_seconds.max, 2.0);
        assert_eq!(s.scale_actions.std, 0.0);
        assert_eq!(s.seed_range(), "1000..=1002");
        assert!(table(&[s]).contains("3.0 [0.0-6.0] ±2.4"));
    }
}
