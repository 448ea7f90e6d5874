//! Issue 4, acceptance 1: on the report's step scenario and on a diurnal
//! scenario, `qos` and `predictive` keep the P99 target at least as well as
//! every CPU-HPA setting of the report (25m, 20m, 10m, 5m) and strictly
//! better wherever that setting violates it, and use fewer replica-seconds
//! than the static capacity plan with no more violations.
//!
//! Runs the same code as `siplat-scaler simulate` (policy specs, simulator)
//! and prints the table it would print.

use scaler::{
    policy::spec::{BuildContext, PolicySpec},
    scenario::generate::{diurnal, step},
    sim::{
        SimConfig,
        result::{SimResult, table},
        simulate,
    },
};

const POLICIES: &str = "qos,predictive,hpa-cpu:target=25m,hpa-cpu:target=20m,hpa-cpu:target=10m,hpa-cpu:target=5m,static:replicas=5";

fn run(rates: &[f64]) -> Vec<SimResult> {
    let cfg = SimConfig::default();
    let ctx = BuildContext {
        min_replicas: 2,
        max_replicas: 20,
        p99_target_s: 1.0,
        interval_s: cfg.interval_s as f64,
        boot_s: cfg.boot_delay_s,
    };
    let specs = PolicySpec::parse_list(POLICIES).expect("specs");
    std::thread::scope(|s| {
        let handles: Vec<_> = specs
            .iter()
            .map(|spec| {
                let (cfg, ctx) = (&cfg, &ctx);
                s.spawn(move || {
                    let (policy, safety) = spec.build(ctx).expect("build");
                    let mut r = simulate(rates, policy, safety, cfg, false);
                    r.policy.clone_from(&spec.text);
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("sim thread"))
            .collect()
    })
}

fn check(name: &str, rates: &[f64]) {
    let results = run(rates);
    eprintln!("{name}:\n{}", table(&results, rates.len()));
    let by = |p: &str| results.iter().find(|r| r.policy == p).expect("policy ran");
    let fixed = by("static:replicas=5");
    for ours in ["qos", "predictive"].map(by) {
        for hpa in results.iter().filter(|r| r.policy.starts_with("hpa-cpu")) {
            let better = ours.violation_seconds < hpa.violation_seconds;
            let tied_clean = ours.violation_seconds == 0 && hpa.violation_seconds == 0;
            assert!(
                better || tied_clean,
                "{name}: {} has {} violation-seconds, {} has {}",
                ours.policy,
                ours.violation_seconds,
                hpa.policy,
                hpa.violation_seconds
            );
            if tied_clean {
                eprintln!(
                    "{name}: {} and {} both hold the target; replica-seconds {:.0} vs {:.0}",
                    ours.policy, hpa.policy, ours.replica_seconds, hpa.replica_seconds
                );
            }
        }
        assert!(
            ours.replica_seconds < fixed.replica_seconds
                && ours.violation_seconds <= fixed.violation_seconds,
            "{name}: {} uses {:.0} replica-seconds with {} violations; static {:.0} with {}",
            ours.policy,
            ours.replica_seconds,
            ours.violation_seconds,
            fixed.replica_seconds,
            fixed.violation_seconds
        );
    }
    // The low CPU targets only hold the P99 by over-provisioning.
    for hpa in ["hpa-cpu:target=10m", "hpa-cpu:target=5m"].map(by) {
        assert!(
            by("qos").replica_seconds < hpa.replica_seconds,
            "{name}: {}",
            hpa.policy
        );
    }
}

#[test]
fn step_scenario_of_the_report() {
    check(
        "step 12/s +6/s every 5 min, 30 min",
        &step(12.0, 6.0, 300, 1800).rate_per_second(),
    );
}

#[test]
fn diurnal_scenario() {
    check(
        "diurnal 6..42/s, 6 h period",
        &diurnal(42.0, 6.0, 21_600, 21_600).rate_per_second(),
    );
}

#[test]
fn diurnal_day() {
    check(
        "diurnal 6..42/s, 24 h",
        &diurnal(42.0, 6.0, 86_400, 86_400).rate_per_second(),
    );
}

/// The capacity prior is only a starting point: started at half or twice
/// the simulated proxy's capacity, `qos` still holds the target on the step
/// scenario (learning down at the first breach, up while the P99 is low).
#[test]
fn qos_recovers_from_a_wrong_capacity_prior() {
    let rates = step(12.0, 6.0, 300, 1800).rate_per_second();
    let cfg = SimConfig::default();
    let ctx = BuildContext {
        min_replicas: 2,
        max_replicas: 20,
        p99_target_s: 1.0,
        interval_s: cfg.interval_s as f64,
        boot_s: cfg.boot_delay_s,
    };
    for text in ["qos:capacity=5", "qos:capacity=20"] {
        let spec = &PolicySpec::parse_list(text).expect("spec")[0];
        let (policy, safety) = spec.build(&ctx).expect("build");
        let r = simulate(&rates, policy, safety, &cfg, false);
        eprintln!(
            "{text}: {} violation-seconds, {:.0} replica-seconds",
            r.violation_seconds, r.replica_seconds
        );
        assert_eq!(r.violation_seconds, 0, "{text}");
        assert!(r.replica_seconds < 9000.0, "{text}: under the static plan");
    }
}
