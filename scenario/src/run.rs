//! One record per second of a run and the summary a run is judged by. The
//! simulator and the testbed's driver both write these rows and the demo
//! and `simulate` both summarise them with the same code, so a simulated
//! run and a testbed run are compared on the same terms.

use std::fmt::Write as _;

use thiserror::Error;

/// One second of a run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Second {
    pub t: u64,
    /// Calls the scenario offered in this second.
    pub rate: f64,
    /// Replicas that cost: booting, taking traffic, or draining calls.
    pub replicas: u32,
    /// Replicas taking traffic.
    pub ready: u32,
    /// The P99 the run is judged by: the simulator's trailing window, or
    /// the agent's samples of this second on the testbed (`promtext`'s
    /// `histogram_quantile`, as the scaler reads it).
    pub p99_s: Option<f64>,
    /// Mean CPU of the replicas taking traffic, millicores.
    pub cpu_millis: f64,
    /// Calls that failed: no proxy or a queue past Timer B in the
    /// simulator, `SIPp`'s failed calls on the testbed.
    pub failed_calls: u64,
    /// CPU limits of every replica that costs (booting, taking traffic,
    /// draining) added up, millicores: what the operator pays for, which
    /// the replica count alone no longer says once limits differ.
    pub allocated_millis: f64,
}

/// The per-replica limit every run had before limits could change: rows
/// from CSVs without `allocated_mcpu` are costed at it.
pub const LEGACY_CPU_LIMIT_MILLIS: f64 = 30.0;

/// The columns every per-second CSV starts with; a writer may add its own
/// after them (readers look columns up by name).
pub const CSV_COLUMNS: [&str; 8] = [
    "second",
    "offered_rate",
    "replicas",
    "ready",
    "p99_s",
    "cpu_mcpu",
    "failed_calls",
    "allocated_mcpu",
];

/// Columns a reader does without (older CSVs), from the end of
/// [`CSV_COLUMNS`].
const OPTIONAL_COLUMNS: usize = 1;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CsvError {
    #[error("per-second CSV is empty")]
    Empty,
    #[error("per-second CSV has no column `{0}`")]
    Column(&'static str),
    #[error("per-second CSV line {line}: bad {column} `{value}`")]
    Value {
        line: usize,
        column: &'static str,
        value: String,
    },
}

impl Second {
    /// The cells of `CSV_COLUMNS`, in order.
    #[must_use]
    pub fn csv_cells(&self) -> Vec<String> {
        vec![
            self.t.to_string(),
            number(self.rate),
            self.replicas.to_string(),
            self.ready.to_string(),
            self.p99_s.map(number).unwrap_or_default(),
            format!("{:.2}", self.cpu_millis),
            self.failed_calls.to_string(),
            number(self.allocated_millis),
        ]
    }
}

/// Short decimal text of a number (no trailing zeros).
#[must_use]
pub fn number(v: f64) -> String {
    let text = format!("{v:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A per-second CSV of only the common columns.
#[must_use]
pub fn to_csv(rows: &[Second]) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push('\n');
    for r in rows {
        out.push_str(&r.csv_cells().join(","));
        out.push('\n');
    }
    out
}

/// A policy spec as a file or folder name (`qos:margin=0.2` ->
/// `qos_margin_0_2`).
#[must_use]
pub fn file_name(policy: &str) -> String {
    policy
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Read the common columns of a per-second CSV (extra columns ignored).
pub fn from_csv(text: &str) -> Result<Vec<Second>, CsvError> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or(CsvError::Empty)?.split(',').collect();
    let mut at = [None; CSV_COLUMNS.len()];
    for (i, (slot, name)) in at.iter_mut().zip(CSV_COLUMNS).enumerate() {
        *slot = header.iter().position(|h| *h == name);
        if slot.is_none() && i < CSV_COLUMNS.len() - OPTIONAL_COLUMNS {
            return Err(CsvError::Column(name));
        }
    }
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        let cell = |c: usize| {
            at[c]
                .and_then(|a| cells.get(a))
                .copied()
                .unwrap_or("")
                .trim()
        };
        let bad = |c: usize| CsvError::Value {
            line: i + 2,
            column: CSV_COLUMNS[c],
            value: cell(c).to_owned(),
        };
        let num = |c: usize| cell(c).parse::<f64>().map_err(|_| bad(c));
        let int = |c: usize| cell(c).parse::<u64>().map_err(|_| bad(c));
        let replicas = u32::try_from(int(2)?).map_err(|_| bad(2))?;
        rows.push(Second {
            t: int(0)?,
            rate: num(1)?,
            replicas,
            ready: u32::try_from(int(3)?).map_err(|_| bad(3))?,
            p99_s: if cell(4).is_empty() {
                None
            } else {
                Some(num(4)?)
            },
            cpu_millis: num(5)?,
            failed_calls: int(6)?,
            allocated_millis: if at[7].is_some() {
                num(7)?
            } else {
                f64::from(replicas) * LEGACY_CPU_LIMIT_MILLIS
            },
        });
    }
    Ok(rows)
}

/// What one run achieved.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Run {
    pub policy: String,
    /// Seconds played.
    pub played_s: u64,
    /// Seconds judged (after the warm-up).
    pub judged_s: u64,
    /// Judged seconds that had a P99 (seconds without samples are not
    /// judged either way).
    pub with_data_s: u64,
    /// Judged seconds whose P99 exceeded the target.
    pub violation_seconds: u64,
    pub worst_p99_seconds: f64,
    pub replica_seconds: f64,
    /// Allocated CPU over time, core-seconds: the sum of the rows'
    /// `allocated_millis` / 1000, so a tier of small replicas and one of
    /// large ones compare on what they cost.
    pub cpu_seconds: f64,
    pub scale_actions: u32,
    /// Changes of a replica's CPU limit in place (vertical scaling).
    pub resize_actions: u32,
    pub calls: u64,
    pub dropped_calls: u64,
    cpu_millis_sum: f64,
    /// The rows, when kept (plots, CSV).
    pub seconds: Vec<Second>,
}

