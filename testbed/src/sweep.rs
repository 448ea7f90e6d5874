//! `testbed sweep`: the report's benchmarking step (4.1) on the local
//! testbed. One proxy under the CPU limit, a constant call rate per step,
//! a fresh testbed (and fresh SIPp) per step so an overloaded step cannot
//! leak into the next; the highest rate whose P99 stays under the target
//! with no failed call is the per-proxy capacity. Then one scale-out under
//! traffic measures how long a new proxy takes from start to first call.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, Result};
use scenario::generate;
use serde_json::json;

use super::{
    UpOptions, driver,
    metrics::KINDS,
    proc,
    results::{Plot, Table, cell, svg},
    scale, state, topology,
};

#[derive(clap::Args)]
pub struct SweepOptions {
    /// Call rates to try, calls/s, in increasing order.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "10,20,25,30,35,40,45,50,60"
    )]
    pub rates: Vec<f64>,
    /// Seconds of traffic per rate.
    #[arg(long, default_value_t = 30)]
    pub step_s: u64,
    /// First seconds of each step left out of the P99 (SIPp ramp-up).
    #[arg(long, default_value_t = 5)]
    pub warmup_s: u64,
    /// P99 target (`1s`, `500ms`, or bare seconds).
    #[arg(long, default_value = "1s", value_parser = cliconf::parse_duration)]
    pub p99_target: Duration,
    /// Stop after this many consecutive rates over the target.
    #[arg(long, default_value_t = 2)]
    pub stop_after: u32,
    /// CPU limit of the proxy (Kubernetes notation).
    #[arg(long, default_value = "30m")]
    pub cpu_limit: String,
    /// CFS period in microseconds (see `testbed up --help`).
    #[arg(long, default_value_t = 100_000)]
    pub cfs_period: u64,
    /// Call hold time in ms.
    #[arg(long, default_value_t = 2000)]
    pub hold_ms: u64,
    /// Skip the scale-out timing at the end.
    #[arg(long)]
    pub no_startup: bool,
    /// Result folder (default results/sweep-<unix time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn up_options(o: &SweepOptions, proxies: u32) -> UpOptions {
    UpOptions {
        proxies,
        cpu_limit: o.cpu_limit.clone(),
        cfs_period: o.cfs_period,
        shm_mb: 256,
        max_call_s: o.hold_ms / 1000 + 8,
        boot_delay: Duration::ZERO,
        agent: None,
    }
}

fn run_options(o: &SweepOptions) -> driver::RunOptions {
    driver::RunOptions {
        scenario: PathBuf::new(),
        out: None,
        compress: None,
        hold_ms: o.hold_ms,
        // Pure call load, as the report's benchmark.
        reg_users: 0,
        reg_interval: 3000,
        reg_spread: 50,
        p99_target: o.p99_target,
        external_caller: false,
    }
}

pub fn run(o: &SweepOptions) -> Result<()> {
    let target = o.p99_target.as_secs_f64();
    anyhow::ensure!(target > 0.0, "--p99-target must be positive");
    let out = o.out.clone().unwrap_or_else(|| {
        crate::proc::workspace_root().join(format!("results/sweep-{}", proc::unix_secs()))
    });
    std::fs::create_dir_all(&out)?;
    let result = sweep(o, target, &out);
    topology::down()?;
    let capacity = result?;
    if !o.no_startup {
        let startup = startup(o, capacity.unwrap_or(10.0).min(20.0) / 2.0, &out);
        topology::down()?;
        startup?;
    }
    Ok(())
}

