//! The clairvoyant horizontal bound: a replica plan computed from the
//! scenario's whole future rate, then replayed like any policy. No real
//! scaler can do better under the same boot rules, so the gap between a
//! policy and this plan is what better prediction could still win.
//!
//! The plan needs `ceil(load * headroom / capacity)` replicas taking
//! traffic in every second (never fewer than the minimum). Replicas are
//! identical, so the cheapest plan is found layer by layer: the `k`-th
//! replica is needed in the seconds where the need is at least `k`; each
//! run of such seconds has it requested at the last decision that still
//! gets it ready in time and removed at the first decision after the run,
//! and two runs are bridged exactly when a removal and a new request would
//! cost more than keeping the replica through the gap. That is the
//! dynamic programme's optimum for each layer on its own, and with
//! parallel boots the layers are independent, so the sum is the minimum.
//! With sequential boots (a `StatefulSet`) boot windows may not overlap:
//! requests are moved earlier, latest deadline first, until they do not,
//! which keeps each request as late as the boot queue allows.

use super::{Needs, Observation, Policy, Proposal};

/// What the plan is built under: the simulator's tier rules.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanConfig {
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Calls per second one replica holds under the P99 target.
    pub capacity: f64,
    /// Multiplier on the load the plan provisions for (>= 1).
    pub headroom: f64,
    pub boot_s: f64,
    pub sequential_boot: bool,
    /// Seconds between decisions.
    pub interval_s: u64,
    /// Seconds the simulator plays before t = 0; decisions fall where
    /// `t + warm_up_s` is a multiple of the interval.
    pub warm_up_s: u64,
}

impl PlanConfig {
    /// Replicas taking traffic second `t` needs for `load` calls/s.
    fn need(&self, load: f64) -> u32 {
        let n = (load.max(0.0) * self.headroom / self.capacity.max(1e-9)).ceil() as u32;
        n.clamp(self.min_replicas.max(1), self.max_replicas.max(1))
    }

    /// The last decision at or before `t` (may be negative: before the
    /// run, when the replica is simply there from the start).
    fn decision_at_or_before(&self, t: i64) -> i64 {
        let i = self.interval_s.max(1) as i64;
        let w = self.warm_up_s as i64;
        (t + w).div_euclid(i) * i - w
    }

    /// The first decision at or after `t`.
    fn decision_at_or_after(&self, t: i64) -> i64 {
        let i = self.interval_s.max(1) as i64;
        let back = self.decision_at_or_before(t);
        if back == t { t } else { back + i }
    }
}

/// One replica's life in the plan: asked for at `request`, draining from
/// `remove` (both decision seconds), needed ready from `ready_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Life {
    request: i64,
    ready_by: i64,
    remove: i64,
}

/// Replicas to provision at each second of `load` (calls/s per second,
/// registrations included as call equivalents). Read at decision
/// seconds; second 0's value is the tier the warm-up starts with.
#[must_use]
pub fn plan(load: &[f64], cfg: &PlanConfig) -> Vec<u32> {
    let len = load.len() as i64;
    let need: Vec<u32> = load.iter().map(|&l| cfg.need(l)).collect();
    let top = need.iter().copied().max().unwrap_or(0);
    let boot = cfg.boot_s.ceil() as i64;
    let mut lives = Vec::new();
    for layer in (cfg.min_replicas.max(1) + 1)..=top {
        let mut runs: Vec<(i64, i64)> = Vec::new();
        let mut t = 0;
        while t < len {
            if need[t as usize] >= layer {
                let start = t;
                while t < len && need[t as usize] >= layer {
                    t += 1;
                }
                runs.push((start, t - 1));
            } else {
                t += 1;
            }
        }
        let mut current: Option<Life> = None;
        for (a, b) in runs {
            let request = if a == 0 {
                i64::MIN / 4
            } else {
                cfg.decision_at_or_before(a - boot)
            };
            let remove = cfg.decision_at_or_after(b + 1);
            match &mut current {
                // Keeping through the gap costs no more than leaving and
                // booting again.
                Some(life) if request <= life.remove => life.remove = remove,
                _ => {
                    lives.extend(current.take());
                    current = Some(Life {
                        request,
                        ready_by: a,
                        remove,
                    });
                }
            }
        }
        lives.extend(current);
    }
    if cfg.sequential_boot {
        queue_boots(&mut lives, boot, cfg);
    }
    let base = cfg.min_replicas.max(1);
    let mut counts = vec![base; load.len()];
    for life in &lives {
        let from = life.request.clamp(0, len) as usize;
        let to = life.remove.clamp(0, len) as usize;
        for c in &mut counts[from..to] {
            *c += 1;
        }
    }
    counts
}

