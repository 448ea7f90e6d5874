//! `siplat-bench kamailio`: Kamailio with the testbed's proxy config under
//! `SIPp`, with and without the agent.

use anyhow::Result;

#[derive(clap::Args, Clone)]
pub struct Options {}

#[expect(clippy::print_stderr, reason = "says what it would run")]
#[expect(clippy::unnecessary_wraps, reason = "the real run returns errors")]
pub fn run(_o: &Options) -> Result<()> {
    eprintln!(
        "!!!!!!!! NOT IMPLEMENTED siplat-bench kamailio: would bring up the testbed (siplat-testbed up --proxies 1, no CPU limit), find SIPp's highest stable rate with `siplat-testbed sweep`, then replay it for 60 s with and without the agent attached and compare calls/s and Kamailio CPU !!!!!!!!"
    );
    Ok(())
}
