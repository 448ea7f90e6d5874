//! checkov on the rendered overlays, and the rule that every skipped check
//! carries a written reason (manifests/checkov.yaml or the resource's
//! `checkov.io/skipN` annotation).

use std::{path::Path, process::Command};

use anyhow::{Context as _, Result, bail};

use super::{render::Overlay, schemas::checked};

/// A reason shorter than this is a placeholder, not a justification.
const MIN_REASON: usize = 20;

pub fn run(manifests: &Path, rendered: &Path) -> Result<()> {
    let mut cmd = Command::new("checkov");
    cmd.arg("--config-file")
        .arg(manifests.join("checkov.yaml"))
        .arg("--directory")
        .arg(rendered)
        // Offline: no version check, no guideline download.
        .env("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
        .env("BC_SKIP_MAPPING", "TRUE")
        .env("CHECKOV_NO_UPDATE_CHECK", "1");
    checked(&mut cmd)
}

pub fn audit_skips(manifests: &Path, overlays: &[Overlay]) -> Result<()> {
    let config =
        std::fs::read_to_string(manifests.join("checkov.yaml")).context("read checkov.yaml")?;
    let mut problems = config_skips_without_reason(&config);
    for overlay in overlays {
        for object in &overlay.objects {
            let Some(annotations) = object["metadata"]["annotations"].as_mapping() else {
                continue;
            };
            for (key, value) in annotations {
                let (Some(key), Some(value)) = (key.as_str(), value.as_str()) else {
                    continue;
                };
                if key.starts_with("checkov.io/skip") && !annotation_has_reason(value) {
                    problems.push(format!(
                        "{}: {} {key}: `{value}` needs the form CKV_ID=reason (reason >= {MIN_REASON} chars, no '=')",
                        overlay.name,
                        super::render::describe(object)
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    bail!("{}", problems.join("\n"))
}

/// `skip-check` entries of checkov.yaml lacking a `# reason` on their line.
fn config_skips_without_reason(config: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut in_skips = false;
    for line in config.lines() {
        let trimmed = line.trim_start();
        if !line.starts_with(' ')
            && !line.starts_with('-')
            && !trimmed.starts_with('#')
            && !trimmed.is_empty()
        {
            in_skips = trimmed.starts_with("skip-check:");
            continue;
        }
        if in_skips && let Some(entry) = trimmed.strip_prefix("- ") {
            let reason = entry.split_once('#').map_or("", |(_, r)| r.trim());
            if reason.len() < MIN_REASON {
                problems.push(format!(
                    "checkov.yaml: `{}` has no reason comment",
                    entry.trim()
                ));
            }
        }
    }
    problems
}

fn annotation_has_reason(value: &str) -> bool {
    match value.split_once('=') {
        Some((id, reason)) => {
            id.starts_with("CKV") && !reason.contains('=') && reason.trim().len() >= MIN_REASON
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{annotation_has_reason, config_skips_without_reason};

    #[test]
    fn config_skip_needs_comment() {
        let config = "framework:\n  - kubernetes\nskip-check:\n  - CKV_K8S_15 # pull policy: tags pinned, registry round trip slows scale-out\n  - CKV_K8S_43\nquiet: true\n";
        let problems = config_skips_without_reason(config);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("CKV_K8S_43"));
    }

    #[test]
    fn annotation_reason() {
        assert!(annotation_has_reason(
            "CKV_K8S_19=hostNetwork is how the agent sees pod veths"
        ));
        assert!(!annotation_has_reason("CKV_K8S_19"));
        assert!(!annotation_has_reason("CKV_K8S_19=ok"));
        // checkov itself crashes on a second '='.
        assert!(!annotation_has_reason(
            "CKV_K8S_19=reason with a=b inside it, long enough"
        ));
    }
}