/// Move requests earlier so no two boot windows overlap, latest deadline
/// first: each boot ends by its own deadline and before the next boot
/// starts.
fn queue_boots(lives: &mut [Life], boot: i64, cfg: &PlanConfig) {
    let mut order: Vec<usize> = (0..lives.len())
        .filter(|&i| lives[i].ready_by > 0)
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lives[i].ready_by));
    let mut next_start = i64::MAX;
    for i in order {
        let end = lives[i].ready_by.min(next_start);
        let start = cfg.decision_at_or_before(end - boot);
        lives[i].request = lives[i].request.min(start);
        next_start = start;
    }
}

/// Replays a plan: proposes the planned count at each decision.
#[derive(Debug, Clone)]
pub struct Oracle {
    counts: Vec<u32>,
    headroom: f64,
}

impl Oracle {
    #[must_use]
    pub fn new(counts: Vec<u32>, headroom: f64) -> Self {
        Self { counts, headroom }
    }

    fn at(&self, now_s: f64) -> u32 {
        let i = (now_s.max(0.0) as usize).min(self.counts.len().saturating_sub(1));
        self.counts.get(i).copied().unwrap_or(1)
    }
}

impl Policy for Oracle {
    fn name(&self) -> String {
        format!("oracle:headroom={}", self.headroom)
    }

    fn needs(&self) -> Needs {
        Needs::default()
    }

    fn propose(&mut self, obs: &Observation) -> Proposal {
        Proposal::new(self.at(obs.now_s), "oracle", "clairvoyant plan")
    }

    fn initial_replicas(&self) -> Option<u32> {
        Some(self.at(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(sequential_boot: bool) -> PlanConfig {
        PlanConfig {
            min_replicas: 1,
            max_replicas: 20,
            capacity: 10.0,
            headroom: 1.0,
            boot_s: 30.0,
            sequential_boot,
            interval_s: 15,
            warm_up_s: 600,
        }
    }

    #[test]
    fn boots_just_in_time_and_leaves_at_the_next_decision() {
        // 10/s for 300 s, then 30/s for 300 s, then 10/s.
        let load: Vec<f64> = (0..900)
            .map(|t| if (300..600).contains(&t) { 30.0 } else { 10.0 })
            .collect();
        let parallel = plan(&load, &cfg(false));
        assert_eq!(parallel[0], 1);
        assert_eq!(parallel[269], 1, "nothing boots before it must");
        assert_eq!(parallel[270], 3, "both boot 30 s ahead at once");
        assert_eq!(parallel[599], 3);
        assert_eq!(parallel[600], 1, "removed at the first decision after");
        let queued = plan(&load, &cfg(true));
        assert_eq!(queued[239], 1);
        assert_eq!(queued[240], 2, "one by one: the first 60 s ahead");
        assert_eq!(queued[270], 3);
    }

    #[test]
    fn a_short_dip_is_bridged_and_a_long_one_is_not() {
        let dip = |gap: usize| -> Vec<f64> {
            (0..1200)
                .map(|t| {
                    if (300..300 + gap).contains(&t) {
                        5.0
                    } else {
                        15.0
                    }
                })
                .collect()
        };
        assert!(plan(&dip(20), &cfg(false)).iter().all(|&c| c == 2));
        let long = plan(&dip(300), &cfg(false));
        assert_eq!(long[450], 1);
        assert_eq!(long[0], 2);
    }
}
