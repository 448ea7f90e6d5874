//! The scaler against the report's baselines, simulated: `hybrid` on the
//! step scenario and on two diurnal days, `qos` and `predictive` on the step,
//! keep the P99 target at least as well as every CPU-HPA setting of the
//! report (25m, 20m, 10m, 5m) and strictly better wherever that setting
//! violates it, and cost less than the static capacity plan with no more
//! violations. (On the diurnal days, with the re-registration waves at the
//! cost the testbed measured, `qos` breaks the target too; the tables print
//! it.)
//!
//! Runs the same code as `siplat-scaler simulate` (policy specs, simulator)
//! and prints the table it would print, first under the report's
//! calibration (the default), then under the testbed's
//! (`--calibration testbed`, see `testbed_*` below).

use scaler::{
    policy::spec::{BuildContext, PolicySpec},
    sim::{
        SimConfig,
        calibration::{Profile, testbed::BENCHMARK_CALLS_PER_S},
        result::{SimResult, table},
        simulate,
    },
};
use scenario::generate::{diurnal, step};

const POLICIES: &str = "hybrid,qos,predictive,hpa-cpu:target=25m,hpa-cpu:target=20m,hpa-cpu:target=10m,hpa-cpu:target=5m,static:replicas=5";

fn run(rates: &[f64]) -> Vec<SimResult> {
    run_with(&SimConfig::default(), POLICIES, rates)
}

/// The tier every comparison runs: 2..=20 replicas, a 1 s P99 target.
fn context(cfg: &SimConfig) -> BuildContext {
    BuildContext {
        min_replicas: 2,
        max_replicas: 20,
        p99_target_s: 1.0,
        interval_s: cfg.interval_s as f64,
        boot_s: cfg.boot_delay_s,
    }
}

