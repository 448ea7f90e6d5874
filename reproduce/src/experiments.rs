//! The report's chapter-4 experiments and how each one is played: on the
//! testbed through the same commands a user runs (`siplat-testbed sweep`,
//! `cargo xtask demo`, `siplat-testbed run`), and in the simulator at full
//! length with the report's calibration (`siplat-scaler simulate`).

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, Result};
use scenario::{
    Scenario,
    run::{Run, Second},
    suite::Family,
};

/// The report's per-proxy capacity at 30 mCPU: P99 under 1 s up to 11
/// invites/s, failed at 12 (report 4.1, figures 4.1-4.2).
pub const REPORT_KNEE: f64 = 11.0;
/// The report planned with 10 invites/s per proxy, a margin under the knee
/// for uneven Call-ID hashing and re-registrations (report 4.2-4.3).
pub const REPORT_PLANNING_RATE: f64 = 10.0;
/// The step scenario: 12 invites/s, +6 every 5 minutes, 30 minutes
/// (report 4.2, figure 4.3).
pub const STEP: (f64, f64, u64, u64) = (12.0, 6.0, 300, 1800);
/// The proxies' CPU limit throughout the chapter.
pub const CPU_LIMIT: &str = "30m";
/// Report seconds at the start of each scenario run shown but not judged
/// (the demo's 20 s at its 10x).
pub const WARMUP_REPORT_S: f64 = 200.0;

/// Which policy an experiment plays.
#[derive(Clone, Copy, Debug)]
pub enum Policy {
    /// The capacity plan: `ceil(peak / planning rate)` proxies (report 4.3).
    Static(u32),
    /// CPU-HPA: target in mCPU, one proxy per `period_s`, the scale-up and
    /// scale-down stabilisation windows (report 4.4).
    Hpa {
        target_m: u32,
        period_s: f64,
        up_s: f64,
        down_s: f64,
    },
    /// siplat's latency policy.
    Qos,
    /// siplat's vertical + horizontal policy.
    Hybrid,
    /// siplat's learned policy (the shipped model, a residual over `hybrid`).
    Rl,
}

impl Policy {
    /// The `--policy` spec, its time constants squeezed by `compress`
    /// (1 for the simulator's full-length runs).
    pub fn spec(self, compress: f64) -> String {
        let squeeze = |s: f64| (s / compress).round().max(1.0);
        match self {
            Self::Static(n) => format!("static:replicas={n}"),
            Self::Hpa {
                target_m,
                period_s,
                up_s,
                down_s,
            } => format!(
                "hpa-cpu:target={target_m}m,pods-per-period=1,period={},up-window={},down-window={}",
                squeeze(period_s),
                squeeze(up_s),
                squeeze(down_s)
            ),
            // Full length: the policies' own defaults. Squeezed: the
            // demo's settings for its 10x step (cooldown 10 s, settle 6 s,
            // P99 settle 4 s) rescaled to this compression.
            Self::Qos | Self::Hybrid | Self::Rl => {
                let name = self.siplat_name().unwrap_or_default();
                if compress <= 1.0 {
                    name.to_owned()
                } else {
                    let demo = |s: f64| squeeze(s * 10.0);
                    format!(
                        "{name}:cooldown={},settle={},p99-settle={}",
                        demo(10.0),
                        demo(6.0),
                        demo(4.0)
                    )
                }
            }
        }
    }

    /// siplat's own policies are played on the testbed only in the full
    /// run (the quick one has no room for them in 20 minutes).
    pub fn is_siplat(self) -> bool {
        self.siplat_name().is_some()
    }

    /// The `--policy` name of siplat's own policies; `None` for the
    /// report's.
    const fn siplat_name(self) -> Option<&'static str> {
        match self {
            Self::Qos => Some("qos"),
            Self::Hybrid => Some("hybrid"),
            Self::Rl => Some("rl"),
            Self::Static(_) | Self::Hpa { .. } => None,
        }
    }
}

/// What an experiment plays.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Constant-rate sweep of one proxy: the knee (report 4.1).
    Knee,
    /// The same sweep's CPU and P99 by rate (report 4.2).
    Cpu,
    Step(Policy),
    Milano(Policy),
}

