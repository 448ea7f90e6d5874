//! Load scenarios in the report's CSV format (section 3.3.3): one line per
//! call, `caller;callee;wait_before_next_in_ms;seconds_since_start;arrival_rate_in_s`.
//!
//! A crate of its own because the simulator, the testbed's driver and the
//! demo all play and judge the same scenarios.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    reason = "rates, seconds and call counts are small non-negative numbers converted after clamping"
)]

pub mod generate;
pub mod milano;
pub mod random;
pub mod registration;
pub mod run;
pub mod seeds;
pub mod suite;

use std::fmt::Write as _;

use thiserror::Error;

/// The header line the report's scenario controller expects.
pub const HEADER: &str =
    "caller;callee;wait_before_next_in_ms;seconds_since_start;arrival_rate_in_s";

#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error("line {line}: expected 5 `;`-separated fields, found {found}")]
    Fields { line: usize, found: usize },
    #[error("line {line}: bad {field} `{value}`")]
    Value {
        line: usize,
        field: &'static str,
        value: String,
    },
    #[error("line {line}: seconds_since_start goes backwards ({value} after {previous})")]
    Backwards {
        line: usize,
        value: u64,
        previous: u64,
    },
    #[error("read input")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(String),
}

/// One call the load generator places.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// Originating user id (digits in the report's files).
    pub caller: String,
    /// Terminating user id.
    pub callee: String,
    /// How long the controller waits after this call before the next one.
    pub wait_before_next_ms: u64,
    /// Second of the scenario this call belongs to.
    pub seconds_since_start: u64,
    /// The intended arrival rate in that second (informative; the call lines
    /// themselves are the load).
    pub arrival_rate: f64,
}

/// A whole scenario: the calls in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scenario {
    pub calls: Vec<Call>,
}

impl Scenario {
    /// Parse the report's CSV. The header line is optional (recognised by
    /// its first field), blank lines are skipped, a trailing `\r` is allowed.
    pub fn parse(text: &str) -> Result<Self, ScenarioError> {
        let mut calls = Vec::new();
        let mut previous = 0_u64;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let raw = raw.trim_end_matches('\r').trim();
            if raw.is_empty() || (calls.is_empty() && raw.starts_with("caller")) {
                continue;
            }
            let fields: Vec<&str> = raw.split(';').map(str::trim).collect();
            if fields.len() != 5 {
                return Err(ScenarioError::Fields {
                    line,
                    found: fields.len(),
                });
            }
            let bad = |field: &'static str, value: &str| ScenarioError::Value {
                line,
                field,
                value: value.to_owned(),
            };
            let wait_before_next_ms = fields[2]
                .parse::<u64>()
                .map_err(|_| bad("wait_before_next_in_ms", fields[2]))?;
            let seconds_since_start = fields[3]
                .parse::<u64>()
                .map_err(|_| bad("seconds_since_start", fields[3]))?;
            let arrival_rate = fields[4]
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r >= 0.0)
                .ok_or_else(|| bad("arrival_rate_in_s", fields[4]))?;
            if seconds_since_start < previous {
                return Err(ScenarioError::Backwards {
                    line,
                    value: seconds_since_start,
                    previous,
                });
            }
            previous = seconds_since_start;
            calls.push(Call {
                caller: fields[0].to_owned(),
                callee: fields[1].to_owned(),
                wait_before_next_ms,
                seconds_since_start,
                arrival_rate,
            });
        }
        Ok(Self { calls })
    }

    /// The CSV text, header included; `parse(to_csv(s)) == s`.
    #[must_use]
    pub fn to_csv(&self) -> String {
        let mut out = String::with_capacity(32 * (self.calls.len() + 1));
        out.push_str(HEADER);
        out.push('\n');
        for c in &self.calls {
            // `{}` on f64 prints the shortest text that parses back to the
            // same value, and `12` rather than `12.0` for whole rates.
            let _ = writeln!(
                out,
                "{};{};{};{};{}",
                c.caller, c.callee, c.wait_before_next_ms, c.seconds_since_start, c.arrival_rate
            );
        }
        out
    }

    /// Length in seconds: up to the last second that holds a call.
    #[must_use]
    pub fn duration_s(&self) -> u64 {
        self.calls.last().map_or(0, |c| c.seconds_since_start + 1)
    }

    /// Calls placed in each second (index = second), counted from the call
    /// lines, which is what a load generator replaying the file sends.
    #[must_use]
    pub fn rate_per_second(&self) -> Vec<f64> {
        let mut rates = vec![0.0; usize::try_from(self.duration_s()).unwrap_or(usize::MAX)];
        for c in &self.calls {
            if let Some(slot) = usize::try_from(c.seconds_since_start)
                .ok()
                .and_then(|s| rates.get_mut(s))
            {
                *slot += 1.0;
            }
        }
        rates
    }

    /// Build a scenario whose second `i` holds `round(rates[i])` calls, with
    /// the rounding error carried to the next second so long-run totals
    /// match the rates even when they are fractional.
    #[must_use]
    pub fn from_rates(rates: &[f64]) -> Self {
        let counts = counts_from_rates(rates);
        let mut users = UserPairs::default();
        let mut calls = Vec::with_capacity(counts.iter().map(|&n| n as usize).sum());
        // Absolute send time of each call in ms, spread evenly inside its
        // second; the wait of a call is the gap to the next call.
        let mut times = Vec::with_capacity(calls.capacity());
        for (second, &n) in counts.iter().enumerate() {
            for i in 0..n {
                let offset = u64::from(i) * 1000 / u64::from(n);
                times.push((second as u64) * 1000 + offset);
                let (caller, callee) = users.next_pair();
                calls.push(Call {
                    caller,
                    callee,
                    wait_before_next_ms: 0,
                    seconds_since_start: second as u64,
                    arrival_rate: f64::from(n),
                });
            }
        }
        let end_ms = counts.len() as u64 * 1000;
        for i in 0..calls.len() {
            let next = times.get(i + 1).copied().unwrap_or(end_ms);
            calls[i].wait_before_next_ms = next - times[i];
        }
        Self { calls }
    }

    /// Squeeze time by `factor` (> 1 plays faster) keeping the rates: second
    /// `t` of the result carries the mean rate of seconds `[t*f, (t+1)*f)`.
    /// This is how the report made its 3-hour Milano day: the load shape
    /// moves faster while each second still asks the proxies for the same
    /// calls per second, so capacity findings stay valid.
    #[must_use]
    pub fn compress(&self, factor: f64) -> Self {
        Self::from_rates(&compress_rates(&self.rate_per_second(), factor))
    }
}