fn run_with(cfg: &SimConfig, policies: &str, rates: &[f64]) -> Vec<SimResult> {
    let ctx = context(cfg);
    let specs = PolicySpec::parse_list(policies).expect("specs");
    std::thread::scope(|s| {
        let handles: Vec<_> = specs
            .iter()
            .map(|spec| {
                let ctx = &ctx;
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

/// `ours`: the policies held to the comparison on this scenario.
fn check(name: &str, rates: &[f64], ours: &[&str]) {
    let results = run(rates);
    eprintln!("{name}:\n{}", table(&results));
    let by = |p: &str| results.iter().find(|r| r.policy == p).expect("policy ran");
    let fixed = by("static:replicas=5");
    for ours in ours.iter().map(|p| by(p)) {
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
            ours.cpu_seconds < fixed.cpu_seconds
                && ours.violation_seconds <= fixed.violation_seconds,
            "{name}: {} uses {:.0} CPU-seconds with {} violations; static {:.0} with {}",
            ours.policy,
            ours.cpu_seconds,
            ours.violation_seconds,
            fixed.cpu_seconds,
            fixed.violation_seconds
        );
        // The low CPU targets only hold the P99 by over-provisioning.
        for hpa in ["hpa-cpu:target=10m", "hpa-cpu:target=5m"].map(by) {
            assert!(
                ours.cpu_seconds < hpa.cpu_seconds,
                "{name}: {} against {}",
                ours.policy,
                hpa.policy
            );
        }
    }
}

#[test]
fn step_scenario_of_the_report() {
    check(
        "step 12/s +6/s every 5 min, 30 min",
        &step(12.0, 6.0, 300, 1800).rate_per_second(),
        &["hybrid", "qos", "predictive"],
    );
}

#[test]
fn diurnal_scenario() {
    check(
        "diurnal 6..42/s, 6 h period",
        &diurnal(42.0, 6.0, 21_600, 21_600).rate_per_second(),
        &["hybrid"],
    );
}

#[test]
fn diurnal_day() {
    check(
        "diurnal 6..42/s, 24 h",
        &diurnal(42.0, 6.0, 86_400, 86_400).rate_per_second(),
        &["hybrid"],
    );
}

/// The capacity prior is only a starting point: started at half or twice
/// the simulated proxy's capacity, `qos` still holds the target on the step
/// scenario (learning down at the first breach, up while the P99 is low).
#[test]
fn qos_recovers_from_a_wrong_capacity_prior() {
    let rates = step(12.0, 6.0, 300, 1800).rate_per_second();
    let cfg = SimConfig::default();
    let ctx = context(&cfg);
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

// ---- Testbed calibration (`--calibration testbed`) ----
//
// One proxy holds 35 calls/s (P99 < 1 s) instead of 11, and its CPU is
// concave in the rate, so a CPU target is reached at a much lower share of
// the capacity than under the report's linear CPU. The `qos` prior is the
// testbed's planning figure kept under its 35/s cliff (30, as the report's 10
// sits under its 11); the static plan is the smallest fixed count that holds
// the target on the scenario, found by trying 1, 2, ... (the cheapest plan
// a perfect capacity planner could pick, so beating it is the hard case).

const TESTBED_POLICIES: &str = "qos:capacity=30,predictive:capacity=30,hpa-cpu:target=25m,hpa-cpu:target=20m,hpa-cpu:target=10m,hpa-cpu:target=5m";

/// The cheapest violation-free static plan, as the table's last row. Tries
/// the three counts from one under the peak's share of the benchmark
/// capacity up, and checks that one fewer than the pick violates.
fn smallest_clean_static(cfg: &SimConfig, rates: &[f64]) -> SimResult {
    let peak = rates.iter().copied().fold(0.0, f64::max);
    let needed = (1_u32..=100)
        .find(|&n| f64::from(n) * BENCHMARK_CALLS_PER_S >= peak)
        .expect("peak under 100 proxies' capacity");
    let first = needed.saturating_sub(1).max(1);
    let candidates = (first..first + 3)
        .map(|n| format!("static:replicas={n}"))
        .collect::<Vec<_>>()
        .join(",");
    let runs = run_with(cfg, &candidates, rates);
    let clean = |r: &SimResult| r.violation_seconds == 0 && r.dropped_calls == 0;
    let pick = runs
        .iter()
        .position(clean)
        .expect("a static plan near the benchmark's count holds the target");
    assert!(
        pick > 0 || first == 1,
        "{} holds: start the search lower",
        runs[0].policy
    );
    runs[pick].clone()
}

/// Runs the testbed comparison, prints it with a verdict per HPA target,
/// and returns the results (static plan last).
fn testbed_table(name: &str, rates: &[f64]) -> Vec<SimResult> {
    let cfg = SimConfig::for_profile(Profile::Testbed);
    let mut results = run_with(&cfg, TESTBED_POLICIES, rates);
    results.push(smallest_clean_static(&cfg, rates));
    eprintln!("testbed calibration, {name}:\n{}", table(&results));
    let qos = &results[0];
    for hpa in results.iter().filter(|r| r.policy.starts_with("hpa-cpu")) {
        let verdict = if hpa.violation_seconds > 0 {
            format!("violates the target for {} s", hpa.violation_seconds)
        } else {
            format!(
                "holds the target with {:.2}x the replica-seconds of qos",
                hpa.replica_seconds / qos.replica_seconds
            )
        };
        eprintln!("testbed, {name}: {} {verdict}", hpa.policy);
    }
    results
}

/// `qos` and `predictive` (the table's first two rows) after asserting
/// that both kept the P99 target for the whole scenario.
fn ours_holding_the_target<'a>(name: &str, results: &'a [SimResult]) -> &'a [SimResult] {
    let ours = &results[..2];
    for r in ours {
        assert_eq!(r.violation_seconds, 0, "{name}: {}", r.policy);
    }
    ours
}

/// What holds under the testbed calibration and is the point: `qos` and
/// `predictive` keep the target and need fewer replica-seconds than the
/// cheapest static plan that also keeps it.
fn check_testbed(name: &str, rates: &[f64]) {
    let results = testbed_table(name, rates);
    let fixed = results.last().expect("static row");
    for ours in ours_holding_the_target(name, &results) {
        assert!(
            ours.replica_seconds < fixed.replica_seconds,
            "{name}: {} uses {:.0} replica-seconds; {} {:.0}",
            ours.policy,
            ours.replica_seconds,
            fixed.policy,
            fixed.replica_seconds
        );
    }
}

/// The report's step in the demo's units: rates x3 (36/s, +18/s every
/// 5 min, up to 126/s), which keeps the peak at the same multiple of one
/// proxy's capacity as the report's 42/s against 11/s (3.6 vs 3.8).
///
/// Only the target is asserted here: the cheapest clean static plan is
/// 4 proxies, 90 % of their capacity at the peak, and the 30 min ramp
/// spends a third of its time above 3 proxies' worth (105/s); with the 30 calls/s prior
/// `qos` ties it (7140 vs 7200 replica-seconds) and `predictive`, which
/// provisions a boot time ahead on a rising ramp, pays 3 % more (7410). The
/// days below, with their long troughs, are where an autoscaler must win.
#[test]
fn testbed_step_scenario_x3() {
    let name = "step 36/s +18/s every 5 min, 30 min";
    let results = testbed_table(name, &step(36.0, 18.0, 300, 1800).rate_per_second());
    let fixed = results.last().expect("static row");
    for ours in ours_holding_the_target(name, &results) {
        eprintln!(
            "testbed, {name}: {} {:.0} replica-seconds, {} {:.0}",
            ours.policy, ours.replica_seconds, fixed.policy, fixed.replica_seconds
        );
    }
}

#[test]
fn testbed_diurnal_scenario_x3() {
    check_testbed(
        "diurnal 18..126/s, 6 h period",
        &diurnal(126.0, 18.0, 21_600, 21_600).rate_per_second(),
    );
}

#[test]
fn testbed_diurnal_day_x3() {
    check_testbed(
        "diurnal 18..126/s, 24 h",
        &diurnal(126.0, 18.0, 86_400, 86_400).rate_per_second(),
    );
}

/// The report's own rates under the testbed calibration: the 42/s peak
/// fits in 2 proxies, the tier's floor, so no autoscaler can beat the static
/// plan there; the table shows what each policy does with the slack. Only
/// the target is asserted.
#[test]
fn testbed_report_rates() {
    for (name, rates) in [
        (
            "step 12/s +6/s every 5 min, 30 min",
            step(12.0, 6.0, 300, 1800).rate_per_second(),
        ),
        (
            "diurnal 6..42/s, 6 h period",
            diurnal(42.0, 6.0, 21_600, 21_600).rate_per_second(),
        ),
    ] {
        ours_holding_the_target(name, &testbed_table(name, &rates));
    }
}
