//! `siplat-scaler simulate --scenario FILE --policy a,b,c [--calibration report|testbed] [--json]`.

use std::{io::Write as _, path::PathBuf};

use anyhow::Context as _;
use clap::Args;
use cliconf::parse_duration;
use scenario::Scenario;

use crate::{
    policy::spec::{BuildContext, PolicySpec},
    sim::{SimConfig, calibration::Profile, result::table, simulate},
};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Scenario CSV in the report's format (3.3.3); or `--suite`.
    #[arg(long, required_unless_present = "suite", conflicts_with = "suite")]
    pub scenario: Option<PathBuf>,
    /// Policies to compare, e.g. `qos,predictive,hpa-cpu:target=20m,static:replicas=5`.
    #[arg(
        long,
        default_value = "qos,predictive,hpa-cpu:target=25m,hpa-cpu:target=20m,hpa-cpu:target=10m,hpa-cpu:target=5m,static:replicas=5"
    )]
    pub policy: String,
    /// One JSON object per policy instead of the table.
    #[arg(long)]
    pub json: bool,
    /// P99 target (e.g. `1s`, `800ms`).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub p99_target: std::time::Duration,
    /// Fewest replicas an autoscaler may run. One proxy is no tier (one
    /// failure is an outage) and a re-registration wave alone fills a lone
    /// 30 mCPU proxy at night, so the comparison starts at 2.
    #[arg(long, default_value = "2")]
    pub min_replicas: u32,
    /// Most replicas an autoscaler may run.
    #[arg(long, default_value = "20")]
    pub max_replicas: u32,
    /// Decision interval (HPA sync period).
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    pub interval: std::time::Duration,
    /// Window of the arrival rate the policies see; by default the decision
    /// interval, as `--source agents` measures it (the counter's growth
    /// between two scrapes).
    #[arg(long, value_parser = parse_duration)]
    pub rate_window: Option<std::time::Duration>,
    /// Seconds from asking for a replica to it taking traffic.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub boot_delay: std::time::Duration,
    /// Boot new replicas at once (`Deployment`) instead of one by one (`StatefulSet`).
    #[arg(long)]
    pub parallel_boot: bool,
    /// Registered users re-registering every 50 minutes (0: none).
    #[arg(long, default_value_t = crate::sim::calibration::REGISTERED_USERS)]
    pub users: u32,
    /// Which measurements the simulated proxy follows: `report` (knee at
    /// 11 calls/s per 30 mCPU proxy, CPU linear in the rate) or `testbed`
    /// (our Kamailio under the same quota: knee at 35 calls/s, concave CPU).
    /// Policies' figures are not rescaled: give `qos:capacity=30` with `testbed`.
    #[arg(long, value_enum, default_value = "report")]
    pub calibration: Profile,
    /// Seed of the arrival and hashing randomness.
    #[arg(long, default_value = "42")]
    pub seed: u64,
    /// Write per-second rows (t, rate, replicas, ready, p99, cpu) per policy into this folder.
    #[arg(long)]
    pub per_second_dir: Option<PathBuf>,

    // Evaluation over seeds and the scenario suite.
    #[command(flatten)]
    pub evaluation: super::evaluation::EvaluationArgs,

    // Vertical scaling: each replica's CPU limit and in-place resizes.
    /// CPU limit every replica boots with (Kubernetes notation: `30m`, `0.1`).
    #[arg(long, default_value = "30m", value_parser = cliconf::parse_cpu_millis)]
    pub cpu_limit: u32,
    /// Highest CPU limit a resize may give one replica (the node's allocatable CPU).
    #[arg(long, default_value = "120m", value_parser = cliconf::parse_cpu_millis)]
    pub max_cpu_limit: u32,
    /// From asking for a running replica's new CPU limit to it applying
    /// (`0s` on the local testbed: a cgroup write).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub resize_delay: std::time::Duration,

    // What the report's model leaves out.
    /// `all`, `none`, or a list of `retransmissions` (clients resend INVITE
    /// and REGISTER while the proxy is slow: Timer A/E), `speed` (replicas
    /// differ by up to 5 %), `boot` (boot delays by up to 30 %),
    /// `registration` (re-registration waves at a random phase), `metrics`
    /// (per-pod CPU scraped every 15 s at a random phase, 5 % noise),
    /// `messages` (a call's eight messages each when it reaches the proxy).
    #[arg(long, default_value = "none", value_parser = crate::sim::realism::Realism::parse)]
    pub realism: crate::sim::realism::Realism,
    /// From a call's ACK to its BYE, with `--realism messages` (the testbed's `SIPp` holds 2 s).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub hold: std::time::Duration,
}

