//! Command line of `siplat-scaler`: one module per subcommand.

pub mod evaluation;
pub mod frontier;
pub mod per_second;
pub mod run;
pub mod scenario;
pub mod simulate;
pub mod train;

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
    /// Train the learned policy (`rl`) in the simulator.
    Train(train::TrainArgs),
    /// Run the control loop against a real source and actuator.
    Run(Box<crate::config::RunConfig>),
}

/// Parse the command line (and `run`'s config file), set up logging, run
/// the subcommand.
pub fn main() -> anyhow::Result<()> {
    let cli: Cli = match cliconf::parse() {
        Ok(cli) => cli,
        // --help, --version and usage errors print and exit as clap does.
        Err(cliconf::ConfigError::Cli(e)) => e.exit(),
        Err(e) => return Err(e.into()),
    };
    init_tracing();
    match cli.command {
        Command::Scenario(args) => scenario::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Run(cfg) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
            .block_on(run::run(*cfg)),
    }
}

/// Logs to stderr, `RUST_LOG` filter, `info` by default.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
