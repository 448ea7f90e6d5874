//! `qos`: keep the P99 under the operator's target by provisioning for the
//! arrival rate with a learned per-replica capacity, and react to the P99
//! itself when the model was wrong.
//!
//! Scaling on rate acts before the P99 breaks (a rate step is visible at
//! once, while the P99 only rises once queues have formed); the P99
//! feedback covers what the model does not know (imbalance, registrations,
//! a slower machine) and corrects the model.

use super::{
    Needs, Observation, Policy, Proposal,
    capacity::{CapacityModel, Window},
};

#[derive(Debug, Clone, PartialEq)]
pub struct QosConfig {
    /// The operator's P99 target (report: P0 = 1 s).
    pub p99_target_s: f64,
    /// Fraction of the target treated as the operating limit: above it
    /// the policy adds replicas even if the rate model is content.
    pub headroom: f64,
    /// Spare capacity kept on scale-up: each replica runs at most at
    /// 1/(1+margin) of its capacity, which also absorbs Call-ID hash
    /// imbalance and the next rate step while a new replica boots.
    pub up_margin: f64,
    /// Spare capacity required before removing a replica (bigger than
    /// `up_margin`, so up and down do not chase each other).
    pub down_margin: f64,
    /// Prior capacity per replica, calls/s.
    pub capacity_prior: f64,
    /// Seconds the replica count must be unchanged before a window's P99
    /// is attributed to that count (source window + boot).
    pub settle_s: f64,
    /// Scale down only while the P99 is under `calm * target`.
    pub calm: f64,
    /// Seconds after the ready count changed during which the P99 is not
    /// acted on (the source's P99 window: the agent's 30 s, or the
    /// interval between scrapes for the agents source).
    pub p99_settle_s: f64,
    /// CPU limit of one replica (millicores), when known: with it, a window
    /// whose ready replicas averaged at least `saturation` of the limit
    /// does not let the capacity model climb (see `capacity`).
    pub cpu_limit_millis: Option<f64>,
    /// Share of the CPU limit that counts as saturated.
    pub saturation: f64,
}

