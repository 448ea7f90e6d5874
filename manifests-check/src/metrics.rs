//! Every metric name the rules and the Grafana dashboard query must exist:
//! in the agent's real exposition (built and printed by the agent's
//! `metrics_exposition` example), in monitoring/known-metrics.txt (scaler,
//! kube-state-metrics, cAdvisor) or as a recording rule defined earlier.

use std::{collections::BTreeSet, path::Path};

use anyhow::{Context as _, Result, bail};
use promtext::promql::metric_names;
use serde_json::Value;
use testbed::proc::cargo;

use super::rules::rule_exprs;

const DASHBOARD: &str = "monitoring/grafana/siplat-dashboard.json";
const KNOWN: &str = "monitoring/known-metrics.txt";
const SCALER_ENV: &str = "scaler/scaler.env";

pub fn check(manifests: &Path) -> Result<()> {
    let agent = agent_metric_names()?;
    let known = known_names(
        &std::fs::read_to_string(manifests.join(KNOWN)).context("read known-metrics.txt")?,
    );
    let rules = rule_exprs(manifests)?;
    let mut dashboard_exprs = dashboard_exprs(manifests)?;
    dashboard_exprs.extend(scaler_queries(manifests)?);

    let mut allowed: BTreeSet<String> = agent.union(&known).cloned().collect();
    let mut problems = Vec::new();
    // A recording rule may use the ones recorded before it, in file order.
    for (record, expr) in &rules {
        for name in metric_names(expr) {
            if !allowed.contains(&name) {
                problems.push(format!(
                    "rules: `{name}` is not exported (in `{}`)",
                    one_line(expr)
                ));
            }
        }
        if let Some(record) = record {
            allowed.insert(record.clone());
        }
    }
    if dashboard_exprs.is_empty() {
        problems.push("dashboard: no PromQL found".into());
    }
    for expr in &dashboard_exprs {
        for name in metric_names(expr) {
            if !allowed.contains(&name) {
                problems.push(format!(
                    "dashboard: `{name}` is not exported (in `{}`)",
                    one_line(expr)
                ));
            }
        }
    }
    eprintln!(
        "     {} agent metric names, {} known, {} recording rules; {} rule and {} dashboard/scaler expressions",
        agent.len(),
        known.len(),
        rules.iter().filter(|(r, _)| r.is_some()).count(),
        rules.len(),
        dashboard_exprs.len()
    );
    if problems.is_empty() {
        return Ok(());
    }
    bail!("{}", problems.join("\n"))
}

fn one_line(expr: &str) -> String {
    expr.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Names in the agent's real /metrics text. Built in its own target folder
/// with the stub kernel object (`AYA_BUILD_SKIP=1`): no bpf-linker needed, and
/// the workspace's real agent build is not flipped to the stub. Shared by
/// every run (also runs on copies with --out), so it builds once.
fn agent_metric_names() -> Result<BTreeSet<String>> {
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--quiet",
        "-p",
        "agent",
        "--example",
        "metrics_exposition",
    ])
    .env("AYA_BUILD_SKIP", "1")
    .env(
        "CARGO_TARGET_DIR",
        super::target_dir().join("xtask-manifests-agent"),
    );
    eprintln!("     + {}", testbed::proc::render(&cmd));
    let output = cmd.output().context("spawn cargo run metrics_exposition")?;
    if !output.status.success() {
        bail!(
            "agent metrics_exposition failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let names = exposition_names(&String::from_utf8_lossy(&output.stdout));
    if names.is_empty() {
        bail!("agent metrics_exposition printed no metrics");
    }
    Ok(names)
}

/// Sample names of a Prometheus text exposition.
pub fn exposition_names(text: &str) -> BTreeSet<String> {
    promtext::parse(text).into_iter().map(|s| s.name).collect()
}

fn known_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `PromQL` the scaler is configured with (`SIPLAT_SCALER_*_QUERY` in its env file).
fn scaler_queries(manifests: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(manifests.join(SCALER_ENV)).context("read scaler.env")?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("SIPLAT_SCALER_") && k.ends_with("_QUERY"))
        .map(|(_, v)| v.to_owned())
        .collect())
}

/// Every `expr` string anywhere in the dashboard (panels, rows, templating).
fn dashboard_exprs(manifests: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(manifests.join(DASHBOARD)).context("read dashboard")?;
    let json: Value = serde_json::from_str(&text).context("dashboard is not valid JSON")?;
    let mut exprs = Vec::new();
    collect_exprs(&json, &mut exprs);
    Ok(exprs)
}

fn collect_exprs(value: &Value, exprs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr", Value::String(s)) => exprs.push(s.clone()),
                    _ => collect_exprs(v, exprs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, exprs)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::{exposition_names, known_names};

    #[test]
    fn exposition_lines() {
        let text = "# HELP a_total x\n# TYPE a_total counter\na_total{r=\"x\"} 1\nb 2\nh_bucket{le=\"+Inf\"} 3\n";
        let names: Vec<String> = exposition_names(text).into_iter().collect();
        assert_eq!(names, ["a_total", "b", "h_bucket"]);
    }

    #[test]
    fn known_list_comments() {
        let names: Vec<String> = known_names("# head\n\nup   # prometheus\nx_total\n")
            .into_iter()
            .collect();
        assert_eq!(names, ["up", "x_total"]);
    }
}
