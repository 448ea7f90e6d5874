//! Custom resources against the upstream prometheus-operator CRD schemas.
//!
//! CI reaches package registries only, so the schemas come from the npm
//! package pinned in `manifests/schemas/package-lock.json`
//! (@kubernetes-models/prometheus-operator, generated from the operator's
//! released CRDs). `cargo xtask setup` installs it once into a cache folder
//! outside the work tree, so a fresh clone or another target dir reuses it.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, Result, bail};
use serde_json::json;
use testbed::proc::{exec, workspace_root};

use super::{
    render::{Overlay, describe},
    schemas,
};

const LOCK: &str = "package-lock.json";
/// Copy of the lock `npm ci` last completed with: the install is current
/// when it equals the repository's lock.
const INSTALLED_LOCK: &str = "installed-package-lock.json";

/// `$XDG_CACHE_HOME/siplat/crd-schemas`, else `~/.cache/siplat/crd-schemas`.
fn install_dir() -> Result<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .context("neither XDG_CACHE_HOME nor HOME is set: no cache folder for the CRD schemas")?;
    Ok(cache.join("siplat/crd-schemas"))
}

fn is_current(dir: &Path, lock: &[u8]) -> bool {
    std::fs::read(dir.join(INSTALLED_LOCK)).is_ok_and(|installed| installed == lock)
}

/// Install the pinned schema package with `npm ci` unless the cache already
/// holds exactly the pinned lock.
pub fn install() -> Result<()> {
    let src = workspace_root().join("manifests/schemas");
    let lock =
        std::fs::read(src.join(LOCK)).with_context(|| format!("read {}/{LOCK}", src.display()))?;
    let dir = install_dir()?;
    if is_current(&dir, &lock) {
        return Ok(());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let _ = std::fs::remove_file(dir.join(INSTALLED_LOCK));
    std::fs::copy(src.join("package.json"), dir.join("package.json"))?;
    std::fs::write(dir.join(LOCK), &lock)?;
    exec(
        Command::new("npm")
            .args([
                "ci",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ])
            .current_dir(&dir),
    )?;
    std::fs::write(dir.join(INSTALLED_LOCK), &lock)?;
    Ok(())
}

/// Validate every custom resource of every overlay with
/// `manifests/schemas/validate.mjs` (why it checks what it does: its header).
pub fn validate(manifests: &Path, overlays: &[Overlay], out: &Path) -> Result<()> {
    let src = manifests.join("schemas");
    let lock =
        std::fs::read(src.join(LOCK)).with_context(|| format!("read {}/{LOCK}", src.display()))?;
    let dir = install_dir()?;
    if !is_current(&dir, &lock) {
        bail!(
            "the CRD schema package pinned in {}/{LOCK} is not installed in {}: run `cargo xtask setup`",
            src.display(),
            dir.display()
        );
    }
    let mut entries = Vec::new();
    for overlay in overlays {
        for object in overlay
            .objects
            .iter()
            .filter(|o| !schemas::is_builtin(o["apiVersion"].as_str().unwrap_or("")))
        {
            let object = serde_json::to_value(object)
                .with_context(|| format!("{}: {} as JSON", overlay.name, describe(object)))?;
            entries.push(json!({ "source": overlay.name, "object": object }));
        }
    }
    if entries.is_empty() {
        bail!("no custom resources rendered: expected the PodMonitors and the PrometheusRule");
    }
    let objects = out.join("custom-resources.json");
    std::fs::write(&objects, serde_json::to_vec(&entries)?)?;
    schemas::checked(
        Command::new("node")
            .arg(src.join("validate.mjs"))
            .arg(&dir)
            .arg(&objects),
    )
}
