//! Command line of `siplat-scaler`: one module per subcommand.

pub mod scenario;

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
}

impl Cli {
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Scenario(args) => scenario::run(&args),
        }
    }
}
