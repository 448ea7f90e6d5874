//! `siplat-bench kamailio`: real Kamailio (the testbed's proxy config, one
//! proxy, no CPU limit) under `SIPp`, through `siplat-testbed`: constant-rate
//! runs find the highest stable rate (no call failed, 99 % of the offered
//! calls completed) with the agent, then without it (stopped), then the
//! agent is started again for one more run at the rate both carried.
//! Compares the highest stable calls/s and the proxy's Kamailio CPU (its
//! cgroup) at that rate, with as the mean of the runs before and after.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, anyhow};
use testkit::testbed::{Cli, constant_scenario};

#[derive(clap::Args, Clone)]
pub struct Options {
    /// Call rates (calls/s) tried with the agent, increasing; the highest stable one is replayed without it.
    #[arg(long, value_delimiter = ',', default_value = "200,300,400,500,600")]
    pub rates: Vec<f64>,
    /// Seconds of calls a run.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// The testbed binary [default: siplat-testbed next to this binary].
    #[arg(long)]
    pub testbed: Option<PathBuf>,
    /// The agent binary [default: siplat-agent next to this binary].
    #[arg(long)]
    pub agent: Option<PathBuf>,
    /// Result folder [default: results/bench-kamailio-<unix time>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// One constant-rate run as the testbed summarised it.
#[derive(Clone, Copy, Debug, serde::Serialize)]
struct CallRun {
    rate: f64,
    offered: f64,
    created: f64,
    successful: f64,
    failed: f64,
    seconds: f64,
    /// Mean CPU of the proxy's Kamailio over the run's seconds, mCPU.
    proxy_mcpu: f64,
}

impl CallRun {
    fn calls_per_s(&self) -> f64 {
        self.successful / self.seconds.max(1.0)
    }

    fn stable(&self) -> bool {
        self.failed == 0.0 && self.successful >= 0.99 * self.offered
    }
}

/// Constant-rate runs at each of `o.rates` until one is not stable.
#[expect(clippy::print_stderr, reason = "progress")]
fn sweep(cli: &Cli, dir: &Path, o: &Options, label: &str) -> Result<Vec<CallRun>> {
    let mut runs = Vec::new();
    for &rate in &o.rates {
        let r = play(cli, dir, rate, o.seconds, label)?;
        eprintln!(
            "   {label}, {rate} calls/s: {:.1} calls/s completed, {} failed, {:.0} mCPU",
            r.calls_per_s(),
            r.failed,
            r.proxy_mcpu
        );
        let stable = r.stable();
        runs.push(r);
        if !stable {
            break;
        }
    }
    Ok(runs)
}

fn highest_stable(runs: &[CallRun]) -> Option<CallRun> {
    runs.iter().rev().find(|r| r.stable()).copied()
}

fn sibling(explicit: Option<&PathBuf>, name: &str) -> Result<PathBuf> {
    match explicit {
        Some(p) => Ok(p.clone()),
        None => Ok(std::env::current_exe()?.with_file_name(name)),
    }
}

fn play(cli: &Cli, dir: &Path, rate: f64, seconds: u64, label: &str) -> Result<CallRun> {
    let work = dir.join(format!("{label}-{rate}"));
    std::fs::create_dir_all(&work)?;
    let scenario = constant_scenario(&work, rate, seconds);
    let out = work.join("run");
    let mut child = cli.start_run(&scenario, &out, &["--reg-users", "0"]);
    let deadline = Instant::now() + Duration::from_secs(seconds + 60);
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(anyhow!("siplat-testbed run at {rate}/s did not finish"));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if !status.success() {
        return Err(anyhow!(
            "siplat-testbed run at {rate}/s failed ({status}), log next to {}",
            out.display()
        ));
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json"))?)?;
    let get = |k: &str| {
        summary
            .get(k)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0)
    };
    Ok(CallRun {
        rate,
        offered: get("calls_offered"),
        created: get("calls_created"),
        successful: get("calls_successful"),
        failed: get("calls_failed"),
        seconds: get("duration_s"),
        proxy_mcpu: mean_column(&out.join("per_second.csv"), "proxy_cpu_mcpu")?,
    })
}

/// Mean of a CSV column over its non-empty cells.
fn mean_column(path: &Path, column: &str) -> Result<f64> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    Ok(column_mean(&text, column).unwrap_or(0.0))
}

