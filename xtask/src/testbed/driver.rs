//! todo
#[derive(clap::Args)]
pub struct RunOptions {}
pub fn run(_o: &RunOptions) -> anyhow::Result<()> {
    Ok(())
}
