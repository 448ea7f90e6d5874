//! The testbed's shell scripts (shipped in a `ConfigMap`) at least parse, with
//! the shell their first line names: dash for `sh`, which is stricter.

use std::{path::Path, process::Command};

use anyhow::{Context as _, Result, bail};

pub fn check(manifests: &Path) -> Result<()> {
    let dir = manifests.join("testbed/scripts");
    let mut problems = Vec::new();
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).with_context(|| format!("read {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "sh") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let shell = if text.lines().next().is_some_and(|l| l.contains("bash")) {
            "bash"
        } else {
            "sh"
        };
        let output = Command::new(shell)
            .arg("-n")
            .arg(&path)
            .output()
            .with_context(|| format!("spawn {shell}"))?;
        count += 1;
        if !output.status.success() {
            problems.push(format!(
                "{shell} -n {}: {}",
                path.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
    }
    if count == 0 {
        bail!("no scripts in {}", dir.display());
    }
    if problems.is_empty() {
        return Ok(());
    }
    bail!("{}", problems.join("\n"))
}
