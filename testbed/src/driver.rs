//! `testbed run SCENARIO`: replay the report's scenario CSV against the
//! running testbed. SIPp's caller follows the per-second arrival rate
//! through its control port, a second SIPp adds the periodic re-REGISTER
//! load, and every second the driver records offered vs achieved rate,
//! replicas, P99 per kind (agent histogram deltas), proxy CPU (cgroup
//! cpuacct) and SIP failures (SIPp stats).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use scenario::{Scenario, registration::Reregistration};
use serde_json::json;

use super::{
    agent, cgroup, live,
    metrics::{self, Histograms},
    proc,
    results::{Plot, Table, cell, svg},
    sipp,
    state::{self, ProxyState},
};

#[derive(clap::Args, Clone)]
pub struct RunOptions {
    /// Scenario CSV (`caller;callee;wait_before_next_in_ms;seconds_since_start;arrival_rate_in_s`).
    pub scenario: PathBuf,
    /// Result folder (default results/testbed-<unix time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Play the scenario this many times faster (rates kept, time squeezed).
    #[arg(long)]
    pub compress: Option<f64>,
    /// How long each call is held between ACK and BYE, in ms.
    #[arg(long, env = "SIPLAT_TESTBED_HOLD_MS", default_value_t = 2000)]
    pub hold_ms: u64,
    /// Registered users that re-REGISTER periodically (0 = no re-registration load).
    #[arg(long, env = "SIPLAT_TESTBED_REG_USERS", default_value_t = 100)]
    pub reg_users: u32,
    /// Seconds between two refreshes of one user (report: 50 min).
    #[arg(long, env = "SIPLAT_TESTBED_REG_INTERVAL", default_value_t = 3000)]
    pub reg_interval: u64,
    /// Seconds one refresh wave is spread over.
    #[arg(long, env = "SIPLAT_TESTBED_REG_SPREAD", default_value_t = 50)]
    pub reg_spread: u64,
    /// The P99 target drawn on the run's figure (the run itself does not
    /// act on it: a scaler does).
    #[arg(long, env = "SIPLAT_TESTBED_P99_TARGET", default_value = "1s", value_parser = cliconf::parse_duration)]
    pub p99_target: Duration,
    /// The caller SIPp is not started here: a `siplat-testbed caller
    /// --testbed` under the panel's controller places the calls (the
    /// caller protocol), writing its counters into this run's folder.
    #[arg(long, hide = true)]
    pub external_caller: bool,
}

/// What a run measured, for callers that post-process (sweep, tests).
pub struct RunReport {
    pub created: u64,
    pub failed: u64,
    /// Agent histogram scrapes at the start of each second (index = second).
    pub scrapes: Vec<Histograms>,
    /// Proxy CPU seconds (sum over proxies) at the same instants.
    pub cpu: Vec<f64>,
}

pub fn run(o: &RunOptions) -> Result<RunReport> {
    let text = std::fs::read_to_string(&o.scenario)
        .with_context(|| format!("read {}", o.scenario.display()))?;
    let mut scenario =
        Scenario::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", o.scenario.display()))?;
    if let Some(f) = o.compress {
        scenario = scenario.compress(f);
    }
    let out = o.out.clone().unwrap_or_else(|| {
        crate::proc::workspace_root().join(format!("results/testbed-{}", proc::unix_secs()))
    });
    play(&scenario, o, &out)
}

struct Sample {
    at: Instant,
    unix: f64,
    hist: Histograms,
    cpu: BTreeMap<String, f64>,
    states: BTreeMap<String, (String, ProxyState)>,
    /// Each proxy's CPU limit at this instant (`resize` changes it in
    /// place, so the base limit of `up` is not every proxy's).
    limits: BTreeMap<String, u32>,
    stats: sipp::Stats,
}

fn sample(caller_stat: &Path) -> Sample {
    let hist = agent::get("/metrics")
        .map(|t| Histograms::parse(&t))
        .unwrap_or_default();
    let st = state::read().ok().flatten().unwrap_or_default();
    Sample {
        at: Instant::now(),
        unix: proc::now_unix(),
        hist,
        cpu: st
            .proxies
            .iter()
            .map(|p| (p.name.clone(), cgroup::usage_seconds(&p.name)))
            .collect(),
        states: st
            .proxies
            .iter()
            .map(|p| (p.name.clone(), (p.iface.clone(), p.state)))
            .collect(),
        limits: st
            .proxies
            .iter()
            .map(|p| (p.name.clone(), p.cpu_limit_millis))
            .collect(),
        stats: sipp::read_stats(caller_stat).unwrap_or_default(),
    }
}

