//! `cargo xtask test`: the README's test command and what CI runs.
//!
//! Privileged tests are `#[ignore]`d so a plain `cargo test` stays green
//! without root; here they run when we are root and are announced loudly as
//! skipped otherwise.

use std::process::Command;

use anyhow::Result;
use netns::is_root;

use crate::process::{cargo, exec};

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
    // The scanner against the reference parser for a fixed short time,
    // seeds included; a disagreement fails the run.
    crate::fuzz::short()?;
    manifests_check::run(&manifests_check::Options {
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
/// clean (the workspace's pedantic set, warnings denied), the kernel program
/// included.
fn lint() -> Result<()> {
    let root = crate::process::workspace_root();
    exec(
        Command::new("rustup")
            .args(["run", "nightly", "cargo", "fmt", "--all", "--check"])
            .current_dir(&root),
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
    ]))?;
    // The kernel program only builds for the BPF target, with `core` built
    // from nightly's rust-src, as aya-build compiles it (aya-template's CI
    // lints it the same way). Checking needs no bpf-linker.
    exec(
        Command::new("rustup")
            .args([
                "run",
                "nightly",
                "cargo",
                "clippy",
                "--package",
                "agent-ebpf",
                "--target",
                "bpfel-unknown-none",
                "-Z",
                "build-std=core",
                "--",
                "-D",
                "warnings",
            ])
            // `cargo xtask` runs under the default toolchain's cargo, whose
            // RUSTC would override nightly's (aya-build drops it too).
            .env_remove("RUSTC")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .current_dir(&root),
    )
}
