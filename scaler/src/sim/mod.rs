//! Simulator of the proxy tier, one second at a time with every call placed
//! individually: Poisson-like arrivals, Call-ID hashing over the active
//! proxies, CFS-throttled FIFO service per proxy (see [`replica`]), boot
//! delay, re-registration waves with DMQ replication, and the policy under
//! test deciding every interval through the safety layer.
//!
//! Numbers come from [`calibration`]; a 24 h scenario takes well under a
//! second per policy in release builds.

pub mod calibration;
pub mod call_flow;
pub mod cpu_curve;
pub mod histogram;
pub mod random;
pub mod realism;
pub mod replica;
pub mod result;
mod traffic;
pub mod vertical;

use std::time::Duration;

use scenario::{counts_from_rates, registration::Reregistration};

use self::{
    calibration as cal,
    cpu_curve::CpuCurve,
    histogram::WindowHistogram,
    random::Rng,
    realism::{LaterQueue, Realism},
    replica::{Replica, State},
    result::{SecondRow, SimResult},
};
use crate::policy::{
    Observation, PodSample, Policy,
    safety::{Safety, SafetyConfig},
};

/// Everything the simulated tier is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub p99_target_s: f64,
    pub boot_delay_s: f64,
    pub sequential_boot: bool,
    pub interval_s: u64,
    pub p99_window_s: u64,
    pub rate_window_s: u64,
    pub cpu_window_s: u64,
    pub warm_up_s: u64,
    /// Replicas running when the warm-up starts (autoscaled policies).
    pub initial_replicas: u32,
    /// Base CPU limit: every replica boots with it.
    pub cpu_limit_millis: f64,
    /// Highest limit a resize may give one replica (node allocatable).
    pub max_cpu_limit_millis: f64,
    /// Seconds from a resize being asked for to the new quota applying.
    pub resize_delay_s: f64,
    pub background_millis: f64,
    pub cfs_period_s: f64,
    pub invite_cpu_s: f64,
    pub register_cpu_s: f64,
    pub dmq_cpu_s: f64,
    pub max_backlog_s: f64,
    /// When set, every request's cost above is scaled by the curve's
    /// discount at the replica's recent load (testbed profile); `None`
    /// keeps the cost per request constant (report profile).
    pub cpu_curve: Option<CpuCurve>,
    pub registration: Reregistration,
    /// What the report's model leaves out, part by part.
    pub realism: Realism,
    /// From a call's ACK to its BYE (with `realism.per_message`).
    pub hold_s: f64,
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self::report()
    }
}

impl SimConfig {
    #[must_use]
    pub fn for_profile(profile: cal::Profile) -> Self {
        match profile {
            cal::Profile::Report => Self::report(),
            cal::Profile::Testbed => Self::testbed(),
        }
    }

    /// The testbed's proxy: the report's tier (limit, period, boot,
    /// registrations) with the measured concave CPU curve. A lone call costs
    /// the curve's low-load slope; REGISTER and DMQ keep their report ratios
    /// to a call and get the same load discount.
    #[must_use]
    pub fn testbed() -> Self {
        let report = Self::report();
        let curve = CpuCurve::new(
            cal::testbed::CPU_CURVE,
            report.background_millis,
            cal::testbed::LOAD_TAU_S,
        );
        let invite = curve.per_call_s(0.0);
        Self {
            invite_cpu_s: invite,
            register_cpu_s: invite * (cal::REGISTER_CPU_S / cal::INVITE_CPU_S),
            dmq_cpu_s: invite * (cal::DMQ_REPLICATION_CPU_S / cal::INVITE_CPU_S),
            cpu_curve: Some(curve),
            ..report
        }
    }

