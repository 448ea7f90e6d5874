//! Configuration layering for siplat's binaries: flag > environment > TOML
//! file > default, with every option declared once, as a clap derive field
//! (`long`, `env = "SIPLAT_..."`, default, doc comment).
//!
//! The file, named by the argument with id [`CONFIG_ARG`], uses the long
//! flag names as its keys. Its values become the arguments' defaults before
//! clap parses the command line a second time, so flags and environment
//! still win by clap's own rules, and clap's value parsers, `value_enum`
//! checks, delimiters and help are the only ones there are: a new option
//! needs no second list of names, and a key no option has is an error
//! rather than silently ignored.
//!
//! A hand-written helper rather than figment: figment would need a serde
//! struct mirroring the clap one (every option declared twice again) or a
//! second parser per value type, and would lose clap's messages.

mod cpu;
mod duration;
mod file;

use std::{ffi::OsString, path::PathBuf};

use clap::{ArgMatches, Command, Parser};
use thiserror::Error;

pub use crate::{
    cpu::{CpuError, MAX_CPU_MILLIS, parse_cpu_millis},
    duration::{DurationError, parse_duration},
};

/// Id of the argument naming the config file (`config: Option<PathBuf>`
/// with `long`, so `--config`); it belongs to the command whose options the
/// file sets.
pub const CONFIG_ARG: &str = "config";

#[derive(Debug, Error)]
pub enum ConfigError {
    /// Usage errors, `--help` and `--version`: `e.exit()` prints them as
    /// clap does.
    #[error(transparent)]
    Cli(#[from] clap::Error),
    #[error("read config file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parse config file {}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("config file {}: unknown key `{key}` (the keys are the long flag names)", path.display())]
    UnknownKey { path: PathBuf, key: String },
    #[error("config file {}: {key}: {message}", path.display())]
    Value {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// [`parse_from`] the process's command line.
pub fn parse<T: Parser>() -> Result<T, ConfigError> {
    parse_from(std::env::args_os())
}

/// Parse `args` (binary name first) into `T`, filling what neither a flag
/// nor the environment set from the config file.
///
/// The file belongs to the deepest subcommand on the command line (for
/// `siplat-scaler run --config f`, `run`), so an `Args` struct flattened
/// under a subcommand is configured like a top-level `Parser`.
pub fn parse_from<T, I, A>(args: I) -> Result<T, ConfigError>
where
    T: Parser,
    I: IntoIterator<Item = A>,
    A: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let matches = T::command().try_get_matches_from(&args)?;
    let (names, leaf) = deepest(&matches);
    let Some(path) = leaf
        .try_get_raw(CONFIG_ARG)
        .ok()
        .flatten()
        .and_then(|mut raw| raw.next())
        .map(PathBuf::from)
    else {
        return from_matches(&matches);
    };
    let mut built = T::command();
    built.build();
    let cmd = names.iter().fold(&built, |cmd, name| {
        cmd.find_subcommand(name)
            .expect("a matched subcommand is one of its parent's")
    });
    let defaults = file::defaults(cmd, &path)?;
    let matches = with_defaults(T::command(), &names, &defaults).try_get_matches_from(&args)?;
    from_matches(&matches)
}

fn from_matches<T: Parser>(matches: &ArgMatches) -> Result<T, ConfigError> {
    T::from_arg_matches(matches).map_err(|e| ConfigError::Cli(e.format(&mut T::command())))
}

/// The names of the subcommands on the command line, outermost first, and
/// the innermost one's matches.
fn deepest(matches: &ArgMatches) -> (Vec<String>, &ArgMatches) {
    let mut names = Vec::new();
    let mut leaf = matches;
    while let Some((name, sub)) = leaf.subcommand() {
        names.push(name.to_owned());
        leaf = sub;
    }
    (names, leaf)
}

/// `cmd` with the file's values as the defaults of the subcommand at `path`.
fn with_defaults(cmd: Command, path: &[String], defaults: &[file::Default]) -> Command {
    match path.split_first() {
        Some((name, rest)) => cmd.mut_subcommand(name, |sub| with_defaults(sub, rest, defaults)),
        None => defaults.iter().fold(cmd, |cmd, d| {
            cmd.mut_arg(&d.id, |arg| arg.default_values(d.values.clone()))
        }),
    }
}
