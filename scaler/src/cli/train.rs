//! `siplat-scaler train [--mode hybrid|horizontal] [--seed N] [--out DIR]`:
//! trains the learned policy (see `scaler::learn`) and writes the model,
//! its BC-only starting point, the training curve and an evaluation table.

use std::{fmt::Write as _, path::PathBuf};

use anyhow::Context as _;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use scenario::{
    seeds::{SeedSummary, table},
    suite::{EVALUATION_SEEDS, Family},
};

use crate::{
    evaluate::{Bench, capacity},
    learn::{
        env,
        features::ForecastInput,
        model::Mode,
        train::{CurvePoint, Outcome, Progress, TrainConfig, stem, train},
    },
    policy::spec::PolicySpec,
    sim::{SimConfig, calibration::Profile},
};

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// What the model changes: `hybrid` (replicas and quota) or `horizontal`.
    #[arg(long, default_value = "hybrid", value_parser = parse_mode)]
    pub mode: Mode,
    /// Seed of everything random in the run: the same seed, the same model.
    #[arg(long, default_value = "1")]
    pub seed: u64,
    /// PPO iterations.
    #[arg(long, default_value = "150")]
    pub iterations: usize,
    /// Episodes played per PPO iteration.
    #[arg(long, default_value = "12")]
    pub episodes: usize,
    /// Episodes of `hybrid`'s own decisions for behaviour cloning.
    #[arg(long, default_value = "24")]
    pub bc_episodes: usize,
    /// Tuning seeds per family the model is selected on (1..=N).
    #[arg(long, default_value = "4")]
    pub validation_seeds: u64,
    /// Stop PPO after this many minutes (0: no limit); the model then says so.
    #[arg(long, default_value = "25")]
    pub max_minutes: f64,
    /// Add the Gaussian-around-target latency term to the reward.
    #[arg(long)]
    pub gaussian_reward: bool,
    /// Reward the CPU saved against `hybrid`'s proposal instead of
    /// charging the CPU allocated.
    #[arg(long)]
    pub relative_reward: bool,
    /// Cost of one violation-second, in CPU-seconds.
    #[arg(long, default_value = "10")]
    pub violation_weight: f64,
    /// Decision interval of training and validation episodes, seconds.
    #[arg(long, default_value = "15")]
    pub interval: u64,
    /// Label smoothing of behaviour cloning (probability left to the other
    /// actions).
    #[arg(long, default_value = "0.4")]
    pub bc_smoothing: f64,
    /// Entropy bonus of PPO.
    #[arg(long, default_value = "0.003")]
    pub entropy: f64,
    /// Longest window of a scenario one episode plays, minutes.
    #[arg(long, default_value = "180")]
    pub episode_minutes: usize,
    /// Give the network the Holt-Winters rate forecast one boot time and
    /// one interval ahead (as `predictive` leads) as one more input per
    /// frame.
    #[arg(long)]
    pub forecast: bool,
    /// Folder for the model, the curve and the tables.
    #[arg(long, default_value = "scaler/models")]
    pub out: PathBuf,
    /// Evaluation seeds per family for the table written after training
    /// (1000 up; 0: no table).
    #[arg(long, default_value = "10")]
    pub eval_seeds: u64,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    match s {
        "hybrid" => Ok(Mode::Hybrid),
        "horizontal" => Ok(Mode::Horizontal),
        other => Err(format!("unknown mode `{other}` (hybrid, horizontal)")),
    }
}

impl TrainArgs {
    fn config(&self) -> TrainConfig {
        let mut cfg = TrainConfig {
            seed: self.seed,
            mode: self.mode,
            iterations: self.iterations,
            episodes_per_iteration: self.episodes,
            bc_episodes: self.bc_episodes,
            validation_seeds: self.validation_seeds,
            max_minutes: self.max_minutes,
            interval_s: self.interval.max(1),
            episode_s: self.episode_minutes.max(1) * 60,
            forecast: self.forecast.then(|| ForecastInput {
                lead_s: crate::sim::calibration::BOOT_DELAY_S as u64 + self.interval.max(1),
            }),
            ..TrainConfig::default()
        };
        cfg.reward.relative = self.relative_reward;
        cfg.reward.violation_weight = self.violation_weight;
        cfg.ppo.bc_smoothing = self.bc_smoothing;
        cfg.ppo.entropy_coef = self.entropy;
        if self.gaussian_reward {
            cfg.reward.gaussian = Some((0.5, 0.25));
        }
        cfg
    }
}

/// An indicatif bar: phase, iteration, episode reward, violation rate.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn phase(&self, what: &str, len: u64) {
        self.0.set_length(len);
        self.0.set_position(0);
        self.0.set_prefix(what.to_owned());
    }

    fn tick(&self, p: &CurvePoint, best: f64) {
        self.0.set_message(format!(
            "episode reward {:.1}, violation rate {:.4} %, best validation {best:.1}",
            p.episode_reward,
            p.violation_rate * 100.0
        ));
        self.0.inc(1);
    }
}

pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    let cfg = args.config();
    let bar = ProgressBar::new(cfg.iterations as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>18} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .context("progress template")?,
    );
    let out = train(&cfg, &Bar(bar.clone()))?;
    bar.finish();
    std::fs::create_dir_all(&args.out).with_context(|| format!("create {}", args.out.display()))?;
    let model_stem = stem(&args.out, cfg.mode, false);
    out.best.save(&model_stem)?;
    out.bc.save(&stem(&args.out, cfg.mode, true))?;
    let tag = match cfg.mode {
        Mode::Hybrid => "hybrid",
        Mode::Horizontal => "horizontal",
    };
    write_curve(&args.out, tag, &out)?;
    let mut report = format!(
        "# rl ({tag}) trained with seed {} in {:.0} s{}\n\n",
        cfg.seed,
        out.seconds,
        if out.cut_short {
            " (cut short by --max-minutes)"
        } else {
            ""
        }
    );
    report += &validation_table(&out);
    if args.eval_seeds > 0 {
        report += &evaluation(&args.out, cfg.mode, args.eval_seeds, cfg.interval_s)?;
    }
    let path = args.out.join(format!("rl-{tag}-report.md"));
    std::fs::write(&path, &report).with_context(|| format!("write {}", path.display()))?;
    println!("{report}");
    Ok(())
}

fn write_curve(dir: &std::path::Path, tag: &str, out: &Outcome) -> anyhow::Result<()> {
    let mut csv = String::from("iteration,episode_reward,violation_rate,validation_score\n");
    for p in &out.curve {
        let v = p.validation.map_or(String::new(), |v| format!("{v:.3}"));
        let _ = writeln!(
            csv,
            "{},{:.4},{:.6},{v}",
            p.iteration, p.episode_reward, p.violation_rate
        );
    }
    std::fs::write(dir.join(format!("rl-{tag}-curve.csv")), csv).context("write curve.csv")?;
    let cost: Vec<(f64, f64)> = out
        .curve
        .iter()
        .map(|p| (p.iteration as f64, -p.episode_reward))
        .collect();
    let viol: Vec<(f64, f64)> = out
        .curve
        .iter()
        .map(|p| (p.iteration as f64, p.violation_rate * 100.0))
        .collect();
    let val: Vec<(f64, f64)> = out
        .validations
        .iter()
        .map(|v| (v.iteration as f64, v.score))
        .collect();
    let plots = [
        testbed::results::Plot {
            title: "training episodes: cost per episode (minus the reward)",
            x_label: "PPO iteration",
            y_label: "cost",
            series: vec![("sampled actions".to_owned(), cost)],
            hline: None,
        },
        testbed::results::Plot {
            title: "training episodes: seconds over the P99 target",
            x_label: "PPO iteration",
            y_label: "% of seconds",
            series: vec![("sampled actions".to_owned(), viol)],
            hline: None,
        },
        testbed::results::Plot {
            title: "validation (tuning seeds, greedy): score, lower is better",
            x_label: "PPO iteration (0: behaviour cloning only)",
            y_label: "score",
            series: vec![("rl".to_owned(), val)],
            hline: Some((out.reference.score, "hybrid".to_owned())),
        },
    ];
    testbed::results::svg(&dir.join(format!("rl-{tag}-curve.svg")), &plots)
}

fn validation_table(out: &Outcome) -> String {
    let mut s = String::from(
        "Validation on tuning seeds (mean violation-seconds / CPU-seconds per family):\n\n| iteration | score |",
    );
    for (f, _, _) in &out.reference.families {
        let _ = write!(s, " {f} |");
    }
    s += "\n|---|---|";
    s += &"---|".repeat(out.reference.families.len());
    s += "\n";
    let row = |label: String, v: &crate::learn::train::Validation| {
        let mut r = format!("| {label} | {:.1} |", v.score);
        for (_, viol, cpu) in &v.families {
            let _ = write!(r, " {viol:.1} / {cpu:.1} |");
        }
        r + "\n"
    };
    s += &row("hybrid".to_owned(), &out.reference);
    for v in &out.validations {
        s += &row(v.iteration.to_string(), v);
    }
    s + "\n"
}

/// The table `simulate --suite all --seeds N --seed 1000` prints, for
/// `hybrid`, the BC-only model, the trained one and the oracle.
fn evaluation(
    dir: &std::path::Path,
    mode: Mode,
    seeds: u64,
    interval_s: u64,
) -> anyhow::Result<String> {
    let bench = Bench {
        cfg: SimConfig::for_profile(Profile::Report),
        ctx: env::context(),
        capacity: capacity(Profile::Report),
    };
    let model = stem(dir, mode, false);
    let bc = stem(dir, mode, true);
    let hybrid = if mode == Mode::Hybrid {
        "hybrid"
    } else {
        "hybrid:max-cpu-limit=30m"
    };
    let every = |spec: String| {
        if interval_s == crate::sim::calibration::DECISION_INTERVAL_S {
            spec
        } else {
            testbed::scaler::with_param(&spec, "interval", &format!("{interval_s}s"))
        }
    };
    let text = [
        every(hybrid.to_owned()),
        every(format!("rl:model={}", bc.display())),
        every(format!("rl:model={}", model.display())),
        every("oracle".to_owned()),
    ]
    .join(",");
    let specs = PolicySpec::parse_list(&text)?;
    let first = *EVALUATION_SEEDS.start();
    let list: Vec<u64> = (first..first + seeds).collect();
    let mut s = format!(
        "Evaluation seeds {first}-{} (held out):\n",
        first + seeds - 1
    );
    for family in Family::ALL {
        let summaries: Vec<SeedSummary> =
            bench.over_seeds(&specs, &list, &|seed| family.rates(seed))?;
        let _ = write!(s, "\n{family}:\n```text\n{}```\n", table(&summaries));
    }
    Ok(s)
}
