//! `siplat-scaler scenario constant|step|diurnal|milano|suite ... > file.csv`.

use std::{
    fs::File,
    io::{BufReader, Write as _},
    path::PathBuf,
};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use scenario::{
    Scenario, generate,
    milano::{self, MilanoOptions},
    suite::Family,
};

#[derive(Debug, Args)]
pub struct ScenarioArgs {
    #[command(subcommand)]
    pub shape: Shape,
    /// Play the result this many times faster, keeping per-second rates.
    #[arg(long, global = true)]
    pub compress: Option<f64>,
}

#[derive(Debug, Subcommand)]
pub enum Shape {
    /// A constant rate (the report's benchmark, 4.1).
    Constant {
        /// Calls per second.
        #[arg(long, default_value = "11")]
        rate: f64,
        /// Length in seconds.
        #[arg(long, default_value = "1800")]
        secs: u64,
    },
    /// A rising step function (the report's step scenario, 4.2).
    Step {
        /// First rate, calls per second.
        #[arg(long, default_value = "12")]
        start: f64,
        /// Added at every step, calls per second.
        #[arg(long, default_value = "6")]
        inc: f64,
        /// Seconds between steps.
        #[arg(long, default_value = "300")]
        every: u64,
        /// Length in seconds.
        #[arg(long, default_value = "1800")]
        secs: u64,
    },
    /// A cosine day: trough at the start, peak half a period later.
    Diurnal {
        /// Highest rate, calls per second.
        #[arg(long, default_value = "42")]
        peak: f64,
        /// Lowest rate, calls per second.
        #[arg(long, default_value = "4")]
        trough: f64,
        /// Period in seconds.
        #[arg(long, default_value = "86400")]
        period: u64,
        /// Length in seconds.
        #[arg(long, default_value = "86400")]
        secs: u64,
    },
    /// From Telecom Italia Milano grid files (tab-separated, report 4.5).
    Milano {
        /// Dataset files, read in order and summed.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Rate of the busiest interval after scaling, calls per second.
        #[arg(long, default_value = "45")]
        peak: f64,
        /// Squares to add up (comma separated); all when empty.
        #[arg(long, value_delimiter = ',')]
        squares: Vec<u32>,
        /// Scenario seconds per 10-minute dataset interval (default: real time).
        #[arg(long)]
        seconds_per_interval: Option<f64>,
        /// Keep at most this many intervals (144 = one day).
        #[arg(long)]
        max_intervals: Option<usize>,
    },
    /// One instance of the evaluation suite's family, as `simulate --suite
    /// FAMILY --seed SEED` plays it: to look at one seed second by second
    /// (`simulate --scenario FILE --seed SEED --per-second-dir`) or play it
    /// on the testbed.
    Suite {
        /// step, diurnal, fast-diurnal, flash-crowd, milano, random-walk.
        family: Family,
        /// The instance's seed (levels, phase, the flash's moment).
        #[arg(long, default_value = "1")]
        seed: u64,
    },
}

pub fn run(args: &ScenarioArgs) -> anyhow::Result<()> {
    let scenario = build(&args.shape)?;
    let scenario = match args.compress {
        Some(f) => scenario.compress(f),
        None => scenario,
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(scenario.to_csv().as_bytes()) {
        // `| head` closing the pipe is not an error of ours.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("write scenario to stdout"),
    }
}

fn build(shape: &Shape) -> anyhow::Result<Scenario> {
    Ok(match shape {
        Shape::Constant { rate, secs } => generate::constant(*rate, *secs),
        Shape::Step {
            start,
            inc,
            every,
            secs,
        } => generate::step(*start, *inc, *every, *secs),
        Shape::Diurnal {
            peak,
            trough,
            period,
            secs,
        } => generate::diurnal(*peak, *trough, *period, *secs),
        Shape::Milano {
            files,
            peak,
            squares,
            seconds_per_interval,
            max_intervals,
        } => {
            let mut text = Vec::new();
            for path in files {
                let mut f = File::open(path).with_context(|| format!("open {}", path.display()))?;
                std::io::copy(&mut f, &mut text)
                    .with_context(|| format!("read {}", path.display()))?;
            }
            let options = MilanoOptions {
                squares: squares.clone(),
                seconds_per_interval: *seconds_per_interval,
                max_intervals: *max_intervals,
            };
            milano::import(BufReader::new(text.as_slice()), *peak, &options)
                .context("import Milano data")?
        }
        Shape::Suite { family, seed } => Scenario::from_rates(&family.rates(*seed)),
    })
}
