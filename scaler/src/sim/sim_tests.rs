use super::*;
use crate::{
    policy::{safety::SafetyConfig, r#static::Static},
    scenario::generate::constant_rates,
};

fn p99_at(rate: f64, replicas: u32) -> f64 {
    let cfg = SimConfig {
        registration: Reregistration {
            users: 0,
            ..Reregistration::default()
        },
        p99_window_s: 1800,
        ..SimConfig::default()
    };
    let r = simulate(
        &constant_rates(rate, 1800),
        Box::new(Static { replicas }),
        SafetyConfig::bounds_only(0, 100),
        &cfg,
        true,
    );
    r.seconds.last().and_then(|s| s.p99_s).expect("p99")
}

/// Report 4.1/4.2: one 30 mCPU proxy holds P99 < 1 s at 11 calls/s and
/// fails at 12; milliseconds at low load.
#[test]
fn knee_is_between_11_and_12() {
    let curve: Vec<(f64, f64)> = [1.0, 5.0, 9.0, 10.0, 11.0, 12.0, 14.0]
        .iter()
        .map(|&r| (r, p99_at(r, 1)))
        .collect();
    eprintln!("rate -> p99: {curve:?}");
    assert!(curve[0].1 < 0.01, "ms at 1 call/s");
    assert!(curve[4].1 < 1.0, "11/s holds");
    assert!(curve[5].1 > 1.0, "12/s fails");
    assert!(curve[6].1 > 10.0, "collapse beyond");
    assert!(
        curve.windows(2).all(|w| w[0].1 <= w[1].1 * 1.05),
        "monotone"
    );
}

#[test]
fn hashing_spreads_over_replicas_and_boot_delays_new_ones() {
    // 42/s on 5 replicas is the report's capacity plan (4.3): it holds.
    assert!(p99_at(42.0, 5) < 1.0);
}
