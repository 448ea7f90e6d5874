//! `report.md` and the figures: one row per experiment, the report's
//! finding beside the testbed's and the simulator's, each figure drawn by
//! the testbed's plotting module.

use std::{fmt::Write as _, fs, path::Path};

use anyhow::{Context as _, Result};
use scenario::run::{Run, Second};
use serde::{Deserialize, Serialize};
use testbed::results::{Plot, svg};

use super::experiments::Verdict;

/// One experiment's line in `report.md`, kept as `row.json` in its folder:
/// an experiment whose row exists is done (the run resumes after it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub id: String,
    pub figures: String,
    pub title: String,
    pub report: String,
    pub testbed: String,
    pub simulator: String,
    pub reading: String,
    /// The figure, relative to the report folder.
    pub figure: String,
    /// Wall time of the experiment, seconds.
    pub wall_s: u64,
    /// The runs' verdicts (`holds`, `fails`, `over-scales`) for the summary.
    pub testbed_verdict: Option<String>,
    pub simulator_verdict: Option<String>,
}

impl Row {
    pub const FILE: &'static str = "row.json";

    pub fn read(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(Self::FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = fs::read_to_string(&path)?;
        Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))?,
        ))
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        fs::write(
            dir.join(Self::FILE),
            serde_json::to_string_pretty(self)? + "\n",
        )?;
        Ok(())
    }
}

/// A scenario run in one cell: how it went against the target and what
/// it cost (allocated CPU) against the capacity plan.
pub fn run_cell(run: &Run, plan: f64) -> String {
    format!(
        "{}: {:.1} % of seconds under 1 s{}, worst P99 {:.2} s, {:.2} proxies and {:.0} mCPU allocated on average ({:+.0} % CPU vs the {plan}-proxy plan), {} failed calls",
        Verdict::of(run, plan).word(),
        run.under_target_share() * 100.0,
        match run.judged_s.saturating_sub(run.with_data_s) {
            0 => String::new(),
            n => format!(" ({n} of {} s without a P99)", run.judged_s),
        },
        run.worst_p99_seconds,
        run.mean_replicas(),
        run.mean_cores() * 1000.0,
        (run.mean_cores() / super::experiments::plan_cores(plan) - 1.0) * 100.0,
        run.dropped_calls,
    )
}

/// One point of a constant-rate benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub rate: f64,
    pub p99_s: Option<f64>,
    pub cpu_millis: f64,
    pub ok: bool,
}

/// The highest rate that held, and the first one tried above it that did not.
pub fn knee(points: &[Point]) -> (Option<f64>, Option<f64>) {
    let knee = points
        .iter()
        .filter(|p| p.ok)
        .map(|p| p.rate)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    let over = points
        .iter()
        .filter(|p| !p.ok && knee.is_none_or(|k| p.rate > k))
        .map(|p| p.rate)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.min(r))));
    (knee, over)
}

/// The report's figures 4.1/4.2 in one: P99 and CPU by rate, the testbed's
/// sweep beside the simulated report proxy.
pub fn benchmark_figure(path: &Path, testbed: &[Point], sim: &[Point]) -> Result<()> {
    let p99 = |pts: &[Point]| -> Vec<(f64, f64)> {
        pts.iter()
            .filter_map(|p| p.p99_s.map(|v| (p.rate, v * 1000.0)))
            .collect()
    };
    let cpu =
        |pts: &[Point]| -> Vec<(f64, f64)> { pts.iter().map(|p| (p.rate, p.cpu_millis)).collect() };
    svg(
        path,
        &[
            Plot {
                title: "One 30 mCPU proxy: P99 against arrival rate",
                x_label: "invites/s",
                y_label: "ms",
                series: vec![
                    ("testbed".into(), p99(testbed)),
                    ("simulator (report)".into(), p99(sim)),
                ],
                hline: Some((1000.0, "target 1 s".into())),
            },
            Plot {
                title: "CPU against arrival rate",
                x_label: "invites/s",
                y_label: "mCPU",
                series: vec![
                    ("testbed".into(), cpu(testbed)),
                    ("simulator (report)".into(), cpu(sim)),
                ],
                hline: Some((30.0, "limit 30m".into())),
            },
        ],
    )
}

/// A testbed run's rows on the report's clock and in the report's units.
pub struct Played<'a> {
    pub rows: &'a [Second],
    pub compress: f64,
    pub rate_scale: f64,
}