/// How the report judged a run, and how a run here is judged the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// P99 under the target (almost) all the time at no more than the plan's cost.
    Holds,
    /// P99 over the target for more than 1 % of the judged seconds, or
    /// more than 0.1 % of the calls failed (the report's plan answered
    /// every invite; a failed call is no latency sample, so the P99 alone
    /// would pass a tier that drops calls), or more than 5 % of the judged
    /// seconds had no P99 (a run that lost its load or its agent).
    Fails,
    /// Holds, but with more proxy-seconds than the capacity plan.
    OverScales,
}

impl Verdict {
    /// Cost is the allocated CPU (replicas times their limits), so a policy
    /// that raises limits in place is not cheaper than it is.
    pub fn of(run: &Run, plan_replicas: f64) -> Self {
        let failed_share = run.dropped_calls as f64 / run.calls.max(1) as f64;
        let without_data = run.judged_s.saturating_sub(run.with_data_s);
        if run.with_data_s == 0
            || without_data * 20 > run.judged_s
            || run.under_target_share() < 0.99
            || failed_share > 0.001
        {
            Self::Fails
        } else if run.mean_cores() > plan_cores(plan_replicas) * 1.05 {
            Self::OverScales
        } else {
            Self::Holds
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Self::Holds => "holds",
            Self::Fails => "fails",
            Self::OverScales => "over-scales",
        }
    }
}

pub struct Experiment {
    /// Folder name and `--only` key: the report's figure, or `qos-step` ...
    pub id: &'static str,
    /// The report's figures this row stands for.
    pub figures: &'static str,
    pub title: &'static str,
    pub kind: Kind,
    /// What the report found, in its own figures (constants from the text).
    pub report: &'static str,
    pub report_verdict: Option<Verdict>,
}

const fn hpa(target_m: u32, period_s: f64, up_s: f64) -> Policy {
    Policy::Hpa {
        target_m,
        period_s,
        up_s,
        down_s: 180.0,
    }
}

/// The chapter, in the report's order, then siplat's policies on the same
/// scenarios.
pub const ALL: [Experiment; 15] = [
    Experiment {
        id: "4.1",
        figures: "4.1",
        title: "benchmark: P99 against arrival rate, one 30 mCPU proxy",
        kind: Kind::Knee,
        report: "P99 under 1 s up to 11 invites/s, fails at 12",
        report_verdict: None,
    },
    Experiment {
        id: "4.2",
        figures: "4.2",
        title: "benchmark: CPU and response time by rate",
        kind: Kind::Cpu,
        report: "CPU 50-80 % of 30 mCPU at 9-11 invites/s, max response far under 1 s",
        report_verdict: None,
    },
    Experiment {
        id: "4.4",
        figures: "4.3-4.4",
        title: "step 12 -> 42, capacity plan of 5 proxies",
        kind: Kind::Step(Policy::Static(5)),
        report: "P99 under 1 s, every invite answered, at most 10 mCPU per proxy; cost 5 proxies x 1800 s",
        report_verdict: Some(Verdict::Holds),
    },
    Experiment {
        id: "4.5",
        figures: "4.5",
        title: "step, CPU-HPA 25m (1 proxy/60 s, windows 10 s up / 180 s down)",
        kind: Kind::Step(hpa(25, 60.0, 10.0)),
        report: "fails from 24 invites/s: new proxies boot too late",
        report_verdict: Some(Verdict::Fails),
    },
    Experiment {
        id: "4.6",
        figures: "4.6",
        title: "step, CPU-HPA 20m",
        kind: Kind::Step(hpa(20, 60.0, 10.0)),
        report: "under 1 s 00:20-00:25, then scales 5 proxies down in a row and fails again",
        report_verdict: Some(Verdict::Fails),
    },
    Experiment {
        id: "4.7",
        figures: "4.7",
        title: "step, CPU-HPA 10m",
        kind: Kind::Step(hpa(10, 60.0, 10.0)),
        report: "better QoS, but scales too much: CPU above target at any count",
        report_verdict: Some(Verdict::OverScales),
    },
    Experiment {
        id: "4.8",
        figures: "4.8",
        title: "step, CPU-HPA 10m, 1 proxy/120 s, 30 s up window",
        kind: Kind::Step(hpa(10, 120.0, 30.0)),
        report: "better than 4.5, but the first scale-out is late (two P99 humps)",
        report_verdict: Some(Verdict::Fails),
    },
    Experiment {
        id: "4.9",
        figures: "4.9",
        title: "step, CPU-HPA 5m, 1 proxy/120 s, 30 s up window",
        kind: Kind::Step(hpa(5, 120.0, 30.0)),
        report: "no humps, but scaling almost all the time",
        report_verdict: Some(Verdict::OverScales),
    },
    Experiment {
        id: "4.12",
        figures: "4.10-4.12",
        title: "Milano-shaped day in 3 h, 5 proxies",
        kind: Kind::Milano(Policy::Static(5)),
        report: "almost kept the 1 s P99 with 5 proxies; P99 rose with the re-registrations",
        report_verdict: Some(Verdict::Holds),
    },
    Experiment {
        id: "qos-step",
        figures: "-",
        title: "step, siplat `qos`",
        kind: Kind::Step(Policy::Qos),
        report: "-",
        report_verdict: None,
    },
    Experiment {
        id: "hybrid-step",
        figures: "-",
        title: "step, siplat `hybrid`",
        kind: Kind::Step(Policy::Hybrid),
        report: "-",
        report_verdict: None,
    },
    Experiment {
        id: "rl-step",
        figures: "-",
        title: "step, siplat `rl`",
        kind: Kind::Step(Policy::Rl),
        report: "-",
        report_verdict: None,
    },
    Experiment {
        id: "qos-milano",
        figures: "-",
        title: "Milano 3 h, siplat `qos`",
        kind: Kind::Milano(Policy::Qos),
        report: "-",
        report_verdict: None,
    },
    Experiment {
        id: "hybrid-milano",
        figures: "-",
        title: "Milano 3 h, siplat `hybrid`",
        kind: Kind::Milano(Policy::Hybrid),
        report: "-",
        report_verdict: None,
    },
    Experiment {
        id: "rl-milano",
        figures: "-",
        title: "Milano 3 h, siplat `rl`",
        kind: Kind::Milano(Policy::Rl),
        report: "-",
        report_verdict: None,
    },
];

