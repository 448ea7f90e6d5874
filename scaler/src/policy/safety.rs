//! The layer every policy's proposal goes through: bounds, step size,
//! cooldowns, and no scale-down on inputs we cannot trust (a dead
//! Prometheus must never look like an idle system, nor one dead agent
//! among several like a quieter tier). A per-replica CPU limit goes through
//! the same rules: bounded, stepped, and never lowered on such inputs.

use std::time::Duration;

use super::{Needs, Observation, Proposal};

#[derive(Debug, Clone, PartialEq)]
pub struct SafetyConfig {
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// Most replicas added by one decision.
    pub max_step_up: u32,
    /// Most replicas removed by one decision.
    pub max_step_down: u32,
    /// Minimum time between two scale-ups.
    pub cooldown_up: Duration,
    /// Minimum time after any change before a scale-down.
    pub cooldown_down: Duration,
    /// Inputs older than this are stale.
    pub stale_after: Duration,
    /// Bounds of the per-replica CPU limit; `None`: limits are not changed
    /// (a policy's wish for one is dropped).
    pub cpu: Option<CpuBounds>,
}

/// What a resize may do, in millicores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuBounds {
    /// The template's limit, which replicas boot with: never gone under,
    /// since the capacity plan behind the replica count assumes it.
    pub base_millis: u32,
    /// Per-pod ceiling (node allocatable).
    pub max_millis: u32,
    /// Most added by one decision.
    pub max_step_up_millis: u32,
    /// Most taken away by one decision.
    pub max_step_down_millis: u32,
}

impl SafetyConfig {
    /// Only bounds: for policies that bring their own rate limits (HPA).
    #[must_use]
    pub fn bounds_only(min_replicas: u32, max_replicas: u32) -> Self {
        Self {
            min_replicas,
            max_replicas,
            max_step_up: u32::MAX,
            max_step_down: u32::MAX,
            cooldown_up: Duration::ZERO,
            cooldown_down: Duration::ZERO,
            stale_after: Duration::from_secs(120),
            cpu: None,
        }
    }
}

/// Whether the inputs a policy needs can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputState {
    Ok,
    Missing,
    NaN,
    Stale,
    /// Values from part of the tier: an overload they show is real, a calm
    /// they show may be the missing part's absence.
    Partial,
}

impl InputState {
    #[must_use]
    pub fn check(needs: Needs, obs: &Observation, stale_after: Duration) -> Self {
        let values = [(needs.p99, obs.p99_s), (needs.rate, obs.arrival_rate)];
        let mut state = Self::Ok;
        for (needed, v) in values {
            match (needed, v) {
                (true, None) => return Self::Missing,
                (true, Some(x)) if !x.is_finite() => state = Self::NaN,
                _ => {}
            }
        }
        if needs.cpu {
            let ready: Vec<_> = obs.pods.iter().filter(|p| p.ready).collect();
            if ready.is_empty() || ready.iter().all(|p| p.cpu_millis.is_none()) {
                return Self::Missing;
            }
            if ready
                .iter()
                .any(|p| p.cpu_millis.is_some_and(|c| !c.is_finite()))
            {
                state = Self::NaN;
            }
        }
        if state == Self::Ok
            && (needs.p99 || needs.rate || needs.cpu)
            && obs.sample_age > stale_after
        {
            return Self::Stale;
        }
        if state == Self::Ok && (needs.p99 || needs.rate) && obs.partial {
            return Self::Partial;
        }
        state
    }

    #[must_use]
    pub fn hold_reason(self) -> &'static str {
        match self {
            Self::Ok => "hold",
            Self::Missing => "hold_input_missing",
            Self::NaN => "hold_input_nan",
            Self::Stale => "hold_input_stale",
            Self::Partial => "hold_input_partial",
        }
    }
}

/// A final decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub replicas: u32,
    /// Per-replica CPU limit to apply, millicores; `None` leaves it alone.
    pub cpu_limit_millis: Option<u32>,
    /// Bounded label value for `siplat_scaler_decisions_total{reason}`.
    pub reason: &'static str,
    /// The policy's own reason, before safety had its say.
    pub policy_reason: &'static str,
    pub detail: String,
    pub input: InputState,
}

/// Replace the decision's limit and say why; the label is the limit's only
/// when the replica count kept the policy's own.
fn limit_cpu(out: &mut Decision, millis: Option<u32>, reason: &'static str) {
    if millis != out.cpu_limit_millis {
        let wanted = out
            .cpu_limit_millis
            .map_or_else(|| "none".to_owned(), |m| format!("{m}m"));
        out.detail = format!("{reason} (cpu limit wanted {wanted}: {})", out.detail);
        out.cpu_limit_millis = millis;
        if out.reason == out.policy_reason {
            out.reason = reason;
        }
    }
}

