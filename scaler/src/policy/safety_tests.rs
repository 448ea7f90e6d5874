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
