//! The scenarios the panel can play: the suite's generated families (a seed
//! picks the day) and CSV files in the report's format (3.3.3) that were
//! uploaded or put in `scenarios/`. A choice becomes per-second rates,
//! scaled and squeezed, and is refused before anything starts when it is
//! longer or heavier than the panel's limits.

use std::path::{Path, PathBuf};

use scenario::{Scenario, suite::Family};
use serde::{Deserialize, Serialize};

use super::{Limits, PanelError};

/// One entry of the scenario list.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Entry {
    /// `family:<name>` or `file:<name>.csv`.
    pub id: String,
    pub kind: &'static str,
    pub name: String,
    /// Length and peak rate at seed 1 (families) or as written (files).
    pub duration_s: u64,
    pub peak_rate: f64,
    pub description: String,
}

/// What to play: a scenario, its seed, and how to scale it.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub scenario: String,
    /// The family's seed (ignored for files).
    #[serde(default = "one")]
    pub seed: u64,
    /// Play this many times faster, rates kept (>= 1).
    #[serde(default = "one_f")]
    pub compress: f64,
    /// Multiply every rate by this (the suite is in the report's units: a
    /// 30m proxy there holds 11 calls/s, here ~25-35).
    #[serde(default = "one_f")]
    pub rate_scale: f64,
}

fn one() -> u64 {
    1
}

fn one_f() -> f64 {
    1.0
}

fn describe(f: Family) -> &'static str {
    match f {
        Family::Step => "the report's rising steps, seeded start and increment",
        Family::Diurnal => "a cosine day over 24 h",
        Family::FastDiurnal => "a 3 h cosine day",
        Family::FlashCrowd => "steady load jumping x1.6 within one second",
        Family::Milano => "a Milano-shaped weekday in 3 h",
        Family::RandomWalk => "a bounded random walk over 2 h",
    }
}

fn peak(rates: &[f64]) -> f64 {
    rates.iter().copied().fold(0.0, f64::max)
}

/// Every family, then every CSV file in `dir` (unreadable files are listed
/// with the reason in their description, so a bad file is visible).
pub fn list(dir: &Path) -> Vec<Entry> {
    let mut out: Vec<Entry> = Family::ALL
        .into_iter()
        .map(|f| {
            let rates = f.rates(1);
            Entry {
                id: format!("family:{f}"),
                kind: "family",
                name: f.name().to_owned(),
                duration_s: rates.len() as u64,
                peak_rate: peak(&rates),
                description: describe(f).to_owned(),
            }
        })
        .collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    files.sort();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| Scenario::parse(&t).map_err(|e| e.to_string()));
        let (duration_s, peak_rate, description) = match parsed {
            Ok(s) => (
                s.duration_s(),
                peak(&s.rate_per_second()),
                format!("{} calls", s.calls.len()),
            ),
            Err(e) => (0, 0.0, format!("unreadable: {e}")),
        };
        out.push(Entry {
            id: format!("file:{name}"),
            kind: "csv",
            name,
            duration_s,
            peak_rate,
            description,
        });
    }
    out
}

/// A file name an upload may take: letters, digits, `.-_`, ending `.csv`,
/// no leading dot (nothing outside `scenarios/`, nothing hidden).
pub fn check_name(name: &str) -> Result<(), PanelError> {
    // Exactly `.csv`: the listing picks files by that extension.
    #[expect(
        clippy::case_sensitive_file_extension_comparisons,
        reason = "the listing reads only lower-case .csv files"
    )]
    let csv = name.ends_with(".csv");
    let ok = (5..=64).contains(&name.len())
        && csv
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(PanelError::invalid(format!(
            "bad file name `{name}`: 1-60 letters, digits, '.', '-' or '_', ending in .csv"
        )))
    }
}

/// Validate an upload and store it; the error says which line is wrong.
pub fn upload(dir: &Path, name: &str, body: &[u8], limits: &Limits) -> Result<Entry, PanelError> {
    check_name(name)?;
    if body.len() > limits.max_upload {
        return Err(PanelError::invalid(format!(
            "{name}: {} bytes, more than the {} an upload may have",
            body.len(),
            limits.max_upload
        )));
    }
    let text = std::str::from_utf8(body)
        .map_err(|e| PanelError::invalid(format!("{name}: not UTF-8 text ({e})")))?;
    let s = Scenario::parse(text).map_err(|e| {
        PanelError::invalid(format!(
            "{name}: {e} (expected the report's format: {})",
            scenario::HEADER
        ))
    })?;
    if s.calls.is_empty() {
        return Err(PanelError::invalid(format!("{name}: no call lines")));
    }
    check_rates(name, &s.rate_per_second(), limits)?;
    let path = dir.join(name);
    std::fs::write(&path, text)
        .map_err(|e| PanelError::io(format!("write {}", path.display()), e))?;
    Ok(Entry {
        id: format!("file:{name}"),
        kind: "csv",
        name: name.to_owned(),
        duration_s: s.duration_s(),
        peak_rate: peak(&s.rate_per_second()),
        description: format!("{} calls", s.calls.len()),
    })
}

