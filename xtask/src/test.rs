//! `cargo xtask test`: the README's test command and what CI runs.
//!
//! Privileged tests are `#[ignore]`d so a plain `cargo test` stays green
//! without root; here they run when we are root and are announced loudly as
//! skipped otherwise.

use std::process::Command;

use anyhow::Result;

use crate::process::{cargo, exec, is_root};

#[derive(clap::Args)]
pub struct Options {
    /// Skip installing prerequisites (they must already be there).
    #[arg(long)]
    pub no_setup: bool,
}

pub fn run(opts: &Options) -> Result<()> {
    if !opts.no_setup {
        crate::setup::run(&crate::setup::Options { no_apt: false })?;
    }
    lint()?;
    exec(cargo().args(["test", "--workspace", "--exclude", "agent-ebpf"]))?;
    crate::manifests::run(&crate::manifests::Options {
        dir: None,
        out: None,
    })?;
    if is_root() {
        exec(cargo().args([
            "test",
            "--workspace",
            "--exclude",
            "agent-ebpf",
            "--",
            "--ignored",
            "--test-threads=1",
        ]))?;
    } else {
        eprintln!("{}", "!".repeat(78));
        eprintln!(
            "!! SKIPPED: privileged tests (BPF, network namespaces, Kamailio, SIPp) need root."
        );
        eprintln!("!! Run `sudo -E cargo xtask test` to run them.");
        eprintln!("{}", "!".repeat(78));
    }
    Ok(())
}

/// Formatting and lints fail the run: what lands is formatted and clippy
/// clean (the workspace's pedantic set, warnings denied).
fn lint() -> Result<()> {
    exec(
        Command::new("rustup")
            .args(["run", "nightly", "cargo", "fmt", "--all", "--check"])
            .current_dir(crate::process::workspace_root()),
    )?;
    exec(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--exclude",
        "agent-ebpf",
        "--",
        "-D",
        "warnings",
    ]))
}
