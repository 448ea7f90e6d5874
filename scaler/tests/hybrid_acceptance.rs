//! `hybrid` against horizontal-only `qos` on flash crowds (the rate x1.6
//! within one second, for 10 minutes, an hour into the run): raising the
//! ready replicas' quotas covers the boot of the replicas added behind
//! them, so it breaks the P99 target for fewer seconds at a similar cost;
//! its quotas stay under the ceiling and come back near the baseline (room
//! for another surge) once the new replicas are ready.

use scaler::{
    policy::spec::{BuildContext, PolicySpec},
    sim::{SimConfig, result::SimResult, simulate},
};

const SURGE_AT: usize = 3600;
const SURGE_S: usize = 600;
const MAX_MILLIS: f64 = 120.0;
/// Per replica, the quota `hybrid` comes back to once the replicas added
/// for a surge are ready: its 75 m baseline with the margins, still a
/// third under the ceiling.
const BACK_MILLIS: f64 = 90.0;

/// `base` calls/s, x1.6 from one second to the next for `SURGE_S`.
fn flash_crowd(base: f64) -> Vec<f64> {
    (0..SURGE_AT + SURGE_S + 1200)
        .map(|t| {
            if (SURGE_AT..SURGE_AT + SURGE_S).contains(&t) {
                base * 1.6
            } else {
                base
            }
        })
        .collect()
}

fn run(spec: &str, rates: &[f64], seed: u64) -> SimResult {
    let cfg = SimConfig {
        seed,
        ..SimConfig::default()
    };
    let ctx = BuildContext {
        min_replicas: 2,
        max_replicas: 20,
        p99_target_s: 1.0,
        interval_s: cfg.interval_s as f64,
        boot_s: cfg.boot_delay_s,
    };
    let spec = &PolicySpec::parse_list(spec).expect("spec")[0];
    let (policy, safety) = spec.build(&ctx).expect("build");
    let mut r = simulate(rates, policy, safety, &cfg, true);
    r.policy.clone_from(&spec.text);
    r
}

/// Sums over runs: violation-seconds, replica-seconds, cpu-seconds.
#[derive(Debug, Default)]
struct Total {
    violations: u64,
    replicas: f64,
    cpu: f64,
}

impl Total {
    fn add(&mut self, r: &SimResult) {
        self.violations += r.violation_seconds;
        self.replicas += r.replica_seconds;
        self.cpu += r.cpu_seconds;
    }
}

/// Quotas rise at the surge, never pass the ceiling, and are all back near
/// the baseline, on ready replicas, before the surge ends.
fn check_quotas(r: &SimResult, what: &str) {
    let per_replica = |s: &scenario::run::Second| s.allocated_millis / f64::from(s.replicas.max(1));
    let before = per_replica(&r.seconds[SURGE_AT - 1]);
    for s in &r.seconds {
        assert!(
            s.allocated_millis <= f64::from(s.replicas) * MAX_MILLIS + 1e-6,
            "{what} at {}: {} m on {} replicas",
            s.t,
            s.allocated_millis,
            s.replicas
        );
    }
    let surge = &r.seconds[SURGE_AT..SURGE_AT + SURGE_S];
    let raised = surge
        .iter()
        .position(|s| per_replica(s) > before + 1e-6)
        .unwrap_or_else(|| panic!("{what}: no quota raised at the surge"));
    assert!(raised < 60, "{what}: raised only {raised} s into the surge");
    let back = surge[raised..]
        .iter()
        .position(|s| s.ready == s.replicas && per_replica(s) <= BACK_MILLIS)
        .unwrap_or_else(|| panic!("{what}: quotas still raised at the end of the surge"));
    eprintln!("{what}: raised after {raised} s, back near the baseline {back} s later");
}

#[test]
fn hybrid_absorbs_flash_crowds_that_break_qos_at_a_similar_cost() {
    let (mut qos, mut hybrid) = (Total::default(), Total::default());
    for base in [28.0, 30.0, 32.0, 34.0] {
        let rates = flash_crowd(base);
        for seed in 1..=3 {
            let q = run("qos", &rates, seed);
            let h = run("hybrid", &rates, seed);
            eprintln!(
                "{base}/s seed {seed}: qos {} s / {:.0} replica-s / {:.0} cpu-s, hybrid {} s / {:.0} / {:.0}",
                q.violation_seconds,
                q.replica_seconds,
                q.cpu_seconds,
                h.violation_seconds,
                h.replica_seconds,
                h.cpu_seconds
            );
            check_quotas(&h, &format!("{base}/s seed {seed}"));
            qos.add(&q);
            hybrid.add(&h);
        }
    }
    eprintln!("total: qos {qos:?}, hybrid {hybrid:?}");
    assert!(qos.violations > 0, "the surges must break qos somewhere");
    assert!(
        hybrid.violations * 2 <= qos.violations,
        "hybrid {} violation-seconds, qos {}",
        hybrid.violations,
        qos.violations
    );
    assert!(
        hybrid.cpu <= qos.cpu * 1.1,
        "cpu-seconds: hybrid {:.0}, qos {:.0}",
        hybrid.cpu,
        qos.cpu
    );
    assert!(
        hybrid.replicas <= qos.replicas * 1.05,
        "replica-seconds: hybrid {:.0}, qos {:.0}",
        hybrid.replicas,
        qos.replicas
    );
}