fn check_rates(what: &str, rates: &[f64], limits: &Limits) -> Result<(), PanelError> {
    if rates.is_empty() {
        return Err(PanelError::invalid(format!("{what}: no seconds to play")));
    }
    if rates.len() as u64 > limits.max_run_s {
        return Err(PanelError::invalid(format!(
            "{what}: {} s long, the panel plays at most {} s (squeeze it with a larger compress)",
            rates.len(),
            limits.max_run_s
        )));
    }
    let top = peak(rates);
    if top > limits.max_rate {
        return Err(PanelError::invalid(format!(
            "{what}: peaks at {top:.1} calls/s, the panel offers at most {} (lower the rate scale)",
            limits.max_rate
        )));
    }
    Ok(())
}

/// The per-second rates of a choice, validated against the limits.
pub fn rates(dir: &Path, c: &Choice, limits: &Limits) -> Result<Vec<f64>, PanelError> {
    if !(c.compress.is_finite() && (1.0..=10_000.0).contains(&c.compress)) {
        return Err(PanelError::invalid(format!(
            "compress {}: between 1 and 10000",
            c.compress
        )));
    }
    if !(c.rate_scale.is_finite() && c.rate_scale > 0.0 && c.rate_scale <= 100.0) {
        return Err(PanelError::invalid(format!(
            "rate scale {}: above 0, at most 100",
            c.rate_scale
        )));
    }
    let base = if let Some(name) = c.scenario.strip_prefix("family:") {
        let family: Family = name
            .parse()
            .map_err(|e: scenario::suite::UnknownFamily| PanelError::invalid(e.to_string()))?;
        family.rates(c.seed)
    } else if let Some(name) = c.scenario.strip_prefix("file:") {
        check_name(name)?;
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path)
            .map_err(|_| PanelError::NotFound(format!("no scenario file {name}")))?;
        Scenario::parse(&text)
            .map_err(|e| PanelError::invalid(format!("{name}: {e}")))?
            .rate_per_second()
    } else {
        return Err(PanelError::invalid(format!(
            "unknown scenario `{}` (family:<name> or file:<name>.csv)",
            c.scenario
        )));
    };
    let scaled: Vec<f64> = base.iter().map(|r| r * c.rate_scale).collect();
    let played = scenario::compress_rates(&scaled, c.compress);
    check_rates(&c.scenario, &played, limits)?;
    Ok(played)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_upload: 1 << 16,
            max_run_s: 600,
            max_rate: 100.0,
        }
    }

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("siplat-catalog-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    #[test]
    fn uploads_are_validated_with_the_line_that_is_wrong() {
        let dir = temp("upload");
        let good = Scenario::from_rates(&[5.0, 6.0]).to_csv();
        let e = upload(&dir, "ok.csv", good.as_bytes(), &limits()).expect("valid");
        assert_eq!((e.duration_s, e.peak_rate), (2, 6.0));
        let bad = format!("{}\n1;2;3\n", scenario::HEADER);
        let err = upload(&dir, "bad.csv", bad.as_bytes(), &limits()).expect_err("bad");
        assert!(err.to_string().contains("line 2"), "{err}");
        for name in ["../x.csv", ".x.csv", "x.txt", "a b.csv"] {
            assert!(
                upload(&dir, name, good.as_bytes(), &limits()).is_err(),
                "{name}"
            );
        }
        let heavy = Scenario::from_rates(&[500.0]).to_csv();
        let err = upload(&dir, "heavy.csv", heavy.as_bytes(), &limits()).expect_err("heavy");
        assert!(err.to_string().contains("at most 100"), "{err}");
        let names: Vec<String> = list(&dir).into_iter().map(|e| e.id).collect();
        assert!(names.contains(&"file:ok.csv".to_owned()), "{names:?}");
        assert!(!names.contains(&"file:bad.csv".to_owned()));
        assert!(names.contains(&"family:step".to_owned()));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_choice_is_scaled_squeezed_and_bounded() {
        let dir = temp("choice");
        let c = |scenario: &str, compress: f64, rate_scale: f64| Choice {
            scenario: scenario.to_owned(),
            seed: 1,
            compress,
            rate_scale,
        };
        let r = rates(&dir, &c("family:step", 60.0, 0.5), &limits()).expect("step");
        assert_eq!(r.len(), 30);
        let full = Family::Step.rates(1);
        assert!((r[0] - full[0] * 0.5).abs() < 1e-9);
        let err = rates(&dir, &c("family:step", 1.0, 1.0), &limits()).expect_err("too long");
        assert!(err.to_string().contains("at most 600 s"), "{err}");
        assert!(rates(&dir, &c("family:sine", 60.0, 1.0), &limits()).is_err());
        assert!(rates(&dir, &c("file:missing.csv", 60.0, 1.0), &limits()).is_err());
        assert!(rates(&dir, &c("family:step", 0.5, 1.0), &limits()).is_err());
        assert!(rates(&dir, &c("family:step", 60.0, f64::NAN), &limits()).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
