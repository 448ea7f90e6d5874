//! One round of the control loop: read the tier and the inputs, ask the
//! policy, pass the proposal through safety, apply it, and say why.

use std::time::Duration;

use tracing::{info, warn};

use crate::{
    actuator::{Actuator, TierState},
    metrics::ScalerMetrics,
    policy::{
        Observation, Policy,
        safety::{Decision, Safety},
    },
    source::{Reading, Source, http::error_chain},
};

pub struct Controller {
    pub source: Box<dyn Source>,
    pub policy: Box<dyn Policy>,
    pub safety: Safety,
    pub actuator: Box<dyn Actuator>,
    pub metrics: ScalerMetrics,
    /// Inputs older than this are stale (same as the safety config).
    pub stale_after: Duration,
}

impl Controller {
    /// One decision at `now_s` (seconds on a monotonic clock). `None` when
    /// the actuator could not even say how many replicas there are.
    pub async fn tick(&mut self, now_s: f64) -> Option<Decision> {
        let state = match self.actuator.state().await {
            Ok(s) => s,
            Err(e) => {
                warn!(actuator = %self.actuator.describe(), error = %error_chain(&e), "cannot read the tier; no decision this round");
                return None;
            }
        };
        if !state.agent_urls.is_empty() {
            self.source.discovered_endpoints(&state.agent_urls);
        }
        let reading = self.read().await;
        let obs = observation(now_s, &state, reading);
        let proposal = self.policy.propose(&obs);
        let decision = self.safety.decide(self.policy.needs(), &obs, proposal);
        self.metrics.current.set(i64::from(obs.current_replicas));
        self.metrics.input_p99.set(obs.p99_s.unwrap_or(f64::NAN));
        if let Some(limit) = obs.cpu_limit_millis {
            self.metrics.cpu_limit.set(i64::from(limit));
        }
        let resize_to = decision
            .cpu_limit_millis
            .filter(|&m| Some(m) != obs.cpu_limit_millis);
        let rescale = decision.replicas != obs.current_replicas;
        if !rescale && resize_to.is_none() {
            self.record(&decision);
            info!(
                replicas = decision.replicas,
                cpu_limit_millis = ?obs.cpu_limit_millis,
                reason = decision.reason,
                policy_reason = decision.policy_reason,
                detail = %decision.detail,
                "hold"
            );
            return Some(decision);
        }
        // The resize first: it acts in about a second, a new replica only
        // after its boot, and replicas added after it start at the base.
        let resized = match resize_to {
            Some(millis) => self.resize(&obs, &decision, millis).await,
            None => true,
        };
        let scaled = !rescale || self.scale(now_s, &obs, &decision).await;
        if resized && scaled {
            self.record(&decision);
        }
        Some(decision)
    }

    /// Apply a new CPU limit; false when the actuator refused. Nobody hears
    /// of a refusal but the metrics and the log: the next round reads the
    /// old limit again, decides again and retries.
    async fn resize(&mut self, obs: &Observation, decision: &Decision, millis: u32) -> bool {
        match self.actuator.resize(millis).await {
            Ok(()) => {
                self.metrics.cpu_limit.set(i64::from(millis));
                info!(
                    from = ?obs.cpu_limit_millis,
                    to = millis,
                    reason = decision.reason,
                    policy_reason = decision.policy_reason,
                    detail = %decision.detail,
                    "resized"
                );
                true
            }
            Err(e) => {
                let reason = e.reason();
                self.metrics
                    .actuation_errors
                    .with_label_values(&[reason])
                    .inc();
                warn!(
                    actuator = %self.actuator.describe(),
                    from = ?obs.cpu_limit_millis,
                    to = millis,
                    reason,
                    error = %error_chain(&e),
                    "resizing failed; will retry next round"
                );
                false
            }
        }
    }

    /// Apply a new replica count; false when the actuator refused.
    async fn scale(&mut self, now_s: f64, obs: &Observation, decision: &Decision) -> bool {
        match self.actuator.scale(decision.replicas).await {
            Ok(()) => {
                self.policy
                    .applied(now_s, obs.current_replicas, decision.replicas);
                self.safety
                    .applied(now_s, obs.current_replicas, decision.replicas);
                self.metrics.desired.set(i64::from(decision.replicas));
                info!(
                    from = obs.current_replicas,
                    to = decision.replicas,
                    reason = decision.reason,
                    policy_reason = decision.policy_reason,
                    detail = %decision.detail,
                    "scaled"
                );
                true
            }
            Err(e) => {
                // Neither the policy nor safety hears of it, so the next
                // round decides again from the unchanged count and retries.
                let reason = e.reason();
                self.metrics
                    .actuation_errors
                    .with_label_values(&[reason])
                    .inc();
                warn!(
                    actuator = %self.actuator.describe(),
                    from = obs.current_replicas,
                    to = decision.replicas,
                    reason,
                    error = %error_chain(&e),
                    "scaling failed; will retry next round"
                );
                false
            }
        }
    }

    /// A decision that took effect as a whole (a hold, or every call it
    /// needed succeeded): the gauge and the counter show what the tier was
    /// asked for, never a wish the API refused.
    fn record(&self, decision: &Decision) {
        self.metrics.desired.set(i64::from(decision.replicas));
        self.metrics
            .decisions
            .with_label_values(&[decision.reason])
            .inc();
    }

    async fn read(&mut self) -> Reading {
        match self.source.read().await {
            Ok(reading) => {
                for problem in reading.problems(self.stale_after) {
                    self.metrics
                        .source_errors
                        .with_label_values(&[problem])
                        .inc();
                    if problem == "partial" {
                        warn!(
                            source = %self.source.describe(),
                            reason = problem,
                            missing = %reading.missing.join("; "),
                            p99 = ?reading.p99_s,
                            rate = ?reading.rate,
                            "input partial: scale-up only this round"
                        );
                        continue;
                    }
                    warn!(
                        source = %self.source.describe(),
                        reason = problem,
                        p99 = ?reading.p99_s,
                        rate = ?reading.rate,
                        age_s = reading.sample_age.as_secs_f64(),
                        "input {problem}: no scale-down this round"
                    );
                }
                reading
            }
            Err(e) => {
                self.metrics
                    .source_errors
                    .with_label_values(&[e.reason()])
                    .inc();
                warn!(
                    source = %self.source.describe(),
                    reason = e.reason(),
                    error = %e,
                    "input unavailable: no scale-down this round"
                );
                Reading {
                    sample_age: Duration::MAX,
                    ..Reading::default()
                }
            }
        }
    }
}

fn observation(now_s: f64, state: &TierState, reading: Reading) -> Observation {
    Observation {
        now_s,
        current_replicas: state.replicas,
        ready_replicas: state.ready,
        p99_s: reading.p99_s,
        arrival_rate: reading.rate,
        pods: reading
            .pods
            .or_else(|| state.pods.clone())
            .unwrap_or_default(),
        sample_age: reading.sample_age,
        partial: !reading.missing.is_empty(),
        cpu_limit_millis: state.cpu_limit_millis,
    }
}
