//! `simulate --frontier DIR`: per family, the cost-quality trade-off of
//! every policy run, as a table and a plot of violation-seconds against
//! allocated CPU-seconds. A policy earns its place only on the frontier:
//! off it, another one is cheaper with no more violations.

use std::{fmt::Write as _, path::Path};

use anyhow::Context as _;
use scenario::{run::file_name, seeds::SeedSummary, suite::Family};
use testbed::results::{Plot, svg};

use crate::evaluate::pareto;

pub fn write(dir: &Path, sets: &[(Option<Family>, Vec<SeedSummary>)]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    for (family, summaries) in sets {
        let name = family.map_or("scenario", Family::name);
        let points: Vec<(f64, f64)> = summaries
            .iter()
            .map(|s| (s.cpu_seconds.mean, s.violation_seconds.mean))
            .collect();
        // The oracle is the bound, not a contender: a frontier it
        // joined would hold nothing else.
        let bound: Vec<bool> = summaries
            .iter()
            .map(|s| s.policy.starts_with("oracle"))
            .collect();
        let contenders: Vec<(f64, f64)> = points
            .iter()
            .zip(&bound)
            .map(|(&p, &b)| if b { (f64::INFINITY, f64::INFINITY) } else { p })
            .collect();
        let on: Vec<bool> = pareto(&contenders)
            .into_iter()
            .zip(&bound)
            .map(|(on, &b)| on && !b)
            .collect();
        let mut table = format!(
            "# {name}: seeds {}\n\n| policy | violation-seconds (mean) | violation-seconds (max) | CPU-seconds (mean) | CPU-seconds (std) | replica-seconds (mean) | worst P99 (s) | on frontier |\n|---|---|---|---|---|---|---|---|\n",
            summaries
                .first()
                .map(SeedSummary::seed_range)
                .unwrap_or_default()
        );
        for (s, on) in summaries.iter().zip(&on) {
            let _ = writeln!(
                table,
                "| {} | {:.1} | {:.0} | {:.1} | {:.1} | {:.0} | {:.3} | {} |",
                s.policy,
                s.violation_seconds.mean,
                s.violation_seconds.max,
                s.cpu_seconds.mean,
                s.cpu_seconds.std,
                s.replica_seconds.mean,
                s.worst_p99_seconds.max,
                if *on {
                    "yes"
                } else if s.policy.starts_with("oracle") {
                    "bound"
                } else {
                    ""
                },
            );
        }
        let path = dir.join(format!("frontier-{}.md", file_name(name)));
        std::fs::write(&path, table).with_context(|| format!("write {}", path.display()))?;
        svg(
            &dir.join(format!("frontier-{}.svg", file_name(name))),
            &[plot(name, summaries, &points, &on)],
        )?;
    }
    Ok(())
}

/// The sweep's `hpa-cpu` points as one line (in CPU order), the frontier as
/// another, every other policy as a point of its own.
fn plot<'a>(
    name: &'a str,
    summaries: &[SeedSummary],
    points: &[(f64, f64)],
    on: &[bool],
) -> Plot<'a> {
    let mut hpa: Vec<(f64, f64)> = Vec::new();
    let mut series = Vec::new();
    for (s, &p) in summaries.iter().zip(points) {
        if s.policy.starts_with("hpa-cpu:target=") && !s.policy.contains(',') {
            hpa.push(p);
        } else {
            series.push((s.policy.clone(), vec![p]));
        }
    }
    let mut front: Vec<(f64, f64)> = points
        .iter()
        .zip(on)
        .filter(|(_, on)| **on)
        .map(|(p, _)| *p)
        .collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    hpa.sort_by(|a, b| a.0.total_cmp(&b.0));
    if !hpa.is_empty() {
        series.insert(0, ("hpa-cpu targets".to_owned(), hpa));
    }
    series.insert(0, ("Pareto frontier".to_owned(), front));
    Plot {
        title: name,
        x_label: "allocated CPU-seconds (mean over seeds)",
        y_label: "violation-seconds (mean)",
        series,
        hline: None,
    }
}
