use super::*;
use crate::policy::PodSample;

fn config() -> SafetyConfig {
    SafetyConfig {
        min_replicas: 1,
        max_replicas: 10,
        max_step_up: 2,
        max_step_down: 1,
        cooldown_up: Duration::from_secs(30),
        cooldown_down: Duration::from_secs(60),
        stale_after: Duration::from_secs(60),
        cpu: None,
    }
}

fn obs(current: u32, p99: Option<f64>, rate: Option<f64>) -> Observation {
    Observation {
        now_s: 1000.0,
        current_replicas: current,
        ready_replicas: current,
        p99_s: p99,
        arrival_rate: rate,
        ..Observation::default()
    }
}

const QOS: Needs = Needs {
    p99: true,
    rate: true,
    cpu: false,
};

fn down(to: u32) -> Proposal {
    Proposal::new(to, "capacity_allows_down", "test")
}

#[test]
fn never_scales_down_on_missing_nan_or_stale_input() {
    let s = Safety::new(config());
    let d = s.decide(QOS, &obs(5, None, Some(10.0)), down(4));
    assert_eq!(
        (d.replicas, d.reason, d.input),
        (5, "hold_input_missing", InputState::Missing)
    );
    let d = s.decide(QOS, &obs(5, Some(f64::NAN), Some(10.0)), down(4));
    assert_eq!((d.replicas, d.reason), (5, "hold_input_nan"));
    let mut stale = obs(5, Some(0.01), Some(10.0));
    stale.sample_age = Duration::from_secs(600);
    let d = s.decide(QOS, &stale, down(4));
    assert_eq!((d.replicas, d.reason), (5, "hold_input_stale"));
    let d = s.decide(QOS, &obs(5, Some(0.01), Some(10.0)), down(4));
    assert_eq!(
        (d.replicas, d.reason),
        (4, "capacity_allows_down"),
        "good input may go down"
    );
}

#[test]
fn scale_up_is_allowed_on_bad_input() {
    let s = Safety::new(config());
    let d = s.decide(
        QOS,
        &obs(3, Some(2.0), None),
        Proposal::new(4, "p99_over_headroom", ""),
    );
    assert_eq!(d.replicas, 4);
}

#[test]
fn cpu_input_missing_when_no_ready_pod_has_a_metric() {
    let needs = Needs {
        cpu: true,
        ..Needs::default()
    };
    let mut o = obs(3, None, None);
    o.pods = vec![
        PodSample {
            ready: true,
            cpu_millis: None,
        };
        3
    ];
    let s = Safety::new(config());
    assert_eq!(s.decide(needs, &o, down(1)).reason, "hold_input_missing");
}

#[test]
fn bounds_steps_and_cooldowns() {
    let mut s = Safety::new(config());
    let good = obs(3, Some(0.01), Some(10.0));
    let d = s.decide(QOS, &good, Proposal::new(20, "rate_over_capacity", ""));
    assert_eq!((d.replicas, d.reason), (5, "step_limit"), "max 10, then +2");
    s.applied(1000.0, 3, 5);
    let mut later = obs(5, Some(0.01), Some(10.0));
    later.now_s = 1010.0;
    assert_eq!(
        s.decide(QOS, &later, Proposal::new(7, "r", "")).reason,
        "cooldown"
    );
    assert_eq!(s.decide(QOS, &later, down(2)).reason, "cooldown");
    later.now_s = 1061.0;
    let d = s.decide(QOS, &later, down(2));
    assert_eq!((d.replicas, d.reason), (4, "step_limit"));
    let d = s.decide(QOS, &obs(0, None, None), Proposal::new(0, "hold", ""));
    assert_eq!((d.replicas, d.reason), (1, "min_replicas"));
}

#[test]
fn partial_input_scales_up_but_never_down() {
    let s = Safety::new(config());
    let mut partial = obs(5, Some(0.01), Some(10.0));
    partial.partial = true;
    let d = s.decide(QOS, &partial, down(4));
    assert_eq!(
        (d.replicas, d.reason, d.input),
        (5, "hold_input_partial", InputState::Partial)
    );
    partial.p99_s = Some(2.0);
    let d = s.decide(QOS, &partial, Proposal::new(7, "p99_over_target", ""));
    assert_eq!((d.replicas, d.reason), (7, "p99_over_target"));
    let cpu_only = Needs {
        cpu: true,
        ..Needs::default()
    };
    partial.pods = vec![
        PodSample {
            ready: true,
            cpu_millis: Some(5.0),
        };
        5
    ];
    assert_eq!(
        s.decide(cpu_only, &partial, down(4)).replicas,
        4,
        "the agents' coverage says nothing about the CPU a policy reads"
    );
}

