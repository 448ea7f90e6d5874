//! Build the kernel program (through `agent/build.rs` and aya-build) and the
//! userspace binaries.

use anyhow::Result;

use crate::process::{cargo, exec};

#[derive(clap::Args)]
pub struct Options {
    /// Build in release mode.
    #[arg(long)]
    pub release: bool,
}

pub fn run(opts: &Options) -> Result<()> {
    crate::setup::run(&crate::setup::Options { no_apt: true })?;
    let mut cmd = cargo();
    cmd.args(["build", "--workspace", "--exclude", "agent-ebpf", "--bins"]);
    if opts.release {
        cmd.arg("--release");
    }
    exec(&mut cmd)
}

/// `cargo xtask testbed ARGS`: the testbed is its own binary; build it (and
/// the agent it starts) and hand over, so the detached reaper and the scaler
/// run the same program a user runs.
pub fn testbed(args: &[String]) -> Result<()> {
    exec(cargo().args(["build", "--quiet", "-p", "testbed", "-p", "agent", "--bins"]))?;
    let bin = testbed::proc::workspace_root().join("target/debug/siplat-testbed");
    let status = std::process::Command::new(&bin)
        .args(args)
        .status()
        .map_err(|e| anyhow::anyhow!("run {}: {e}", bin.display()))?;
    std::process::exit(status.code().unwrap_or(1));
}

/// `cargo xtask panel ARGS`: the web panel (`siplat-testbed panel`), with
/// the agent and the scaler built too, since a run from the page starts
/// both beside the testbed.
pub fn panel(args: &[String]) -> Result<()> {
    exec(cargo().args([
        "build", "--quiet", "-p", "testbed", "-p", "agent", "-p", "scaler", "--bins",
    ]))?;
    let bin = testbed::proc::workspace_root().join("target/debug/siplat-testbed");
    let status = std::process::Command::new(&bin)
        .arg("panel")
        .args(args)
        .status()
        .map_err(|e| anyhow::anyhow!("run {}: {e}", bin.display()))?;
    std::process::exit(status.code().unwrap_or(1));
}
