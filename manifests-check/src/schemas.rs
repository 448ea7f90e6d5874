//! Schema validation of the built-in kinds with kubernetes-validate (it ships
//! the Kubernetes `OpenAPI` schemas, so no network); custom resources are
//! `crds.rs`'s.

use std::{path::Path, process::Command};

use anyhow::{Context as _, Result, bail};
use testbed::proc::render;

use super::{KUBERNETES_VERSION, render::Overlay};

/// Built-in API groups: core (""), dot-less groups (apps, batch,
/// autoscaling, policy) and *.k8s.io.
pub fn is_builtin(api_version: &str) -> bool {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    !group.contains('.') || group.ends_with(".k8s.io")
}

pub fn builtin(overlays: &[Overlay], out: &Path) -> Result<()> {
    let mut files = Vec::new();
    for overlay in overlays {
        let mut text = String::new();
        for object in overlay
            .objects
            .iter()
            .filter(|o| is_builtin(o["apiVersion"].as_str().unwrap_or("")))
        {
            text.push_str("---\n");
            text.push_str(&serde_yaml::to_string(object)?);
        }
        let path = out.join(format!("builtin-{}.yaml", overlay.name));
        std::fs::write(&path, text)?;
        files.push(path);
    }
    let mut cmd = Command::new("kubernetes-validate");
    cmd.args([
        "--kubernetes-version",
        KUBERNETES_VERSION,
        "--strict",
        "--quiet",
        "--no-warn",
    ])
    .args(&files);
    checked(&mut cmd)
}

/// Run `cmd`, passing its output through, failing with it on a non-zero exit.
pub fn checked(cmd: &mut Command) -> Result<()> {
    let output = cmd
        .output()
        .with_context(|| format!("spawn {}", render(cmd)))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!(
            "{} failed:\n{}{}",
            render(cmd),
            stdout.trim_end(),
            stderr.trim_end()
        );
    }
    for line in stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| !l.trim().is_empty())
    {
        eprintln!("     {line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_builtin;

    #[test]
    fn builtin_groups() {
        for api in [
            "v1",
            "apps/v1",
            "batch/v1",
            "autoscaling/v2",
            "rbac.authorization.k8s.io/v1",
            "networking.k8s.io/v1",
        ] {
            assert!(is_builtin(api), "{api}");
        }
        assert!(!is_builtin("monitoring.coreos.com/v1"));
    }
}
