//! The environment: the simulator, unchanged, with the learner as its
//! policy.
//!
//! `simulate` drives its policy (it calls `propose` every decision
//! interval), so the reset/step pair of a gym environment is turned inside
//! out here: [`Episode::draw`] is the reset (a scenario and a seed, drawn
//! with the domain randomisation below), the learner's `propose` is the
//! step's action, and [`run`] returns each decision's observation, action
//! and reward, the reward read from the per-second rows of the interval the
//! decision governed (`keep_seconds`). What `simulate` computes is
//! untouched: the same call scores `rl` in `simulate --suite`.
//!
//! Domain randomisation: every suite family, seeds outside both the
//! tuning (1-40, used for validation) and the evaluation seeds (1000-1009),
//! the rate times 0.7-1.3, an extra flash crowd (x1.3-1.8 for 1-15 min) on
//! a third of the episodes, boot delays of 15-60 s, and the testbed
//! calibration (rates x3, `capacity=30`) on a quarter of them. Days longer
//! than three hours are cut to a random three-hour window.

use std::sync::{Arc, Mutex};

use scenario::suite::{EVALUATION_SEEDS, Family, TUNING_SEEDS};
use serde::{Deserialize, Serialize};

use super::model::Model;
use crate::{
    policy::{
        rl::{Actor, Rl, Step},
        safety::SafetyConfig,
        spec::{BuildContext, PolicySpec},
    },
    sim::{SimConfig, calibration::Profile, random::Rng, simulate},
};

/// Longest stretch of a scenario one training episode plays, by default.
pub const MAX_EPISODE_S: usize = 3 * 3600;
/// The testbed's proxy holds about three times the report's calls.
const TESTBED_RATE_SCALE: f64 = 3.0;

/// What one episode plays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub family: String,
    pub seed: u64,
    pub amplitude: f64,
    /// `(start second, length, factor)` of an added flash crowd.
    pub flash: Option<(usize, usize, f64)>,
    pub boot_delay_s: f64,
    pub testbed: bool,
    /// First second of the window played, and its length.
    pub offset: usize,
    pub length: usize,
}

impl Episode {
    /// A randomised episode (the reset's draw) of at most `max_s` seconds.
    #[must_use]
    pub fn draw(rng: &mut Rng, max_s: usize) -> Self {
        let family = Family::ALL[(rng.next_u64() % Family::ALL.len() as u64) as usize];
        let seed = loop {
            let s = 100 + rng.next_u64() % 1_000_000;
            if !EVALUATION_SEEDS.contains(&s) && !TUNING_SEEDS.contains(&s) {
                break s;
            }
        };
        let len = family.rates(seed).len();
        let window = len.min(max_s.max(60));
        let offset = (rng.next_u64() % (len - window + 1) as u64) as usize;
        let flash = (rng.unit() < 1.0 / 3.0).then(|| {
            let start = (rng.unit() * window as f64 * 0.8) as usize;
            let length = rng.between(60.0, 900.0) as usize;
            (start, length, rng.between(1.3, 1.8))
        });
        Self {
            family: family.name().to_owned(),
            seed,
            amplitude: rng.between(0.7, 1.3),
            flash,
            boot_delay_s: rng.between(15.0, 60.0).round(),
            testbed: rng.unit() < 0.25,
            offset,
            length: window,
        }
    }

    /// One suite instance as it is (validation and evaluation).
    #[must_use]
    pub fn plain(family: Family, seed: u64) -> Self {
        Self {
            family: family.name().to_owned(),
            seed,
            amplitude: 1.0,
            flash: None,
            boot_delay_s: crate::sim::calibration::BOOT_DELAY_S,
            testbed: false,
            offset: 0,
            length: usize::MAX,
        }
    }

    /// The per-second rate this episode plays.
    #[must_use]
    pub fn rates(&self) -> Vec<f64> {
        let family: Family = self.family.parse().unwrap_or(Family::Step);
        let all = family.rates(self.seed);
        let plain = self.amplitude == 1.0 && self.flash.is_none() && !self.testbed;
        if plain && self.offset == 0 && self.length >= all.len() {
            return all;
        }
        let end = self.offset.saturating_add(self.length).min(all.len());
        let scale = self.amplitude
            * if self.testbed {
                TESTBED_RATE_SCALE
            } else {
                1.0
            };
        all[self.offset..end]
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let flash = self
                    .flash
                    .filter(|&(s, l, _)| i >= s && i < s + l)
                    .map_or(1.0, |f| f.2);
                r * scale * flash
            })
            .collect()
    }

    fn sim_config(&self, seed: u64, interval_s: u64) -> SimConfig {
        SimConfig {
            boot_delay_s: self.boot_delay_s,
            seed,
            interval_s,
            rate_window_s: interval_s,
            ..SimConfig::for_profile(if self.testbed {
                Profile::Testbed
            } else {
                Profile::Report
            })
        }
    }
}

/// The reward's terms, per decision interval (see the scaler's README).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Reward {
    /// Cost of one second over the P99 target, in CPU-seconds.
    pub violation_weight: f64,
    /// Cost of one allocated CPU-second.
    pub cpu_weight: f64,
    /// Cost of one scale or resize.
    pub action_weight: f64,
    /// `Some((mean, sd))`: add the Gaussian-around-target term, each
    /// second costing `violation_weight * (1 - exp(-(p99/target - mean)^2
    /// / 2 sd^2))` when the P99 is over `mean * target` (LSTM-PPO+'s
    /// shape: a P99 near the operating point costs nothing, one drifting
    /// to the target costs almost a violation).
    pub gaussian: Option<(f64, f64)>,
    /// Factor on the whole reward, to keep values near 1 for the critic.
    pub scale: f64,
    /// Pay for the CPU the residual takes off `hybrid`'s proposal
    /// (`cpu_weight` per CPU-second saved over the interval, negative when
    /// it adds) instead of charging the CPU allocated: the reward of a
    /// decision is its advantage over `hybrid`'s own, not the tier's cost.
    #[serde(default)]
    pub relative: bool,
}

