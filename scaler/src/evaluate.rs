//! Policies judged over seeds and scenarios in the simulator, as
//! `simulate` and `frontier` report them: one seed's arrivals can make or
//! break a knee-close run, so every figure comes with its spread, and the
//! clairvoyant plan (`oracle`) is replayed beside the policies as the
//! bound they are measured against.

use scenario::seeds::SeedSummary;
use thiserror::Error;

use crate::{
    policy::{
        oracle::{Oracle, PlanConfig, plan},
        safety::SafetyConfig,
        spec::{BuildContext, PolicySpec, SpecError},
    },
    sim::{
        SimConfig,
        calibration::{Profile, testbed::BENCHMARK_CALLS_PER_S},
        result::SimResult,
        simulate,
    },
};

#[derive(Debug, Error)]
pub enum EvalError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(
        "oracle: no clean replay up to headroom {headroom:.2} ({violations} violation-seconds left); the tier's max replicas may be too few"
    )]
    Oracle { headroom: f64, violations: u64 },
    #[error("policy `{0}`: bad sweep (want hpa-sweep:from=5m,to=30m,step=0.5m)")]
    Sweep(String),
    #[error("a simulation thread panicked")]
    Panicked,
}

/// Headroom steps the oracle's replay climbs, and where it gives up.
const ORACLE_HEADROOM_STEP: f64 = 0.05;
const ORACLE_HEADROOM_MAX: f64 = 3.0;

/// Calls per second one replica holds under the P99 target, per profile:
/// the knee the calibration is fitted to (report: 11/s,
/// `knee_is_between_11_and_12`; testbed: its benchmark, 35/s).
#[must_use]
pub fn capacity(profile: Profile) -> f64 {
    match profile {
        Profile::Report => 11.0,
        Profile::Testbed => BENCHMARK_CALLS_PER_S,
    }
}

/// The tier and the policies' context every run of an evaluation shares.
#[derive(Debug, Clone)]
pub struct Bench {
    pub cfg: SimConfig,
    pub ctx: BuildContext,
    /// Per-replica capacity the oracle plans with.
    pub capacity: f64,
}

impl Bench {
    /// One run of `spec` over `rates` with the arrivals of `seed`.
    pub fn run(
        &self,
        spec: &PolicySpec,
        rates: &[f64],
        seed: u64,
        keep: bool,
    ) -> Result<SimResult, EvalError> {
        let mut cfg = SimConfig {
            seed,
            ..self.cfg.clone()
        };
        let mut ctx = self.ctx.clone();
        if let Some(every) = spec.interval_s()? {
            cfg.interval_s = every;
            cfg.rate_window_s = every;
            ctx.interval_s = every as f64;
        }
        let mut r = if spec.kind == "oracle" {
            self.oracle(rates, &cfg, keep)?.0
        } else {
            let (policy, safety) = spec.build(&ctx)?;
            simulate(rates, policy, safety, &cfg, keep)
        };
        r.policy.clone_from(&spec.text);
        Ok(r)
    }

    /// The clairvoyant plan replayed, headroom raised until the replay is
    /// clean; returns the run and the headroom it needed.
    pub fn oracle(
        &self,
        rates: &[f64],
        cfg: &SimConfig,
        keep: bool,
    ) -> Result<(SimResult, f64), EvalError> {
        let load = self.load(rates, cfg);
        let mut headroom = 1.0;
        loop {
            let plan_cfg = PlanConfig {
                min_replicas: self.ctx.min_replicas,
                max_replicas: self.ctx.max_replicas,
                capacity: self.capacity,
                headroom,
                boot_s: cfg.boot_delay_s,
                sequential_boot: cfg.sequential_boot,
                interval_s: cfg.interval_s,
                warm_up_s: cfg.warm_up_s,
            };
            let policy = Oracle::new(plan(&load, &plan_cfg), headroom);
            let safety = SafetyConfig::bounds_only(self.ctx.min_replicas, self.ctx.max_replicas);
            let run = simulate(rates, Box::new(policy), safety, cfg, keep);
            if run.violation_seconds == 0 {
                return Ok((run, headroom));
            }
            if headroom >= ORACLE_HEADROOM_MAX {
                return Err(EvalError::Oracle {
                    headroom,
                    violations: run.violation_seconds,
                });
            }
            headroom = (headroom + ORACLE_HEADROOM_STEP).min(ORACLE_HEADROOM_MAX);
        }
    }

