//! `rl`: the learned policy (see [`crate::learn`]). A residual over
//! `hybrid`: `hybrid` proposes, the network picks a correction (replicas
//! `-1..+2`, quota times `0.85..1.7`), and the result goes through the same
//! safety layer as `hybrid`'s own. Served greedily (the most likely
//! action), so a run is deterministic.
//!
//! A residual that takes replicas away, or cuts the quota under the
//! current limit, passes `hybrid`'s own guards for that
//! ([`Hybrid::may_remove`], [`Hybrid::may_lower_quota`]), and no replica
//! goes while the rate reads under two thirds of its highest over the last
//! `settle_s`: on the testbed the network's "one fewer" removed a proxy
//! seconds after it turned ready, while it had not yet relayed its calls
//! and the rate read half its value for a few decisions. Such a residual
//! falls back to `hybrid`'s figure.
//!
//! A model that does not load, or whose outputs are not finite, is an
//! error when the policy is built ([`crate::learn::model::Model::check`]);
//! a non-finite output later holds the tier as it is (`rl_model_nan`) and
//! is logged with the decision, never replaced by `hybrid`'s figure.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use super::{
    Needs, Observation, Policy, Proposal,
    hybrid::{Hybrid, HybridConfig},
    spec::BuildContext,
};
use crate::{
    learn::{
        features::{FrameStack, Scales},
        model::{Mode, Model, NEUTRAL, QUOTA_FACTORS, REPLICA_DELTAS},
    },
    sim::random::Rng,
};

/// How actions are chosen.
#[derive(Debug, Clone)]
pub enum Actor {
    /// The most likely action (serving, evaluation).
    Greedy,
    /// Drawn from the policy's distribution (PPO's rollouts).
    Sample(Rng),
    /// Always the neutral residual: `hybrid` itself, recorded for
    /// behaviour cloning.
    Neutral,
}

/// One decision as the trainer needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub now_s: f64,
    pub input: Vec<f32>,
    pub replica_action: usize,
    pub quota_action: usize,
    /// Log-probability of the actions taken under the acting policy.
    pub log_prob: f32,
    pub value: f32,
    /// CPU the residual takes off `hybrid`'s proposal, in millicores
    /// (replicas x limit, proposed; negative when it adds), for the
    /// relative reward.
    pub saved_millis: f64,
}

pub struct Rl {
    name: String,
    mode: Mode,
    model: Arc<Model>,
    base: Hybrid,
    frames: FrameStack,
    scales: Scales,
    actor: Actor,
    /// Rates of the decisions within the last `settle_s`, oldest first,
    /// for the removal guard.
    recent_rates: VecDeque<(f64, f64)>,
    /// Decisions at or after second 0 (the warm-up is not judged), when
    /// the policy runs inside the trainer.
    pub record: Option<Arc<Mutex<Vec<Step>>>>,
}

impl Rl {
    /// `config` is `hybrid`'s (the base proposal); in horizontal mode its
    /// ceiling and baseline are pinned to the base limit.
    #[must_use]
    pub fn new(
        name: String,
        model: Arc<Model>,
        mut config: HybridConfig,
        ctx: &BuildContext,
        actor: Actor,
    ) -> Self {
        let max_replicas = ctx.max_replicas;
        let mode = model.config.mode;
        if mode == Mode::Horizontal {
            config.max_millis = config.base_millis;
            config.baseline_millis = config.base_millis;
        }
        let scales = Scales {
            p99_target_s: config.qos.p99_target_s.max(1e-3),
            base_millis: f64::from(config.base_millis),
            max_millis: f64::from(config.max_millis.max(1)),
            max_replicas: f64::from(max_replicas.max(1)),
        };
        Self {
            name,
            mode,
            frames: FrameStack::new(
                model.config.frames,
                model.config.forecast.map(|f| f.steps(ctx.interval_s)),
            ),
            model,
            base: Hybrid::new(config),
            scales,
            actor,
            recent_rates: VecDeque::new(),
            record: None,
        }
    }

    fn choose(&mut self, logits: &[f32]) -> usize {
        match &mut self.actor {
            Actor::Neutral => usize::MAX,
            Actor::Greedy => {
                logits
                    .iter()
                    .enumerate()
                    .fold((0, f32::NEG_INFINITY), |best, (i, &l)| {
                        if l > best.1 { (i, l) } else { best }
                    })
                    .0
            }
            Actor::Sample(rng) => {
                let u = rng.unit() as f32;
                let mut acc = 0.0;
                for (i, &l) in logits.iter().enumerate() {
                    acc += l.exp();
                    if u < acc {
                        return i;
                    }
                }
                logits.len() - 1
            }
        }
    }
}

impl Policy for Rl {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn needs(&self) -> Needs {
        self.base.needs()
    }