#[expect(
    clippy::too_many_lines,
    reason = "the sweep loop and its outputs read best in one place"
)]
fn sweep(o: &SweepOptions, target: f64, out: &Path) -> Result<Option<f64>> {
    let mut table = Table::new(&[
        "rate",
        "achieved_rate",
        "p99_all_s",
        "p99_response_s",
        "p99_relay_request_s",
        "p99_relay_response_s",
        "max_s",
        "proxy_cpu_mcpu",
        "calls",
        "failed",
        "under_target",
    ]);
    let (mut p99_pts, mut max_pts, mut cpu_pts) = (Vec::new(), Vec::new(), Vec::new());
    let mut capacity = None;
    let mut misses = 0;
    for &rate in &o.rates {
        topology::up(&up_options(o, 1))?;
        let dir = out.join(format!("rate-{rate}"));
        let report = driver::play(&generate::constant(rate, o.step_s), &run_options(o), &dir)?;
        let last = report.scrapes.len() - 1;
        let (from, to) = (
            usize::try_from(o.warmup_s)?.min(last),
            usize::try_from(o.step_s)?.min(last),
        );
        let (a, b) = (&report.scrapes[from], &report.scrapes[to]);
        let all = b.quantile_since(a, None, 0.99);
        let max = b.quantile_since(a, None, 1.0);
        let kinds: Vec<Option<f64>> = KINDS
            .iter()
            .map(|k| b.quantile_since(a, Some(k), 0.99))
            .collect();
        let secs = (to - from).max(1) as f64;
        let cpu = (report.cpu[to] - report.cpu[from]) / secs * 1000.0;
        let ok = report.failed == 0 && all.is_some_and(|p| p < target);
        eprintln!(
            "rate {rate}/s: P99 {} s, max {} s, CPU {cpu:.1} mCPU, {} calls, {} failed -> {}",
            cell(all),
            cell(max),
            report.created,
            report.failed,
            if ok { "under target" } else { "OVER target" }
        );
        table.rows.push(vec![
            cell(Some(rate)),
            format!("{:.2}", report.created as f64 / o.step_s as f64),
            cell(all),
            cell(kinds[0]),
            cell(kinds[1]),
            cell(kinds[2]),
            cell(max),
            format!("{cpu:.1}"),
            report.created.to_string(),
            report.failed.to_string(),
            ok.to_string(),
        ]);
        table.write(&out.join("sweep.csv"))?;
        if let Some(p) = all {
            p99_pts.push((rate, p * 1000.0));
        }
        if let Some(m) = max.filter(|m| m.is_finite()) {
            max_pts.push((rate, m * 1000.0));
        }
        cpu_pts.push((rate, cpu));
        topology::down()?;
        if ok {
            misses = 0;
            if capacity.is_none_or(|c| rate > c) {
                capacity = Some(rate);
            }
        } else {
            misses += 1;
            if misses >= o.stop_after {
                break;
            }
        }
    }
    let millis = cliconf::parse_cpu_millis(&o.cpu_limit)?;
    svg(
        &out.join("sweep.svg"),
        &[
            Plot {
                title: &format!("One proxy at {}: latency vs call rate", o.cpu_limit),
                x_label: "calls/s",
                y_label: "ms",
                series: vec![("P99".into(), p99_pts), ("max (bucket)".into(), max_pts)],
                hline: Some((target * 1000.0, format!("target {:?}", o.p99_target))),
            },
            Plot {
                title: "Proxy CPU vs call rate",
                x_label: "calls/s",
                y_label: "mCPU",
                series: vec![("CPU".into(), cpu_pts)],
                hline: (millis > 0).then(|| (f64::from(millis), format!("limit {}", o.cpu_limit))),
            },
        ],
    )?;
    let summary = json!({
        "cpu_limit": o.cpu_limit,
        "cfs_period_us": o.cfs_period,
        "p99_target_s": target,
        "capacity_calls_per_s": capacity,
        "step_s": o.step_s,
        "hold_ms": o.hold_ms,
    });
    std::fs::write(out.join("sweep.json"), format!("{summary:#}\n"))?;
    eprintln!(
        "per-proxy capacity at {}: {} calls/s with P99 < {:?}; figures in {}",
        o.cpu_limit,
        capacity.map_or_else(|| "none of the rates".into(), |c| format!("{c}")),
        o.p99_target,
        out.display()
    );
    Ok(capacity)
}

/// One proxy under traffic, then `scale 2`: time from the new proxy's
/// process start to ready, to being in the LB set, to its first call (the
/// first initial INVITE the agent sees on its interface).
fn startup(o: &SweepOptions, rate: f64, out: &Path) -> Result<()> {
    topology::up(&up_options(o, 1))?;
    let dir = out.join("startup");
    let secs = 20;
    let opts = run_options(o);
    let run_dir = dir.clone();
    let traffic =
        std::thread::spawn(move || driver::play(&generate::constant(rate, secs), &opts, &run_dir));
    std::thread::sleep(Duration::from_secs(6));
    scale::scale(2)?;
    let in_set = proc::now_unix();
    let st = state::read()?.context("testbed state")?;
    let p = st
        .proxies
        .iter()
        .find(|p| p.index == 2)
        .context("sip-proxy-2")?
        .clone();
    traffic
        .join()
        .map_err(|_| anyhow::anyhow!("traffic thread panicked"))??;
    let text = std::fs::read_to_string(dir.join("samples.json"))?;
    let samples: Vec<serde_json::Value> = serde_json::from_str(&text)?;
    let first_call = samples
        .iter()
        .filter(|s| {
            s["iface"] == p.iface.as_str() && s["kind"] == "response" && s["method"] == "INVITE"
        })
        .filter_map(|s| s["unix_ns"].as_f64())
        .map(|ns| ns / 1e9)
        .fold(f64::INFINITY, f64::min);
    let doc = json!({
        "rate_calls_per_s": rate,
        "start_to_ready_s": p.ready_unix - p.started_unix,
        "start_to_in_lb_set_s": in_set - p.started_unix,
        "start_to_first_call_s": first_call.is_finite().then_some(first_call - p.started_unix),
    });
    std::fs::write(dir.join("startup.json"), format!("{doc:#}\n"))?;
    eprintln!("new proxy: {doc}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn p99_target_accepts_seconds_and_milliseconds() {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            sweep: super::SweepOptions,
        }
        let target =
            |v: &str| Cli::try_parse_from(["sweep", "--p99-target", v]).map(|c| c.sweep.p99_target);
        assert_eq!(target("1s").expect("1s"), Duration::from_secs(1));
        assert_eq!(target("250ms").expect("250ms"), Duration::from_millis(250));
        assert_eq!(target("0.5").expect("0.5"), Duration::from_millis(500));
        assert!(target("-1s").is_err());
    }
}
