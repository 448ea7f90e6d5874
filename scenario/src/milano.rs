//! Importer for the Telecom Italia "Big Data Challenge" Milano grid files
//! (the report's real-world traffic shape, 4.5).
//!
//! Each line is tab-separated: square id, interval start (ms since the
//! epoch, 10-minute intervals), country code, sms-in, sms-out, call-in,
//! call-out, internet. Activity fields are empty when there was none, and
//! one square has a line per country code in each interval.

use std::{collections::BTreeMap, io::BufRead};

use super::{Scenario, ScenarioError};

/// What to take from the dataset and how to play it.
#[derive(Debug, Clone, Default)]
pub struct MilanoOptions {
    /// Squares to add up; empty means all of them.
    pub squares: Vec<u32>,
    /// Seconds one dataset interval lasts in the scenario; `None` keeps real
    /// time (the interval length found in the data, normally 600 s). Use a
    /// smaller value to compress a day, as the report's 3-hour version did.
    pub seconds_per_interval: Option<f64>,
    /// Keep at most this many intervals from the start (144 = one day).
    pub max_intervals: Option<usize>,
}

/// Call activity (call-in + call-out) per interval, ordered by time, with
/// missing intervals filled with zero. Returns the series and the interval
/// length in ms.
pub fn activity<R: BufRead>(
    reader: R,
    squares: &[u32],
) -> Result<(Vec<(i64, f64)>, i64), ScenarioError> {
    let mut sums: BTreeMap<i64, f64> = BTreeMap::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line?;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let lineno = index + 1;
        if fields.len() < 7 {
            return Err(ScenarioError::Fields {
                line: lineno,
                found: fields.len(),
            });
        }
        let bad = |field: &'static str, value: &str| ScenarioError::Value {
            line: lineno,
            field,
            value: value.to_owned(),
        };
        let square = fields[0]
            .trim()
            .parse::<u32>()
            .map_err(|_| bad("square id", fields[0]))?;
        let time = fields[1]
            .trim()
            .parse::<i64>()
            .map_err(|_| bad("time interval", fields[1]))?;
        if !squares.is_empty() && !squares.contains(&square) {
            continue;
        }
        let number = |field: &'static str, text: &str| -> Result<f64, ScenarioError> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(0.0);
            }
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| bad(field, text))
        };
        let calls = number("call-in", fields[5])? + number("call-out", fields[6])?;
        *sums.entry(time).or_insert(0.0) += calls;
    }
    let times: Vec<i64> = sums.keys().copied().collect();
    let step = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0)
        .min()
        .unwrap_or(600_000);
    let mut series = Vec::with_capacity(sums.len());
    if let (Some(&first), Some(&last)) = (times.first(), times.last()) {
        let mut t = first;
        while t <= last {
            series.push((t, sums.get(&t).copied().unwrap_or(0.0)));
            t += step;
        }
    }
    Ok((series, step))
}

/// Build a scenario from the dataset: the summed call activity, scaled so
/// its busiest interval becomes `target_peak_rate` calls/s, linearly
/// interpolated between interval starts so the rate has no 10-minute steps.
pub fn import<R: BufRead>(
    reader: R,
    target_peak_rate: f64,
    options: &MilanoOptions,
) -> Result<Scenario, ScenarioError> {
    Ok(Scenario::from_rates(&import_rates(
        reader,
        target_peak_rate,
        options,
    )?))
}

/// The per-second rate series [`import`] turns into calls.
pub fn import_rates<R: BufRead>(
    reader: R,
    target_peak_rate: f64,
    options: &MilanoOptions,
) -> Result<Vec<f64>, ScenarioError> {
    if !(target_peak_rate.is_finite() && target_peak_rate > 0.0) {
        return Err(ScenarioError::Invalid(format!(
            "target peak rate {target_peak_rate} must be > 0"
        )));
    }
    let (mut series, step_ms) = activity(reader, &options.squares)?;
    if let Some(max) = options.max_intervals {
        series.truncate(max);
    }
    let peak = series.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    if series.is_empty() || peak <= 0.0 {
        return Err(ScenarioError::Invalid(
            "no call activity in the selected squares".to_owned(),
        ));
    }
    let seconds_per_interval = options
        .seconds_per_interval
        .unwrap_or(step_ms as f64 / 1000.0);
    if !(seconds_per_interval.is_finite() && seconds_per_interval > 0.0) {
        return Err(ScenarioError::Invalid(format!(
            "seconds per interval {seconds_per_interval} must be > 0"
        )));
    }
    let scale = target_peak_rate / peak;
    let values: Vec<f64> = series.iter().map(|(_, v)| v * scale).collect();
    Ok(interpolate(&values, seconds_per_interval))
}

/// Per-second rates from one value per interval of `seconds_per_interval`,
/// linear between interval starts so the rate has no steps (the last
/// interval holds its value).
#[must_use]
pub fn interpolate(values: &[f64], seconds_per_interval: f64) -> Vec<f64> {
    if values.is_empty() || !(seconds_per_interval.is_finite() && seconds_per_interval > 0.0) {
        return Vec::new();
    }
    let total = (values.len() as f64 * seconds_per_interval).round() as usize;
    (0..total)
        .map(|s| {
            let pos = s as f64 / seconds_per_interval;
            let i = (pos.floor() as usize).min(values.len() - 1);
            let next = values.get(i + 1).copied().unwrap_or(values[i]);
            let frac = pos - i as f64;
            values[i] + (next - values[i]) * frac.clamp(0.0, 1.0)
        })
        .collect()
}
