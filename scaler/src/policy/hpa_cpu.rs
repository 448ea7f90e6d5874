//! The Kubernetes `HorizontalPodAutoscaler` on CPU (`AverageValue` target in
//! millicores), reproduced step by step from the documented algorithm
//! (<https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/>,
//! "Algorithm details", "Stabilization window", "Scaling policies",
//! "Default behavior") and the controller's replica calculator, as the
//! baseline the report compares against (4.4).

use std::collections::VecDeque;

use super::{Needs, Observation, PodSample, Policy, Proposal};

/// `HPAScalingPolicy.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Pods,
    Percent,
}

/// One `HPAScalingPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePolicy {
    pub kind: PolicyKind,
    pub value: u32,
    pub period_s: u32,
}

/// `selectPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    Max,
    Min,
    Disabled,
}

/// `HPAScalingRules` for one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub stabilization_window_s: u32,
    pub policies: Vec<RatePolicy>,
    pub select: Select,
}

impl Rules {
    /// Documented default for `scaleUp`: no stabilization; the higher of
    /// doubling or +4 pods per 15 s.
    #[must_use]
    pub fn default_up() -> Self {
        Self {
            stabilization_window_s: 0,
            policies: vec![
                RatePolicy {
                    kind: PolicyKind::Percent,
                    value: 100,
                    period_s: 15,
                },
                RatePolicy {
                    kind: PolicyKind::Pods,
                    value: 4,
                    period_s: 15,
                },
            ],
            select: Select::Max,
        }
    }

    /// Documented default for `scaleDown`: 300 s stabilization; all pods
    /// may go within 15 s.
    #[must_use]
    pub fn default_down() -> Self {
        Self {
            stabilization_window_s: 300,
            policies: vec![RatePolicy {
                kind: PolicyKind::Percent,
                value: 100,
                period_s: 15,
            }],
            select: Select::Max,
        }
    }
}

/// An HPA object's relevant spec.
#[derive(Debug, Clone, PartialEq)]
pub struct HpaConfig {
    /// `target.averageValue` of the CPU resource metric, millicores.
    pub target_millis: f64,
    /// Cluster-wide `--horizontal-pod-autoscaler-tolerance` (0.1).
    pub tolerance: f64,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub scale_up: Rules,
    pub scale_down: Rules,
}

