//! The rendered custom resources against the upstream prometheus-operator CRD
//! schemas (`manifests/schemas/validate.mjs`, the check `cargo xtask
//! manifests` runs): the repository's pass, broken copies fail naming the
//! object and the field. Needs kubectl, node and the schema package that
//! `cargo xtask setup` installs, not root.

use std::{path::PathBuf, process::Command};

use serde_json::{Value as Json, json};
use serde_yaml::Value;
use testkit::manifests::{find, manifests_dir, render};

/// Where `cargo xtask setup` installs the schema package (as
/// manifests-check/src/crds.rs chooses it).
fn install_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME set")
        .join("siplat/crd-schemas")
}

fn is_custom(object: &Value) -> bool {
    object["apiVersion"]
        .as_str()
        .is_some_and(|a| a.starts_with("monitoring.coreos.com/"))
}

fn as_json(object: &Value) -> Json {
    serde_json::to_value(object).expect("rendered object as JSON")
}

/// Run the validator on `(source, object)` pairs: (success, stdout).
fn validate(name: &str, objects: &[(&str, Json)]) -> (bool, String) {
    let dir = install_dir();
    assert!(
        dir.join("node_modules/@kubernetes-models/prometheus-operator")
            .exists(),
        "CRD schema package not installed in {}: run `cargo xtask setup`",
        dir.display()
    );
    let entries: Vec<Json> = objects
        .iter()
        .map(|(source, object)| json!({ "source": source, "object": object }))
        .collect();
    let file = std::env::temp_dir().join(format!("siplat-crds-{name}-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(&entries).expect("JSON")).expect("write objects");
    let out = Command::new("node")
        .arg(manifests_dir().join("schemas/validate.mjs"))
        .arg(&dir)
        .arg(&file)
        .output()
        .expect("run node (Node.js is on the machine)");
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.trim().is_empty(), "validator stderr:\n{stderr}");
    (out.status.success(), stdout)
}

fn agent_podmonitor() -> Json {
    let objects = render("cluster");
    as_json(find(&objects, "PodMonitor", "siplat-agent").expect("agent PodMonitor"))
}

fn prometheus_rule() -> Json {
    let objects = render("cluster");
    as_json(
        objects
            .iter()
            .find(|o| o["kind"].as_str() == Some("PrometheusRule"))
            .expect("a PrometheusRule"),
    )
}

fn errors(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| l.starts_with("ERROR")).collect()
}

#[test]
fn repository_custom_resources_pass() {
    let mut objects = Vec::new();
    for overlay in ["cluster", "testbed", "testbed-only", "hpa-baseline"] {
        for object in render(overlay).iter().filter(|o| is_custom(o)) {
            objects.push((overlay, as_json(object)));
        }
    }
    let kinds: Vec<&str> = objects
        .iter()
        .filter_map(|(_, o)| o["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"PodMonitor") && kinds.contains(&"PrometheusRule"),
        "{kinds:?}"
    );
    let (ok, stdout) = validate("repository", &objects);
    assert!(ok, "repository custom resources rejected:\n{stdout}");
    assert!(
        stdout.contains(&format!("{} checked, 0 failed", objects.len())),
        "{stdout}"
    );
}

#[test]
fn podmonitor_with_wrong_type_fails_naming_field() {
    let mut broken = agent_podmonitor();
    // A mapping where the CRD wants a list of endpoints.
    let endpoint = broken["spec"]["podMetricsEndpoints"][0].clone();
    broken["spec"]["podMetricsEndpoints"] = endpoint;
    let (ok, stdout) = validate("wrong-type", &[("cluster", broken)]);
    assert!(!ok, "broken PodMonitor passed:\n{stdout}");
    assert_eq!(
        errors(&stdout),
        [
            "ERROR cluster: PodMonitor siplat-system/siplat-agent: /spec/podMetricsEndpoints: must be array"
        ],
        "{stdout}"
    );
    assert!(stdout.contains("1 checked, 1 failed"), "{stdout}");
}

#[test]
fn upstream_constraints_and_unknown_fields_fail() {
    let mut monitor = agent_podmonitor();
    let endpoint = &mut monitor["spec"]["podMetricsEndpoints"][0];
    endpoint["interval"] = json!("10 s");
    endpoint["relabelings"][0]["action"] = json!("rename");
    // Misspelt optional field: the schema alone would let the API server prune it.
    let timeout = endpoint["scrapeTimeout"].take();
    endpoint["scrapeTimout"] = timeout;
    let mut rule = prometheus_rule();
    let group = rule["spec"]["groups"][0].clone();
    rule["spec"]["groups"]
        .as_array_mut()
        .expect("groups list")
        .push(group);
    rule["spec"]["groups"][0]["rules"][0]["for"] = json!(60);
    let mut unknown_kind = agent_podmonitor();
    unknown_kind["kind"] = json!("PodMonitr");

    let (ok, stdout) = validate(
        "constraints",
        &[
            ("cluster", monitor),
            ("cluster", rule),
            ("cluster", unknown_kind),
        ],
    );
    assert!(!ok, "defective custom resources passed:\n{stdout}");
    for expected in [
        "PodMonitor siplat-system/siplat-agent: /spec/podMetricsEndpoints/0/interval: must match pattern",
        "/spec/podMetricsEndpoints/0/relabelings/0/action: must be equal to one of the allowed values (replace,",
        "/spec/podMetricsEndpoints/0/scrapeTimout: unknown field",
        "/spec/groups/0/rules/0/for: must be string",
        "/spec/groups: duplicate group name",
        "no upstream schema for monitoring.coreos.com/v1 PodMonitr",
    ] {
        assert!(
            stdout.contains(expected),
            "`{expected}` not reported:\n{stdout}"
        );
    }
    assert!(stdout.contains("2 checked, 3 failed"), "{stdout}");
}
