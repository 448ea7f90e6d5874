//! The external tools the validation needs, found before anything runs so a
//! missing one fails at once with what to install.

use std::process::Command;

use anyhow::{Result, bail};
use testbed::proc::succeeds;

/// (probe command, what provides it).
const TOOLS: &[(&[&str], &str)] = &[
    (
        &["kubectl", "version", "--client"],
        "kubectl (Kubernetes client with kustomize)",
    ),
    (
        &["kubernetes-validate", "--version"],
        "PyPI kubernetes-validate (`cargo xtask setup`)",
    ),
    (
        &["checkov", "--version"],
        "PyPI checkov (`cargo xtask setup`)",
    ),
    (
        &["node", "--version"],
        "Node.js with npm (on the machine; runs the upstream CRD schema validators)",
    ),
    (&["kamailio", "-v"], "Debian kamailio (`cargo xtask setup`)"),
    (
        &["promtool", "--version"],
        "Debian prometheus (`cargo xtask setup`)",
    ),
];

pub fn require_all() -> Result<()> {
    let missing: Vec<&str> = TOOLS
        .iter()
        .filter(|(cmd, _)| !succeeds(Command::new(cmd[0]).args(&cmd[1..])))
        .map(|(_, what)| *what)
        .collect();
    if !missing.is_empty() {
        bail!(
            "missing tools for manifest validation: {}",
            missing.join(", ")
        );
    }
    Ok(())
}
