//! `siplat-scaler`: see `scaler::cli` for the subcommands.

fn main() -> anyhow::Result<()> {
    scaler::cli::main()
}
