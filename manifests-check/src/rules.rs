//! Prometheus rules: the `PrometheusRule` and the plain rule file say the same,
//! promtool accepts them and their unit tests (the alert firing and not
//! firing) pass; the plain scrape config parses.

use std::{path::Path, process::Command};

use anyhow::{Context as _, Result, bail, ensure};
use serde_yaml::Value;

use super::schemas::checked;

pub const RULES: &str = "monitoring/rules/siplat.rules.yaml";
const RULES_TEST: &str = "monitoring/rules/siplat.rules.test.yaml";
const PROMETHEUS_RULE: &str = "monitoring/prometheusrule.yaml";
const SCRAPE_CONFIG: &str = "monitoring/prometheus/prometheus.yml";

pub fn load_yaml(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    serde_yaml::from_str(&text).with_context(|| format!("parse {}", path.display()))
}

pub fn same_as_plain(manifests: &Path) -> Result<()> {
    let plain = load_yaml(&manifests.join(RULES))?;
    let crd = load_yaml(&manifests.join(PROMETHEUS_RULE))?;
    ensure!(
        crd["spec"] == plain,
        "{PROMETHEUS_RULE} spec differs from {RULES}: edit both together"
    );
    Ok(())
}

pub fn promtool(manifests: &Path) -> Result<()> {
    checked(
        Command::new("promtool")
            .args(["check", "rules"])
            .arg(manifests.join(RULES)),
    )?;
    // rule_files in the test are relative to the test file.
    let test = manifests.join(RULES_TEST);
    let dir = test.parent().context("rules test folder")?;
    checked(
        Command::new("promtool")
            .current_dir(dir)
            .args(["test", "rules"])
            .arg(test.file_name().context("rules test file name")?),
    )
}

/// Debian's promtool has no Kubernetes service discovery, so `promtool
/// check config` rejects any in-cluster config; check its shape instead.
pub fn scrape_config_parses(manifests: &Path) -> Result<()> {
    let config = load_yaml(&manifests.join(SCRAPE_CONFIG))?;
    let jobs = config["scrape_configs"]
        .as_sequence()
        .context("prometheus.yml has no scrape_configs list")?;
    let mut names: Vec<&str> = jobs.iter().filter_map(|j| j["job_name"].as_str()).collect();
    ensure!(
        names.len() == jobs.len(),
        "every scrape config needs a job_name"
    );
    names.sort_unstable();
    names.dedup();
    if names.len() != jobs.len() {
        bail!("duplicate job_name in prometheus.yml");
    }
    Ok(())
}

/// (recorded name if a recording rule, expr) of the plain rule file, in order.
pub fn rule_exprs(manifests: &Path) -> Result<Vec<(Option<String>, String)>> {
    let plain = load_yaml(&manifests.join(RULES))?;
    let mut rules = Vec::new();
    for group in plain["groups"].as_sequence().context("rules: no groups")? {
        for rule in group["rules"]
            .as_sequence()
            .context("rules: group without rules")?
        {
            let expr = rule["expr"]
                .as_str()
                .context("rule without expr")?
                .to_owned();
            rules.push((rule["record"].as_str().map(str::to_owned), expr));
        }
    }
    Ok(rules)
}