/// The Milano-shaped 3 h day in the report's units: the first suite seed
/// whose peak lies between 40 and 50 invites/s, as the report's did
/// (figure 4.11), so it also needs the 5-proxy plan.
pub fn milano_rates() -> (u64, Vec<f64>) {
    (1..=1000)
        .map(|seed| (seed, Family::Milano.rates(seed)))
        .find(|(_, r)| {
            let peak = r.iter().copied().fold(0.0, f64::max);
            peak > 40.0 && peak < 50.0
        })
        .unwrap_or_else(|| (1, Family::Milano.rates(1)))
}

/// The step scenario in the report's units, full length.
pub fn step_rates() -> Vec<f64> {
    scenario::generate::step_rates(STEP.0, STEP.1, STEP.2, STEP.3)
}

/// The binaries and settings every experiment uses.
pub struct Bench {
    pub bin: PathBuf,
    /// Per-proxy rate multiplier: this proxy's knee over the report's.
    pub rate_scale: f64,
    pub step_compress: f64,
    pub milano_compress: f64,
    pub quick: bool,
}

impl Bench {
    pub fn testbed(&self) -> Command {
        Command::new(self.bin.join("siplat-testbed"))
    }

    /// One policy over `rates` (report units, full length) in the
    /// simulator with the report's calibration; its per-second rows.
    pub fn simulate(
        &self,
        dir: &Path,
        rates: &[f64],
        spec: &str,
        extra: &[&str],
    ) -> Result<Vec<Second>> {
        fs::create_dir_all(dir)?;
        let csv = dir.join("scenario.csv");
        fs::write(&csv, Scenario::from_rates(rates).to_csv())?;
        testbed::proc::output(
            Command::new(self.bin.join("siplat-scaler"))
                .arg("simulate")
                .arg("--scenario")
                .arg(&csv)
                .args(["--policy", spec, "--calibration", "report", "--json"])
                .arg("--per-second-dir")
                .arg(dir)
                .args(extra),
        )?;
        read_rows(&dir.join(format!("{}.csv", scenario::run::file_name(spec))))
    }