impl Default for Reward {
    fn default() -> Self {
        Self {
            violation_weight: 10.0,
            cpu_weight: 1.0,
            action_weight: 0.05,
            gaussian: None,
            scale: 0.1,
            relative: false,
        }
    }
}

/// What one episode gave the trainer.
#[derive(Debug, Clone)]
pub struct Played {
    pub steps: Vec<Step>,
    pub rewards: Vec<f32>,
    pub violation_seconds: u64,
    pub cpu_seconds: f64,
    pub seconds: u64,
}

/// The context every episode is built with (`simulate`'s defaults).
#[must_use]
pub fn context() -> BuildContext {
    context_at(crate::sim::calibration::DECISION_INTERVAL_S)
}

/// The context of a policy deciding every `interval_s` (as `interval=`
/// makes it in `simulate`).
#[must_use]
pub fn context_at(interval_s: u64) -> BuildContext {
    BuildContext {
        min_replicas: 2,
        max_replicas: 20,
        p99_target_s: 1.0,
        interval_s: interval_s as f64,
        boot_s: crate::sim::calibration::BOOT_DELAY_S,
    }
}

/// `rl` as the episode runs it: the in-memory model over `hybrid` with
/// the episode's capacity prior, under `hybrid`'s safety layer.
fn learner(ep: &Episode, model: Arc<Model>, actor: Actor, interval_s: u64) -> (Rl, SafetyConfig) {
    let ctx = context_at(interval_s);
    let text = if ep.testbed { "rl:capacity=30" } else { "rl" };
    let spec = PolicySpec::parse_list(text).map(|mut v| v.remove(0));
    let spec = spec.expect("a fixed spec parses");
    let hybrid = PolicySpec::parse_list(&text.replacen("rl", "hybrid", 1))
        .expect("a fixed spec parses")
        .remove(0);
    let (_, mut safety) = hybrid.build(&ctx).expect("hybrid builds");
    if model.config.mode == super::model::Mode::Horizontal {
        safety.cpu = None;
    }
    let config = spec.hybrid_config(&ctx).expect("hybrid's defaults");
    (Rl::new("rl".to_owned(), model, config, &ctx, actor), safety)
}

/// Play one episode with `seed` for the arrivals, deciding every
/// `interval_s`.
#[must_use]
pub fn run(
    ep: &Episode,
    model: Arc<Model>,
    actor: Actor,
    reward: &Reward,
    seed: u64,
    interval_s: u64,
) -> Played {
    let rates = ep.rates();
    let (mut policy, safety) = learner(ep, model, actor, interval_s);
    let record = Arc::new(Mutex::new(Vec::new()));
    policy.record = Some(Arc::clone(&record));
    let cfg = ep.sim_config(seed, interval_s);
    let result = simulate(&rates, Box::new(policy), safety, &cfg, true);
    let steps = record.lock().map(|s| s.clone()).unwrap_or_default();
    let rows = &result.seconds;
    let target = cfg.p99_target_s;
    let mut rewards = Vec::with_capacity(steps.len());
    for (k, step) in steps.iter().enumerate() {
        let from = step.now_s.max(0.0) as usize;
        let to = steps
            .get(k + 1)
            .map_or(rows.len(), |n| n.now_s as usize)
            .min(rows.len());
        let mut cost = 0.0;
        for row in rows.get(from..to).unwrap_or_default() {
            let ratio = row.p99_s.unwrap_or(0.0) / target;
            if ratio > 1.0 {
                cost += reward.violation_weight;
            }
            if let Some((mean, sd)) = reward.gaussian
                && ratio > mean
            {
                let z = (ratio - mean) / sd.max(1e-3);
                cost += reward.violation_weight * (1.0 - (-z * z / 2.0).exp());
            }
            if !reward.relative {
                cost += reward.cpu_weight * row.allocated_millis / 1000.0;
            }
        }
        if reward.relative {
            let seconds = to.saturating_sub(from) as f64;
            cost -= reward.cpu_weight * step.saved_millis / 1000.0 * seconds;
        }
        // A scale or resize shows in the rows as a change in the replicas
        // that cost or in the CPU allocated across the decision.
        let before = from.checked_sub(1).and_then(|i| rows.get(i));
        let after = rows.get((from + 2).min(rows.len().saturating_sub(1)));
        if let (Some(b), Some(a)) = (before, after)
            && (a.replicas != b.replicas || (a.allocated_millis - b.allocated_millis).abs() > 0.5)
        {
            cost += reward.action_weight;
        }
        rewards.push((-cost * reward.scale) as f32);
    }
    Played {
        steps,
        rewards,
        violation_seconds: result.violation_seconds,
        cpu_seconds: result.cpu_seconds,
        seconds: result.played_s,
    }
}

/// Episodes in index order, spread over at most two threads: the result
/// does not depend on which thread played what.
#[must_use]
pub fn run_all(
    episodes: &[(Episode, u64)],
    model: &Arc<Model>,
    actors: &[Actor],
    reward: &Reward,
    interval_s: u64,
) -> Vec<Played> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(2);
    let mut out: Vec<(usize, Played)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((ep, seed)) = episodes.get(i) else {
                            return mine;
                        };
                        let played = run(
                            ep,
                            Arc::clone(model),
                            actors[i].clone(),
                            reward,
                            *seed,
                            interval_s,
                        );
                        mine.push((i, played));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, p)| p).collect()
}