/// Replace the decision's count and say why.
fn limit(out: &mut Decision, replicas: u32, reason: &'static str) {
    if replicas != out.replicas {
        out.detail = format!("{} (wanted {}: {})", reason, out.replicas, out.detail);
        out.replicas = replicas;
        out.reason = reason;
    }
}

#[derive(Debug, Clone)]
pub struct Safety {
    pub config: SafetyConfig,
    last_up_s: f64,
    last_change_s: f64,
}

impl Safety {
    #[must_use]
    pub fn new(config: SafetyConfig) -> Self {
        Self {
            config,
            last_up_s: f64::NEG_INFINITY,
            last_change_s: f64::NEG_INFINITY,
        }
    }

    #[must_use]
    pub fn decide(&self, needs: Needs, obs: &Observation, proposal: Proposal) -> Decision {
        let mut out = self.decide_replicas(needs, obs, proposal);
        self.bound_cpu(obs, &mut out);
        out
    }

    /// The limit part of a decision: unchanged (`None`) unless the policy
    /// asked; at most the ceiling, at least the base; never lower than now
    /// on untrusted input (and not at all when the current limit is unknown
    /// then); at most one step from the current limit (the base when the
    /// actuator cannot tell).
    fn bound_cpu(&self, obs: &Observation, out: &mut Decision) {
        let Some(wanted) = out.cpu_limit_millis else {
            return;
        };
        let Some(b) = self.config.cpu else {
            limit_cpu(out, None, "cpu_limit_fixed");
            return;
        };
        let current = obs.cpu_limit_millis;
        let mut want = wanted;
        if out.input != InputState::Ok {
            match current {
                None => return limit_cpu(out, None, out.input.hold_reason()),
                Some(c) if want < c => {
                    want = c;
                    limit_cpu(out, Some(want), out.input.hold_reason());
                }
                Some(_) => {}
            }
        }
        let max = b.max_millis.max(b.base_millis);
        let bounded = want.clamp(b.base_millis, max);
        if bounded != want {
            let reason = if bounded > want {
                "min_cpu_limit"
            } else {
                "max_cpu_limit"
            };
            limit_cpu(out, Some(bounded), reason);
        }
        let from = current.unwrap_or(b.base_millis);
        let stepped = bounded.clamp(
            from.saturating_sub(b.max_step_down_millis),
            from.saturating_add(b.max_step_up_millis),
        );
        limit_cpu(out, Some(stepped), "cpu_step_limit");
    }

    fn decide_replicas(&self, needs: Needs, obs: &Observation, proposal: Proposal) -> Decision {
        let c = &self.config;
        let current = obs.current_replicas;
        let input = InputState::check(needs, obs, c.stale_after);
        let mut out = Decision {
            replicas: proposal.replicas,
            cpu_limit_millis: proposal.cpu_limit_millis,
            reason: proposal.reason,
            policy_reason: proposal.reason,
            detail: proposal.detail,
            input,
        };
        if current < c.min_replicas {
            limit(
                &mut out,
                c.min_replicas.max(proposal.replicas.min(c.max_replicas)),
                "min_replicas",
            );
            return out;
        }
        if proposal.replicas < current && input != InputState::Ok {
            limit(&mut out, current, input.hold_reason());
            return out;
        }
        let bounded = proposal
            .replicas
            .clamp(c.min_replicas, c.max_replicas.max(c.min_replicas));
        limit(
            &mut out,
            bounded,
            if bounded > proposal.replicas {
                "min_replicas"
            } else {
                "max_replicas"
            },
        );
        let now = obs.now_s;
        let want = out.replicas;
        if want > current {
            if now - self.last_up_s < c.cooldown_up.as_secs_f64() {
                limit(&mut out, current, "cooldown");
            } else {
                limit(
                    &mut out,
                    want.min(current.saturating_add(c.max_step_up)),
                    "step_limit",
                );
            }
        } else if want < current {
            if now - self.last_change_s < c.cooldown_down.as_secs_f64() {
                limit(&mut out, current, "cooldown");
            } else {
                limit(
                    &mut out,
                    want.max(current.saturating_sub(c.max_step_down)),
                    "step_limit",
                );
            }
        }
        out
    }

    /// The actuator applied `from -> to` at `now_s`.
    pub fn applied(&mut self, now_s: f64, from: u32, to: u32) {
        if to > from {
            self.last_up_s = now_s;
        }
        if to != from {
            self.last_change_s = now_s;
        }
    }
}

#[cfg(test)]
#[path = "safety_tests.rs"]
mod tests;
