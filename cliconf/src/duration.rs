//! Durations as every siplat option writes them: `30s`, `800ms`, `2m`,
//! `1h`, or a bare number of seconds (so `--window 30` keeps meaning 30 s).

use std::time::{Duration, TryFromFloatSecsError};

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DurationError {
    #[error("bad duration `{0}` (a number with ms, s, m or h; a bare number is seconds)")]
    Number(String),
    #[error("bad duration unit in `{0}` (ms, s, m, h)")]
    Unit(String),
    #[error("bad duration `{text}`")]
    Range {
        text: String,
        #[source]
        source: TryFromFloatSecsError,
    },
}

/// A clap value parser (`value_parser = cliconf::parse_duration`) and the
/// one reading of durations in flags, environment and config files.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let t = text.trim();
    let (num, unit) = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((t, "s"), |i| t.split_at(i));
    let v: f64 = num
        .parse()
        .map_err(|_| DurationError::Number(text.to_owned()))?;
    let secs = match unit.trim_start() {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(DurationError::Unit(text.to_owned())),
    };
    Duration::try_from_secs_f64(secs).map_err(|source| DurationError::Range {
        text: text.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("800ms"), Ok(Duration::from_millis(800)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_forms_are_errors() {
        assert!(matches!(parse_duration("3d"), Err(DurationError::Unit(_))));
        assert!(matches!(parse_duration("s"), Err(DurationError::Number(_))));
        assert!(matches!(
            parse_duration("-1s"),
            Err(DurationError::Number(_))
        ));
        assert!(matches!(parse_duration(""), Err(DurationError::Number(_))));
        assert!(matches!(
            parse_duration("1e400"),
            Err(DurationError::Unit(_))
        ));
        assert!(matches!(
            parse_duration("99999999999999999999999h"),
            Err(DurationError::Range { .. })
        ));
    }
}
