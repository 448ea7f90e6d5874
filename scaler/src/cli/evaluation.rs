//! `simulate --seeds N`, `--suite FAMILY|all`, `--policy oracle,hpa-sweep:...`
//! and `--frontier DIR`: every policy over seeds `seed .. seed+N` (and
//! each family of the suite, the instance drawn from the same seed),
//! reported as the mean with its min-max range and standard deviation.

use std::{io::Write as _, path::PathBuf};

use anyhow::Context as _;
use clap::Args;
use scenario::{seeds::SeedSummary, suite::Family};
use serde::Serialize;

use super::simulate::{SimulateArgs, read_rates};
use crate::{
    evaluate::{Bench, EvalError, capacity, expand_sweeps},
    policy::spec::{BuildContext, PolicySpec},
    sim::SimConfig,
};

#[derive(Debug, Args)]
pub struct EvaluationArgs {
    /// Scenario families to run instead of `--scenario` (`all`, or
    /// `step`, `diurnal`, `fast-diurnal`, `flash-crowd`, `milano`,
    /// `random-walk`, comma separated); each run's seed draws its instance.
    /// The `oracle` bound is added when `--policy` does not list it.
    #[arg(long)]
    pub suite: Option<String>,
    /// Runs per policy, with seeds `--seed` .. `--seed` + N.
    #[arg(long, default_value = "1")]
    pub seeds: u64,
    /// Write per family a table and a Pareto-frontier plot (violation-seconds
    /// against CPU-seconds, one point per policy) into this folder.
    #[arg(long)]
    pub frontier: Option<PathBuf>,
}

impl EvaluationArgs {
    /// Whether the run needs this path rather than the single-run table.
    #[must_use]
    pub fn wanted(&self, policy: &str) -> bool {
        self.suite.is_some()
            || self.seeds > 1
            || self.frontier.is_some()
            || policy.contains("oracle")
            || policy.contains("hpa-sweep")
    }
}

/// One JSON line per policy (and family): the contract of `--json`.
#[derive(Debug, Serialize)]
struct Line<'a> {
    policy: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    family: Option<&'a str>,
    seeds: usize,
    first_seed: u64,
    /// Means over the seeds unless the name says otherwise.
    violation_seconds: f64,
    violation_seconds_min: f64,
    violation_seconds_max: f64,
    violation_seconds_std: f64,
    replica_seconds: f64,
    replica_seconds_std: f64,
    cpu_seconds: f64,
    cpu_seconds_min: f64,
    cpu_seconds_max: f64,
    cpu_seconds_std: f64,
    scale_actions: f64,
    resize_actions: f64,
    /// The worst P99 of any seed.
    worst_p99_seconds: f64,
    worst_p99_seconds_mean: f64,
    dropped_calls: f64,
}

impl<'a> Line<'a> {
    fn new(s: &'a SeedSummary, family: Option<&'a str>) -> Self {
        Self {
            policy: &s.policy,
            family,
            seeds: s.seeds.len(),
            first_seed: s.seeds.first().copied().unwrap_or(0),
            violation_seconds: s.violation_seconds.mean,
            violation_seconds_min: s.violation_seconds.min,
            violation_seconds_max: s.violation_seconds.max,
            violation_seconds_std: s.violation_seconds.std,
            replica_seconds: s.replica_seconds.mean,
            replica_seconds_std: s.replica_seconds.std,
            cpu_seconds: s.cpu_seconds.mean,
            cpu_seconds_min: s.cpu_seconds.min,
            cpu_seconds_max: s.cpu_seconds.max,
            cpu_seconds_std: s.cpu_seconds.std,
            scale_actions: s.scale_actions.mean,
            resize_actions: s.resize_actions.mean,
            worst_p99_seconds: s.worst_p99_seconds.max,
            worst_p99_seconds_mean: s.worst_p99_seconds.mean,
            dropped_calls: s.dropped_calls.mean,
        }
    }
}

