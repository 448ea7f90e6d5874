use super::{
    generate::{constant, diurnal, diurnal_rates, step},
    milano::{MilanoOptions, activity, import, import_rates},
    registration::Reregistration,
    *,
};

const REPORT_SAMPLE: &str =
    "caller;callee;wait_before_next_in_ms;seconds_since_start;arrival_rate_in_s
4600;4700;1000;0;1
7000;7100;1000;1;1
9400;9500;1000;2;1
";

#[test]
fn parses_the_report_sample() {
    let s = Scenario::parse(REPORT_SAMPLE).expect("parse");
    assert_eq!(s.calls.len(), 3);
    assert_eq!(s.calls[1].caller, "7000");
    assert_eq!(s.calls[1].callee, "7100");
    assert_eq!(s.calls[2].seconds_since_start, 2);
    assert_eq!(s.duration_s(), 3);
    assert_eq!(s.rate_per_second(), vec![1.0, 1.0, 1.0]);
}

#[test]
fn round_trip_is_exact() {
    for s in [
        Scenario::parse(REPORT_SAMPLE).expect("parse"),
        step(12.0, 6.0, 300, 1800),
        diurnal(40.0, 3.5, 600, 900),
    ] {
        let text = s.to_csv();
        assert!(text.starts_with(HEADER));
        assert_eq!(Scenario::parse(&text).expect("reparse"), s);
        assert_eq!(Scenario::parse(&text).expect("reparse").to_csv(), text);
    }
}

#[test]
fn rejects_malformed_lines() {
    assert!(matches!(
        Scenario::parse("1;2;3;4\n"),
        Err(ScenarioError::Fields { line: 1, found: 4 })
    ));
    assert!(matches!(
        Scenario::parse("1;2;x;4;1\n"),
        Err(ScenarioError::Value {
            field: "wait_before_next_in_ms",
            ..
        })
    ));
    assert!(matches!(
        Scenario::parse("1;2;3;5;1\n1;2;3;4;1\n"),
        Err(ScenarioError::Backwards { line: 2, .. })
    ));
    assert!(Scenario::parse("1;2;3;4;NaN\n").is_err());
}

/// Property: in every generated file the number of call lines in second `s`
/// equals the arrival rate that the lines of second `s` state, the waits add
/// up to the duration, and the per-second series tracks the intended rate
/// with a bounded carried error.
#[test]
fn generated_rates_match_the_file() {
    let mut seed = 7_u64;
    let mut next = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (seed >> 33) as f64 / f64::from(1_u32 << 31)
    };
    for _ in 0..40 {
        let peak = 1.0 + 60.0 * next();
        let trough = peak * next();
        let period = 60 + (next() * 3000.0) as u64;
        let total = 10 + (next() * 2000.0) as u64;
        let intended = diurnal_rates(peak, trough, period, total);
        let s = Scenario::parse(&Scenario::from_rates(&intended).to_csv()).expect("parse");
        let rates = s.rate_per_second();
        for c in &s.calls {
            assert_eq!(
                rates[c.seconds_since_start as usize], c.arrival_rate,
                "second {}",
                c.seconds_since_start
            );
        }
        let waits: u64 = s.calls.iter().map(|c| c.wait_before_next_ms).sum();
        let first_ms = s.calls.first().map_or(0, |c| c.seconds_since_start * 1000);
        assert_eq!(waits + first_ms, s.duration_s() * 1000);
        let mut carried = 0.0;
        for (t, want) in intended.iter().enumerate() {
            carried += rates.get(t).copied().unwrap_or(0.0) - want;
            assert!(carried.abs() <= 0.5 + 1e-9, "carry {carried} at {t}");
        }
    }
}

#[test]
fn step_is_the_reports_step() {
    let r = step(12.0, 6.0, 300, 1800).rate_per_second();
    assert_eq!(r.len(), 1800);
    for (k, want) in [12.0, 18.0, 24.0, 30.0, 36.0, 42.0].iter().enumerate() {
        assert!(
            r[k * 300..(k + 1) * 300].iter().all(|v| v == want),
            "step {k}"
        );
    }
    let c = constant(11.0, 60);
    assert_eq!(c.calls.len(), 660);
    assert!(
        c.calls
            .iter()
            .all(|call| call.wait_before_next_ms == 90 || call.wait_before_next_ms == 91)
    );
}

#[test]
fn compress_keeps_rates_and_squeezes_time() {
    let s = step(12.0, 6.0, 300, 1800);
    let fast = s.compress(10.0);
    let r = fast.rate_per_second();
    assert_eq!(r.len(), 180);
    assert_eq!(r[0], 12.0);
    assert_eq!(r[179], 42.0);
    assert_eq!(r[30], 18.0);
    assert_eq!(compress_rates(&[1.0, 3.0, 5.0], 2.0), vec![2.0, 5.0]);
}

#[test]
fn reregistration_waves() {
    let r = Reregistration {
        users: 100,
        interval_s: 3000,
        spread_s: 50,
        at_start: false,
    }
    .rate_per_second(7000);
    assert_eq!(r[2999], 0.0);
    assert_eq!(r[3000], 2.0);
    assert_eq!(r[3049], 2.0);
    assert_eq!(r[3050], 0.0);
    assert!(
        (r.iter().sum::<f64>() - 200.0).abs() < 1e-9,
        "two waves of 100 users"
    );
}

const MILANO: &str = "1\t1383260400000\t0\t0.08\t\t0.02\t0.03\t11.0
1\t1383260400000\t39\t1.2\t0.4\t0.5\t\t57.0
2\t1383260400000\t39\t\t\t1.0\t1.0\t3.0
1\t1383261000000\t39\t\t\t2.0\t2.0\t4.0
1\t1383262200000\t39\t\t\t4.0\t\t4.0
";

#[test]
fn milano_sums_calls_fills_gaps_and_filters_squares() {
    let (all, step) = activity(MILANO.as_bytes(), &[]).expect("parse");
    assert_eq!(step, 600_000);
    let values: Vec<f64> = all
        .iter()
        .map(|(_, v)| (v * 100.0).round() / 100.0)
        .collect();
    assert_eq!(values, vec![2.55, 4.0, 0.0, 4.0], "10:00 gap filled with 0");
    let (one, _) = activity(MILANO.as_bytes(), &[2]).expect("parse");
    assert_eq!(one, vec![(1_383_260_400_000, 2.0)]);
    assert!(activity("x\t1\t0\t\t\t1\t1\t1\n".as_bytes(), &[]).is_err());
}

#[test]
fn milano_scales_to_the_peak_and_compresses() {
    let options = MilanoOptions {
        seconds_per_interval: Some(60.0),
        ..MilanoOptions::default()
    };
    let rates = import_rates(MILANO.as_bytes(), 40.0, &options).expect("import");
    assert_eq!(rates.len(), 240);
    assert!(
        (rates[60] - 40.0).abs() < 1e-9,
        "peak interval scaled to 40/s"
    );
    assert!((rates[0] - 25.5).abs() < 1e-9);
    assert!(
        (rates[90] - 20.0).abs() < 1e-9,
        "interpolated half way down to 0"
    );
    let s = import(MILANO.as_bytes(), 40.0, &options).expect("import");
    assert_eq!(s.rate_per_second()[60], 40.0);
    assert!(import(MILANO.as_bytes(), 0.0, &options).is_err());
}
