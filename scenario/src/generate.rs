//! Synthetic scenarios: the report's constant benchmark load, its step
//! scenario, and a day-shaped (diurnal) load.

use std::f64::consts::PI;

use super::Scenario;

/// `rate` calls per second for `secs` seconds (the report's benchmarks, 4.1).
#[must_use]
pub fn constant(rate: f64, secs: u64) -> Scenario {
    Scenario::from_rates(&constant_rates(rate, secs))
}

#[must_use]
pub fn constant_rates(rate: f64, secs: u64) -> Vec<f64> {
    vec![rate; secs as usize]
}

/// Starts at `start` calls/s and adds `inc` every `every_s` seconds for
/// `total_s` seconds. The report's step scenario (4.2) is
/// `step(12.0, 6.0, 300, 1800)`: 12, 18, .. 42 calls/s.
#[must_use]
pub fn step(start: f64, inc: f64, every_s: u64, total_s: u64) -> Scenario {
    Scenario::from_rates(&step_rates(start, inc, every_s, total_s))
}

#[must_use]
pub fn step_rates(start: f64, inc: f64, every_s: u64, total_s: u64) -> Vec<f64> {
    let every = every_s.max(1);
    (0..total_s)
        .map(|t| start + inc * (t / every) as f64)
        .collect()
}

/// A cosine day: `trough` at t = 0, `peak` at half the period.
#[must_use]
pub fn diurnal(peak: f64, trough: f64, period_s: u64, total_s: u64) -> Scenario {
    Scenario::from_rates(&diurnal_rates(peak, trough, period_s, total_s))
}

#[must_use]
pub fn diurnal_rates(peak: f64, trough: f64, period_s: u64, total_s: u64) -> Vec<f64> {
    let period = period_s.max(1) as f64;
    (0..total_s)
        .map(|t| trough + (peak - trough) * (1.0 - (2.0 * PI * t as f64 / period).cos()) / 2.0)
        .collect()
}