impl HpaConfig {
    #[must_use]
    pub fn new(target_millis: f64, min_replicas: u32, max_replicas: u32) -> Self {
        Self {
            target_millis,
            tolerance: 0.1,
            min_replicas,
            max_replicas,
            scale_up: Rules::default_up(),
            scale_down: Rules::default_down(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Timestamped {
    at_s: f64,
    value: u32,
}

/// The controller's per-HPA state: recommendations for stabilization and
/// scale events for the rate policies.
#[derive(Debug, Clone)]
pub struct HpaCpu {
    pub config: HpaConfig,
    recommendations: Vec<Timestamped>,
    scale_up_events: VecDeque<Timestamped>,
    scale_down_events: VecDeque<Timestamped>,
}

/// Outcome of the replica calculator before behaviour is applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Calculated {
    Replicas(u32),
    /// No ready pod had a metric: the controller skips this round.
    NoMetrics,
}

impl HpaCpu {
    #[must_use]
    pub fn new(config: HpaConfig) -> Self {
        Self {
            config,
            recommendations: Vec::new(),
            scale_up_events: VecDeque::new(),
            scale_down_events: VecDeque::new(),
        }
    }

    /// The replica calculator for a plain per-pod metric: average over
    /// ready pods with metrics; then, if pods are missing metrics or
    /// unready during a scale-up, recompute assuming missing pods use 100 %
    /// of the target on scale-down and 0 on scale-up, unready pods 0 on
    /// scale-up, and never let that flip the direction.
    #[must_use]
    pub fn calculate(&self, current: u32, pods: &[PodSample]) -> Calculated {
        let target = self.config.target_millis;
        let tol = self.config.tolerance;
        let ready_with: Vec<f64> = pods
            .iter()
            .filter(|p| p.ready)
            .filter_map(|p| p.cpu_millis)
            .collect();
        let missing = pods
            .iter()
            .filter(|p| p.ready && p.cpu_millis.is_none())
            .count();
        let unready = pods.iter().filter(|p| !p.ready).count();
        let ready_count = pods.iter().filter(|p| p.ready).count();
        if ready_with.is_empty() {
            return Calculated::NoMetrics;
        }
        let ratio = ready_with.iter().sum::<f64>() / ready_with.len() as f64 / target;
        let scale_up_with_unready = unready > 0 && ratio > 1.0;
        if !scale_up_with_unready && missing == 0 {
            if (1.0 - ratio).abs() <= tol {
                return Calculated::Replicas(current);
            }
            return Calculated::Replicas((ratio * ready_count as f64).ceil() as u32);
        }
        let mut values = ready_with.clone();
        let fill = if ratio < 1.0 { target } else { 0.0 };
        values.extend(std::iter::repeat_n(fill, missing));
        if scale_up_with_unready {
            values.extend(std::iter::repeat_n(0.0, unready));
        }
        let new_ratio = values.iter().sum::<f64>() / values.len() as f64 / target;
        if (1.0 - new_ratio).abs() <= tol
            || (ratio > 1.0 && new_ratio < 1.0)
            || (ratio < 1.0 && new_ratio > 1.0)
        {
            return Calculated::Replicas(current);
        }
        let replicas = (new_ratio * values.len() as f64).ceil() as u32;
        if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
            return Calculated::Replicas(current);
        }
        Calculated::Replicas(replicas)
    }

    /// Stabilization: the recommendation is held between the lowest
    /// recommendation of the scale-up window and the highest of the
    /// scale-down window (both including this one), then recorded.
    fn stabilize(&mut self, now_s: f64, current: u32, desired: u32) -> u32 {
        let up_cutoff = now_s - f64::from(self.config.scale_up.stabilization_window_s);
        let down_cutoff = now_s - f64::from(self.config.scale_down.stabilization_window_s);
        let mut up = desired;
        let mut down = desired;
        for r in &self.recommendations {
            if r.at_s > up_cutoff {
                up = up.min(r.value);
            }
            if r.at_s > down_cutoff {
                down = down.max(r.value);
            }
        }
        self.recommendations
            .retain(|r| r.at_s > up_cutoff.min(down_cutoff));
        self.recommendations.push(Timestamped {
            at_s: now_s,
            value: desired,
        });
        current.max(up).min(down)
    }

    fn changed_in_period(events: &VecDeque<Timestamped>, now_s: f64, period_s: u32) -> u32 {
        let cutoff = now_s - f64::from(period_s);
        events
            .iter()
            .filter(|e| e.at_s > cutoff)
            .map(|e| e.value)
            .sum()
    }

    /// The highest count the scale-up rules allow now (`Max` picks the
    /// most permissive policy, `Min` the least).
    #[must_use]
    pub fn scale_up_limit(&self, now_s: f64, current: u32) -> u32 {
        let rules = &self.config.scale_up;
        if rules.select == Select::Disabled {
            return current;
        }
        let proposals = rules.policies.iter().map(|p| {
            let added = Self::changed_in_period(&self.scale_up_events, now_s, p.period_s);
            let deleted = Self::changed_in_period(&self.scale_down_events, now_s, p.period_s);
            let start = i64::from(current) - i64::from(added) + i64::from(deleted);
            match p.kind {
                PolicyKind::Pods => start + i64::from(p.value),
                PolicyKind::Percent => {
                    (start as f64 * (1.0 + f64::from(p.value) / 100.0)).ceil() as i64
                }
            }
        });
        let limit = match rules.select {
            Select::Min => proposals.min(),
            _ => proposals.max(),
        };
        limit.map_or(current, |l| l.clamp(0, i64::from(u32::MAX)) as u32)
    }

    /// The lowest count the scale-down rules allow now (`Max` picks the
    /// biggest change, i.e. the lowest count).
    #[must_use]
    pub fn scale_down_limit(&self, now_s: f64, current: u32) -> u32 {
        let rules = &self.config.scale_down;
        if rules.select == Select::Disabled {
            return current;
        }
        let proposals = rules.policies.iter().map(|p| {
            let added = Self::changed_in_period(&self.scale_up_events, now_s, p.period_s);
            let deleted = Self::changed_in_period(&self.scale_down_events, now_s, p.period_s);
            let start = i64::from(current) - i64::from(added) + i64::from(deleted);
            match p.kind {
                PolicyKind::Pods => start - i64::from(p.value),
                // Truncation as in the controller (int32 conversion).
                PolicyKind::Percent => (start as f64 * (1.0 - f64::from(p.value) / 100.0)) as i64,
            }
        });
        let limit = match rules.select {
            Select::Min => proposals.max(),
            _ => proposals.min(),
        };
        limit.map_or(current, |l| l.clamp(0, i64::from(u32::MAX)) as u32)
    }

    /// Stabilize, then bound by the rate policies and min/max: the
    /// controller's `normalizeDesiredReplicasWithBehaviors`.
    pub fn normalize(&mut self, now_s: f64, current: u32, desired: u32) -> (u32, &'static str) {
        let stabilized = self.stabilize(now_s, current, desired);
        let (min, max) = (self.config.min_replicas, self.config.max_replicas);
        if stabilized > current {
            let limit = self.scale_up_limit(now_s, current).max(current);
            let allowed = max.min(limit);
            if stabilized > allowed {
                return (
                    allowed,
                    if limit < max {
                        "hpa_rate_limited"
                    } else {
                        "hpa_max_replicas"
                    },
                );
            }
        } else if stabilized < current {
            let limit = self.scale_down_limit(now_s, current).min(current);
            let allowed = min.max(limit);
            if stabilized < allowed {
                return (
                    allowed,
                    if limit > min {
                        "hpa_rate_limited"
                    } else {
                        "hpa_min_replicas"
                    },
                );
            }
        }
        let reason = if stabilized == desired {
            "hpa_desired"
        } else {
            "hpa_stabilized"
        };
        (stabilized.clamp(min, max), reason)
    }

    /// Record a rescale the way the controller does after it patched the
    /// scale subresource.
    pub fn record(&mut self, now_s: f64, from: u32, to: u32) {
        let keep = f64::from(
            self.config
                .scale_up
                .policies
                .iter()
                .chain(&self.config.scale_down.policies)
                .map(|p| p.period_s)
                .max()
                .unwrap_or(0),
        );
        self.scale_up_events.retain(|e| e.at_s > now_s - keep);
        self.scale_down_events.retain(|e| e.at_s > now_s - keep);
        if to > from {
            self.scale_up_events.push_back(Timestamped {
                at_s: now_s,
                value: to - from,
            });
        } else if to < from {
            self.scale_down_events.push_back(Timestamped {
                at_s: now_s,
                value: from - to,
            });
        }
    }
}

impl Policy for HpaCpu {
    fn name(&self) -> String {
        format!("hpa-cpu:target={}m", self.config.target_millis)
    }

    fn needs(&self) -> Needs {
        Needs {
            cpu: true,
            ..Needs::default()
        }
    }

    fn propose(&mut self, obs: &Observation) -> Proposal {
        let current = obs.current_replicas;
        // The controller does not autoscale a target scaled to zero by hand.
        if current == 0 && self.config.min_replicas > 0 {
            return Proposal::new(current, "hpa_disabled", "current replicas is 0");
        }
        match self.calculate(current, &obs.pods) {
            Calculated::NoMetrics => Proposal::new(
                current,
                "hpa_missing_metrics",
                "no ready pod has a CPU metric",
            ),
            Calculated::Replicas(desired) => {
                let (replicas, reason) = self.normalize(obs.now_s, current, desired);
                Proposal::new(
                    replicas,
                    reason,
                    format!(
                        "calculated {desired}, target {}m",
                        self.config.target_millis
                    ),
                )
            }
        }
    }

    fn applied(&mut self, now_s: f64, from: u32, to: u32) {
        self.record(now_s, from, to);
    }
}

#[cfg(test)]
#[path = "hpa_cpu_tests.rs"]
mod tests;
