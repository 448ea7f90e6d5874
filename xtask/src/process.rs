//! Child commands for the xtask steps. Running with the command line echoed
//! is the testbed's (`testbed::proc`), shared so both log alike.

use std::process::Command;

pub use testbed::proc::{cargo, exec, render, workspace_root};

/// Run `cmd` and report only whether it succeeded (for probes).
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
