//! The honest evaluation: what a run costs in allocated CPU, the
//! clairvoyant bound, and the scenario suite under the simulator.

use scaler::{
    evaluate::{Bench, capacity},
    policy::{
        safety::SafetyConfig,
        spec::{BuildContext, PolicySpec},
        r#static::Static,
    },
    sim::{SimConfig, calibration::Profile, simulate},
};
use scenario::generate::step_rates;

/// With every replica at the calibrated 30 m, the allocated CPU is the
/// replica-seconds at 0.03 cores each, booting and draining ones included.
#[test]
fn cpu_seconds_are_replica_seconds_at_30m() {
    let cfg = SimConfig::default();
    assert_eq!(cfg.cpu_limit_millis, 30.0);
    let specs = PolicySpec::parse_list("qos").expect("spec");
    let ctx = BuildContext {
        min_replicas: 2,
        max_replicas: 20,
        p99_target_s: 1.0,
        interval_s: 15.0,
        boot_s: 30.0,
    };
    let rates = step_rates(12.0, 6.0, 300, 1800);
    let (policy, safety) = specs[0].build(&ctx).expect("build");
    let run = simulate(&rates, policy, safety, &cfg, false);
    assert!(run.scale_actions > 0, "the step makes qos boot replicas");
    assert!(
        (run.cpu_seconds - run.replica_seconds * 0.03).abs() < 1e-6,
        "{} vs {}",
        run.cpu_seconds,
        run.replica_seconds
    );
    let fixed = simulate(
        &rates,
        Box::new(Static { replicas: 5 }),
        SafetyConfig::bounds_only(0, 100),
        &cfg,
        false,
    );
    assert!((fixed.cpu_seconds - 5.0 * 1800.0 * 0.03).abs() < 1e-6);
}

fn bench() -> Bench {
    let cfg = SimConfig::default();
    Bench {
        ctx: BuildContext {
            min_replicas: 2,
            max_replicas: 20,
            p99_target_s: cfg.p99_target_s,
            interval_s: cfg.interval_s as f64,
            boot_s: cfg.boot_delay_s,
        },
        capacity: capacity(Profile::Report),
        cfg,
    }
}

/// The clairvoyant plan is clean on the report's step and never dearer
/// than the static plan that holds it, nor than `qos`.
#[test]
fn oracle_is_clean_on_a_step_and_no_dearer_than_static() {
    let bench = bench();
    let rates = step_rates(12.0, 6.0, 300, 1800);
    let spec = |t: &str| PolicySpec::parse_list(t).expect("spec").remove(0);
    let oracle = bench
        .run(&spec("oracle"), &rates, 42, false)
        .expect("oracle");
    let fixed = bench
        .run(&spec("static:replicas=5"), &rates, 42, false)
        .expect("static");
    let qos = bench.run(&spec("qos"), &rates, 42, false).expect("qos");
    eprintln!(
        "oracle {} / {}, static {} / {}, qos {} / {}",
        oracle.violation_seconds,
        oracle.replica_seconds,
        fixed.violation_seconds,
        fixed.replica_seconds,
        qos.violation_seconds,
        qos.replica_seconds
    );
    assert_eq!(oracle.violation_seconds, 0);
    assert_eq!(fixed.violation_seconds, 0, "5 proxies are enough");
    assert!(oracle.replica_seconds <= fixed.replica_seconds);
    assert!(oracle.replica_seconds <= qos.replica_seconds);
    assert!(oracle.scale_actions > 0, "it follows the steps");
}

/// An impossible tier is an error naming the bound, not a silent result.
#[test]
fn oracle_gives_up_when_no_plan_is_clean() {
    let mut bench = bench();
    bench.ctx.max_replicas = 2;
    let rates = step_rates(40.0, 0.0, 300, 600);
    let err = bench
        .oracle(&rates, &bench.cfg, false)
        .expect_err("2 replicas cannot hold 40/s");
    assert!(err.to_string().contains("no clean replay"), "{err}");
}

/// `simulate --seeds`: one summary per policy over the seeds, each run
/// with its own arrivals.
#[test]
fn seeds_give_one_summary_per_policy_with_a_spread() {
    let bench = bench();
    let specs = PolicySpec::parse_list("qos,static:replicas=2").expect("specs");
    let rates = step_rates(20.0, 0.0, 300, 900);
    let seeds = [1000, 1001, 1002];
    let summaries = bench
        .over_seeds(&specs, &seeds, &|_| rates.clone())
        .expect("runs");
    assert_eq!(summaries.len(), 2);
    let fixed = &summaries[1];
    assert_eq!(fixed.policy, "static:replicas=2");
    assert_eq!(fixed.seeds, seeds);
    assert_eq!(
        fixed.replica_seconds.std, 0.0,
        "a fixed tier costs the same"
    );
    assert!(
        fixed.worst_p99_seconds.max > fixed.worst_p99_seconds.min,
        "seeds change the arrivals"
    );
    let one: Vec<_> = seeds
        .iter()
        .map(|&s| bench.run(&specs[1], &rates, s, false).expect("run"))
        .collect();
    let mean = one.iter().map(|r| r.worst_p99_seconds).sum::<f64>() / 3.0;
    assert!((fixed.worst_p99_seconds.mean - mean).abs() < 1e-12);
}
