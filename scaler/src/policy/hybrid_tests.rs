use std::time::Duration;

use super::*;

fn obs(now_s: f64, current: u32, ready: u32, rate: f64, p99: f64, limit: u32) -> Observation {
    Observation {
        now_s,
        current_replicas: current,
        ready_replicas: ready,
        p99_s: Some(p99),
        arrival_rate: Some(rate),
        pods: Vec::new(),
        sample_age: Duration::ZERO,
        partial: false,
        cpu_limit_millis: Some(limit),
    }
}

#[test]
fn a_surge_raises_the_quota_at_once_and_adds_base_replicas_behind_it() {
    let mut h = Hybrid::new(HybridConfig::default());
    // 28/s on 4 at a 10/s prior: 28 * 1.3 / 10 = 3.6, and 28 * 1.35 / 40
    // of a base replica each: settled at the base.
    let p = h.propose(&obs(0.0, 4, 4, 28.0, 0.3, 30));
    assert_eq!((p.replicas, p.cpu_limit_millis), (4, Some(30)));
    // x1.7, the P99 rising: the 4 ready need 30 m * 48 * 1.35 / 40 = 48.6
    // -> 50 m now, and 48 * 1.3 / 10 = 6.24 -> 7 replicas at the base.
    let p = h.propose(&obs(15.0, 4, 4, 48.0, 0.6, 30));
    assert_eq!(
        (p.replicas, p.cpu_limit_millis, p.reason),
        (7, Some(50), "surge_absorbed")
    );
    // While they boot the quota stays.
    let p = h.propose(&obs(30.0, 7, 4, 48.0, 0.1, 50));
    assert_eq!((p.replicas, p.cpu_limit_millis), (7, Some(50)));
    let p = h.propose(&obs(60.0, 7, 6, 48.0, 0.1, 50));
    assert_eq!(p.cpu_limit_millis, Some(50), "one still booting");
    // All ready: 48 * 1.4 / 70 of a base replica fits the base.
    let p = h.propose(&obs(75.0, 7, 7, 48.0, 0.1, 50));
    assert_eq!(
        (p.replicas, p.cpu_limit_millis, p.reason),
        (7, Some(30), "replicas_ready")
    );
}

#[test]
fn the_quota_stays_raised_while_the_base_replicas_cannot_carry_the_rate() {
    let mut h = Hybrid::new(HybridConfig::default());
    // Ready, but only 4 of the 7 wanted (the safety layer held the rest):
    // 48 * 1.4 / 40 of a base replica needs 50.4 m -> 60 m to go down, and
    // 48 * 1.4 / 10 = 6.7 -> 7 replicas bring it back.
    let p = h.propose(&obs(0.0, 4, 4, 48.0, 0.1, 60));
    assert_eq!(p.cpu_limit_millis, Some(60));
    assert_eq!(p.replicas, 7);
    // At 46/s qos alone stops at 46 * 1.3 / 10 = 5.98 -> 6, one short of
    // the 6.44 -> 7 that bring the quota back (50 m meanwhile).
    let mut h = Hybrid::new(HybridConfig::default());
    let p = h.propose(&obs(0.0, 4, 4, 46.0, 0.1, 60));
    assert_eq!((p.cpu_limit_millis, p.replicas), (Some(50), 7));
}

#[test]
fn the_ceiling_bounds_what_is_asked_for() {
    let mut h = Hybrid::new(HybridConfig::default());
    let p = h.propose(&obs(0.0, 2, 2, 200.0, 0.6, 30));
    assert_eq!(p.cpu_limit_millis, Some(120));
}

#[test]
fn a_p99_over_the_headroom_raises_the_quota_by_half() {
    let mut h = Hybrid::new(HybridConfig::default());
    // The rate model is content (28/s on 4 at 10/s), the P99 is not.
    let p = h.propose(&obs(0.0, 4, 4, 28.0, 0.8, 30));
    assert_eq!(
        (p.cpu_limit_millis, p.reason),
        (Some(50), "surge_absorbed"),
        "30 + 15 -> 50 in 10 m steps"
    );
    // Right after the change the window still shows the old quota.
    let p = h.propose(&obs(15.0, 5, 4, 28.0, 0.8, 50));
    assert_eq!(p.cpu_limit_millis, Some(50));
}

#[test]
fn the_model_learns_per_base_replica_under_raised_quotas() {
    let learned = |limit: u32| {
        let mut h = Hybrid::new(HybridConfig::default());
        h.propose(&obs(0.0, 4, 4, 60.0, 0.1, limit));
        h.propose(&obs(60.0, 4, 4, 60.0, 0.1, limit));
        h.qos.model.capacity()
    };
    // 15/s per replica at a low P99 credits 1.4x: 21/s at the base, but
    // at 60 m each replica is two base ones, 7.5/s each: 10.5/s.
    assert!((learned(30) - 21.0).abs() < 1e-9, "{}", learned(30));
    assert!((learned(60) - 10.5).abs() < 1e-9, "{}", learned(60));
}

#[test]
fn without_a_rate_the_quota_is_kept() {
    let mut h = Hybrid::new(HybridConfig::default());
    let mut o = obs(0.0, 4, 4, 0.0, 0.1, 60);
    o.arrival_rate = None;
    assert_eq!(h.propose(&o).cpu_limit_millis, Some(60));
}