    fn propose(&mut self, obs: &Observation) -> Proposal {
        let base = self.base.propose(obs);
        let input = self
            .frames
            .push(obs, &base, self.base.cost_s(), &self.scales);
        let Ok((rep, quota, value)) = self.model.evaluate_one(&input) else {
            return hold(obs, "model evaluation failed");
        };
        if !(rep.iter().chain(&quota).all(|x| x.is_finite()) && value.is_finite()) {
            return hold(obs, "model output not finite");
        }
        let horizontal = self.mode == Mode::Horizontal;
        let r = match self.choose(&rep) {
            usize::MAX => NEUTRAL.0,
            a => a,
        };
        let q = if horizontal {
            NEUTRAL.1
        } else {
            match self.choose(&quota) {
                usize::MAX => NEUTRAL.1,
                a => a,
            }
        };
        let log_prob = rep[r] + if horizontal { 0.0 } else { quota[q] };
        let proposal = self.guard(obs, &base, self.correct(&base, r, q));
        if let Some(record) = self.record.as_ref().filter(|_| obs.now_s >= 0.0)
            && let Ok(mut steps) = record.lock()
        {
            let size = |p: &Proposal| {
                f64::from(p.replicas)
                    * f64::from(
                        p.cpu_limit_millis
                            .or(obs.cpu_limit_millis)
                            .unwrap_or(self.base.config.base_millis),
                    )
            };
            steps.push(Step {
                now_s: obs.now_s,
                input,
                replica_action: r,
                quota_action: q,
                log_prob,
                value,
                saved_millis: size(&base) - size(&proposal),
            });
        }
        proposal
    }
}

impl Rl {
    /// `hybrid`'s proposal `base` with the residual `(r, q)` applied.
    fn correct(&self, base: &Proposal, r: usize, q: usize) -> Proposal {
        if (r, q) == NEUTRAL {
            return base.clone();
        }
        let horizontal = self.mode == Mode::Horizontal;
        let replicas = (i64::from(base.replicas) + i64::from(REPLICA_DELTAS[r])).max(1) as u32;
        let c = &self.base.config;
        let limit = base.cpu_limit_millis.map(|l| {
            let step = f64::from(c.step_millis.max(1));
            let raw = (f64::from(l) * QUOTA_FACTORS[q] / step).ceil() * step;
            raw.clamp(
                f64::from(c.base_millis),
                f64::from(c.max_millis.max(c.base_millis)),
            ) as u32
        });
        Proposal {
            replicas,
            cpu_limit_millis: if horizontal { None } else { limit },
            reason: "rl_residual",
            detail: format!(
                "hybrid {} replicas at {:?}m ({}), residual {:+} replicas, quota x{}: {}",
                base.replicas,
                base.cpu_limit_millis,
                base.reason,
                REPLICA_DELTAS[r],
                QUOTA_FACTORS[q],
                base.detail
            ),
        }
    }
}

impl Rl {
    /// `proposal` with a removal or quota cut `hybrid` would not make now
    /// replaced by `base`'s figure.
    fn guard(&mut self, obs: &Observation, base: &Proposal, mut proposal: Proposal) -> Proposal {
        let rate = obs.arrival_rate.filter(|r| r.is_finite());
        let window = self.base.config.qos.settle_s;
        while self
            .recent_rates
            .front()
            .is_some_and(|&(t, _)| obs.now_s - t > window)
        {
            self.recent_rates.pop_front();
        }
        let high = self
            .recent_rates
            .iter()
            .map(|&(_, r)| r)
            .fold(0.0, f64::max);
        let falling = rate.is_some_and(|now| now < high * (2.0 / 3.0));
        if let Some(r) = rate {
            self.recent_rates.push_back((obs.now_s, r));
        }
        let mut refused = Vec::new();
        if proposal.replicas < base.replicas.min(obs.current_replicas)
            && (falling || !self.base.may_remove(obs))
        {
            proposal.replicas = base.replicas;
            refused.push(if falling {
                "removal held: rate under two thirds of its recent high"
            } else {
                "removal held: p99 not calm, booting or just ready"
            });
        }
        let now = obs.cpu_limit_millis.unwrap_or(self.base.config.base_millis);
        if let (Some(l), Some(b)) = (proposal.cpu_limit_millis, base.cpu_limit_millis)
            && l < b.min(now)
            && !self.base.may_lower_quota(obs)
        {
            proposal.cpu_limit_millis = Some(b);
            refused.push("quota cut held: p99 high or raised");
        }
        if !refused.is_empty() {
            proposal.reason = "rl_residual_held";
            proposal.detail = format!("{}; {}", refused.join(", "), proposal.detail);
        }
        proposal
    }
}

fn hold(obs: &Observation, why: &str) -> Proposal {
    Proposal {
        replicas: obs.current_replicas,
        cpu_limit_millis: obs.cpu_limit_millis,
        reason: "rl_model_nan",
        detail: why.to_owned(),
    }
}

#[cfg(test)]
#[path = "rl_tests.rs"]
mod tests;
