//! The TOML file: each key is checked against the command's long flags and
//! each value against the argument's own clap parser, so a mistake is
//! reported with the file and the key rather than as a flag never typed.

use std::path::Path;

use clap::{Arg, ArgAction, Command, Id, error::ErrorKind};
use toml::Value;

use crate::{CONFIG_ARG, ConfigError};

/// The values a file gives one argument, as clap's raw strings.
pub(crate) struct Default {
    pub(crate) id: Id,
    pub(crate) values: Vec<String>,
}

/// Read the file at `path` and check it against `cmd` (built).
pub(crate) fn defaults(cmd: &Command, path: &Path) -> Result<Vec<Default>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let table: toml::Table = toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_path_buf(),
        source,
    })?;
    // One probe for all keys: the file must not be overridden by the
    // environment while it is checked.
    let probe = cmd
        .clone()
        .mut_args(|arg| arg.env(None))
        .subcommand_required(false)
        .arg_required_else_help(false);
    table
        .into_iter()
        .map(|(key, value)| {
            let Some(arg) = settable(cmd, &key) else {
                return Err(ConfigError::UnknownKey {
                    path: path.to_path_buf(),
                    key,
                });
            };
            let checked = raw_values(arg, &value).and_then(|values| {
                check(&probe, arg, &values)?;
                Ok(values)
            });
            match checked {
                Ok(values) => Ok(Default {
                    id: arg.get_id().clone(),
                    values,
                }),
                Err(message) => Err(ConfigError::Value {
                    path: path.to_path_buf(),
                    key,
                    message,
                }),
            }
        })
        .collect()
}

/// The option a key names: one of the command's own long flags (not one a
/// parent propagates, not help or version, not the file itself).
fn settable<'c>(cmd: &'c Command, key: &str) -> Option<&'c Arg> {
    cmd.get_arguments().find(|arg| {
        arg.get_long() == Some(key)
            && arg.get_id() != CONFIG_ARG
            && !arg.is_global_set()
            && matches!(
                arg.get_action(),
                ArgAction::Set | ArgAction::Append | ArgAction::SetTrue | ArgAction::SetFalse
            )
    })
}

/// A TOML value as the strings clap would have been given on the command
/// line: a list is one string per element, a flag takes `true` or `false`.
fn raw_values(arg: &Arg, value: &Value) -> Result<Vec<String>, String> {
    if matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
        return match value {
            Value::Boolean(b) => Ok(vec![b.to_string()]),
            _ => Err("expected true or false".to_owned()),
        };
    }
    match value {
        Value::Array(items) if matches!(arg.get_action(), ArgAction::Append) => {
            items.iter().map(scalar).collect()
        }
        Value::Array(_) => Err("takes one value, not a list".to_owned()),
        other => Ok(vec![scalar(other)?]),
    }
}

fn scalar(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Integer(i) => Ok(i.to_string()),
        Value::Float(f) => Ok(f.to_string()),
        Value::Boolean(b) => Ok(b.to_string()),
        Value::Datetime(_) | Value::Array(_) | Value::Table(_) => {
            Err("expected a string, a number, a boolean or a list of them".to_owned())
        }
    }
}

/// Run `values` through the argument's parser by giving them to `probe`
/// (the command without environment) as `--key=value`.
fn check(probe: &Command, arg: &Arg, values: &[String]) -> Result<(), String> {
    // Flags take no value on the command line; `raw_values` checked them.
    if matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse) {
        return Ok(());
    }
    let long = arg.get_long().unwrap_or_default();
    let argv = std::iter::once(probe.get_name().to_owned())
        .chain(values.iter().map(|v| format!("--{long}={v}")));
    match probe.clone().try_get_matches_from(argv) {
        // Other options being required is no fault of this value.
        Err(e)
            if !matches!(
                e.kind(),
                ErrorKind::MissingRequiredArgument | ErrorKind::MissingSubcommand
            ) =>
        {
            // clap's first paragraph (the message and possible values), without
            // its usage hint: the user wrote no flag.
            let text = e.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|line| !line.trim().is_empty())
                .map(str::trim)
                .collect();
            let message = message.join(" ");
            Err(message
                .strip_prefix("error: ")
                .unwrap_or(&message)
                .to_owned())
        }
        _ => Ok(()),
    }
}