/// Mean of `rates` over windows of `factor` seconds (see [`Scenario::compress`]).
#[must_use]
pub fn compress_rates(rates: &[f64], factor: f64) -> Vec<f64> {
    if !(factor.is_finite() && factor > 0.0) || rates.is_empty() {
        return rates.to_vec();
    }
    let len = (rates.len() as f64 / factor).ceil() as usize;
    (0..len)
        .map(|t| {
            let start = ((t as f64 * factor).floor() as usize).min(rates.len() - 1);
            let end = (((t + 1) as f64 * factor).floor() as usize).clamp(start + 1, rates.len());
            rates[start..end].iter().sum::<f64>() / (end - start) as f64
        })
        .collect()
}

/// Whole calls per second from fractional rates, carrying the remainder.
#[must_use]
pub fn counts_from_rates(rates: &[f64]) -> Vec<u32> {
    let mut carry = 0.0_f64;
    rates
        .iter()
        .map(|&r| {
            let want = if r.is_finite() { r.max(0.0) } else { 0.0 } + carry;
            let n = want.round().max(0.0);
            carry = want - n;
            n as u32
        })
        .collect()
}

/// Caller/callee ids like the report's files (`4600;4700`): callers on a
/// grid of 100 ids, the callee 100 above. A fixed LCG keeps files
/// reproducible without a random-number dependency.
#[derive(Debug, Clone)]
struct UserPairs {
    state: u64,
}

impl Default for UserPairs {
    fn default() -> Self {
        Self { state: 0x5eed }
    }
}

impl UserPairs {
    fn next_pair(&mut self) -> (String, String) {
        self.state = self
            .state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let caller = ((self.state >> 33) % 99) * 100;
        (caller.to_string(), (caller + 100).to_string())
    }
}

#[cfg(test)]
mod tests;
