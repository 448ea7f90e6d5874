use super::*;
use crate::{
    learn::model::ModelConfig,
    policy::{hybrid::tests::obs, qos::QosConfig},
};

/// An `rl` whose network is never asked: the tests hand the guard the
/// residual it would have picked.
fn rl() -> Rl {
    let config = ModelConfig {
        mode: Mode::Hybrid,
        frames: 1,
        hidden: 4,
        forecast: None,
        training: serde_json::Value::Null,
    };
    let hybrid = HybridConfig {
        qos: QosConfig {
            p99_settle_s: 4.0,
            settle_s: 6.0,
            ..QosConfig::default()
        },
        ..HybridConfig::default()
    };
    let model = Arc::new(Model::new(config, 1).expect("model"));
    Rl::new(
        "rl".to_owned(),
        model,
        hybrid,
        &crate::learn::env::context(),
        Actor::Neutral,
    )
}

/// `hybrid`'s proposal with `delta` replicas and the quota times `factor`,
/// through the guard.
fn decide(rl: &mut Rl, o: &Observation, delta: i32, factor: f64) -> Proposal {
    let base = rl.base.propose(o);
    let wish = Proposal {
        replicas: (i64::from(base.replicas) + i64::from(delta)).max(1) as u32,
        cpu_limit_millis: base
            .cpu_limit_millis
            .map(|l| (f64::from(l) * factor) as u32),
        ..base.clone()
    };
    rl.guard(o, &base, wish)
}

// With the prior's 2.8 ms a call, 28/s sizes two replicas both ways
// (28 * 2.8 * 1.3 / 73 = 1.4; with the down margin 1.5), so `hybrid`
// holds two and every removal below is the residual's.

#[test]
fn a_replica_that_just_turned_ready_is_not_removed() {
    let mut rl = rl();
    let p = decide(&mut rl, &obs(0.0, 2, 1, 28.0, 0.1, 64), -1, 1.0);
    assert_eq!(p.replicas, 2, "nothing goes while one boots");
    let p = decide(&mut rl, &obs(2.0, 2, 2, 28.0, 0.1, 64), -1, 1.0);
    assert_eq!((p.replicas, p.reason), (2, "rl_residual_held"));
    assert!(p.detail.contains("just ready"), "{}", p.detail);
    // One P99 settle (4 s) after it turned ready, the residual's -1 holds.
    let p = decide(&mut rl, &obs(6.0, 2, 2, 28.0, 0.1, 64), -1, 1.0);
    assert_eq!(p.replicas, 1, "{}", p.detail);
}

#[test]
fn no_replica_goes_while_the_p99_is_not_calm() {
    let mut rl = rl();
    decide(&mut rl, &obs(0.0, 2, 2, 28.0, 0.1, 64), 0, 1.0);
    let p = decide(&mut rl, &obs(10.0, 2, 2, 28.0, 0.45, 64), -1, 1.0);
    assert_eq!(p.replicas, 2, "0.45 s is over calm (0.4 x target)");
    let p = decide(&mut rl, &obs(12.0, 2, 2, 28.0, 0.3, 64), -1, 1.0);
    assert_eq!(p.replicas, 1);
}

#[test]
fn no_replica_goes_while_the_rate_is_under_two_thirds_of_its_recent_high() {
    let mut rl = rl();
    decide(&mut rl, &obs(0.0, 2, 2, 40.0, 0.1, 90), 0, 1.0);
    // 26/s is under two thirds of 40/s; `hybrid` still wants two.
    let p = decide(&mut rl, &obs(2.0, 2, 2, 26.0, 0.1, 90), -1, 1.0);
    assert_eq!((p.replicas, p.reason), (2, "rl_residual_held"));
    assert!(p.detail.contains("recent high"), "{}", p.detail);
    // Still within the settle window (6 s) of the 40/s: held again.
    let p = decide(&mut rl, &obs(4.0, 2, 2, 26.0, 0.1, 90), -1, 1.0);
    assert_eq!(p.replicas, 2, "{}", p.detail);
    // Once the high is out of the window it may go.
    let p = decide(&mut rl, &obs(8.0, 2, 2, 26.0, 0.1, 90), -1, 1.0);
    assert_eq!(p.replicas, 1, "{}", p.detail);
}

#[test]
fn the_residual_adds_and_follows_hybrid_down_without_a_guard() {
    let mut rl = rl();
    // Adding is never held, nor is `hybrid`'s own removal: 10/s needs one
    // (10 * 2.8 * 1.4 / 73 = 0.5).
    let p = decide(&mut rl, &obs(0.0, 2, 1, 28.0, 0.9, 64), 1, 1.0);
    assert_eq!(p.replicas, 3);
    decide(&mut rl, &obs(10.0, 2, 2, 28.0, 0.1, 64), 0, 1.0);
    // The rate fell by over a third, but the removal is `hybrid`'s.
    let p = decide(&mut rl, &obs(20.0, 2, 2, 10.0, 0.1, 64), -1, 1.0);
    assert_eq!((p.replicas, p.reason), (1, "capacity_allows_down"));
}

#[test]
fn the_quota_is_not_cut_while_the_p99_is_high() {
    // At the ceiling (120 mCPU) `hybrid` cannot raise the quota for a high
    // P99, so a cut of the residual's would take it under the limit now.
    let mut rl = rl();
    decide(&mut rl, &obs(0.0, 2, 2, 28.0, 0.1, 120), 0, 1.0);
    let p = decide(&mut rl, &obs(10.0, 2, 2, 28.0, 0.6, 120), 0, 0.85);
    assert_eq!(p.cpu_limit_millis, Some(120), "{}", p.detail);
    assert_eq!(p.reason, "rl_residual_held");
    assert!(p.detail.contains("quota cut held"), "{}", p.detail);
    let calm = decide(&mut rl, &obs(20.0, 2, 2, 28.0, 0.1, 120), 0, 0.85);
    assert!(calm.cpu_limit_millis < Some(120), "{}", calm.detail);
}
