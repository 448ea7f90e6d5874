//! Not built yet: see the open issues.

use anyhow::{Result, bail};

#[derive(clap::Args)]
pub struct Options {}

pub fn run(_opts: &Options) -> Result<()> {
    bail!("`cargo xtask testbed` is not implemented yet")
}
