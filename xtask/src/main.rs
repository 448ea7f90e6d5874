//! `cargo xtask`: one entry point for setup, build, tests, the local testbed
//! and the demo, so a newcomer and CI run exactly the same steps.

mod bench;
mod build;
mod demo;
mod fuzz;
mod process;
mod setup;
mod test;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "siplat build, test and demo tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install every prerequisite (nightly rust-src, bpf-linker, cargo-fuzz, Debian, `PyPI` and npm CRD-schema packages); idempotent.
    Setup(setup::Options),
    /// Build the kernel program and the userspace binaries.
    Build(build::Options),
    /// Run setup, then every test: unit, a short fuzz run, privileged (BPF, namespaces) and manifest validation.
    Test(test::Options),
    /// The local Kamailio/SIPp testbed: builds and runs `siplat-testbed` with these arguments.
    #[command(disable_help_flag = true)]
    Testbed {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The web panel: builds and runs `siplat-testbed panel` with these arguments (`--listen`, `--prometheus`, `--help`).
    #[command(disable_help_flag = true)]
    Panel {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Validate the Kubernetes manifests and configs offline.
    Manifests(manifests_check::Options),
    /// The main job: testbed + scaler playing a time-compressed scenario, with a report.
    Demo(demo::Options),
    /// The live benchmark of the kernel program and the agent: builds and runs `siplat-bench` with these arguments (`--quick`, `--out DIR`, `kamailio`).
    #[command(disable_help_flag = true)]
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The report's chapter 4 on the testbed and in the simulator, siplat's policies beside it: writes report.md.
    Reproduce(Reproduce),
    /// Fuzz the SIP scanner against the reference parser (libFuzzer, nightly); prints a summary.
    Fuzz(fuzz::Options),
}

#[derive(clap::Args)]
struct Reproduce {
    /// Skip `cargo xtask setup` (prerequisites already installed).
    #[arg(long)]
    no_setup: bool,
    #[command(flatten)]
    opts: reproduce::Options,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Setup(opts) => setup::run(&opts),
        Command::Build(opts) => build::run(&opts),
        Command::Test(opts) => test::run(&opts),
        Command::Testbed { args } => build::testbed(&args),
        Command::Panel { args } => build::panel(&args),
        Command::Manifests(opts) => manifests_check::run(&opts),
        Command::Demo(opts) => demo::run(&opts),
        Command::Bench { args } => bench::run(&args),
        Command::Fuzz(opts) => fuzz::run(&opts),
        Command::Reproduce(Reproduce { no_setup, opts }) => {
            if !no_setup {
                setup::run(&setup::Options { no_apt: false })?;
            }
            reproduce::run(&opts)
        }
    }
}