/// A scenario experiment in the report's style: arrival rate, P99 against
/// the target, proxies, CPU per proxy; testbed (stretched back to the
/// report's clock, rates divided by the scale) over the simulator.
pub fn scenario_figure(path: &Path, testbed: Option<&Played<'_>>, sim: &[Second]) -> Result<()> {
    type Pick = fn(&Second) -> Option<f64>;
    let panel = |pick: Pick, rate: bool| -> Vec<(String, Vec<(f64, f64)>)> {
        let mut series = Vec::new();
        if let Some(tb) = testbed {
            let div = if rate { tb.rate_scale } else { 1.0 };
            series.push((
                "testbed".to_owned(),
                tb.rows
                    .iter()
                    .filter_map(|r| pick(r).map(|v| (r.t as f64 * tb.compress, v / div)))
                    .collect(),
            ));
        }
        // A point per report second would be thousands; every n-th is
        // enough at this width.
        let every = (sim.len() / 1500).max(1);
        series.push((
            "simulator".to_owned(),
            sim.iter()
                .step_by(every)
                .filter_map(|r| pick(r).map(|v| (r.t as f64, v)))
                .collect(),
        ));
        series
    };
    svg(
        path,
        &[
            Plot {
                title: "Arrival rate (report units)",
                x_label: "report second",
                y_label: "invites/s",
                series: panel(|r| Some(r.rate), true),
                hline: None,
            },
            Plot {
                title: "P99 response time",
                x_label: "report second",
                y_label: "ms",
                series: panel(|r| r.p99_s.map(|p| p * 1000.0), false),
                hline: Some((1000.0, "target 1 s".into())),
            },
            Plot {
                title: "Proxies taking traffic",
                x_label: "report second",
                y_label: "proxies",
                series: panel(|r| Some(f64::from(r.ready)), false),
                hline: None,
            },
            Plot {
                title: "CPU per proxy taking traffic",
                x_label: "report second",
                y_label: "mCPU",
                series: panel(|r| Some(r.cpu_millis), false),
                hline: Some((30.0, "limit 30m".into())),
            },
        ],
    )
}

/// The whole `report.md`: what ran where, then the table and the figures.
pub fn markdown(header: &str, rows: &[Row]) -> String {
    let mut t = header.to_owned();
    t.push_str(
        "\n| figure | experiment | report | siplat testbed | simulator (report's proxy, full length) | reading |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} |",
            r.figures, r.title, r.report, r.testbed, r.simulator, r.reading
        );
    }
    t.push_str("\n## Figures\n\n");
    for r in rows {
        let _ = writeln!(
            t,
            "### {} {} ({} s)\n\n![{}]({})\n",
            r.figures, r.title, r.wall_s, r.title, r.figure
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(rate: f64, ok: bool) -> Point {
        Point {
            rate,
            p99_s: Some(0.1),
            cpu_millis: 10.0,
            ok,
        }
    }

    #[test]
    fn the_knee_is_the_highest_rate_that_held() {
        let pts = [
            point(10.0, true),
            point(20.0, true),
            point(30.0, false),
            point(40.0, false),
        ];
        assert_eq!(knee(&pts), (Some(20.0), Some(30.0)));
        assert_eq!(knee(&[point(5.0, false)]), (None, Some(5.0)));
        assert_eq!(knee(&[]), (None, None));
    }

    /// A run's P99 alone does not make it hold: failed calls and seconds
    /// without a P99 (the load or the agent lost) fail it too.
    #[test]
    fn failed_calls_and_lost_seconds_fail_a_run() {
        let second = |t: u64, p99: Option<f64>, failed: u64| Second {
            t,
            rate: 20.0,
            replicas: 5,
            ready: 5,
            p99_s: p99,
            allocated_millis: 150.0,
            failed_calls: failed,
            ..Default::default()
        };
        let judge = |rows: &[Second]| {
            let run = Run::judge("static:replicas=5".into(), rows, 1.0, 0);
            (Verdict::of(&run, 5.0), run_cell(&run, 5.0))
        };
        let clean: Vec<_> = (0..100).map(|t| second(t, Some(0.1), 0)).collect();
        assert_eq!(judge(&clean).0, Verdict::Holds);
        let mut failing = clean.clone();
        failing[50].failed_calls = 3;
        assert_eq!(judge(&failing).0, Verdict::Fails, "3 of 2,000 calls failed");
        let mut lost = clean.clone();
        for s in &mut lost[60..] {
            s.p99_s = None;
        }
        let (verdict, cell) = judge(&lost);
        assert_eq!(verdict, Verdict::Fails);
        assert!(cell.contains("40 of 100 s without a P99"), "{cell}");
    }

    #[test]
    fn a_row_survives_its_file() {
        let dir = std::env::temp_dir().join(format!("siplat-row-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        assert_eq!(Row::read(&dir).expect("read"), None);
        let row = Row {
            id: "4.5".into(),
            figures: "4.5".into(),
            title: "t".into(),
            report: "r".into(),
            testbed: "tb".into(),
            simulator: "sim".into(),
            reading: "x".into(),
            figure: "4.5/figure.svg".into(),
            wall_s: 3,
            testbed_verdict: Some("fails".into()),
            simulator_verdict: None,
        };
        row.write(&dir).expect("write");
        assert_eq!(Row::read(&dir).expect("read"), Some(row));
        fs::remove_dir_all(dir).expect("rm");
    }
}
