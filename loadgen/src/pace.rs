//! Pacing: how many messages are due after a time, and when the next one
//! is, for a target rate (or none: as fast as the sender goes). Pure
//! arithmetic, so the schedule is tested without a clock.

use std::{fmt, str::FromStr, time::Duration};

use crate::Error;

/// Messages per second, or `Max` (unpaced).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    PerSecond(f64),
    Max,
}

impl FromStr for Rate {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        if s.eq_ignore_ascii_case("max") {
            return Ok(Self::Max);
        }
        let (digits, mult) = match s.strip_suffix(['k', 'K']) {
            Some(d) => (d, 1e3),
            None => match s.strip_suffix(['m', 'M']) {
                Some(d) => (d, 1e6),
                None => (s, 1.0),
            },
        };
        match digits.parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(Self::PerSecond(v * mult)),
            _ => Err(Error::Rate(s.to_owned())),
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Max => f.write_str("max"),
            Self::PerSecond(r) if *r >= 1e3 && (r / 1e3).fract() == 0.0 => {
                write!(f, "{}k", r / 1e3)
            }
            Self::PerSecond(r) => write!(f, "{r}"),
        }
    }
}

/// Messages a paced sender has owed by `elapsed`, never more than `count`.
#[must_use]
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a non-negative product, floored, far below u64::MAX"
)]
pub fn due(rate: Rate, elapsed: Duration, count: u64) -> u64 {
    match rate {
        Rate::Max => count,
        Rate::PerSecond(r) => ((r * elapsed.as_secs_f64()).floor() as u64).min(count),
    }
}

/// When message number `n` (0-based) is due: `n / rate`.
#[must_use]
pub fn time_of(rate: Rate, n: u64) -> Duration {
    match rate {
        Rate::Max => Duration::ZERO,
        Rate::PerSecond(r) => Duration::from_secs_f64(n as f64 / r),
    }
}

/// Messages a run of `duration` at `rate` sends, bounded by `cap` (an
/// unpaced run is bounded by `cap` and its time alone).
#[must_use]
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a non-negative product, rounded, below cap"
)]
pub fn count_for(rate: Rate, duration: Duration, cap: u64) -> u64 {
    match rate {
        Rate::Max => cap,
        Rate::PerSecond(r) => ((r * duration.as_secs_f64()).round() as u64).min(cap),
    }
}

/// The next batch: what is due now and not sent yet, at most `batch`.
#[must_use]
pub fn next_batch(due: u64, sent: u64, batch: usize) -> usize {
    usize::try_from(due.saturating_sub(sent)).map_or(batch, |n| n.min(batch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_suffixes_and_max() {
        assert_eq!("2k".parse::<Rate>().ok(), Some(Rate::PerSecond(2000.0)));
        assert_eq!("100K".parse::<Rate>().ok(), Some(Rate::PerSecond(1e5)));
        assert_eq!("1M".parse::<Rate>().ok(), Some(Rate::PerSecond(1e6)));
        assert_eq!("250".parse::<Rate>().ok(), Some(Rate::PerSecond(250.0)));
        assert_eq!("max".parse::<Rate>().ok(), Some(Rate::Max));
        for bad in ["0", "-5", "fast", "", "nan", "infk"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
        assert_eq!(Rate::PerSecond(20_000.0).to_string(), "20k");
        assert_eq!(Rate::PerSecond(250.0).to_string(), "250");
        assert_eq!(Rate::Max.to_string(), "max");
    }

    #[test]
    fn the_schedule_owes_rate_times_time_and_stops_at_count() {
        let r = Rate::PerSecond(2000.0);
        assert_eq!(due(r, Duration::ZERO, 10_000), 0);
        assert_eq!(due(r, Duration::from_millis(500), 10_000), 1000);
        assert_eq!(due(r, Duration::from_micros(499_999), 10_000), 999);
        assert_eq!(due(r, Duration::from_secs(60), 2000), 2000);
        assert_eq!(due(Rate::Max, Duration::ZERO, 7), 7);
        // Message n is due exactly when `due` first counts it.
        for n in [1_u64, 63, 64, 1000, 1999] {
            assert_eq!(due(r, time_of(r, n), u64::MAX), n);
        }
        assert_eq!(
            time_of(Rate::PerSecond(100_000.0), 64),
            Duration::from_micros(640)
        );
        assert_eq!(time_of(Rate::Max, 5), Duration::ZERO);
    }

    #[test]
    fn runs_are_bounded_and_batches_cover_only_what_is_due() {
        let r = Rate::PerSecond(20_000.0);
        assert_eq!(count_for(r, Duration::from_secs(3), u64::MAX), 60_000);
        assert_eq!(count_for(r, Duration::from_secs(3), 1000), 1000);
        assert_eq!(
            count_for(Rate::Max, Duration::from_secs(3), 5_000_000),
            5_000_000
        );
        assert_eq!(next_batch(100, 40, 64), 60);
        assert_eq!(next_batch(1000, 40, 64), 64);
        assert_eq!(next_batch(40, 40, 64), 0);
        assert_eq!(next_batch(30, 40, 64), 0);
    }
}
