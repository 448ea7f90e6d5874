//! `cargo xtask bench`: speed figures, each printed as ratios to a baseline
//! measured side by side in the same run (absolute numbers vary by machine).

use anyhow::Result;
use netns::is_root;

use crate::process::{cargo, exec};

#[derive(clap::Args)]
pub struct Options {}

pub fn run(_opts: &Options) -> Result<()> {
    crate::setup::run(&crate::setup::Options { no_apt: true })?;
    // The kernel program per packet, through BPF_PROG_TEST_RUN.
    if is_root() {
        exec(cargo().args([
            "run",
            "--release",
            "-p",
            "agent",
            "--example",
            "kernel_bench",
        ]))?;
    } else {
        eprintln!("SKIPPED kernel_bench: BPF_PROG_TEST_RUN needs root");
    }
    Ok(())
}