    fn report() -> Self {
        Self {
            p99_target_s: 1.0,
            boot_delay_s: cal::BOOT_DELAY_S,
            sequential_boot: cal::SEQUENTIAL_BOOT,
            interval_s: cal::DECISION_INTERVAL_S,
            p99_window_s: cal::P99_WINDOW_S,
            rate_window_s: cal::RATE_WINDOW_S,
            cpu_window_s: cal::CPU_METRIC_WINDOW_S,
            warm_up_s: cal::WARM_UP_S,
            initial_replicas: 2,
            cpu_limit_millis: cal::CPU_LIMIT_MILLIS,
            max_cpu_limit_millis: cal::MAX_CPU_LIMIT_MILLIS,
            resize_delay_s: cal::RESIZE_DELAY_S,
            background_millis: cal::BACKGROUND_MILLIS,
            cfs_period_s: cal::CFS_PERIOD_S,
            invite_cpu_s: cal::INVITE_CPU_S,
            register_cpu_s: cal::REGISTER_CPU_S,
            dmq_cpu_s: cal::DMQ_REPLICATION_CPU_S,
            max_backlog_s: cal::MAX_BACKLOG_S,
            cpu_curve: None,
            registration: Reregistration {
                users: cal::REGISTERED_USERS,
                interval_s: cal::REREGISTER_INTERVAL_S,
                spread_s: cal::REREGISTER_SPREAD_S,
                // The initial registration happens before the scenario
                // starts (report 3.3.2: registration, then scenario).
                at_start: false,
            },
            realism: Realism::none(),
            hold_s: cal::HOLD_S,
            seed: 42,
        }
    }
}

struct Tier<'a> {
    cfg: &'a SimConfig,
    replicas: Vec<Replica>,
    active_since: Vec<i64>,
    rng: Rng,
    /// Draws of the realism parts, apart from `rng` so that switching a
    /// part on leaves the arrivals and the routing as they were.
    realism_rng: Rng,
    next_id: u64,
    later: LaterQueue,
    /// Second (mod the resolution) at which the metrics pipeline scrapes.
    scrape_phase: i64,
}

impl<'a> Tier<'a> {
    fn new(cfg: &'a SimConfig) -> Self {
        Self {
            cfg,
            replicas: Vec::new(),
            active_since: Vec::new(),
            rng: Rng::new(cfg.seed),
            realism_rng: Rng::new(cfg.seed ^ 0x5eed_0f7e_a115_0000),
            next_id: 0,
            later: LaterQueue::default(),
            scrape_phase: 0,
        }
    }

    /// `1 ± spread`, uniform.
    fn spread(&mut self, spread: f64) -> f64 {
        if spread <= 0.0 {
            return 1.0;
        }
        1.0 + spread * (2.0 * self.realism_rng.unit() - 1.0)
    }

    fn new_replica(&mut self, state: State, start: i64) -> Replica {
        let mut r = Replica::new(state, self.cfg.cfs_period_s, self.base_quota(), start);
        r.id = self.next_id;
        self.next_id += 1;
        r.speed = self.spread(self.cfg.realism.speed_spread);
        r
    }

    fn provisioned(&self) -> u32 {
        self.replicas
            .iter()
            .filter(|r| !matches!(r.state, State::Draining))
            .count() as u32
    }

    fn active(&self) -> Vec<usize> {
        (0..self.replicas.len())
            .filter(|&i| self.replicas[i].state == State::Active)
            .collect()
    }

    fn scale_to(&mut self, t: f64, n: u32) {
        let current = self.provisioned();
        if n > current {
            let mut last_ready = self
                .replicas
                .iter()
                .filter_map(|r| match r.state {
                    State::Booting { ready_at } => Some(ready_at),
                    _ => None,
                })
                .fold(t, f64::max);
            for _ in current..n {
                let boot = self.cfg.boot_delay_s * self.spread(self.cfg.realism.boot_spread);
                let ready_at = if self.cfg.sequential_boot {
                    last_ready + boot
                } else {
                    t + boot
                };
                last_ready = ready_at;
                let r = self.new_replica(State::Booting { ready_at }, t.floor() as i64);
                self.replicas.push(r);
                self.active_since.push(i64::MAX);
            }
        } else {
            // Highest ordinals go first, as a StatefulSet scales in.
            let mut remove = current - n;
            for i in (0..self.replicas.len()).rev() {
                if remove == 0 {
                    break;
                }
                if self.replicas[i].state != State::Draining {
                    self.replicas[i].state = State::Draining;
                    remove -= 1;
                }
            }
        }
    }

