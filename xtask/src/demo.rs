//! `cargo xtask demo`: the main job on one machine. It brings up the local
//! testbed (real Kamailio proxies under a 30 mCPU quota, `SIPp`, the siplat
//! agent), plays the report's step scenario squeezed in time while
//! `siplat-scaler` sizes the proxy tier, and writes a report folder: each
//! policy's per-second CSV and plots, plus one summary table.
//!
//! Every phase runs the same commands a user would (`siplat-testbed ...`,
//! `siplat-scaler ...`) as child processes, so the demo exercises the real
//! interfaces between the parts, not shortcuts.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use netns::is_root;
use scenario::run::Run;

use crate::process::{cargo, exec, workspace_root};

/// What the demo plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoScenario {
    /// The report's step scenario (12 -> 42 calls/s, +6 every 5 minutes),
    /// scaled by `--rate-scale` and squeezed by `--compress`.
    Step,
    /// A steady `--flash-base` calls/s for a minute, then x1.6 within one
    /// second for three minutes, then back for a minute; real time. A new
    /// proxy helps only once it boots; a raised CPU limit at once.
    FlashCrowd,
}

#[derive(clap::Args)]
pub struct Options {
    /// Which scenario to play.
    #[arg(long, value_enum, default_value = "step")]
    pub scenario: DemoScenario,
    /// Calls/s before and after the flash crowd (two 30m proxies carry
    /// about 60 here, `siplat-testbed sweep`).
    #[arg(long, default_value_t = 40.0)]
    pub flash_base: f64,
    /// Skip `cargo xtask setup` (prerequisites already installed).
    #[arg(long)]
    pub no_setup: bool,
    /// Scaling policy to play, in `siplat-scaler` syntax (repeatable: one
    /// run each). Time constants are squeezed like the scenario.
    #[arg(long, default_value = "qos:cooldown=10,settle=6,p99-settle=4")]
    pub policy: Vec<String>,
    /// Also play the report's baselines on the same scenario: CPU-HPA with a
    /// 20m target (scale-down window squeezed to 30 s) and the static plan
    /// of 5 proxies.
    #[arg(long)]
    pub baselines: bool,
    /// Multiply the report's step scenario rates (12 -> 42 calls/s, +6 every
    /// 5 minutes) by this. The report's 30m proxy carried ~11 calls/s; here
    /// Kamailio at 30m carries ~35 (`siplat-testbed sweep`), so x3 keeps
    /// the scenario's shape relative to one proxy: it starts just above one
    /// proxy's capacity and steps by half of it. (Cutting the CPU limit to
    /// 10m instead does not work: a 1 ms quota per 100 ms period stalls a
    /// proxy on every burst, whatever the rate.)
    #[arg(long, default_value_t = 3.0)]
    pub rate_scale: f64,
    /// Play the report's 30-minute step scenario this many times faster.
    #[arg(long, default_value_t = 10.0)]
    pub compress: f64,
    /// P99 target in seconds (the report's `QoS` threshold P0 = 1000 ms).
    #[arg(long, default_value_t = 1.0)]
    pub p99_target: f64,
    /// Seconds at the start of a run that are shown but not judged.
    #[arg(long, default_value_t = 20)]
    pub warmup_s: usize,
    /// Proxies at the start of a run (the static baseline uses its own count).
    #[arg(long, default_value_t = 2)]
    pub initial_proxies: u32,
    /// CPU limit per proxy, as the report's pods.
    #[arg(long, default_value = "30m")]
    pub cpu_limit: String,
    /// Time a proxy added by a scale-out waits before it takes calls
    /// (`siplat-testbed up --boot-delay`), e.g. "25s" for a Kubernetes
    /// pod's image pull, start and readiness; 0 = the local ~1 s. The
    /// scaler is told the same delay plus the local boot (its forecast
    /// lead).
    #[arg(long, default_value = "0s", value_parser = parse_boot_delay)]
    pub boot_delay: Duration,
    /// Report folder (default results/demo-<unix time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(opts: &Options) -> Result<()> {
    if !is_root() {
        bail!(
            "the demo needs root (network namespaces, cgroups, BPF): run `sudo -E cargo xtask demo`"
        );
    }
    if !opts.no_setup {
        crate::setup::run(&crate::setup::Options { no_apt: false })?;
    }
    exec(cargo().args([
        "build", "-p", "agent", "-p", "scaler", "-p", "testbed", "--bins",
    ]))?;
    let bin = workspace_root().join("target/debug");
    let out = opts.out.clone().unwrap_or_else(|| {
        workspace_root().join(format!("results/demo-{}", testbed::proc::unix_secs()))
    });
    fs::create_dir_all(&out).with_context(|| format!("create {}", out.display()))?;

    let scenario = out.join("scenario.csv");
    let played = match opts.scenario {
        // The report's step scenario: 12 -> 42 calls/s, +6 every 5 minutes.
        DemoScenario::Step => {
            scenario::generate::step(12.0 * opts.rate_scale, 6.0 * opts.rate_scale, 300, 1800)
                .compress(opts.compress)
        }
        DemoScenario::FlashCrowd => {
            let base = opts.flash_base;
            let rates: Vec<f64> = (0..300)
                .map(|t| {
                    if (60..240).contains(&t) {
                        base * 1.6
                    } else {
                        base
                    }
                })
                .collect();
            scenario::Scenario::from_rates(&rates)
        }
    };
    fs::write(&scenario, played.to_csv())?;

