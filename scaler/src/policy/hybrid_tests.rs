use std::time::Duration;

use super::*;
use crate::policy::PodSample;

/// A tier of `current` replicas, `ready` of them ready, at the limit `limit`.
pub(in crate::policy) fn obs(
    now_s: f64,
    current: u32,
    ready: u32,
    rate: f64,
    p99: f64,
    limit: u32,
) -> Observation {
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

fn with_cpu(mut o: Observation, millis: f64) -> Observation {
    o.pods = (0..o.ready_replicas)
        .map(|_| PodSample {
            ready: true,
            cpu_millis: Some(millis),
        })
        .collect();
    o
}

// Without CPU figures the prior sizes: 28 mCPU of SIP budget at the base
// carries 10 calls/s, 2.8 ms a call. A quota is 2 m background + 6 m
// spare + the work per ready replica with the 0.4 margin, in 2 m steps;
// replicas carry the work at the 75 m baseline (73 m of SIP) with 0.3.

#[test]
fn a_surge_raises_the_quota_at_once_and_adds_replicas_behind_it() {
    let mut h = Hybrid::new(HybridConfig::default());
    // 28/s on 2: 8 + 28 * 2.8 * 1.4 / 2 = 62.9 -> 64 m; 28 * 2.8 * 1.3 / 73
    // = 1.4 -> 2 replicas.
    let p = h.propose(&obs(0.0, 2, 2, 28.0, 0.3, 30));
    assert_eq!((p.replicas, p.cpu_limit_millis), (2, Some(64)));
    // x1.7: the 2 ready need 8 + 94.1 -> 104 m now, and 2.4 -> 3 replicas
    // at the baseline.
    let p = h.propose(&obs(15.0, 2, 2, 48.0, 0.3, 64));
    assert_eq!((p.replicas, p.cpu_limit_millis), (3, Some(104)));
    // While the third boots the quota stays.
    let p = h.propose(&obs(30.0, 3, 2, 48.0, 0.2, 104));
    assert_eq!((p.replicas, p.cpu_limit_millis), (3, Some(104)));
    // All ready: the quota comes down to the lowering margin's 8 + 67.2 ->
    // 76 m, near the baseline.
    let p = h.propose(&obs(45.0, 3, 3, 48.0, 0.1, 104));
    assert_eq!(
        (p.replicas, p.cpu_limit_millis, p.reason),
        (3, Some(76), "quota_lowered")
    );
}

#[test]
fn the_quota_is_lowered_only_with_margin() {
    let mut h = Hybrid::new(HybridConfig::default());
    // At 76 m on 3, 47.5/s wants 70 m up and 76 m to go down: held.
    let p = h.propose(&obs(0.0, 3, 3, 47.5, 0.1, 76));
    assert_eq!((p.cpu_limit_millis, p.reason), (Some(76), "hold"));
    // 40/s: 8 + 56 = 64 m.
    let p = h.propose(&obs(15.0, 3, 3, 40.0, 0.1, 76));
    assert_eq!(p.cpu_limit_millis, Some(64));
    // Never down while the P99 is over the headroom, even in a window too
    // fresh to raise on (the limit just changed).
    let p = h.propose(&obs(30.0, 3, 3, 30.0, 0.7, 64));
    assert_eq!((p.cpu_limit_millis, p.reason), (Some(64), "hold"));
}

#[test]
fn the_ceiling_bounds_what_is_asked_for() {
    let mut h = Hybrid::new(HybridConfig::default());
    let p = h.propose(&obs(0.0, 2, 2, 200.0, 0.6, 30));
    assert_eq!(p.cpu_limit_millis, Some(120));
    assert!(p.replicas >= 8, "{} replicas for 200/s", p.replicas);
}

#[test]
fn a_p99_over_the_headroom_raises_the_quota_by_half_and_keeps_it() {
    let mut h = Hybrid::new(HybridConfig::default());
    // The cost model is content (28/s on 4: 36 m), the P99 is not.
    let p = h.propose(&obs(0.0, 4, 4, 28.0, 0.8, 30));
    assert_eq!(
        (p.cpu_limit_millis, p.reason),
        (Some(46), "p99_over_headroom"),
        "30 * 1.5 = 45 -> 46 in 2 m steps"
    );
    // The window still shows the old quota; the model's 38 m would undo it.
    let p = h.propose(&obs(15.0, 4, 4, 28.0, 0.3, 46));
    assert_eq!(p.cpu_limit_millis, Some(46));
    // A calm window under 46 m: now the model sizes again.
    let p = h.propose(&obs(50.0, 4, 4, 28.0, 0.1, 46));
    assert_eq!(p.cpu_limit_millis, Some(38));
}

#[test]
fn the_cost_of_a_call_is_learned_from_cpu_and_a_saturated_pod_never_lowers_it() {
    let mut h = Hybrid::new(HybridConfig::default());
    assert!((h.cost_s() - 0.0028).abs() < 1e-12, "prior");
    // 10/s per replica at 50 m: (50 - 2) / 10 = 4.8 ms, taken at once.
    h.propose(&with_cpu(obs(0.0, 2, 2, 20.0, 0.1, 60), 50.0));
    assert!((h.cost_s() - 0.0048).abs() < 1e-9, "{}", h.cost_s());
    // At the limit the figure hides queued work: 2.8 ms does not count.
    h.propose(&with_cpu(obs(60.0, 2, 2, 20.0, 0.1, 30), 30.0));
    assert!((h.cost_s() - 0.0048).abs() < 1e-9, "{}", h.cost_s());
    // Under the limit it does, slowly (300 s): 60 s later 18 % of the way.
    h.propose(&with_cpu(obs(120.0, 2, 2, 20.0, 0.1, 60), 30.0));
    let expected = 0.0048 + (1.0 - (-60.0f64 / 300.0).exp()) * (0.0028 - 0.0048);
    assert!((h.cost_s() - expected).abs() < 1e-9, "{}", h.cost_s());
}

#[test]
fn scales_in_only_with_a_calm_p99_and_nothing_booting() {
    let mut h = Hybrid::new(HybridConfig::default());
    // 20/s needs 20 * 2.8 * 1.4 / 73 = 1.07 -> 2 of the 4.
    let p = h.propose(&obs(0.0, 4, 4, 20.0, 0.5, 30));
    assert_eq!(p.replicas, 4, "p99 not calm");
    let p = h.propose(&obs(15.0, 5, 4, 20.0, 0.1, 30));
    assert_eq!(p.replicas, 5, "one booting");
    let mut h = Hybrid::new(HybridConfig::default());
    let p = h.propose(&obs(0.0, 4, 4, 20.0, 0.1, 30));
    assert_eq!((p.replicas, p.reason), (2, "capacity_allows_down"));
}

#[test]
fn without_a_rate_the_quota_is_kept() {
    let mut h = Hybrid::new(HybridConfig::default());
    let mut o = obs(0.0, 4, 4, 0.0, 0.1, 60);
    o.arrival_rate = None;
    let p = h.propose(&o);
    assert_eq!((p.replicas, p.cpu_limit_millis), (4, Some(60)));
}
