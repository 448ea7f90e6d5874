use scenario::generate::constant_rates;

use super::{result::SimResult, *};
use crate::policy::{safety::SafetyConfig, r#static::Static};

/// 30 min at a constant rate on a fixed tier, P99 over the whole run.
fn constant_run(profile: cal::Profile, rate: f64, replicas: u32) -> SimResult {
    let cfg = SimConfig {
        registration: Reregistration {
            users: 0,
            ..Reregistration::default()
        },
        p99_window_s: 1800,
        ..SimConfig::for_profile(profile)
    };
    simulate(
        &constant_rates(rate, 1800),
        Box::new(Static { replicas }),
        SafetyConfig::bounds_only(0, 100),
        &cfg,
        true,
    )
}

fn p99_of(r: &SimResult) -> f64 {
    r.seconds.last().and_then(|s| s.p99_s).expect("p99")
}

fn p99_at(rate: f64, replicas: u32) -> f64 {
    p99_of(&constant_run(cal::Profile::Report, rate, replicas))
}

/// Median per-second CPU of one replica held at `rate`, after the warm-up.
fn cpu_at(profile: cal::Profile, rate: f64) -> f64 {
    let r = constant_run(profile, rate, 1);
    let mut cpu: Vec<f64> = r.seconds.iter().map(|s| s.cpu_millis).collect();
    cpu.sort_by(f64::total_cmp);
    cpu[cpu.len() / 2]
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

/// Testbed sweep (30 mCPU, 100 ms period): P99 0.10 s at 20/s, 0.21 s at
/// 30 and 35/s, 2.3 s at 40/s. One replica holds at 35 and breaks at 40.
#[test]
fn testbed_knee_is_between_35_and_40() {
    let curve: Vec<(f64, f64)> = [1.0, 10.0, 20.0, 30.0, 35.0, 40.0, 45.0]
        .iter()
        .map(|&r| (r, p99_of(&constant_run(cal::Profile::Testbed, r, 1))))
        .collect();
    eprintln!("testbed rate -> p99: {curve:?}");
    assert!(curve[0].1 < 0.01, "ms at 1 call/s");
    assert!(curve[2].1 < 0.5, "20/s: a few CFS periods at most");
    assert!(curve[4].1 < 1.0, "35/s holds");
    assert!(curve[5].1 > 1.0, "40/s fails");
    assert!(curve[6].1 > 10.0, "collapse beyond");
    assert!(
        curve.windows(2).all(|w| w[0].1 <= w[1].1 * 1.05),
        "monotone"
    );
}

/// The testbed's CPU is concave in the rate: the medians measured per
/// 5 calls/s bucket (`calibration::testbed::CPU_CURVE`, e.g. 17.8 m at
/// 12.3/s, 26.2 m at 22.0/s) come out of the simulated replica, with its
/// Poisson arrivals and load estimate, within 1.5 mCPU; equal rate steps
/// cost less and less CPU, unlike the report profile's straight line.
#[test]
fn testbed_cpu_is_concave_and_follows_the_measured_medians() {
    let measured = [(7.7, 12.2), (12.3, 17.8), (16.8, 22.3), (22.0, 26.2)];
    let sim: Vec<(f64, f64, f64)> = measured
        .iter()
        .map(|&(r, m)| (r, m, cpu_at(cal::Profile::Testbed, r)))
        .collect();
    eprintln!("rate, measured, simulated mCPU: {sim:?}");
    for (r, m, c) in &sim {
        assert!(
            (c - m).abs() < 1.5,
            "{r}/s: simulated {c:.1} m, measured {m}"
        );
    }
    // Concave: each 5 calls/s costs less CPU than the one before.
    let (lo, mid, hi) = (
        cpu_at(cal::Profile::Testbed, 5.0),
        cpu_at(cal::Profile::Testbed, 15.0),
        cpu_at(cal::Profile::Testbed, 25.0),
    );
    assert!(mid - lo > hi - mid + 2.0, "{lo:.1} {mid:.1} {hi:.1}");
    // The report profile stays linear: equal steps cost equal CPU.
    let (lo, mid, hi) = (
        cpu_at(cal::Profile::Report, 2.0),
        cpu_at(cal::Profile::Report, 5.0),
        cpu_at(cal::Profile::Report, 8.0),
    );
    assert!(
        ((mid - lo) - (hi - mid)).abs() < 0.5,
        "{lo:.1} {mid:.1} {hi:.1}"
    );
}

/// What makes CPU-HPA over-scale on the testbed: a 20 m target is reached
/// near 15 calls/s per proxy, under half the 35/s a proxy holds.
#[test]
fn testbed_cpu_target_of_20m_is_reached_far_below_capacity() {
    let at_15 = cpu_at(cal::Profile::Testbed, 15.0);
    assert!((18.0..22.0).contains(&at_15), "{at_15:.1} m at 15/s");
    let at_11 = cpu_at(cal::Profile::Report, 11.0);
    assert!(
        at_11 > 26.0,
        "report: CPU near the limit only at its knee ({at_11:.1})"
    );
}

/// Holds the replica count and asks for `limit` from `at_s` on.
struct Resize {
    at_s: f64,
    limit: u32,
}

impl Policy for Resize {
    fn name(&self) -> String {
        "resize".to_owned()
    }

    fn needs(&self) -> crate::policy::Needs {
        crate::policy::Needs::default()
    }

    fn propose(&mut self, obs: &Observation) -> crate::policy::Proposal {
        crate::policy::Proposal {
            cpu_limit_millis: (obs.now_s >= self.at_s).then_some(self.limit),
            ..crate::policy::Proposal::new(obs.current_replicas, "hold", "test")
        }
    }

    fn initial_replicas(&self) -> Option<u32> {
        Some(1)
    }
}

/// One report replica overloaded at `rate`, resized at t = 30 s.
fn resized_run(rate: f64, limit: u32, cfg: &SimConfig) -> SimResult {
    let cfg = SimConfig {
        registration: Reregistration {
            users: 0,
            ..Reregistration::default()
        },
        warm_up_s: 0,
        ..cfg.clone()
    };
    // Safety lets any limit through: what is tested is the tier's ceiling.
    let safety = SafetyConfig {
        cpu: Some(crate::policy::safety::CpuBounds {
            base_millis: 1,
            max_millis: 64_000,
            max_step_up_millis: u32::MAX,
            max_step_down_millis: u32::MAX,
        }),
        ..SafetyConfig::bounds_only(0, 100)
    };
    simulate(
        &constant_rates(rate, 120),
        Box::new(Resize { at_s: 30.0, limit }),
        safety,
        &cfg,
        true,
    )
}

/// A resize asked for at 30 s lands after the resize delay: until then the
/// replica stays pinned at its 30 m, from then on it runs at twice that.
#[test]
fn a_resize_lands_after_the_resize_delay() {
    let cfg = SimConfig {
        resize_delay_s: 5.0,
        ..SimConfig::default()
    };
    // 15 calls/s needs ~36 m of SIP work: pinned at 30 m, room at 60 m.
    let r = resized_run(15.0, 60, &cfg);
    let cpu = |t: usize| r.seconds[t].cpu_millis;
    for t in 10..35 {
        assert!(cpu(t) <= 30.0 + 1e-9, "{t}: {}", cpu(t));
    }
    assert!(cpu(29) > 29.0, "pinned before");
    for t in 36..120 {
        assert!(cpu(t) > 30.5 && cpu(t) <= 60.0 + 1e-9, "{t}: {}", cpu(t));
    }
    // What the tier costs follows the limit in force, not the one asked for.
    assert!((r.seconds[34].allocated_millis - 30.0).abs() < 1e-9);
    assert!((r.seconds[35].allocated_millis - 60.0).abs() < 1e-9);
    assert_eq!(r.resize_actions, 1, "asked once, then held");
    // The queue built before drains and the P99 recovers once the window
    // has forgotten it.
    assert!(r.seconds[119].p99_s.expect("p99") < 1.0);
    assert!(r.seconds[34].p99_s.expect("p99") > 1.0);
}

/// No resize goes past the per-pod ceiling.
#[test]
fn the_ceiling_holds() {
    let cfg = SimConfig {
        resize_delay_s: 0.0,
        max_cpu_limit_millis: 90.0,
        ..SimConfig::default()
    };
    // 100 calls/s needs ~240 m; asked for 500 m, the replica gets 90.
    let r = resized_run(100.0, 500, &cfg);
    let peak = r.seconds.iter().map(|s| s.cpu_millis).fold(0.0, f64::max);
    assert!(peak <= 90.0 + 1e-9 && peak > 89.0, "{peak}");
}

/// With a proportional quota a replica at 60 m holds twice the knee rate
/// it holds at 30 m (report: 11/s -> 22/s), and breaks just past it.
#[test]
fn capacity_follows_the_quota() {
    let run = |rate: f64| {
        let cfg = SimConfig {
            registration: Reregistration {
                users: 0,
                ..Reregistration::default()
            },
            p99_window_s: 1800,
            cpu_limit_millis: 60.0,
            ..SimConfig::default()
        };
        let r = simulate(
            &constant_rates(rate, 1800),
            Box::new(Static { replicas: 1 }),
            SafetyConfig::bounds_only(0, 100),
            &cfg,
            true,
        );
        p99_of(&r)
    };
    let (held, broken) = (run(22.0), run(25.0));
    assert!(held < 1.0, "22/s at 60 m: {held}");
    assert!(broken > 1.0, "25/s at 60 m: {broken}");
}
