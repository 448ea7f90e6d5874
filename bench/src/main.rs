//! siplat-bench: what the kernel program and the agent cost, measured live
//! (namespaces, paced SIP pairs, `bpf_stats`) beside an empty TC program,
//! with round trips in a closed loop, against dumpcap + tshark on the same
//! traffic, and by `BPF_PROG_TEST_RUN`. Needs root; `cargo xtask bench`
//! builds and runs it.

mod figures;
mod kamailio;
mod live;
mod perf;
mod report;
mod run;
mod stats;
mod testrun;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use loadgen::{Kind, pace::Rate};

#[derive(Parser)]
#[command(
    name = "siplat-bench",
    about = "Live benchmark of the siplat kernel program and agent"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    opts: Options,
}

#[derive(clap::Args, Clone)]
pub struct Options {
    /// About two minutes: 20k/s and max, 2 s a run, captures at 20k/s only (full: 2k..max, 5 s a run, captures up to 20k/s; about 8.5 minutes).
    #[arg(long)]
    pub quick: bool,
    /// Where runs.jsonl, tables.md and the plot go [default: results/bench-<unix time>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The agent binary [default: siplat-agent next to this binary].
    #[arg(long)]
    pub agent: Option<PathBuf>,
    /// Payloads to run [default: all].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub kinds: Vec<Kind>,
    /// Rates, pairs per second (`2k`, `100k`, `max`) [default: 2k,20k,100k,max; quick: 20k,max].
    #[arg(long, value_delimiter = ',')]
    pub rates: Vec<Rate>,
    /// Seconds a run [default: 5; quick: 2].
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Round trips in flight in the closed loop.
    #[arg(long, default_value_t = 64)]
    pub outstanding: usize,
}

#[derive(Subcommand)]
enum Command {
    /// Kamailio (the testbed's proxy config) under `SIPp` at its highest stable rate, with and without the agent.
    Kamailio(kamailio::Options),
    /// Only where a SIP packet's time goes (`BPF_PROG_TEST_RUN` over long INVITEs), in seconds, no live runs.
    Profile {
        /// The agent binary [default: siplat-agent next to this binary].
        #[arg(long)]
        agent: Option<PathBuf>,
        /// Transactions per shape.
        #[arg(long, default_value_t = 20_000)]
        frames: u64,
    },
}

#[expect(clippy::print_stderr, reason = "the loud skip line is the point")]
fn main() -> Result<()> {
    let cli = Cli::parse();
    if !netns::is_root() {
        let parts: &[&str] = match cli.command {
            Some(Command::Kamailio(_)) => &["kamailio"],
            Some(Command::Profile { .. }) => &["profile"],
            None => &[
                "live kernel and agent cost",
                "empty-program baseline",
                "closed-loop round trips",
                "dumpcap+tshark",
                "BPF_PROG_TEST_RUN",
            ],
        };
        for part in parts {
            eprintln!(
                "!!!!!!!! SKIPPED siplat-bench {part}: needs root (BPF, bpf_stats, network namespaces); run `sudo -E cargo xtask bench` !!!!!!!!"
            );
        }
        return Ok(());
    }
    match cli.command {
        Some(Command::Kamailio(o)) => kamailio::run(&o),
        Some(Command::Profile { agent, frames }) => run::profile_only(agent, frames),
        None => run::run(&cli.opts),
    }
}