    let mut policies: Vec<String> = opts
        .policy
        .iter()
        .map(|p| testbed::scaler::with_cpu_limit(p, &opts.cpu_limit))
        .collect();
    if opts.baselines {
        policies.extend([
            "hpa-cpu:target=20m,down-window=30".to_owned(),
            "static:replicas=5".to_owned(),
        ]);
    }
    let mut rows = Vec::new();
    for policy in &policies {
        let dir = out.join(scenario::run::file_name(policy));
        fs::create_dir_all(&dir)?;
        let started = Instant::now();
        play(opts, &bin, policy, &scenario, &dir)?;
        let run = judge(
            policy,
            &dir.join("per_second.csv"),
            opts.p99_target,
            opts.warmup_s,
        )?;
        rows.push((run, started.elapsed().as_secs()));
    }
    let table = render(&rows, opts);
    fs::write(out.join("summary.md"), &table)?;
    eprintln!("\n{table}\nreport: {}", out.display());
    Ok(())
}

fn parse_boot_delay(text: &str) -> Result<Duration, String> {
    cliconf::parse_duration(text).map_err(|e| e.to_string())
}

/// What a local Kamailio takes from start to its first call on top of any
/// boot delay: ~1 s to ready and DMQ sync, plus a decision interval.
const LOCAL_BOOT: Duration = Duration::from_secs(3);

/// One policy over the whole scenario on a fresh testbed.
fn play(opts: &Options, bin: &Path, policy: &str, scenario: &Path, dir: &Path) -> Result<()> {
    let tb = bin.join("siplat-testbed");
    let testbed = |args: &[&str]| exec(Command::new(&tb).args(args));
    testbed(&["down"])?;
    let initial = testbed::scaler::static_replicas(policy)
        .unwrap_or(opts.initial_proxies)
        .to_string();
    let boot_delay = format!("{}ms", opts.boot_delay.as_millis());
    testbed(&[
        "up",
        "--proxies",
        &initial,
        "--cpu-limit",
        &opts.cpu_limit,
        "--boot-delay",
        &boot_delay,
    ])?;
    let result = (|| {
        let agent_url = agent_url(&tb)?;
        let _scaler = Scaler::start(
            bin,
            &tb,
            policy,
            &agent_url,
            opts.p99_target,
            opts.boot_delay + LOCAL_BOOT,
            &dir.join("scaler.log"),
        )?;
        testbed(&[
            "run",
            scenario.to_str().context("utf-8 path")?,
            "--out",
            dir.to_str().context("utf-8 path")?,
            "--p99-target",
            &format!("{}s", opts.p99_target),
        ])
    })();
    let down = testbed(&["down"]);
    result.and(down)
}

/// Where the testbed's agent listens, from its status (the scaler reads
/// the same type).
fn agent_url(tb: &Path) -> Result<String> {
    let out = testbed::proc::output(Command::new(tb).args(["status", "--json"]))?;
    let status: testbed::status::Status =
        serde_json::from_str(&out).context("testbed status JSON")?;
    Ok(status.agent_url)
}

/// The scaler running beside one play; stopped (SIGTERM, then kill) on drop.
struct Scaler(Child);

impl Scaler {
    fn start(
        bin: &Path,
        tb: &Path,
        policy: &str,
        agent_url: &str,
        target: f64,
        boot_delay: Duration,
        log: &Path,
    ) -> Result<Self> {
        let log = fs::File::create(log)?;
        let child = testbed::scaler::command(
            &bin.join("siplat-scaler"),
            tb,
            policy,
            agent_url,
            Duration::from_secs_f64(target),
            boot_delay,
        )
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .context("start siplat-scaler")?;
        Ok(Self(child))
    }
}

impl Drop for Scaler {
    fn drop(&mut self) {
        testbed::proc::stop(self.0.id(), Duration::from_secs(5));
        let _ = self.0.wait();
    }
}

/// One play's per-second CSV judged as a simulated run is (the same rows,
/// the same summary code), after the warm-up.
fn judge(policy: &str, per_second: &Path, target: f64, warmup_s: usize) -> Result<Run> {
    let text =
        fs::read_to_string(per_second).with_context(|| format!("read {}", per_second.display()))?;
    let rows =
        scenario::run::from_csv(&text).with_context(|| format!("read {}", per_second.display()))?;
    Ok(Run::judge(
        policy.to_owned(),
        &rows,
        target,
        warmup_s as u64,
    ))
}

fn render(rows: &[(Run, u64)], opts: &Options) -> String {
    let played = match opts.scenario {
        DemoScenario::Step => format!(
            "the report's step scenario x{} in rate ({} -> {} calls/s), x{} faster",
            opts.rate_scale,
            12.0 * opts.rate_scale,
            42.0 * opts.rate_scale,
            opts.compress,
        ),
        DemoScenario::FlashCrowd => format!(
            "a flash crowd, {} calls/s x1.6 within one second for 3 min, real time",
            opts.flash_base
        ),
    };
    let boot = if opts.boot_delay.is_zero() {
        String::new()
    } else {
        format!(
            ", a new proxy takes calls {:.0} s after it is asked for",
            opts.boot_delay.as_secs_f64()
        )
    };
    let mut t = format!(
        "# siplat demo: {played}, {} proxies{boot}, P99 target {} s, first {} s not judged\n\n",
        opts.cpu_limit, opts.p99_target, opts.warmup_s,
    );
    let runs: Vec<Run> = rows.iter().map(|(r, _)| r.clone()).collect();
    t.push_str(&scenario::run::markdown_table(&runs));
    t.push_str("\nWall time per policy: ");
    let walls: Vec<String> = rows
        .iter()
        .map(|(r, wall)| format!("{} {wall} s", r.policy))
        .collect();
    t.push_str(&walls.join(", "));
    t.push_str(".\n\nReplica-seconds count draining proxies too (they hold calls and cost CPU). Each policy's folder holds per_second.csv, per_proxy.csv, run.svg (rates, P99, replicas, CPU, each proxy's CPU limit), the agent's raw samples and the scaler's log.\n");
    t
}
