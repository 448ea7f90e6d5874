//! Cases from the Kubernetes HPA documentation
//! (<https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/>);
//! each test names the section it reproduces.

use super::*;

fn pods(cpu: &[f64]) -> Vec<PodSample> {
    cpu.iter()
        .map(|&c| PodSample {
            ready: true,
            cpu_millis: Some(c),
        })
        .collect()
}

fn obs(now_s: f64, current: u32, pods: Vec<PodSample>) -> Observation {
    Observation {
        now_s,
        current_replicas: current,
        ready_replicas: current,
        pods,
        ..Observation::default()
    }
}

fn hpa(target: f64) -> HpaCpu {
    HpaCpu::new(HpaConfig::new(target, 1, 100))
}

/// "Algorithm details": current 200m against a 100m target doubles the
/// replicas; 50m halves them.
#[test]
fn algorithm_details_double_and_halve() {
    let h = hpa(100.0);
    assert_eq!(h.calculate(4, &pods(&[200.0; 4])), Calculated::Replicas(8));
    assert_eq!(h.calculate(4, &pods(&[50.0; 4])), Calculated::Replicas(2));
    // desiredReplicas = ceil(currentReplicas * currentMetricValue / desiredMetricValue)
    assert_eq!(h.calculate(3, &pods(&[130.0; 3])), Calculated::Replicas(4));
}

/// "Algorithm details": no scaling when the ratio is within the 0.1 tolerance.
#[test]
fn algorithm_details_tolerance() {
    let h = hpa(100.0);
    assert_eq!(
        h.calculate(10, &pods(&[109.0; 10])),
        Calculated::Replicas(10)
    );
    assert_eq!(
        h.calculate(10, &pods(&[91.0; 10])),
        Calculated::Replicas(10)
    );
    assert_eq!(
        h.calculate(10, &pods(&[111.0; 10])),
        Calculated::Replicas(12)
    );
    assert_eq!(h.calculate(10, &pods(&[89.0; 10])), Calculated::Replicas(9));
}

/// "Algorithm details": pods with missing metrics count as 100 % of the
/// target on a scale-down and 0 % on a scale-up; not-yet-ready pods count
/// as 0 % on a scale-up; if that reverses the direction or lands within the
/// tolerance, nothing is scaled.
#[test]
fn algorithm_details_missing_metrics_and_unready_pods() {
    let h = hpa(100.0);
    let missing = |values: &[f64], n: usize| {
        let mut p = pods(values);
        p.extend((0..n).map(|_| PodSample {
            ready: true,
            cpu_millis: None,
        }));
        p
    };
    // Scale-down with 2 pods missing: (2*20 + 2*100) / 4 = 60 -> ceil(0.6*4) = 3, not 1.
    assert_eq!(
        h.calculate(4, &missing(&[20.0, 20.0], 2)),
        Calculated::Replicas(3)
    );
    // Scale-up with 2 missing: (2*200 + 0 + 0) / 4 = 100 -> within tolerance -> stay.
    assert_eq!(
        h.calculate(4, &missing(&[200.0, 200.0], 2)),
        Calculated::Replicas(4)
    );
    // Scale-up with 1 missing: (3*300 + 0) / 4 = 225 -> ceil(2.25*4) = 9.
    assert_eq!(
        h.calculate(4, &missing(&[300.0; 3], 1)),
        Calculated::Replicas(9)
    );
    // Unready (booting) pods count 0 on a scale-up: (2*150 + 0 + 0)/4 = 75 -> reverses -> stay.
    let mut booting = pods(&[150.0, 150.0]);
    booting.extend((0..2).map(|_| PodSample {
        ready: false,
        cpu_millis: Some(1.0),
    }));
    assert_eq!(h.calculate(4, &booting), Calculated::Replicas(4));
    // No ready pod with a metric: the controller skips the round.
    assert_eq!(h.calculate(2, &missing(&[], 2)), Calculated::NoMetrics);
}

/// "Default behavior": scale-up may double or add 4 pods per 15 s,
/// whichever is more; there is no scale-up stabilization.
#[test]
fn default_behavior_scale_up_rate() {
    let mut h = hpa(10.0);
    let p = h.propose(&obs(0.0, 1, pods(&[100.0])));
    assert_eq!(
        (p.replicas, p.reason),
        (5, "hpa_rate_limited"),
        "1 + 4 pods"
    );
    h.applied(0.0, 1, 5);
    let p = h.propose(&obs(5.0, 5, pods(&[100.0; 5])));
    assert_eq!(p.replicas, 5, "the 15 s period still holds the +4");
    let p = h.propose(&obs(15.0, 5, pods(&[100.0; 5])));
    assert_eq!(p.replicas, 10, "doubling beats +4 at 5 pods");
}

/// "Stabilization window" (scale-down, default 300 s): the highest
/// recommendation of the past 5 minutes wins, so a dip does not scale down
/// until it has lasted the whole window.
#[test]
fn stabilization_window_scale_down() {
    let mut h = hpa(100.0);
    let high = h.propose(&obs(0.0, 4, pods(&[100.0; 4])));
    assert_eq!(high.replicas, 4);
    for t in [15.0, 150.0, 285.0] {
        let p = h.propose(&obs(t, 4, pods(&[25.0; 4])));
        assert_eq!((p.replicas, p.reason), (4, "hpa_stabilized"), "t={t}");
    }
    let p = h.propose(&obs(301.0, 4, pods(&[25.0; 4])));
    assert_eq!(p.replicas, 1, "the 4-recommendation at t=0 left the window");
}

