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
        let (max_cpu, max_violations) = zoom(summaries, &points);
        let title = format!(
            "{name}: CPU-seconds <= {max_cpu:.0}, violation-seconds <= {max_violations:.0} (all in the table)"
        );
        let shown: Vec<(f64, f64)> = points
            .iter()
            .map(|&(c, v)| {
                if c <= max_cpu && v <= max_violations {
                    (c, v)
                } else {
                    (f64::NAN, f64::NAN)
                }
            })
            .collect();
        svg(
            &dir.join(format!("frontier-{}.svg", file_name(name))),
            &[plot(&title, summaries, &shown, &on)],
        )?;
    }
    Ok(())
}

/// The window worth looking at: a sweep's ends (targets that never scale,
/// or scale to the ceiling) are thousands of violation-seconds or several
/// times the cost away and would squeeze the contest into a corner. Up to
/// twice the cheapest clean run's CPU, and three times the worst
/// violations of the policies that are not part of a sweep (100 at least).
fn zoom(summaries: &[SeedSummary], points: &[(f64, f64)]) -> (f64, f64) {
    let swept = |s: &SeedSummary| s.policy.starts_with("hpa-cpu:target=");
    let clean = points
        .iter()
        .filter(|(_, v)| *v == 0.0)
        .map(|(c, _)| *c)
        .fold(f64::INFINITY, f64::min);
    let all_cpu = points.iter().map(|(c, _)| *c).fold(0.0, f64::max);
    let max_cpu = if clean.is_finite() {
        (2.0 * clean).min(all_cpu)
    } else {
        all_cpu
    };
    let named = summaries
        .iter()
        .zip(points)
        .filter(|(s, _)| !swept(s))
        .map(|(_, (_, v))| *v)
        .fold(0.0, f64::max);
    (max_cpu, (3.0 * named).max(100.0))
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
    for (s, &p) in summaries
        .iter()
        .zip(points)
        .filter(|(_, p)| p.0.is_finite())
    {
        if s.policy.starts_with("hpa-cpu:target=") && !s.policy.contains(',') {
            hpa.push(p);
        } else {
            series.push((s.policy.clone(), vec![p]));
        }
    }
    let mut front: Vec<(f64, f64)> = points
        .iter()
        .zip(on)
        .filter(|(p, on)| **on && p.0.is_finite())
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
