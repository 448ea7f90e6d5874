//! The agent's, the scaler's, the panel's and the callers' configuration in
//! the manifests names real options: every `SIPLAT_*` key of their `ConfigMaps` and env, and every
//! `--flag` in their args, appears in the binary's own `--help`.

use std::collections::BTreeSet;

use anyhow::{Context as _, Result, bail};
use serde_yaml::Value;
use testbed::proc::cargo;

use super::render::{Overlay, container_env, describe, find};

/// (workload kind, name, package, binary args before `--help`, env prefix)
const WORKLOADS: &[(&str, &str, &str, &[&str], &str)] = &[
    (
        "DaemonSet",
        "siplat-agent",
        "agent",
        &["--bin", "siplat-agent", "--"],
        "SIPLAT_",
    ),
    (
        "Deployment",
        "siplat-scaler",
        "scaler",
        &["--bin", "siplat-scaler", "--", "run"],
        "SIPLAT_SCALER_",
    ),
    (
        "Deployment",
        "sipp-callers",
        "testbed",
        &["--bin", "siplat-testbed", "--", "caller"],
        "SIPLAT_CALLER_",
    ),
    (
        "Deployment",
        "siplat-panel",
        "testbed",
        &["--bin", "siplat-testbed", "--", "panel"],
        "SIPLAT_PANEL_",
    ),
];

pub fn check(overlays: &[Overlay]) -> Result<()> {
    let mut problems = Vec::new();
    for (kind, name, package, args, prefix) in WORKLOADS {
        let Some((overlay, object)) = overlays
            .iter()
            .find_map(|o| find(&o.objects, kind, name).map(|obj| (o, obj)))
        else {
            problems.push(format!("no overlay renders {kind}/{name}"));
            continue;
        };
        let help = match help_text(package, args) {
            Ok(help) => help,
            Err(e) => {
                problems.push(format!("{package} --help: {e:#}"));
                continue;
            }
        };
        let (keys, flags) = configured(object, &overlay.objects, prefix)?;
        let known_env = help_env_names(&help);
        for key in keys.iter().filter(|k| !known_env.contains(*k)) {
            problems.push(format!(
                "{}: {key} is not an environment variable of {package}",
                describe(object)
            ));
        }
        for flag in flags.iter().filter(|f| !help.contains(f.as_str())) {
            problems.push(format!(
                "{}: {flag} is not a flag of {package}",
                describe(object)
            ));
        }
        eprintln!(
            "     {}: {} env keys, {} flags known to {package}",
            describe(object),
            keys.len(),
            flags.len()
        );
    }
    if problems.is_empty() {
        return Ok(());
    }
    bail!("{}", problems.join("\n"))
}

/// `--help` of a workspace binary, built like the agent's exposition (own
/// target folder, stub kernel object).
fn help_text(package: &str, args: &[&str]) -> Result<String> {
    let mut cmd = cargo();
    cmd.args(["run", "--quiet", "-p", package])
        .args(args)
        .arg("--help")
        .env("AYA_BUILD_SKIP", "1")
        .env(
            "CARGO_TARGET_DIR",
            super::target_dir().join("xtask-manifests-agent"),
        );
    let output = cmd
        .output()
        .with_context(|| format!("spawn {}", testbed::proc::render(&cmd)))?;
    // The agent reports clap's help as an error (exit 1, text on stderr):
    // take the text from either stream, fail only without a usage text.
    let text = [output.stdout, output.stderr]
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect::<String>();
    if text.contains("unrecognized subcommand") || !text.contains("Options:") {
        bail!("{}", text.trim());
    }
    Ok(text)
}

/// The `[env: NAME=...]` names clap prints.
fn help_env_names(help: &str) -> BTreeSet<String> {
    help.split("env: ")
        .skip(1)
        .filter_map(|rest| rest.split(['=', ']', ' ', ',']).next())
        .map(str::to_owned)
        .collect()
}

/// (env keys with `prefix` from `envFrom` `ConfigMaps` and env, `--flags` in args).
fn configured(
    object: &Value,
    objects: &[Value],
    prefix: &str,
) -> Result<(BTreeSet<String>, BTreeSet<String>)> {
    let container = &object["spec"]["template"]["spec"]["containers"][0];
    let keys = container_env(object, objects)?
        .into_keys()
        .filter(|k| k.starts_with(prefix))
        .collect();
    let flags = container["args"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|a| a.starts_with("--"))
        .map(|a| a.split('=').next().unwrap_or(a).to_owned())
        .collect();
    Ok((keys, flags))
}

#[cfg(test)]
mod tests {
    use super::help_env_names;

    #[test]
    fn clap_env_annotations() {
        let help = "  --iface <IFACE>  x [env: SIPLAT_IFACE=] [default: eth*]\n  --xdp  y [env: SIPLAT_XDP]\n";
        let names: Vec<String> = help_env_names(help).into_iter().collect();
        assert_eq!(names, ["SIPLAT_IFACE", "SIPLAT_XDP"]);
    }
}