    /// The future load in calls per second: the INVITEs plus the
    /// re-registration waves at their CPU cost relative to a call (the
    /// REGISTER on its proxy, its DMQ copy on each of the others).
    fn load(&self, rates: &[f64], cfg: &SimConfig) -> Vec<f64> {
        let registers = cfg.registration.rate_per_second(rates.len() as u64);
        let per_call = cfg.invite_cpu_s.max(1e-12);
        rates
            .iter()
            .zip(registers)
            .map(|(&calls, reg)| {
                let others = (calls / self.capacity).ceil().max(1.0);
                calls + reg * (cfg.register_cpu_s + others * cfg.dmq_cpu_s) / per_call
            })
            .collect()
    }

    /// Every spec over every seed; `rates_for` gives a seed's scenario.
    /// Runs spread over at most two threads (the simulator is CPU-bound
    /// and the machines it runs on are small). Results are per spec, in
    /// seed order.
    pub fn over_seeds(
        &self,
        specs: &[PolicySpec],
        seeds: &[u64],
        rates_for: &(dyn Fn(u64) -> Vec<f64> + Sync),
    ) -> Result<Vec<SeedSummary>, EvalError> {
        let scenarios: Vec<Vec<f64>> = seeds.iter().map(|&s| rates_for(s)).collect();
        let jobs: Vec<(usize, usize)> = (0..specs.len())
            .flat_map(|p| (0..seeds.len()).map(move |s| (p, s)))
            .collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZero::get)
            .min(2);
        let done = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(&(p, s)) = jobs.get(i) else {
                                return out;
                            };
                            let run = self.run(&specs[p], &scenarios[s], seeds[s], false);
                            out.push((i, run));
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| EvalError::Panicked))
                .collect::<Result<Vec<_>, _>>()
        })?;
        let mut runs: Vec<Option<SimResult>> = vec![None; jobs.len()];
        for (i, run) in done.into_iter().flatten() {
            runs[i] = Some(run?);
        }
        Ok(specs
            .iter()
            .enumerate()
            .map(|(p, spec)| {
                let mine: Vec<SimResult> = runs[p * seeds.len()..(p + 1) * seeds.len()]
                    .iter()
                    .flatten()
                    .cloned()
                    .collect();
                SeedSummary::of(&spec.text, seeds, &mine)
            })
            .collect())
    }
}

/// Expand `hpa-sweep:from=5m,to=30m,step=0.5m` into the `hpa-cpu` targets
/// it stands for (other specs pass through), so a fine sweep is one flag.
pub fn expand_sweeps(text: &str) -> Result<String, EvalError> {
    let mut out: Vec<String> = Vec::new();
    let mut sweep: Option<Vec<String>> = None;
    let flush = |sweep: &mut Option<Vec<String>>, out: &mut Vec<String>| -> Result<(), EvalError> {
        if let Some(params) = sweep.take() {
            out.extend(sweep_targets(&params)?);
        }
        Ok(())
    };
    for token in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if let Some(rest) = token.strip_prefix("hpa-sweep:") {
            flush(&mut sweep, &mut out)?;
            sweep = Some(vec![rest.to_owned()]);
        } else if token == "hpa-sweep" {
            flush(&mut sweep, &mut out)?;
            sweep = Some(Vec::new());
        } else if let Some(params) = sweep
            .as_mut()
            .filter(|_| token.contains('=') && !token.contains(':'))
        {
            params.push(token.to_owned());
        } else {
            flush(&mut sweep, &mut out)?;
            out.push(token.to_owned());
        }
    }
    flush(&mut sweep, &mut out)?;
    Ok(out.join(","))
}

