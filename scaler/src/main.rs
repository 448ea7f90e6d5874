//! `siplat-scaler`: see `scaler::cli` for the subcommands.

use clap::Parser as _;

fn main() -> anyhow::Result<()> {
    scaler::cli::Cli::parse().run()
}
