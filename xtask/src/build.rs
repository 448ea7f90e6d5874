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
