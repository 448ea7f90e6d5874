//! `hybrid` as the evaluation reports it, on the suite families where it
//! has least room: the flash crowd (x1.6 within a second on a small tier)
//! and the step. Ten evaluation seeds each, never tuned on: at most one
//! violation-second on average and at most 1.15x the clairvoyant bound's
//! CPU-seconds, deciding every 2 s as it runs against the agents.
//!
//! The same code as `siplat-scaler simulate --suite FAMILY --seeds 10
//! --seed 1000 --policy hybrid:interval=2s,oracle:interval=2s`.

use scaler::{
    evaluate::{Bench, capacity},
    policy::spec::{BuildContext, PolicySpec},
    sim::{SimConfig, calibration::Profile},
};
use scenario::suite::{EVALUATION_SEEDS, Family};

fn check(family: Family) {
    let cfg = SimConfig::default();
    let bench = Bench {
        ctx: BuildContext {
            min_replicas: 2,
            max_replicas: 20,
            p99_target_s: 1.0,
            interval_s: cfg.interval_s as f64,
            boot_s: cfg.boot_delay_s,
        },
        cfg,
        capacity: capacity(Profile::Report),
    };
    let specs = PolicySpec::parse_list("hybrid:interval=2s,oracle:interval=2s").expect("specs");
    let seeds: Vec<u64> = EVALUATION_SEEDS.collect();
    let out = bench
        .over_seeds(&specs, &seeds, &|seed| family.rates(seed))
        .expect("runs");
    let [hybrid, oracle] = out.as_slice() else {
        panic!("two summaries");
    };
    let ratio = hybrid.cpu_seconds.mean / oracle.cpu_seconds.mean;
    eprintln!(
        "{family}: hybrid {:.1} violation-s [max {:.0}], {:.1} CPU-s, {ratio:.3}x the oracle's {:.1}",
        hybrid.violation_seconds.mean,
        hybrid.violation_seconds.max,
        hybrid.cpu_seconds.mean,
        oracle.cpu_seconds.mean
    );
    assert!(
        hybrid.violation_seconds.mean <= 1.0,
        "{family}: {:.1} violation-seconds on average",
        hybrid.violation_seconds.mean
    );
    assert!(
        ratio <= 1.15,
        "{family}: {ratio:.3}x the oracle's CPU-seconds"
    );
}

#[test]
fn hybrid_holds_the_flash_crowd_near_the_bound() {
    check(Family::FlashCrowd);
}

#[test]
fn hybrid_holds_the_step_near_the_bound() {
    check(Family::Step);
}