/// Play `scenario` and write the result folder `out`.
pub fn play(scenario: &Scenario, o: &RunOptions, out: &Path) -> Result<RunReport> {
    state::read()?.context("the testbed is not up (siplat-testbed up)")?;
    std::fs::create_dir_all(out)?;
    let rates = scenario.rate_per_second();
    let duration = rates.len();
    let total = scenario.calls.len() as u64;
    let reg = Reregistration {
        users: o.reg_users,
        interval_s: o.reg_interval,
        spread_s: o.reg_spread,
        at_start: true,
    }
    .rate_per_second(duration as u64);
    let reg_total: u64 = scenario::counts_from_rates(&reg)
        .iter()
        .map(|&n| u64::from(n))
        .sum();
    let tail_s = usize::try_from(o.hold_ms / 1000 + 40)?;
    eprintln!(
        "playing {} calls over {duration} s (+ {reg_total} re-REGISTERs) -> {}",
        total,
        out.display()
    );

    sipp::register_callee(out)?;
    let _callee = sipp::callee(out)?;
    std::thread::sleep(Duration::from_millis(300));
    let rereg = if reg_total > 0 {
        Some(sipp::reregister(out, reg_total)?)
    } else {
        None
    };
    let caller_stat = out.join(sipp::CALLER_STAT);
    let mut samples = vec![sample(&caller_stat)];
    let mut caller = if o.external_caller {
        None
    } else {
        Some(sipp::caller(
            out,
            total,
            rates.first().copied().unwrap_or(0.0),
            o.hold_ms,
            (duration + tail_s) as u64 + 30,
        )?)
    };
    // An external caller's controller starts its play on this mark.
    std::fs::write(out.join(live::STARTED_FILE), b"")?;
    let external_end = duration + usize::try_from(o.hold_ms / 1000)? + 3;
    let t0 = Instant::now();
    let mut second = 0usize;
    loop {
        if let Some(r) = &rereg {
            r.set_rate(reg.get(second).copied().unwrap_or(0.0));
        }
        if second > 0
            && second < duration
            && let Some(c) = &caller
        {
            c.set_rate(rates[second]);
        }
        second += 1;
        let next = t0 + Duration::from_secs(second as u64);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        samples.push(sample(&caller_stat));
        if let [.., a, b] = samples.as_slice() {
            let offered = rates.get(second - 1).copied().unwrap_or(0.0);
            let _ = live::append(out, &live_second(second as u64 - 1, offered, a, b));
        }
        let running = caller
            .as_mut()
            .map_or(second < external_end, sipp::Sipp::running);
        if (second >= duration && !running) || second >= duration + tail_s {
            break;
        }
        if out.join(live::STOP_FILE).exists() {
            eprintln!("stop asked for at second {second}");
            break;
        }
    }
    if let Some(c) = caller.as_mut()
        && c.running()
    {
        c.quit();
        let _ = c.wait(Duration::from_secs(5));
    }
    if let Some(r) = &rereg {
        r.quit();
    }
    std::thread::sleep(Duration::from_millis(1100));
    let last = sample(&caller_stat);
    if let Ok(samples_json) = agent::samples(100_000) {
        std::fs::write(out.join("samples.json"), samples_json)?;
    }
    write(out, scenario, o, (&rates, &reg), &samples, &last)
}