fn column_mean(csv: &str, column: &str) -> Option<f64> {
    let mut lines = csv.lines();
    let at = lines.next()?.split(',').position(|h| h == column)?;
    let values: Vec<f64> = lines
        .filter_map(|l| l.split(',').nth(at)?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Stop the testbed's agent (the one `siplat-agent` in its bridge namespace).
fn stop_agent() -> Result<()> {
    let pids: Vec<u32> = netns::pids("tb-net")
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.trim() == "siplat-agent")
        })
        .collect();
    for &pid in &pids {
        // SAFETY: kill(2) on the agent process the testbed started.
        unsafe { libc::kill(i32::try_from(pid)?, libc::SIGTERM) };
    }
    let start = Instant::now();
    while pids
        .iter()
        .any(|p| Path::new(&format!("/proc/{p}")).exists())
    {
        if start.elapsed() > Duration::from_secs(10) {
            return Err(anyhow!("the testbed's agent did not stop"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

#[expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the table and progress are the output"
)]
pub fn run(o: &Options) -> Result<()> {
    let testbed = sibling(o.testbed.as_ref(), "siplat-testbed")?;
    let agent = sibling(o.agent.as_ref(), "siplat-agent")?;
    let dir = o.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "results/bench-kamailio-{}",
            testbed::proc::unix_secs()
        ))
    });
    std::fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    let cli = Cli::new(&testbed);
    let agent_arg = agent.display().to_string();
    let _up = cli.up(&["--proxies", "1", "--cpu-limit", "0", "--agent", &agent_arg]);
    let with = sweep(&cli, &dir, o, "with-agent")?;
    stop_agent()?;
    let without = sweep(&cli, &dir, o, "without-agent")?;
    let best_with = highest_stable(&with)
        .ok_or_else(|| anyhow!("no stable rate among {:?} with the agent", o.rates))?;
    let best_without = highest_stable(&without)
        .ok_or_else(|| anyhow!("no stable rate among {:?} without the agent", o.rates))?;
    // The agent again, at the rate both carried: CPU with it is the mean of
    // the run before and the run after the one without it.
    testbed::agent::start(&agent)?;
    testbed::agent::wait_attached(2, Duration::from_secs(20))?;
    let rate = best_with.rate.min(best_without.rate);
    let again = play(&cli, &dir, rate, o.seconds, "with-agent-again")?;
    eprintln!(
        "   with the agent again, {rate} calls/s: {:.1} calls/s, {} failed, {:.0} mCPU",
        again.calls_per_s(),
        again.failed,
        again.proxy_mcpu
    );
    let at = |runs: &[CallRun]| runs.iter().find(|r| r.rate == rate).copied();
    let cpu_without = at(&without).map_or(0.0, |r| r.proxy_mcpu);
    let cpu_with = at(&with).map_or(again.proxy_mcpu, |r| {
        f64::midpoint(r.proxy_mcpu, again.proxy_mcpu)
    });
    let pct = |a: f64, b: f64| {
        crate::figures::percent_change(b, a).map_or("-".into(), |v| format!("{v:+.1} %"))
    };
    let table = format!(
        "| highest stable rate without the agent | with | change | proxy Kamailio mCPU at {rate} calls/s without | with (mean of before and after) | change |\n|---|---|---|---|---|---|\n| {:.1} calls/s | {:.1} calls/s | {} | {cpu_without:.0} | {cpu_with:.0} ({:.0}, {:.0}) | {} |\n",
        best_without.calls_per_s(),
        best_with.calls_per_s(),
        pct(best_with.calls_per_s(), best_without.calls_per_s()),
        at(&with).map_or(0.0, |r| r.proxy_mcpu),
        again.proxy_mcpu,
        pct(cpu_with, cpu_without),
    );
    println!(
        "Kamailio (testbed proxy.cfg, one proxy, no CPU limit), SIPp constant rates {:?} calls/s for {} s each; stable = no call failed and 99 % of offered calls completed:\n\n{table}",
        o.rates, o.seconds
    );
    let with: Vec<CallRun> = with.into_iter().chain([again]).collect();
    let mut lines = String::new();
    for (label, r) in with
        .iter()
        .map(|r| ("with", r))
        .chain(without.iter().map(|r| ("without", r)))
    {
        lines.push_str(&serde_json::to_string(
            &serde_json::json!({ "agent": label, "run": r }),
        )?);
        lines.push('\n');
    }
    std::fs::write(dir.join("runs.jsonl"), lines)?;
    std::fs::write(dir.join("table.md"), table)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_mean_skips_empty_cells() {
        let csv = "second,proxy_cpu_mcpu,x\n0,10.0,1\n1,,1\n2,30.0,1\n";
        assert_eq!(column_mean(csv, "proxy_cpu_mcpu"), Some(20.0));
        assert_eq!(column_mean(csv, "missing"), None);
        assert_eq!(column_mean("second\n", "second"), None);
    }

    #[test]
    fn stable_means_no_failure_and_every_call_made() {
        let r = CallRun {
            rate: 100.0,
            offered: 2000.0,
            created: 2000.0,
            successful: 1995.0,
            failed: 0.0,
            seconds: 20.0,
            proxy_mcpu: 50.0,
        };
        assert!(r.stable());
        assert_eq!(r.calls_per_s(), 99.75);
        assert!(!CallRun { failed: 1.0, ..r }.stable());
        assert!(
            !CallRun {
                successful: 1900.0,
                ..r
            }
            .stable()
        );
    }
}