pub fn run(args: &SimulateArgs, cfg: SimConfig, ctx: BuildContext) -> anyhow::Result<()> {
    match evaluate(args, cfg, ctx) {
        // `| head` closing the pipe is not an error of ours.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other,
    }
}

fn evaluate(args: &SimulateArgs, cfg: SimConfig, ctx: BuildContext) -> anyhow::Result<()> {
    let ev = &args.evaluation;
    anyhow::ensure!(ev.seeds >= 1, "--seeds must be at least 1");
    let mut specs = PolicySpec::parse_list(&expand_sweeps(&args.policy)?)?;
    // A suite table is read against the bound, so it always has it.
    if ev.suite.is_some() && !specs.iter().any(|s| s.kind == "oracle") {
        specs.extend(PolicySpec::parse_list("oracle")?);
    }
    let seeds: Vec<u64> = (args.seed..args.seed + ev.seeds).collect();
    let bench = Bench {
        cfg,
        ctx,
        capacity: capacity(args.calibration),
    };
    let mut sets: Vec<(Option<Family>, Vec<SeedSummary>)> = Vec::new();
    if let Some(suite) = &ev.suite {
        for family in Family::parse_set(suite)? {
            let summaries = bench
                .over_seeds(&specs, &seeds, &|seed| family.rates(seed))
                .with_context(|| format!("suite family {family}"))?;
            sets.push((Some(family), summaries));
        }
    } else {
        let path = args.scenario.as_ref().context("--scenario or --suite")?;
        let rates = read_rates(path)?;
        sets.push((None, bench.over_seeds(&specs, &seeds, &|_| rates.clone())?));
    }
    if let Some(dir) = &ev.frontier {
        super::frontier::write(dir, &sets)?;
    }
    if let Some(dir) = &args.per_second_dir {
        write_per_second(dir, &bench, &specs, &seeds, ev.suite.as_deref(), args)?;
    }
    let mut out = std::io::stdout().lock();
    for (family, summaries) in &sets {
        let name = family.map(Family::name);
        if args.json {
            for s in summaries {
                writeln!(out, "{}", serde_json::to_string(&Line::new(s, name))?)?;
            }
        } else {
            if let Some(name) = name {
                writeln!(
                    out,
                    "\n{name} (seeds {}):",
                    summaries
                        .first()
                        .map(SeedSummary::seed_range)
                        .unwrap_or_default()
                )?;
            }
            write!(out, "{}", scenario::seeds::table(summaries))?;
        }
    }
    Ok(())
}

/// Every run of the evaluation second by second, `DIR/FAMILY-seedN-POLICY.csv`
/// (`scenario-seedN-POLICY.csv` for a scenario file), to look at where a
/// seed's violations come from. The runs are repeated with their seconds
/// kept: an evaluation keeps only the summaries.
fn write_per_second(
    dir: &std::path::Path,
    bench: &Bench,
    specs: &[PolicySpec],
    seeds: &[u64],
    suite: Option<&str>,
    args: &SimulateArgs,
) -> anyhow::Result<()> {
    let families: Vec<Option<Family>> = match suite {
        Some(s) => Family::parse_set(s)?.into_iter().map(Some).collect(),
        None => vec![None],
    };
    // A scenario file is the same for every seed: read once.
    let file_rates = match suite {
        Some(_) => None,
        None => Some(read_rates(
            args.scenario.as_ref().context("--scenario or --suite")?,
        )?),
    };
    for family in families {
        for &seed in seeds {
            let rates = match (family, &file_rates) {
                (Some(f), _) => f.rates(seed),
                (None, r) => r.clone().context("--scenario or --suite")?,
            };
            let name = family.map_or("scenario", Family::name);
            let results = specs
                .iter()
                .map(|spec| {
                    let mut r = bench.run(spec, &rates, seed, true)?;
                    r.policy = format!("{name}-seed{seed}-{}", r.policy);
                    Ok(r)
                })
                .collect::<Result<Vec<_>, EvalError>>()?;
            crate::cli::per_second::write(dir, &results)?;
        }
    }
    Ok(())
}