fn vertical(step_up: u32) -> SafetyConfig {
    SafetyConfig {
        cpu: Some(CpuBounds {
            base_millis: 30,
            max_millis: 120,
            max_step_up_millis: step_up,
            max_step_down_millis: 30,
        }),
        ..config()
    }
}

fn resize(replicas: u32, millis: u32) -> Proposal {
    Proposal {
        cpu_limit_millis: Some(millis),
        ..Proposal::new(replicas, "surge", "test")
    }
}

/// Good input at `limit` on 3 replicas.
fn at_limit(limit: Option<u32>) -> Observation {
    Observation {
        cpu_limit_millis: limit,
        ..obs(3, Some(0.01), Some(10.0))
    }
}

#[test]
fn cpu_limit_stays_between_the_base_and_the_ceiling() {
    let s = Safety::new(vertical(90));
    let d = s.decide(QOS, &at_limit(Some(30)), resize(3, 500));
    assert_eq!((d.cpu_limit_millis, d.reason), (Some(120), "max_cpu_limit"));
    let d = s.decide(QOS, &at_limit(Some(60)), resize(3, 10));
    assert_eq!((d.cpu_limit_millis, d.reason), (Some(30), "min_cpu_limit"));
    let d = s.decide(QOS, &at_limit(Some(30)), resize(3, 90));
    assert_eq!((d.cpu_limit_millis, d.reason), (Some(90), "surge"));
}

#[test]
fn cpu_limit_is_never_lowered_on_untrusted_input() {
    let s = Safety::new(vertical(90));
    let mut missing = at_limit(Some(90));
    missing.p99_s = None;
    let mut nan = at_limit(Some(90));
    nan.arrival_rate = Some(f64::NAN);
    let mut stale = at_limit(Some(90));
    stale.sample_age = Duration::from_secs(600);
    let mut partial = at_limit(Some(90));
    partial.partial = true;
    for (o, reason) in [
        (&missing, "hold_input_missing"),
        (&nan, "hold_input_nan"),
        (&stale, "hold_input_stale"),
        (&partial, "hold_input_partial"),
    ] {
        let d = s.decide(QOS, o, resize(3, 30));
        assert_eq!((d.cpu_limit_millis, d.reason), (Some(90), reason));
        // A raise is what an overload shown by part of the tier needs.
        let d = s.decide(QOS, o, resize(3, 120));
        assert_eq!(d.cpu_limit_millis, Some(120), "{reason}");
    }
    // Without a limit to compare against, nothing changes on bad input.
    missing.cpu_limit_millis = None;
    let d = s.decide(QOS, &missing, resize(3, 120));
    assert_eq!((d.cpu_limit_millis, d.reason), (None, "hold_input_missing"));
    // Good input may lower, one step at a time.
    let d = s.decide(QOS, &at_limit(Some(90)), resize(3, 30));
    assert_eq!((d.cpu_limit_millis, d.reason), (Some(60), "cpu_step_limit"));
}

#[test]
fn cpu_steps_are_bounded_like_replica_steps() {
    let s = Safety::new(vertical(40));
    let d = s.decide(QOS, &at_limit(Some(30)), resize(3, 120));
    assert_eq!((d.cpu_limit_millis, d.reason), (Some(70), "cpu_step_limit"));
    // An actuator that cannot tell: the step is counted from the base.
    let d = s.decide(QOS, &at_limit(None), resize(3, 120));
    assert_eq!(d.cpu_limit_millis, Some(70));
    // The replica count's own limit keeps the label; the detail has both.
    let d = s.decide(QOS, &at_limit(Some(30)), resize(9, 120));
    assert_eq!(
        (d.replicas, d.cpu_limit_millis, d.reason),
        (5, Some(70), "step_limit")
    );
    assert!(d.detail.contains("cpu limit wanted 120m"), "{}", d.detail);
}

#[test]
fn cpu_limit_is_left_alone_unless_asked_for_and_bounded() {
    let d = Safety::new(vertical(90)).decide(QOS, &at_limit(Some(60)), down(2));
    assert_eq!(d.cpu_limit_millis, None, "a horizontal proposal");
    let d = Safety::new(config()).decide(QOS, &at_limit(Some(30)), resize(3, 90));
    assert_eq!(
        (d.cpu_limit_millis, d.reason),
        (None, "cpu_limit_fixed"),
        "no bounds configured"
    );
}
