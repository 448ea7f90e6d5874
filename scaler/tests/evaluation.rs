//! The honest evaluation: what a run costs in allocated CPU, the
//! clairvoyant bound, and the scenario suite under the simulator.

use scaler::{
    policy::{safety::SafetyConfig, r#static::Static},
    sim::{SimConfig, simulate},
};
use scenario::generate::step_rates;

/// With every replica at the calibrated 30 m, the allocated CPU is the
/// replica-seconds at 0.03 cores each, booting and draining ones included.
#[test]
fn cpu_seconds_are_replica_seconds_at_30m() {
    let cfg = SimConfig::default();
    assert_eq!(cfg.cpu_limit_millis, 30.0);
    let specs = scaler::policy::spec::PolicySpec::parse_list("qos").expect("spec");
    let ctx = scaler::policy::spec::BuildContext {
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
