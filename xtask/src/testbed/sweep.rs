//! todo
#[derive(clap::Args)]
pub struct SweepOptions {}
pub fn run(_o: &SweepOptions) -> anyhow::Result<()> {
    Ok(())
}
