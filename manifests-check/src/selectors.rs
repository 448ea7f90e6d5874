//! The scaler's series selectors fit the agent beside it and are tested.
//! With `--placement host` the agent measures every SIP-carrying pod veth of
//! a node, so the scaler picks the proxies by the pod labels the agent adds
//! with `--pod-labels`. A selector on those labels with pod labels off (or
//! without the node name the agent then needs) matches nothing, and the
//! scaler would never see a P99: caught here per overlay, where a
//! `behavior: merge` can change either side. The queries the scaler builds
//! from the selectors must appear in the promtool tests
//! (`monitoring/rules/siplat.rules.test.yaml`), which show them leaving the
//! other pods out; a changed selector without a test fails here.

use std::path::Path;

use anyhow::{Context as _, Result, bail};

use super::render::{Overlay, container_env, find};

/// Labels the agent adds with `--pod-labels`.
const POD_LABELS: [&str; 2] = ["k8s_namespace", "k8s_pod"];
const RULES_TEST: &str = "monitoring/rules/siplat.rules.test.yaml";
/// The histogram the scaler's P99 query reads (`scaler/src/source/prometheus.rs`).
const LATENCY_BUCKETS: &str = "siplat_sip_latency_seconds_bucket";

pub fn check(manifests: &Path, overlays: &[Overlay]) -> Result<()> {
    let tests = std::fs::read_to_string(manifests.join(RULES_TEST))
        .with_context(|| format!("read {RULES_TEST}"))?;
    let mut problems = Vec::new();
    let mut checked = 0;
    for overlay in overlays {
        let Some(scaler) = find(&overlay.objects, "Deployment", "siplat-scaler") else {
            continue;
        };
        checked += 1;
        let name = &overlay.name;
        let env = container_env(scaler, &overlay.objects)?;
        let get = |key: &str| env.get(key).and_then(Option::as_deref);
        let (Some(selector), Some(rate_metric), Some(rate_selector)) = (
            get("SIPLAT_SCALER_SELECTOR"),
            get("SIPLAT_SCALER_RATE_METRIC"),
            get("SIPLAT_SCALER_RATE_SELECTOR"),
        ) else {
            problems.push(format!(
                "{name}: the scaler needs SIPLAT_SCALER_SELECTOR, _RATE_METRIC and _RATE_SELECTOR set: its defaults take every SIP pod of a node"
            ));
            continue;
        };
        for query in [
            format!("{LATENCY_BUCKETS}{{{selector}}}["),
            format!("{rate_metric}{{{rate_selector}}}["),
        ] {
            if !tests.contains(&query) {
                problems.push(format!(
                    "{name}: no promtool test in {RULES_TEST} queries `{query}`: test what the scaler's selector keeps and leaves out"
                ));
            }
        }
        let mut uses_pods = false;
        for s in [selector, rate_selector] {
            match promtext::selector::parse(s) {
                Ok(matchers) => {
                    uses_pods |= matchers
                        .iter()
                        .any(|m| POD_LABELS.contains(&m.label.as_str()));
                }
                Err(e) => problems.push(format!("{name}: {e}")),
            }
        }
        if uses_pods {
            problems.extend(agent_pod_labels(overlay));
        }
    }
    if checked == 0 {
        problems.push("no overlay renders the scaler".to_owned());
    }
    if problems.is_empty() {
        return Ok(());
    }
    bail!("{}", problems.join("\n"))
}

/// Problems with the agent's pod labels in an overlay whose scaler selects
/// by them.
fn agent_pod_labels(overlay: &Overlay) -> Vec<String> {
    let name = &overlay.name;
    let Some(agent) = find(&overlay.objects, "DaemonSet", "siplat-agent") else {
        return vec![format!(
            "{name}: the scaler selects by {POD_LABELS:?} but the overlay has no agent to add them"
        )];
    };
    let env = match container_env(agent, &overlay.objects) {
        Ok(env) => env,
        Err(e) => return vec![format!("{name}: agent env: {e:#}")],
    };
    let mut problems = Vec::new();
    if env.get("SIPLAT_POD_LABELS").cloned().flatten().as_deref() != Some("true") {
        problems.push(format!(
            "{name}: the scaler selects by {POD_LABELS:?}, so the agent needs SIPLAT_POD_LABELS=true"
        ));
    }
    if !env.contains_key("SIPLAT_NODE_NAME") {
        problems.push(format!(
            "{name}: SIPLAT_POD_LABELS needs SIPLAT_NODE_NAME (downward API spec.nodeName) in the agent's env"
        ));
    }
    problems
}