fn sweep_targets(params: &[String]) -> Result<Vec<String>, EvalError> {
    let bad = || EvalError::Sweep(format!("hpa-sweep:{}", params.join(",")));
    let (mut from, mut to, mut step) = (5.0, 30.0, 0.5);
    for kv in params {
        let (k, v) = kv.split_once('=').ok_or_else(bad)?;
        let v: f64 = v.trim_end_matches('m').parse().map_err(|_| bad())?;
        match k {
            "from" => from = v,
            "to" => to = v,
            "step" => step = v,
            _ => return Err(bad()),
        }
    }
    if !(from.is_finite() && to >= from && step > 0.0 && (to - from) / step <= 1000.0) {
        return Err(bad());
    }
    let n = ((to - from) / step + 1e-9).floor() as u32;
    Ok((0..=n)
        .map(|i| {
            format!(
                "hpa-cpu:target={}m",
                scenario::run::number(from + step * f64::from(i))
            )
        })
        .collect())
}

/// Which of `points` (cost, violations) no other point beats on both
/// without losing on either: the Pareto frontier of a comparison.
#[must_use]
pub fn pareto(points: &[(f64, f64)]) -> Vec<bool> {
    points
        .iter()
        .map(|&(c, v)| {
            !points
                .iter()
                .any(|&(c2, v2)| c2 <= c && v2 <= v && (c2 < c || v2 < v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frontier_keeps_what_nothing_beats() {
        let points = [
            (10.0, 5.0),
            (20.0, 0.0),
            (15.0, 5.0),
            (30.0, 0.0),
            (10.0, 5.0),
        ];
        assert_eq!(pareto(&points), [true, true, false, false, true]);
    }

    /// A policy's own `interval` makes it decide (and so absorb a surge)
    /// sooner than the bench's 15 s; a fractional one is refused.
    #[test]
    fn a_policy_decides_at_its_own_interval() {
        let bench = Bench {
            cfg: SimConfig::default(),
            ctx: BuildContext {
                min_replicas: 2,
                max_replicas: 20,
                p99_target_s: 1.0,
                interval_s: 15.0,
                boot_s: 30.0,
            },
            capacity: capacity(Profile::Report),
        };
        // A flash one second after a 15 s decision.
        let flash = 301;
        let rates: Vec<f64> = (0..600)
            .map(|t| if t < flash { 16.0 } else { 28.0 })
            .collect();
        let raised_at = |text: &str| {
            let spec = &PolicySpec::parse_list(text).expect("spec")[0];
            let run = bench.run(spec, &rates, 7, true).expect("run");
            let before = run.seconds[flash - 1].allocated_millis;
            run.seconds[flash..]
                .iter()
                .find(|s| s.allocated_millis > before)
                .map_or(u64::MAX, |s| s.t)
        };
        let slow = raised_at("hybrid");
        let fast = raised_at("hybrid:interval=2s");
        assert!(
            fast <= flash as u64 + 3,
            "2 s decisions raise within 3 s, got {fast}"
        );
        assert!(
            slow >= flash as u64 + 10,
            "15 s decisions wait for the next one, got {slow}"
        );
        let bad = &PolicySpec::parse_list("hybrid:interval=1.5s").expect("spec")[0];
        assert!(matches!(
            bench.run(bad, &rates, 7, false),
            Err(EvalError::Spec(_))
        ));
    }

    #[test]
    fn a_sweep_expands_to_its_targets_and_keeps_the_rest() {
        let text = expand_sweeps("qos,hpa-sweep:from=5m,to=6m,step=0.5m,static:replicas=5")
            .expect("expand");
        assert_eq!(
            text,
            "qos,hpa-cpu:target=5m,hpa-cpu:target=5.5m,hpa-cpu:target=6m,static:replicas=5"
        );
        assert_eq!(
            expand_sweeps("hpa-sweep")
                .expect("default")
                .split(',')
                .count(),
            51,
            "5m to 30m by 0.5m"
        );
        assert!(expand_sweeps("hpa-sweep:from=9m,to=5m").is_err());
        assert_eq!(
            expand_sweeps("hpa-cpu:target=10m,preset=report").expect("pass"),
            "hpa-cpu:target=10m,preset=report"
        );
    }
}