impl Default for QosConfig {
    fn default() -> Self {
        Self {
            p99_target_s: 1.0,
            headroom: 0.5,
            up_margin: 0.3,
            down_margin: 0.4,
            capacity_prior: 10.0,
            settle_s: 45.0,
            calm: 0.4,
            p99_settle_s: 30.0,
            cpu_limit_millis: None,
            saturation: 0.9,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Qos {
    pub config: QosConfig,
    pub model: CapacityModel,
    last_change_s: f64,
    /// Ready count last seen; `None` before the first observation (the
    /// count found at start is taken as settled).
    last_ready: Option<u32>,
}

impl Qos {
    #[must_use]
    pub fn new(config: QosConfig) -> Self {
        let model = CapacityModel::new(config.capacity_prior);
        Self {
            config,
            model,
            last_change_s: f64::NEG_INFINITY,
            last_ready: None,
        }
    }

    /// Replicas the rate needs with the scale-up margin.
    #[must_use]
    pub fn need_for_rate(&self, rate: f64) -> u32 {
        self.model.replicas_for(rate, self.config.up_margin)
    }

    fn learn(&mut self, obs: &Observation) {
        if self.last_ready.is_some_and(|r| r != obs.ready_replicas) {
            self.last_change_s = obs.now_s;
        }
        self.last_ready = Some(obs.ready_replicas);
        let settled = obs.now_s - self.last_change_s >= self.config.settle_s;
        // A partial rate is low by the missing agents' share: dividing it by
        // every ready replica would teach the model a capacity nobody ran.
        if let (true, Some(rate), Some(p99)) = (settled, obs.arrival_rate, obs.p99_s)
            && obs.ready_replicas > 0
            && !obs.partial
        {
            let window = Window {
                cpu_saturated: self.cpu_saturated(obs),
                ..Window::new(
                    rate / f64::from(obs.ready_replicas),
                    p99,
                    self.config.p99_target_s,
                )
            };
            self.model.observe(obs.now_s, window);
        }
    }

    /// Mean CPU of the ready replicas that have a metric, against the limit.
    fn cpu_saturated(&self, obs: &Observation) -> bool {
        let Some(limit) = self.config.cpu_limit_millis.filter(|l| *l > 0.0) else {
            return false;
        };
        let Some(mean) = obs.mean_ready_cpu_millis() else {
            return false;
        };
        mean >= self.config.saturation * limit
    }
}

impl Policy for Qos {
    fn name(&self) -> String {
        "qos".to_owned()
    }

    fn needs(&self) -> Needs {
        Needs {
            p99: true,
            rate: true,
            cpu: false,
        }
    }

    fn propose(&mut self, obs: &Observation) -> Proposal {
        self.learn(obs);
        let current = obs.current_replicas;
        let cap = self.model.capacity();
        let target = self.config.p99_target_s;
        let p99 = obs.p99_s.filter(|v| v.is_finite());
        let Some(rate) = obs.arrival_rate.filter(|r| r.is_finite()) else {
            // Without a rate only the P99 can push up; never down.
            return match p99 {
                Some(p) if p > self.config.headroom * target => Proposal::new(
                    current + 1,
                    "p99_over_headroom",
                    format!("p99 {p:.3}s, no rate"),
                ),
                _ => Proposal::new(current, "hold", "no rate"),
            };
        };
        let need = self.need_for_rate(rate);
        let detail = |what: &str| {
            format!(
                "{what}: rate {rate:.1}/s, capacity {cap:.1}/s per replica, p99 {}",
                p99.map_or_else(|| "n/a".to_owned(), |p| format!("{p:.3}s"))
            )
        };
        // Replicas still booting, or ready for less than one P99 window,
        // will change the P99: until then the window's P99 is history and
        // only the rate model may add more.
        let booting = current > obs.ready_replicas;
        let fresh = obs.now_s - self.last_change_s < self.config.p99_settle_s;
        if let Some(p) = p99.filter(|_| !booting && !fresh) {
            if p > target {
                let up = current + current.div_ceil(2).max(1);
                return Proposal::new(up.max(need), "p99_over_target", detail("p99 over target"));
            }
            if p > self.config.headroom * target {
                return Proposal::new(
                    (current + 1).max(need),
                    "p99_over_headroom",
                    detail("p99 over headroom"),
                );
            }
        }
        if need > current {
            return Proposal::new(
                need,
                "rate_over_capacity",
                detail("rate needs more replicas"),
            );
        }
        let need_down = self
            .model
            .replicas_for(rate, self.config.down_margin)
            .max(1);
        let calm = p99.is_some_and(|p| p < self.config.calm * target);
        if need_down < current && calm {
            return Proposal::new(
                need_down,
                "capacity_allows_down",
                detail("remaining replicas carry the rate"),
            );
        }
        Proposal::new(current, "hold", detail("holding"))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn obs(now_s: f64, current: u32, rate: f64, p99: f64) -> Observation {
        Observation {
            now_s,
            current_replicas: current,
            ready_replicas: current,
            p99_s: Some(p99),
            arrival_rate: Some(rate),
            pods: Vec::new(),
            sample_age: Duration::ZERO,
            partial: false,
            cpu_limit_millis: None,
        }
    }

    #[test]
    fn scales_on_rate_before_the_p99_breaks() {
        let mut q = Qos::new(QosConfig::default());
        // 15/s per replica with P99 0.3 s: the model learns 15/s holds,
        // and keeps each replica at 15/1.3 = 11.5/s.
        let p = q.propose(&obs(0.0, 2, 30.0, 0.3));
        assert_eq!((p.replicas, p.reason), (3, "rate_over_capacity"));
        assert!((q.model.capacity() - 15.0).abs() < 1e-9);
        // A rate step right after the change to 3: the new count has not
        // settled, so the model still says 15/s: 60 * 1.3 / 15 = 5.2 -> 6,
        // before any P99 breach.
        let p = q.propose(&obs(15.0, 3, 60.0, 0.3));
        assert_eq!((p.replicas, p.reason), (6, "rate_over_capacity"));
    }

    #[test]
    fn p99_feedback_adds_and_corrects_the_model() {
        let mut q = Qos::new(QosConfig::default());
        q.propose(&obs(0.0, 3, 15.0, 0.01));
        let p = q.propose(&obs(60.0, 3, 15.0, 1.5));
        assert_eq!((p.replicas, p.reason), (5, "p99_over_target"));
        assert!(
            q.model.capacity() < 5.0 + 1e-9,
            "15/s on 3 breached: {}",
            q.model.capacity()
        );
    }

    #[test]
    fn a_cpu_at_its_limit_keeps_the_model_from_climbing_past_the_cliff() {
        use crate::policy::PodSample;
        let config = QosConfig {
            cpu_limit_millis: Some(30.0),
            ..QosConfig::default()
        };
        let at = |cpu: f64| {
            let mut o = obs(0.0, 2, 50.0, 0.15);
            o.pods = vec![
                PodSample {
                    ready: true,
                    cpu_millis: Some(cpu),
                };
                2
            ];
            o
        };
        // 25/s per replica at P99 0.15 s: with CPU to spare the model
        // credits 35/s, 50 * 1.3 / 35 = 1.9 -> 2 (hold).
        let mut q = Qos::new(config.clone());
        assert_eq!(q.propose(&at(15.0)).replicas, 2);
        assert!(
            (q.model.capacity() - 35.0).abs() < 1e-9,
            "{}",
            q.model.capacity()
        );
        // The same window with the CPU at 28 of 30 m: only 25/s is proven,
        // 50 * 1.3 / 25 = 2.6 -> 3 before the cliff.
        let mut q = Qos::new(config);
        let p = q.propose(&at(28.0));
        assert_eq!((p.replicas, p.reason), (3, "rate_over_capacity"));
        assert!(
            (q.model.capacity() - 25.0).abs() < 1e-9,
            "{}",
            q.model.capacity()
        );
        // Without a known limit the CPU is not used.
        let mut q = Qos::new(QosConfig::default());
        assert_eq!(q.propose(&at(28.0)).replicas, 2);
    }

    #[test]
    fn scales_down_only_with_margin_and_calm_p99() {
        let mut q = Qos::new(QosConfig::default());
        let p = q.propose(&obs(0.0, 6, 30.0, 0.01));
        assert_eq!(
            (p.replicas, p.reason),
            (5, "capacity_allows_down"),
            "30*1.5/10 = 4.5 -> 5"
        );
        let p = q.propose(&obs(15.0, 6, 30.0, 0.45));
        assert_eq!(p.reason, "hold", "p99 not calm");
        let p = q.propose(&obs(30.0, 5, 30.0, 0.01));
        assert_eq!(p.replicas, 5, "4 would carry 30/s only without the margin");
    }
}