impl Run {
    #[must_use]
    pub fn new(policy: String) -> Self {
        Self {
            policy,
            ..Self::default()
        }
    }

    /// Count one second; `judged` is false during the warm-up.
    pub fn add_second(&mut self, row: Second, target_s: f64, judged: bool, keep: bool) {
        self.played_s += 1;
        self.replica_seconds += f64::from(row.replicas);
        self.cpu_seconds += row.allocated_millis / 1000.0;
        self.calls += row.rate.max(0.0).round() as u64;
        self.dropped_calls += row.failed_calls;
        self.cpu_millis_sum += row.cpu_millis;
        if judged {
            self.judged_s += 1;
            if let Some(p) = row.p99_s {
                self.with_data_s += 1;
                if p > target_s {
                    self.violation_seconds += 1;
                }
                self.worst_p99_seconds = self.worst_p99_seconds.max(p);
            }
        }
        if keep {
            self.seconds.push(row);
        }
    }

    /// Judge recorded rows (a testbed run): the first `warmup_s` seconds
    /// are shown but not judged, a scale action is a change in the
    /// replicas taking traffic and a resize one in the limit per replica
    /// with the replicas unchanged (the rows do not hold the decisions).
    #[must_use]
    pub fn judge(policy: String, rows: &[Second], target_s: f64, warmup_s: u64) -> Self {
        let mut run = Self::new(policy);
        let mut last: Option<&Second> = None;
        for row in rows {
            if let Some(prev) = last {
                if prev.ready != row.ready {
                    run.scale_actions += 1;
                } else if prev.replicas == row.replicas
                    && (prev.allocated_millis - row.allocated_millis).abs() > 0.5
                {
                    run.resize_actions += 1;
                }
            }
            last = Some(row);
            run.add_second(row.clone(), target_s, row.t >= warmup_s, false);
        }
        run
    }