/// The live row of the second between samples `a` and `b`.
fn live_second(t: u64, offered: f64, a: &Sample, b: &Sample) -> live::LiveSecond {
    let dt = b.at.duration_since(a.at).as_secs_f64().max(1e-3);
    let count = |want: ProxyState| b.states.values().filter(|(_, st)| *st == want).count() as u32;
    let active_cpu: Vec<f64> = b
        .states
        .iter()
        .filter(|(_, (_, st))| *st == ProxyState::Active)
        .map(|(name, _)| {
            let used =
                b.cpu.get(name).copied().unwrap_or(0.0) - a.cpu.get(name).copied().unwrap_or(0.0);
            used.max(0.0) / dt * 1000.0
        })
        .collect();
    let limits = || b.limits.values().copied();
    live::LiveSecond {
        t,
        offered,
        achieved: b.stats.created.saturating_sub(a.stats.created) as f64 / dt,
        p99_s: b.hist.quantile_since(&a.hist, None, 0.99),
        active: count(ProxyState::Active),
        booting: count(ProxyState::Booting),
        draining: count(ProxyState::Draining),
        cpu_mcpu: active_cpu.iter().sum::<f64>() / active_cpu.len().max(1) as f64,
        limit_min_mcpu: limits().min().unwrap_or(0),
        limit_max_mcpu: limits().max().unwrap_or(0),
        failed: b.stats.failed.saturating_sub(a.stats.failed),
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "one table per file, written in one place"
)]
fn write(
    out: &Path,
    scenario: &Scenario,
    o: &RunOptions,
    (rates, reg): (&[f64], &[f64]),
    samples: &[Sample],
    last: &Sample,
) -> Result<RunReport> {
    let series = sipp::read_series(&out.join("sipp-caller-stat.csv"));
    let reg_series = sipp::read_series(&out.join("sipp-reregister-stat.csv"));
    // The common columns (`scenario::run::CSV_COLUMNS`: what a run is
    // judged by, as a simulated one is), then what only the testbed sees.
    let mut per_second = Table::new(
        &[
            &scenario::run::CSV_COLUMNS[..],
            &[
                "achieved_rate",
                "completed_rate",
                "draining",
                "p99_response_s",
                "p99_relay_request_s",
                "p99_relay_response_s",
                "proxy_cpu_mcpu",
                "proxy_cpu_mcpu_max",
                "non2xx_finals",
                "timeouts",
                "register_rate",
                "register_achieved_rate",
                "booting",
            ],
        ]
        .concat(),
    );
    let mut per_proxy = Table::new(&[
        "second",
        "proxy",
        "iface",
        "state",
        "cpu_mcpu",
        "invites_relayed",
        "cpu_limit_mcpu",
    ]);
    let cpu_limit = state::read()?
        .map(|st| st.cpu_limit_millis)
        .filter(|m| *m > 0);
    let mut plot_offered = Vec::new();
    let mut plot_achieved = Vec::new();
    let mut plot_p99 = Vec::new();
    let mut plot_replicas = Vec::new();
    let mut plot_asked = Vec::new();
    let mut plot_cpu = Vec::new();
    // Each proxy's CPU limit over its life (resize changes it in place).
    let mut plot_limits: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for (s, w) in samples.windows(2).enumerate() {
        let (a, b) = (&w[0], &w[1]);
        let dt = b.at.duration_since(a.at).as_secs_f64().max(1e-3);
        let p99: Vec<Option<f64>> = metrics::KINDS
            .iter()
            .map(|k| b.hist.quantile_since(&a.hist, Some(k), 0.99))
            .collect();
        let all = b.hist.quantile_since(&a.hist, None, 0.99);
        let mut cpu_sum = 0.0;
        let mut cpu_max = 0.0f64;
        let mut active_cpu = 0.0;
        for (name, (iface, st)) in &b.states {
            let used =
                b.cpu.get(name).copied().unwrap_or(0.0) - a.cpu.get(name).copied().unwrap_or(0.0);
            let mcpu = used.max(0.0) / dt * 1000.0;
            cpu_sum += mcpu;
            cpu_max = cpu_max.max(mcpu);
            if *st == ProxyState::Active {
                active_cpu += mcpu;
            }
            let inv = b.hist.invites_by_iface.get(iface).copied().unwrap_or(0.0)
                - a.hist.invites_by_iface.get(iface).copied().unwrap_or(0.0);
            let limit = b.limits.get(name).copied().filter(|m| *m > 0).or(cpu_limit);
            if let Some(m) = limit {
                plot_limits
                    .entry(name.clone())
                    .or_default()
                    .push((s as f64, f64::from(m)));
            }
            per_proxy.rows.push(vec![
                s.to_string(),
                name.clone(),
                iface.clone(),
                format!("{st:?}").to_lowercase(),
                format!("{mcpu:.1}"),
                format!("{inv:.0}"),
                limit.map_or_else(String::new, |m| m.to_string()),
            ]);
        }
        let active = b
            .states
            .values()
            .filter(|(_, st)| *st == ProxyState::Active)
            .count();
        let count = |want: ProxyState| b.states.values().filter(|(_, st)| *st == want).count();
        let (draining, booting) = (count(ProxyState::Draining), count(ProxyState::Booting));
        let offered = rates.get(s).copied().unwrap_or(0.0);
        let (sa, sb) = (
            sipp::stats_at(&series, a.unix),
            sipp::stats_at(&series, b.unix),
        );
        let delta = |i: usize| (sb[i] - sa[i]).max(0.0);
        let achieved = delta(0) / dt;
        let completed = delta(1) / dt;
        let judged = scenario::run::Second {
            t: s as u64,
            rate: offered,
            replicas: b.states.len() as u32,
            ready: active as u32,
            p99_s: all,
            cpu_millis: active_cpu / active.max(1) as f64,
            failed_calls: delta(2) as u64,
            allocated_millis: b
                .states
                .keys()
                .map(|name| {
                    b.limits
                        .get(name)
                        .copied()
                        .filter(|m| *m > 0)
                        .or(cpu_limit)
                        .map_or(scenario::run::LEGACY_CPU_LIMIT_MILLIS, f64::from)
                })
                .sum(),
        };
        per_second.rows.push(
            [
                judged.csv_cells(),
                vec![
                    format!("{achieved:.2}"),
                    format!("{completed:.2}"),
                    draining.to_string(),
                    cell(p99[0]),
                    cell(p99[1]),
                    cell(p99[2]),
                    format!("{cpu_sum:.1}"),
                    format!("{cpu_max:.1}"),
                    format!("{:.0}", delta(3)),
                    format!("{:.0}", delta(4)),
                    cell(Some(reg.get(s).copied().unwrap_or(0.0))),
                    format!(
                        "{:.2}",
                        (sipp::stats_at(&reg_series, b.unix)[0]
                            - sipp::stats_at(&reg_series, a.unix)[0])
                            .max(0.0)
                            / dt
                    ),
                    booting.to_string(),
                ],
            ]
            .concat(),
        );
        let x = s as f64;
        plot_offered.push((x, offered));
        plot_achieved.push((x, achieved));
        if let Some(v) = all {
            plot_p99.push((x, v * 1000.0));
        }
        plot_replicas.push((x, active as f64));
        plot_asked.push((x, (active + booting) as f64));
        plot_cpu.push((x, judged.cpu_millis));
    }
    per_second.write(&out.join("per_second.csv"))?;
    per_proxy.write(&out.join("per_proxy.csv"))?;
    svg(
        &out.join("run.svg"),
        &[
            Plot {
                title: "Call rate",
                x_label: "second",
                y_label: "calls/s",
                series: vec![
                    ("offered".into(), plot_offered),
                    ("achieved".into(), plot_achieved),
                ],
                hline: None,
            },
            Plot {
                title: "P99 latency (all kinds, proxies)",
                x_label: "second",
                y_label: "ms",
                series: vec![("P99".into(), plot_p99)],
                hline: Some((
                    o.p99_target.as_secs_f64() * 1000.0,
                    format!("target {:?}", o.p99_target),
                )),
            },
            Plot {
                title: "Proxies",
                x_label: "second",
                y_label: "replicas",
                series: vec![
                    ("active".into(), plot_replicas),
                    ("active + booting".into(), plot_asked),
                ],
                hline: None,
            },
            Plot {
                title: "CPU per active proxy",
                x_label: "second",
                y_label: "mCPU",
                series: vec![("mean".into(), plot_cpu)],
                hline: cpu_limit.map(|m| (f64::from(m), format!("limit {m}m"))),
            },
            Plot {
                title: "CPU limit per proxy",
                x_label: "second",
                y_label: "mCPU",
                series: plot_limits.into_iter().collect(),
                hline: None,
            },
        ],
    )?;
    let first = &samples[0];
    let invites: BTreeMap<String, f64> = last
        .hist
        .invites_by_iface
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v - first.hist.invites_by_iface.get(k).copied().unwrap_or(0.0),
            )
        })
        .collect();
    let st = &last.stats;
    let summary = json!({
        "duration_s": rates.len(),
        "calls_offered": scenario.calls.len(),
        "calls_created": st.created,
        "calls_successful": st.successful,
        "calls_failed": st.failed,
        "non2xx_finals": st.unexpected,
        "timeouts": st.timeouts,
        "invites_relayed_by_iface": invites,
        "p99_all_s": last.hist.quantile_since(&first.hist, None, 0.99),
    });
    std::fs::write(out.join("summary.json"), format!("{summary:#}\n"))?;
    eprintln!(
        "calls: {} offered, {} created, {} successful, {} failed; results in {}",
        scenario.calls.len(),
        st.created,
        st.successful,
        st.failed,
        out.display()
    );
    Ok(RunReport {
        created: st.created,
        failed: st.failed,
        scrapes: samples
            .iter()
            .map(|s| s.hist.clone())
            .chain([last.hist.clone()])
            .collect(),
        cpu: samples
            .iter()
            .map(|s| s.cpu.values().sum())
            .chain([last.cpu.values().sum()])
            .collect(),
    })
}