/// The per-second call rate of a scenario file.
pub(super) fn read_rates(path: &std::path::Path) -> anyhow::Result<Vec<f64>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("read scenario {}", path.display()))?;
    Ok(Scenario::parse(&text)
        .context("parse scenario")?
        .rate_per_second())
}

/// The calibration profile with the tier flags applied on top.
fn sim_config(args: &SimulateArgs) -> SimConfig {
    let mut cfg = SimConfig {
        p99_target_s: args.p99_target.as_secs_f64(),
        boot_delay_s: args.boot_delay.as_secs_f64(),
        sequential_boot: !args.parallel_boot,
        interval_s: args.interval.as_secs().max(1),
        rate_window_s: args.rate_window.unwrap_or(args.interval).as_secs().max(1),
        seed: args.seed,
        ..SimConfig::for_profile(args.calibration)
    };
    cfg.registration.users = args.users;
    // Vertical scaling.
    cfg.cpu_limit_millis = f64::from(args.cpu_limit);
    cfg.max_cpu_limit_millis = f64::from(args.max_cpu_limit);
    cfg.resize_delay_s = args.resize_delay.as_secs_f64();
    cfg.realism = args.realism;
    cfg.hold_s = args.hold.as_secs_f64();
    cfg
}

pub fn run(args: &SimulateArgs) -> anyhow::Result<()> {
    let cfg = sim_config(args);
    let ctx = BuildContext {
        min_replicas: args.min_replicas,
        max_replicas: args.max_replicas,
        p99_target_s: cfg.p99_target_s,
        interval_s: cfg.interval_s as f64,
        boot_s: cfg.boot_delay_s,
    };
    // Evaluation over seeds and the scenario suite.
    if args.evaluation.wanted(&args.policy) {
        return super::evaluation::run(args, cfg, ctx);
    }
    let path = args
        .scenario
        .as_ref()
        .context("give --scenario FILE or --suite FAMILY")?;
    let rates = read_rates(path)?;
    let specs = PolicySpec::parse_list(&args.policy)?;
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = specs
            .iter()
            .map(|spec| {
                let (cfg, ctx, rates) = (&cfg, &ctx, &rates);
                let keep = args.per_second_dir.is_some();
                scope.spawn(move || -> anyhow::Result<_> {
                    let (policy, safety) = spec.build(ctx)?;
                    let mut r = simulate(rates, policy, safety, cfg, keep);
                    r.policy.clone_from(&spec.text);
                    Ok(r)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("simulation thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    if let Some(dir) = &args.per_second_dir {
        crate::cli::per_second::write(dir, &results)?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        for r in &results {
            let line = serde_json::json!({
                "policy": r.policy,
                "violation_seconds": r.violation_seconds,
                "replica_seconds": r.replica_seconds,
                "cpu_seconds": r.cpu_seconds,
                "scale_actions": r.scale_actions,
                "resize_actions": r.resize_actions,
                "worst_p99_seconds": r.worst_p99_seconds,
                "mean_replicas": r.mean_replicas(),
                "calls": r.calls,
                "dropped_calls": r.dropped_calls,
                "duration_seconds": rates.len(),
            });
            writeln!(out, "{line}")?;
        }
    } else {
        write!(out, "{}", table(&results))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SimulateArgs,
    }

    fn config(extra: &[&str]) -> SimConfig {
        let argv = ["simulate", "--scenario", "s.csv"].iter().chain(extra);
        sim_config(&Cli::try_parse_from(argv).expect("parse").args)
    }

    #[test]
    fn calibration_defaults_to_the_report_and_keeps_the_tier_flags() {
        assert_eq!(config(&[]), SimConfig::default());
        let testbed = config(&["--calibration", "testbed", "--boot-delay", "1100ms"]);
        assert!(testbed.cpu_curve.is_some());
        // A lone call costs the table's low-load slope: (12.2 - 2) m over 7.7/s.
        assert!((testbed.invite_cpu_s - 0.010_2 / 7.7).abs() < 1e-9);
        assert!((testbed.boot_delay_s - 1.1).abs() < 1e-9);
        assert!(
            Cli::try_parse_from(["simulate", "--scenario", "s", "--calibration", "x"]).is_err()
        );
    }
}