    /// Share of judged seconds with data whose P99 was under target.
    #[must_use]
    pub fn under_target_share(&self) -> f64 {
        if self.with_data_s == 0 {
            return 0.0;
        }
        1.0 - self.violation_seconds as f64 / self.with_data_s as f64
    }

    /// Mean replicas over the run.
    #[must_use]
    pub fn mean_replicas(&self) -> f64 {
        self.replica_seconds / self.played_s.max(1) as f64
    }

    /// Mean allocated CPU over the run, cores.
    #[must_use]
    pub fn mean_cores(&self) -> f64 {
        self.cpu_seconds / self.played_s.max(1) as f64
    }

    /// Mean CPU of a replica taking traffic over the run, millicores.
    #[must_use]
    pub fn mean_cpu_millis(&self) -> f64 {
        self.cpu_millis_sum / self.played_s.max(1) as f64
    }
}

/// The comparison table `simulate` prints and the demo writes, one row per
/// run.
#[must_use]
pub fn markdown_table(runs: &[Run]) -> String {
    let mut t = String::from(
        "| policy | P99 under target | seconds over target | seconds without data | worst P99 (s) | replica-seconds | CPU-seconds (allocated) | mean replicas | scale actions | resize actions | failed calls | mean CPU per ready proxy (mCPU) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in runs {
        let _ = writeln!(
            t,
            "| {} | {:.1} % | {} | {} | {:.3} | {:.0} | {:.1} | {:.2} | {} | {} | {} | {:.1} |",
            r.policy,
            r.under_target_share() * 100.0,
            r.violation_seconds,
            r.judged_s - r.with_data_s,
            r.worst_p99_seconds,
            r.replica_seconds,
            r.cpu_seconds,
            r.mean_replicas(),
            r.scale_actions,
            r.resize_actions,
            r.dropped_calls,
            r.mean_cpu_millis(),
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: u64, ready: u32, p99: Option<f64>) -> Second {
        Second {
            t,
            rate: 10.0,
            replicas: ready,
            ready,
            p99_s: p99,
            cpu_millis: 20.0,
            failed_calls: u64::from(t == 3),
            allocated_millis: f64::from(ready) * 30.0,
        }
    }

    #[test]
    fn csv_round_trip_with_extra_columns() {
        let rows = vec![row(0, 2, None), row(1, 3, Some(0.25))];
        assert_eq!(from_csv(&to_csv(&rows)), Ok(rows.clone()));
        let extra = "p99_kind,second,offered_rate,replicas,ready,p99_s,cpu_mcpu,failed_calls\n9,1,10,3,3,0.25,20,0\n";
        assert_eq!(
            from_csv(extra),
            Ok(vec![rows[1].clone()]),
            "a CSV without allocated_mcpu costs each replica the old 30 m"
        );
        assert_eq!(from_csv("second\n"), Err(CsvError::Column("offered_rate")));
        let bad = to_csv(&rows).replace("0.25", "fast");
        assert!(matches!(
            from_csv(&bad),
            Err(CsvError::Value {
                line: 3,
                column: "p99_s",
                ..
            })
        ));
    }

    #[test]
    fn judged_after_warm_up_like_the_simulator_counts() {
        let rows = vec![
            row(0, 2, Some(5.0)),
            row(1, 2, Some(0.5)),
            row(2, 3, Some(1.5)),
            row(3, 3, None),
        ];
        let run = Run::judge("p".into(), &rows, 1.0, 1);
        assert_eq!(run.judged_s, 3);
        assert_eq!(run.with_data_s, 2);
        assert_eq!(run.violation_seconds, 1, "the warm-up's 5 s is not judged");
        assert_eq!(run.worst_p99_seconds, 1.5);
        assert_eq!(run.replica_seconds, 10.0);
        assert_eq!(run.scale_actions, 1);
        assert_eq!(run.dropped_calls, 1);
        assert!((run.under_target_share() - 0.5).abs() < 1e-12);
        assert!(
            markdown_table(&[run])
                .contains("| p | 50.0 % | 1 | 1 | 1.500 | 10 | 0.3 | 2.50 | 1 | 0 | 1 | 20.0 |")
        );
    }
}