    /// The step scenario under `spec` on the testbed, through the demo; a
    /// run already played in `dir` is read back instead (a row is judged
    /// again from it after its `row.json` was removed).
    pub fn step_on_testbed(&self, dir: &Path, spec: &str) -> Result<Vec<Second>> {
        // The demo names a policy's folder after the spec it plays, which
        // carries the testbed's CPU limit for the latency policies.
        let spec = &testbed::scaler::with_cpu_limit(spec, CPU_LIMIT);
        let played = dir
            .join(scenario::run::file_name(spec))
            .join("per_second.csv");
        if played.exists() {
            return read_rows(&played);
        }
        let c = self.step_compress;
        testbed::proc::exec(
            Command::new(xtask_bin()?)
                .args(["demo", "--no-setup", "--policy", spec])
                .args(["--cpu-limit", CPU_LIMIT])
                .args(["--rate-scale", &format!("{:.3}", self.rate_scale)])
                .args(["--compress", &c.to_string()])
                .args(["--warmup-s", &warmup_s(c).to_string()])
                .arg("--out")
                .arg(dir),
        )?;
        read_rows(
            &dir.join(scenario::run::file_name(spec))
                .join("per_second.csv"),
        )
    }

    /// The Milano day under the static plan on the testbed: no scaler,
    /// `replicas` proxies from the start.
    pub fn milano_on_testbed(&self, dir: &Path, replicas: u32) -> Result<Vec<Second>> {
        if dir.join("per_second.csv").exists() {
            return read_rows(&dir.join("per_second.csv"));
        }
        fs::create_dir_all(dir)?;
        let (_, rates) = milano_rates();
        let scaled: Vec<f64> = rates.iter().map(|r| r * self.rate_scale).collect();
        let csv = dir.join("scenario.csv");
        fs::write(
            &csv,
            Scenario::from_rates(&scaled)
                .compress(self.milano_compress)
                .to_csv(),
        )?;
        testbed::proc::exec(self.testbed().arg("down"))?;
        let played = testbed::proc::exec(self.testbed().args([
            "up",
            "--proxies",
            &replicas.to_string(),
            "--cpu-limit",
            CPU_LIMIT,
        ]))
        .and_then(|()| {
            testbed::proc::exec(
                self.testbed()
                    .arg("run")
                    .arg(&csv)
                    .arg("--out")
                    .arg(dir)
                    .args(["--p99-target", "1s"]),
            )
        });
        let down = testbed::proc::exec(self.testbed().arg("down"));
        played.and(down)?;
        read_rows(&dir.join("per_second.csv"))
    }

    /// The constant-rate sweep of one proxy (4.1 and 4.2 share it).
    pub fn sweep(&self, dir: &Path, rates: &[f64], step_s: u64) -> Result<()> {
        let rates: Vec<String> = rates.iter().map(ToString::to_string).collect();
        testbed::proc::exec(self.testbed().arg("down"))?;
        testbed::proc::exec(
            self.testbed()
                .args(["sweep", "--no-startup", "--cpu-limit", CPU_LIMIT])
                .args(["--rates", &rates.join(",")])
                .args(["--step-s", &step_s.to_string()])
                .arg("--out")
                .arg(dir),
        )
    }
}

/// Testbed seconds not judged at the start of a run squeezed by `c`.
pub fn warmup_s(c: f64) -> u64 {
    secs((WARMUP_REPORT_S / c).round())
}

/// Whole seconds of a non-negative figure.
pub fn secs(s: f64) -> u64 {
    std::time::Duration::from_secs_f64(s.max(0.0)).as_secs()
}

/// The xtask binary by its path, not `current_exe`: a build by someone
/// else during a long run replaces the file, and the running process's
/// own path then names a deleted file.
fn xtask_bin() -> Result<PathBuf> {
    let built = testbed::proc::workspace_root().join("target/debug/xtask");
    if built.exists() {
        Ok(built)
    } else {
        Ok(std::env::current_exe()?)
    }
}

pub fn read_rows(path: &Path) -> Result<Vec<Second>> {
    let text = fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    scenario::run::from_csv(&text).with_context(|| format!("parse {}", path.display()))
}

/// Cores the capacity plan allocates: its proxies at the chapter's limit.
pub fn plan_cores(plan_replicas: f64) -> f64 {
    plan_replicas * f64::from(cliconf::parse_cpu_millis(CPU_LIMIT).unwrap_or(30)) / 1000.0
}

/// The proxies a capacity plan needs for `peak` at the planning rate.
pub fn plan(peak: f64, per_proxy: f64) -> u32 {
    u32::try_from(secs((peak / per_proxy).ceil())).unwrap_or(u32::MAX)
}