    fn start_second(&mut self, s: i64) {
        let t = s as f64;
        for (r, since) in self.replicas.iter_mut().zip(self.active_since.iter_mut()) {
            r.quota.settle(t);
            if let State::Booting { ready_at } = r.state
                && ready_at <= t
            {
                r.state = State::Active;
                *since = s;
            }
        }
        let mut i = 0;
        while i < self.replicas.len() {
            if self.replicas[i].state == State::Draining && self.replicas[i].backlog(t) <= 0.0 {
                self.replicas.remove(i);
                self.active_since.remove(i);
            } else {
                i += 1;
            }
        }
    }

    fn row(
        &self,
        s: i64,
        invites: u32,
        active: &[usize],
        p99_s: Option<f64>,
        dropped: u64,
    ) -> SecondRow {
        let t0 = s as f64;
        let replicas = self
            .replicas
            .iter()
            .filter(|r| r.state != State::Draining || r.backlog(t0) > 0.0)
            .count() as u32;
        // Each replica's CPU is capped by its own limit in force.
        let cpu: f64 = active
            .iter()
            .map(|&i| {
                let r = &self.replicas[i];
                (r.cpu_at(s) * 1000.0 + self.cfg.background_millis).min(r.quota.limit_at(t0))
            })
            .sum::<f64>()
            / active.len().max(1) as f64;
        SecondRow {
            t: s as u64,
            rate: f64::from(invites),
            replicas,
            ready: active.len() as u32,
            p99_s,
            cpu_millis: if active.is_empty() {
                self.cfg.background_millis
            } else {
                cpu
            },
            failed_calls: dropped,
            allocated_millis: self.allocated_millis(s),
        }
    }

    /// Each pod's CPU over the metric window: up to now, or with the
    /// metrics pipeline up to its last scrape, with noise.
    fn pods(&mut self, s: i64) -> Vec<PodSample> {
        let pipeline = self.cfg.realism.metrics_pipeline;
        let scraped = if pipeline {
            s - (s - self.scrape_phase).rem_euclid(cal::METRICS_RESOLUTION_S)
        } else {
            s
        };
        let mut out = Vec::with_capacity(self.replicas.len());
        for i in 0..self.replicas.len() {
            let (r, since) = (&self.replicas[i], self.active_since[i]);
            if r.state == State::Draining {
                continue;
            }
            out.push(
                if r.state == State::Active && (!pipeline || since < scraped) {
                    let window = (scraped - since).clamp(1, self.cfg.cpu_window_s as i64) as u64;
                    let work = r.cpu_mean(scraped, window) * 1000.0;
                    let limit = r.quota.limit_at(scraped as f64);
                    let noise = if pipeline {
                        self.spread(cal::METRICS_NOISE)
                    } else {
                        1.0
                    };
                    let millis = (self.cfg.background_millis + work) * noise;
                    // The HPA's CPU initialization period: within 5 min of
                    // its start a pod whose figure covers time before it was
                    // ready counts as not ready (0 on a scale-up).
                    let initializing = pipeline
                        && scraped - since < cal::CPU_INITIALIZATION_PERIOD_S
                        && scraped - (self.cfg.cpu_window_s as i64) < since;
                    PodSample {
                        ready: !initializing,
                        cpu_millis: Some(millis.min(limit)),
                    }
                } else if r.state == State::Active {
                    // Ready, but not scraped since: no figure yet.
                    PodSample {
                        ready: true,
                        cpu_millis: None,
                    }
                } else {
                    PodSample {
                        ready: false,
                        cpu_millis: None,
                    }
                },
            );
        }
        out
    }
}

/// What one decision changed.
#[derive(Debug, Clone, Copy, Default)]
struct Changed {
    scaled: bool,
    resized: bool,
}

/// One decision through the safety layer. A resize is asked for before a
/// scale-up, so replicas added in the same round boot at the base limit.
fn decide(
    policy: &mut dyn Policy,
    safety: &mut Safety,
    tier: &mut Tier<'_>,
    obs: &Observation,
) -> Changed {
    let proposal = policy.propose(obs);
    let decision = safety.decide(policy.needs(), obs, proposal);
    let mut changed = Changed::default();
    if let Some(limit) = decision
        .cpu_limit_millis
        .filter(|&l| Some(l) != obs.cpu_limit_millis)
    {
        tier.resize(obs.now_s, f64::from(limit));
        changed.resized = true;
    }
    if decision.replicas != obs.current_replicas {
        tier.scale_to(obs.now_s, decision.replicas);
        policy.applied(obs.now_s, obs.current_replicas, decision.replicas);
        safety.applied(obs.now_s, obs.current_replicas, decision.replicas);
        changed.scaled = true;
    }
    changed
}