/// "Example: change downscale stabilization window" (60 s) and a scale-up
/// window: scale-up takes the lowest recommendation of its window.
#[test]
fn stabilization_window_settings() {
    let mut config = HpaConfig::new(100.0, 1, 100);
    config.scale_down.stabilization_window_s = 60;
    config.scale_up.stabilization_window_s = 30;
    let mut h = HpaCpu::new(config);
    assert_eq!(h.propose(&obs(0.0, 4, pods(&[100.0; 4]))).replicas, 4);
    assert_eq!(
        h.propose(&obs(15.0, 4, pods(&[200.0; 4]))).replicas,
        4,
        "4 still in the up window"
    );
    assert_eq!(h.propose(&obs(31.0, 4, pods(&[200.0; 4]))).replicas, 8);
    let mut h = HpaCpu::new(h.config.clone());
    assert_eq!(h.propose(&obs(0.0, 4, pods(&[100.0; 4]))).replicas, 4);
    assert_eq!(h.propose(&obs(59.0, 4, pods(&[50.0; 4]))).replicas, 4);
    assert_eq!(h.propose(&obs(61.0, 4, pods(&[50.0; 4]))).replicas, 2);
}

/// "Scaling policies": Pods 4/60 s and Percent 10/60 s with the default
/// `Max`: with 80 replicas 8 go in the first step; at 72, 10 % is 7.2 and 8
/// go; below 40 replicas the Pods policy (4) allows more.
#[test]
fn scaling_policies_doc_example() {
    let mut config = HpaConfig::new(100.0, 1, 100);
    config.scale_down = Rules {
        stabilization_window_s: 0,
        policies: vec![
            RatePolicy {
                kind: PolicyKind::Pods,
                value: 4,
                period_s: 60,
            },
            RatePolicy {
                kind: PolicyKind::Percent,
                value: 10,
                period_s: 60,
            },
        ],
        select: Select::Max,
    };
    let mut h = HpaCpu::new(config);
    assert_eq!(h.scale_down_limit(0.0, 80), 72);
    let p = h.propose(&obs(0.0, 80, pods(&[1.0; 80])));
    assert_eq!((p.replicas, p.reason), (72, "hpa_rate_limited"));
    h.applied(0.0, 80, 72);
    assert_eq!(
        h.propose(&obs(30.0, 72, pods(&[1.0; 72]))).replicas,
        72,
        "within the same 60 s period"
    );
    assert_eq!(
        h.propose(&obs(61.0, 72, pods(&[1.0; 72]))).replicas,
        64,
        "7.2 -> 8 pods"
    );
    assert_eq!(
        h.scale_down_limit(1000.0, 30),
        26,
        "below 40, 4 pods beat 10 % (3)"
    );
}

/// "Example: limit scale down rate": Percent 10/60 s and Pods 5/60 s with
/// `selectPolicy: Min` removes at most 5 pods a minute.
#[test]
fn limit_scale_down_rate_example() {
    let mut config = HpaConfig::new(100.0, 1, 100);
    config.scale_down.policies = vec![
        RatePolicy {
            kind: PolicyKind::Percent,
            value: 10,
            period_s: 60,
        },
        RatePolicy {
            kind: PolicyKind::Pods,
            value: 5,
            period_s: 60,
        },
    ];
    config.scale_down.select = Select::Min;
    let h = HpaCpu::new(config);
    assert_eq!(
        h.scale_down_limit(0.0, 100),
        95,
        "min change: 5 pods, not 10 %"
    );
    assert_eq!(h.scale_down_limit(0.0, 20), 18, "min change: 10 % = 2 pods");
}

/// "Example: disable scale down": `selectPolicy: Disabled`.
#[test]
fn disable_scale_down_example() {
    let mut config = HpaConfig::new(100.0, 1, 100);
    config.scale_down.select = Select::Disabled;
    config.scale_down.stabilization_window_s = 0;
    let mut h = HpaCpu::new(config);
    let p = h.propose(&obs(0.0, 6, pods(&[10.0; 6])));
    assert_eq!(p.replicas, 6);
    let p = h.propose(&obs(15.0, 6, pods(&[500.0; 6])));
    assert!(p.replicas > 6, "scale-up still works");
}

/// The report's HPA (4.4): one pod per 60 s both ways.
#[test]
fn one_pod_per_period() {
    let mut config = HpaConfig::new(25.0, 1, 10);
    config.scale_up.policies = vec![RatePolicy {
        kind: PolicyKind::Pods,
        value: 1,
        period_s: 60,
    }];
    let mut h = HpaCpu::new(config);
    let p = h.propose(&obs(0.0, 1, pods(&[30.0])));
    assert_eq!(p.replicas, 2);
    h.applied(0.0, 1, 2);
    assert_eq!(h.propose(&obs(45.0, 2, pods(&[30.0; 2]))).replicas, 2);
    assert_eq!(h.propose(&obs(61.0, 2, pods(&[30.0; 2]))).replicas, 3);
}
