//! Finished runs: each folder under `runs/` holds what `siplat-testbed run`
//! writes (per_second.csv, run.svg, summary.json ...) plus the panel's
//! `meta.json` and `outcome.json`. A run's summary is judged from its
//! per-second CSV by `scenario::run::Run::judge`, the same code as the
//! demo's and the simulator's tables.

use std::path::Path;

use scenario::run::Run;
use serde::{Deserialize, Serialize};

use super::{
    PanelError,
    runs::{Outcome, RunSpec},
};
use crate::live::{self, LiveSecond};

pub const META: &str = "meta.json";
pub const OUTCOME: &str = "outcome.json";

/// What the panel writes when it starts a run.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Meta {
    pub id: String,
    pub spec: RunSpec,
    pub started_unix: u64,
    /// Seconds of load as played.
    pub duration_s: u64,
}

/// One row of the summary table (the columns of `markdown_table`).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Summary {
    pub policy: String,
    pub played_s: u64,
    pub p99_under_target_pct: f64,
    pub seconds_over_target: u64,
    pub seconds_without_data: u64,
    pub worst_p99_s: f64,
    pub replica_seconds: f64,
    pub cpu_seconds: f64,
    pub mean_replicas: f64,
    pub scale_actions: u32,
    pub resize_actions: u32,
    pub failed_calls: u64,
    pub mean_cpu_mcpu: f64,
}

impl Summary {
    fn of(run: &Run) -> Self {
        Self {
            policy: run.policy.clone(),
            played_s: run.played_s,
            p99_under_target_pct: run.under_target_share() * 100.0,
            seconds_over_target: run.violation_seconds,
            seconds_without_data: run.judged_s - run.with_data_s,
            worst_p99_s: run.worst_p99_seconds,
            replica_seconds: run.replica_seconds,
            cpu_seconds: run.cpu_seconds,
            mean_replicas: run.mean_replicas(),
            scale_actions: run.scale_actions,
            resize_actions: run.resize_actions,
            failed_calls: run.dropped_calls,
            mean_cpu_mcpu: run.mean_cpu_millis(),
        }
    }
}

/// A run as the history lists it.
#[derive(Serialize, Debug, Clone)]
pub struct Item {
    pub meta: Meta,
    /// None while it plays (or when the panel died during it).
    pub outcome: Option<Outcome>,
    pub summary: Option<Summary>,
    pub has_plot: bool,
}

/// A run with its rows, for its charts.
#[derive(Serialize, Debug, Clone)]
pub struct Detail {
    #[serde(flatten)]
    pub item: Item,
    pub rows: Vec<LiveSecond>,
    pub markdown: Option<String>,
}

fn summary(dir: &Path, meta: &Meta) -> Option<(Summary, String)> {
    let text = std::fs::read_to_string(dir.join("per_second.csv")).ok()?;
    let rows = scenario::run::from_csv(&text).ok()?;
    let run = Run::judge(
        meta.spec.policy.clone(),
        &rows,
        meta.spec.p99_target_ms as f64 / 1000.0,
        meta.spec.warmup_s,
    );
    Some((Summary::of(&run), scenario::run::markdown_table(&[run])))
}

fn item(dir: &Path) -> Option<(Item, Option<String>)> {
    let meta: Meta = serde_json::from_str(&std::fs::read_to_string(dir.join(META)).ok()?).ok()?;
    let outcome = std::fs::read_to_string(dir.join(OUTCOME))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let judged = summary(dir, &meta);
    let (summary, markdown) = judged.map_or((None, None), |(s, m)| (Some(s), Some(m)));
    Some((
        Item {
            meta,
            outcome,
            summary,
            has_plot: dir.join("run.svg").exists(),
        },
        markdown,
    ))
}

/// Every run, newest first.
pub fn list(runs: &Path) -> Vec<Item> {
    let mut items: Vec<Item> = std::fs::read_dir(runs)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| item(&e.path()).map(|(i, _)| i))
        .collect();
    items.sort_by(|a, b| {
        b.meta
            .started_unix
            .cmp(&a.meta.started_unix)
            .then_with(|| b.meta.id.cmp(&a.meta.id))
    });
    items
}

/// A run id names a folder under `runs/` and nothing else.
pub fn check_id(id: &str) -> Result<(), PanelError> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(PanelError::invalid(format!("bad run id `{id}`")))
    }
}

