//! `siplat-testbed`: bring the local testbed up, scale it, play scenarios on
//! it and take it down. A separate process per command on purpose: the
//! scaler and the demo drive it exactly as a user does, and the reaper of
//! draining proxies outlives the command that started it.

use anyhow::Result;

fn main() -> Result<()> {
    // cliconf: flags > env > the `--config` TOML of the command (the panel's).
    let opts: testbed::Options = match cliconf::parse() {
        Ok(o) => o,
        Err(cliconf::ConfigError::Cli(e)) => e.exit(),
        Err(e) => return Err(e.into()),
    };
    testbed::run(&opts)
}
