//! CPU amounts in Kubernetes notation (`30m`, `0.5`, `2`), read one way
//! by the testbed's flags and by the scaler from pod specs, so a limit set
//! in one place means the same millicores in the other.

use thiserror::Error;

/// The most any option takes: 64 cores.
pub const MAX_CPU_MILLIS: u32 = 64_000;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CpuError {
    #[error("bad cpu amount `{0}` (Kubernetes notation: 30m, 0.5, 2)")]
    Number(String),
    #[error("cpu amount `{0}` out of range (0 to 64 cores)")]
    Range(String),
}

/// "30m" -> 30, "0.5" -> 500, "1" -> 1000 (rounded to a millicore).
pub fn parse_cpu_millis(text: &str) -> Result<u32, CpuError> {
    let t = text.trim();
    let millis = match t.strip_suffix('m') {
        Some(m) => m.parse::<f64>(),
        None => t.parse::<f64>().map(|cores| cores * 1000.0),
    }
    .map_err(|_| CpuError::Number(text.to_owned()))?;
    if !(0.0..=f64::from(MAX_CPU_MILLIS)).contains(&millis) {
        return Err(CpuError::Range(text.to_owned()));
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "range checked above"
    )]
    Ok(millis.round() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_notation() {
        assert_eq!(parse_cpu_millis("30m"), Ok(30));
        assert_eq!(parse_cpu_millis("0.5"), Ok(500));
        assert_eq!(parse_cpu_millis("2"), Ok(2000));
        assert_eq!(parse_cpu_millis(" 90m "), Ok(90));
        assert_eq!(parse_cpu_millis("0"), Ok(0));
    }

    #[test]
    fn bad_forms_are_errors() {
        assert!(matches!(parse_cpu_millis("lots"), Err(CpuError::Number(_))));
        assert!(matches!(parse_cpu_millis("m"), Err(CpuError::Number(_))));
        assert!(matches!(parse_cpu_millis("-1"), Err(CpuError::Range(_))));
        assert!(matches!(parse_cpu_millis("65"), Err(CpuError::Range(_))));
        assert!(matches!(parse_cpu_millis("NaN"), Err(CpuError::Range(_))));
    }
}
