//! A command shaped like siplat's: every kind of option the binaries have.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    Auto,
    Manual,
}

/// Test options; the env names are unique to each test binary's use.
#[derive(Debug, Parser)]
#[command(name = "opts")]
pub struct Opts {
    /// The file.
    #[arg(long, env = "CLICONF_TEST_CONFIG")]
    pub config: Option<PathBuf>,
    /// A number.
    #[arg(long, env = "CLICONF_TEST_LEVEL", default_value = "1")]
    pub level: u32,
    /// A duration.
    #[arg(long, env = "CLICONF_TEST_WINDOW", default_value = "30s", value_parser = cliconf::parse_duration)]
    pub window: Duration,
    /// A list.
    #[arg(
        long,
        env = "CLICONF_TEST_PORT",
        value_delimiter = ',',
        default_value = "5060"
    )]
    pub port: Vec<u16>,
    /// A flag.
    #[arg(long, env = "CLICONF_TEST_XDP")]
    pub xdp: bool,
    /// A bool with a value.
    #[arg(long, env = "CLICONF_TEST_LABEL", default_value = "true", action = clap::ArgAction::Set)]
    pub label: bool,
    /// An enum.
    #[arg(long, env = "CLICONF_TEST_MODE", value_enum, default_value = "auto")]
    pub mode: Mode,
    /// Optional.
    #[arg(long, env = "CLICONF_TEST_NODE")]
    pub node: Option<String>,
}

/// A binary with subcommands, the file configuring one of them.
#[derive(Debug, Parser)]
#[command(name = "tool")]
pub struct Tool {
    #[command(subcommand)]
    pub command: ToolCommand,
}

#[derive(Debug, Subcommand)]
pub enum ToolCommand {
    /// Runs.
    Run(Box<RunArgs>),
    /// Does something else.
    Other {
        /// A number.
        #[arg(long, default_value = "3")]
        count: u32,
    },
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// A duration.
    #[arg(long, default_value = "15s", value_parser = cliconf::parse_duration)]
    pub interval: Duration,
    /// A list without a default.
    #[arg(long, value_delimiter = ',')]
    pub agents: Vec<String>,
    /// A number.
    #[arg(long, default_value = "10")]
    pub max_replicas: u32,
}

/// A config file of its own for each test.
pub fn write(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cliconf-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write");
    path
}

pub fn arg(path: &std::path::Path) -> &str {
    path.to_str().expect("utf8")
}