/// Run one policy over a per-second INVITE rate series.
#[must_use]
pub fn simulate(
    rates: &[f64],
    mut policy: Box<dyn Policy>,
    safety: SafetyConfig,
    cfg: &SimConfig,
    keep_seconds: bool,
) -> SimResult {
    let name = policy.name();
    let mut safety = Safety::new(safety);
    let warm = cfg.warm_up_s as usize;
    let first = rates.first().copied().unwrap_or(0.0);
    let extended: Vec<f64> = std::iter::repeat_n(first, warm)
        .chain(rates.iter().copied())
        .collect();
    let invites = counts_from_rates(&extended);
    let mut tier = Tier::new(cfg);
    if cfg.realism.metrics_pipeline {
        tier.scrape_phase = (tier.realism_rng.next_u64() % cal::METRICS_RESOLUTION_S as u64) as i64;
    }
    let registers = {
        let mut r = vec![0.0; warm];
        let n = rates.len() as u64;
        // A random phase: the waves as they would be had the population
        // first registered `shift` seconds before the run.
        let interval = cfg.registration.interval_s.max(1);
        let shift = if cfg.realism.registration_phase {
            tier.realism_rng.next_u64() % interval
        } else {
            0
        };
        let waves = cfg.registration.rate_per_second(n + shift);
        r.extend_from_slice(&waves[shift as usize..]);
        counts_from_rates(&r)
    };
    let start = -(warm as i64);
    let initial = policy
        .initial_replicas()
        .unwrap_or(cfg.initial_replicas)
        .max(1);
    for _ in 0..initial {
        let r = tier.new_replica(State::Active, start);
        tier.replicas.push(r);
        tier.active_since.push(start);
    }
    let mut hist = WindowHistogram::new(cfg.p99_target_s, cfg.p99_window_s);
    let mut result = SimResult::new(name);
    let mut recent_calls: std::collections::VecDeque<u32> = std::collections::VecDeque::new();
    let mut events: Vec<(f64, traffic::Kind)> = Vec::new();
    for (idx, (&n_inv, &n_reg)) in invites.iter().zip(&registers).enumerate() {
        let s = start + idx as i64;
        let t0 = s as f64;
        tier.start_second(s);
        if idx > 0 && (idx as u64).is_multiple_of(cfg.interval_s.max(1)) {
            let obs = Observation {
                now_s: t0,
                current_replicas: tier.provisioned(),
                ready_replicas: tier.active().len() as u32,
                p99_s: hist.p99(),
                arrival_rate: Some(
                    f64::from(recent_calls.iter().sum::<u32>()) / recent_calls.len().max(1) as f64,
                ),
                pods: tier.pods(s),
                sample_age: Duration::ZERO,
                partial: false,
                cpu_limit_millis: Some(tier.asked_limit_millis().round() as u32),
            };
            let changed = decide(&mut *policy, &mut safety, &mut tier, &obs);
            if changed.scaled && s >= 0 {
                result.scale_actions += 1;
            }
            if changed.resized && s >= 0 {
                result.resize_actions += 1;
            }
        }
        hist.next_second();
        let (active, dropped) = tier.play_second(t0, n_inv, n_reg, &mut events, &mut hist);
        recent_calls.push_back(n_inv);
        if recent_calls.len() > cfg.rate_window_s.max(1) as usize {
            recent_calls.pop_front();
        }
        if s >= 0 {
            result.add_second(
                tier.row(s, n_inv, &active, hist.p99(), dropped),
                cfg.p99_target_s,
                true,
                keep_seconds,
            );
        }
    }
    result
}

#[cfg(test)]
#[path = "sim_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "realism_tests.rs"]
mod realism_tests;
