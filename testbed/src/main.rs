//! `siplat-testbed`: bring the local testbed up, scale it, play scenarios on
//! it and take it down. A separate process per command on purpose: the
//! scaler and the demo drive it exactly as a user does, and the reaper of
//! draining proxies outlives the command that started it.

use anyhow::Result;
use clap::Parser as _;

fn main() -> Result<()> {
    testbed::run(&testbed::Options::parse())
}
