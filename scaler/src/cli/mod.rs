//! Command line of `siplat-scaler`: one module per subcommand.

pub mod duration;
pub mod per_second;
pub mod scenario;
pub mod simulate;

use clap::{Parser, Subcommand};

/// siplat scaler: P99-driven autoscaling of SIP proxies.
#[derive(Debug, Parser)]
#[command(name = "siplat-scaler", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a scenario CSV (report 3.3.3) on stdout.
    Scenario(scenario::ScenarioArgs),
    /// Compare policies on a scenario in the simulator.
    Simulate(simulate::SimulateArgs),
}

impl Cli {
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Scenario(args) => scenario::run(&args),
            Command::Simulate(args) => simulate::run(&args),
        }
    }
}