pub fn detail(runs: &Path, id: &str) -> Result<Detail, PanelError> {
    check_id(id)?;
    let dir = runs.join(id);
    let (item, markdown) =
        item(&dir).ok_or_else(|| PanelError::NotFound(format!("no run {id}")))?;
    let mut rows = live::read_all(&dir);
    if rows.is_empty() {
        rows = from_per_second(&dir);
    }
    Ok(Detail {
        item,
        rows,
        markdown,
    })
}

/// Chart rows from a run's per-second CSV, for runs without a live file
/// (played before the panel, or by `cargo xtask demo`): what the common
/// columns hold, the achieved rate from the testbed's own column.
fn from_per_second(dir: &Path) -> Vec<LiveSecond> {
    let Ok(text) = std::fs::read_to_string(dir.join("per_second.csv")) else {
        return Vec::new();
    };
    let achieved: Vec<f64> = text
        .lines()
        .next()
        .and_then(|h| h.split(',').position(|c| c == "achieved_rate"))
        .map(|col| {
            text.lines()
                .skip(1)
                .map(|l| {
                    l.split(',')
                        .nth(col)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0.0)
                })
                .collect()
        })
        .unwrap_or_default();
    scenario::run::from_csv(&text)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let limit = (r.allocated_millis / f64::from(r.replicas.max(1))).round() as u32;
            LiveSecond {
                t: r.t,
                offered: r.rate,
                achieved: achieved.get(i).copied().unwrap_or(0.0),
                p99_s: r.p99_s,
                active: r.ready,
                booting: r.replicas.saturating_sub(r.ready),
                draining: 0,
                cpu_mcpu: r.cpu_millis,
                limit_min_mcpu: limit,
                limit_max_mcpu: limit,
                failed: r.failed_calls,
            }
        })
        .collect()
}

/// The run's figure, drawn by `testbed::results` at its end.
pub fn plot(runs: &Path, id: &str) -> Result<String, PanelError> {
    check_id(id)?;
    std::fs::read_to_string(runs.join(id).join("run.svg"))
        .map_err(|_| PanelError::NotFound(format!("run {id} has no figure")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panel::catalog::Choice;

    #[test]
    fn a_finished_run_is_listed_with_its_judged_summary() {
        let runs = std::env::temp_dir().join(format!("siplat-history-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&runs);
        let dir = runs.join("100-static");
        std::fs::create_dir_all(&dir).expect("dir");
        let meta = Meta {
            id: "100-static".into(),
            spec: RunSpec {
                choice: Choice {
                    scenario: "family:step".into(),
                    seed: 1,
                    compress: 60.0,
                    rate_scale: 1.0,
                },
                policy: "static:replicas=2".into(),
                proxies: 2,
                cpu_limit: "30m".into(),
                p99_target_ms: 1000,
                warmup_s: 0,
            },
            started_unix: 100,
            duration_s: 2,
        };
        std::fs::write(dir.join(META), serde_json::to_string(&meta).expect("json")).expect("meta");
        let rows = vec![
            scenario::run::Second {
                t: 0,
                rate: 10.0,
                replicas: 2,
                ready: 2,
                p99_s: Some(0.2),
                cpu_millis: 10.0,
                failed_calls: 0,
                allocated_millis: 60.0,
            },
            scenario::run::Second {
                t: 1,
                rate: 10.0,
                replicas: 2,
                ready: 2,
                p99_s: Some(1.5),
                cpu_millis: 12.0,
                failed_calls: 1,
                allocated_millis: 60.0,
            },
        ];
        std::fs::write(dir.join("per_second.csv"), scenario::run::to_csv(&rows)).expect("csv");
        let items = list(&runs);
        assert_eq!(items.len(), 1);
        let s = items[0].summary.clone().expect("summary");
        assert_eq!((s.seconds_over_target, s.failed_calls), (1, 1));
        assert!((s.p99_under_target_pct - 50.0).abs() < 1e-9);
        assert!(items[0].outcome.is_none());
        assert!(
            detail(&runs, "100-static")
                .expect("detail")
                .markdown
                .is_some()
        );
        assert!(detail(&runs, "../etc").is_err());
        assert!(matches!(
            detail(&runs, "nope"),
            Err(PanelError::NotFound(_))
        ));
        let _ = std::fs::remove_dir_all(&runs);
    }
}
