//! The rendered manifests keep the agent least-privileged and every other
//! workload unprivileged. Needs kubectl (kustomize), not root.

use std::path::PathBuf;

use serde_yaml::Value;
use testkit::manifests::{find, manifests_dir, render, render_dir, strings};

const AGENT_CAPS: [&str; 3] = ["BPF", "NET_ADMIN", "PERFMON"];

fn overlays() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(manifests_dir().join("overlays"))
        .expect("manifests/overlays exists")
        .map(|e| e.expect("dir entry").path())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no overlays");
    dirs
}

fn pod_spec(object: &Value) -> Option<&Value> {
    match object["kind"].as_str()? {
        "DaemonSet" | "Deployment" | "StatefulSet" | "Job" => {
            Some(&object["spec"]["template"]["spec"])
        }
        _ => None,
    }
}

fn containers(pod: &Value) -> Vec<&Value> {
    ["initContainers", "containers"]
        .iter()
        .filter_map(|k| pod[*k].as_sequence())
        .flatten()
        .collect()
}

#[test]
fn agent_daemonset_is_least_privileged_in_every_overlay() {
    let mut seen = 0;
    for dir in overlays() {
        let objects = render_dir(&dir);
        let Some(ds) = find(&objects, "DaemonSet", "siplat-agent") else {
            continue;
        };
        seen += 1;
        let pod = &ds["spec"]["template"]["spec"];
        assert_eq!(
            pod["hostNetwork"].as_bool(),
            Some(true),
            "agent needs the host netns to see pod veths"
        );
        for host in ["hostPID", "hostIPC"] {
            assert_ne!(pod[host].as_bool(), Some(true), "{}: {host}", dir.display());
        }
        let volumes = pod["volumes"]
            .as_sequence()
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert!(
            volumes.iter().all(|v| v["hostPath"].is_null()),
            "{}: hostPath volume",
            dir.display()
        );
        let all = containers(pod);
        assert!(!all.is_empty());
        for c in all {
            let name = c["name"].as_str().unwrap_or("?");
            let sc = &c["securityContext"];
            assert_ne!(
                sc["privileged"].as_bool(),
                Some(true),
                "{}: {name} privileged",
                dir.display()
            );
            assert_eq!(
                sc["allowPrivilegeEscalation"].as_bool(),
                Some(false),
                "{name}"
            );
            assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true), "{name}");
            assert_eq!(
                strings(&sc["capabilities"]["drop"]),
                ["ALL"],
                "{name} must drop ALL"
            );
            let mut added = strings(&sc["capabilities"]["add"]);
            added.sort_unstable();
            assert_eq!(
                added,
                AGENT_CAPS,
                "{}: {name} adds exactly BPF, NET_ADMIN, PERFMON",
                dir.display()
            );
        }
    }
    assert!(
        seen >= 3,
        "the agent is in the cluster and testbed overlays (saw {seen})"
    );
}

#[test]
fn no_workload_is_privileged_or_keeps_capabilities() {
    for dir in overlays() {
        for object in render_dir(&dir) {
            let Some(pod) = pod_spec(&object) else {
                continue;
            };
            let is_agent = object["metadata"]["name"].as_str() == Some("siplat-agent");
            for c in containers(pod) {
                let what = format!(
                    "{}: {} {}",
                    dir.display(),
                    object["metadata"]["name"].as_str().unwrap_or("?"),
                    c["name"].as_str().unwrap_or("?")
                );
                let sc = &c["securityContext"];
                assert_ne!(sc["privileged"].as_bool(), Some(true), "{what}");
                assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{what}");
                if !is_agent {
                    assert!(
                        strings(&sc["capabilities"]["add"]).is_empty(),
                        "{what} adds capabilities"
                    );
                    assert_ne!(
                        pod["hostNetwork"].as_bool(),
                        Some(true),
                        "{what} host network"
                    );
                }
                assert!(!c["resources"]["limits"].is_null(), "{what} has no limits");
            }
        }
    }
}

#[test]
fn scaler_may_only_scale_the_proxies_and_resize_their_pods() {
    let objects = render("testbed");
    let role = find(&objects, "Role", "siplat-scaler").expect("scaler Role");
    let rules = role["rules"].as_sequence().expect("rules");
    let rule = |resource: &str| {
        let matching: Vec<&Value> = rules
            .iter()
            .filter(|r| strings(&r["resources"]).contains(&resource))
            .collect();
        assert_eq!(matching.len(), 1, "one rule for {resource}: {rules:?}");
        assert_eq!(
            strings(&matching[0]["resources"]),
            [resource],
            "{resource} has a rule of its own"
        );
        matching[0]
    };
    assert_eq!(rules.len(), 3, "scale, pods, pods/resize: {rules:?}");
    let scale = rule("statefulsets/scale");
    assert_eq!(strings(&scale["apiGroups"]), ["apps"]);
    assert_eq!(strings(&scale["verbs"]), ["get", "patch"]);
    assert_eq!(
        strings(&scale["resourceNames"]),
        ["sip-proxy"],
        "scoped to the one StatefulSet"
    );
    // In-place resize: find the proxy pods and read their CPU, patch their
    // resize subresource; never the pods themselves.
    let pods = rule("pods");
    assert_eq!(strings(&pods["apiGroups"]), [""]);
    assert_eq!(strings(&pods["verbs"]), ["get", "list"]);
    let resize = rule("pods/resize");
    assert_eq!(strings(&resize["apiGroups"]), [""]);
    assert_eq!(strings(&resize["verbs"]), ["patch"]);
    assert_eq!(
        role["metadata"]["namespace"].as_str(),
        Some("siplat"),
        "the scaler's namespace"
    );
    let bindings: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            matches!(
                o["kind"].as_str(),
                Some("RoleBinding" | "ClusterRoleBinding")
            )
        })
        .filter(|b| {
            b["subjects"]
                .as_sequence()
                .into_iter()
                .flatten()
                .any(|s| s["name"].as_str() == Some("siplat-scaler"))
        })
        .collect();
    assert_eq!(
        bindings.len(),
        1,
        "the scaler has one binding: {bindings:?}"
    );
    assert_eq!(
        bindings[0]["kind"].as_str(),
        Some("RoleBinding"),
        "namespaced"
    );
    assert_eq!(
        bindings[0]["roleRef"]["name"].as_str(),
        Some("siplat-scaler")
    );
}

/// The agent's pod labels need the pods of its node from the API server:
/// read-only, pods only. Nothing else in any overlay is cluster-wide.
#[test]
fn only_cluster_wide_rights_are_the_agents_pod_reads() {
    let mut seen = 0;
    for dir in overlays() {
        let objects = render_dir(&dir);
        let what = dir.display();
        for role in objects
            .iter()
            .filter(|o| o["kind"].as_str() == Some("ClusterRole"))
        {
            seen += 1;
            assert_eq!(
                role["metadata"]["name"].as_str(),
                Some("siplat-agent"),
                "{what}"
            );
            let rules = role["rules"].as_sequence().expect("rules");
            assert_eq!(rules.len(), 1, "{what}: one rule: {rules:?}");
            let rule = &rules[0];
            assert_eq!(strings(&rule["apiGroups"]), [""], "{what}: core group");
            assert_eq!(strings(&rule["resources"]), ["pods"], "{what}");
            assert_eq!(
                strings(&rule["verbs"]),
                ["get", "list"],
                "{what}: read-only"
            );
            assert!(
                rule["nonResourceURLs"].is_null() && role["aggregationRule"].is_null(),
                "{what}: {role:?}"
            );
        }
        for binding in objects
            .iter()
            .filter(|o| o["kind"].as_str() == Some("ClusterRoleBinding"))
        {
            assert_eq!(
                binding["roleRef"]["kind"].as_str(),
                Some("ClusterRole"),
                "{what}"
            );
            assert_eq!(
                binding["roleRef"]["name"].as_str(),
                Some("siplat-agent"),
                "{what}: no built-in ClusterRole (view, cluster-admin) is bound"
            );
            let subjects = binding["subjects"].as_sequence().expect("subjects");
            assert_eq!(subjects.len(), 1, "{what}: {subjects:?}");
            assert_eq!(subjects[0]["kind"].as_str(), Some("ServiceAccount"));
            assert_eq!(subjects[0]["name"].as_str(), Some("siplat-agent"));
            assert_eq!(subjects[0]["namespace"].as_str(), Some("siplat-system"));
        }
        // A RoleBinding to a ClusterRole would reuse it namespaced; none does.
        assert!(
            objects
                .iter()
                .all(|o| o["kind"].as_str() != Some("RoleBinding")
                    || o["roleRef"]["kind"].as_str() == Some("Role")),
            "{what}: RoleBinding to a ClusterRole"
        );
        if let Some(ds) = find(&objects, "DaemonSet", "siplat-agent") {
            let pod = &ds["spec"]["template"]["spec"];
            assert_eq!(pod["serviceAccountName"].as_str(), Some("siplat-agent"));
            let node_name = pod["containers"][0]["env"]
                .as_sequence()
                .into_iter()
                .flatten()
                .find(|e| e["name"].as_str() == Some("SIPLAT_NODE_NAME"))
                .unwrap_or_else(|| panic!("{what}: agent without SIPLAT_NODE_NAME"));
            assert_eq!(
                node_name["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
                Some("spec.nodeName"),
                "{what}: the node name comes from the downward API"
            );
            assert!(
                find(&objects, "ClusterRoleBinding", "siplat-agent").is_some(),
                "{what}: the agent's pod reads are bound"
            );
        }
    }
    assert!(
        seen >= 3,
        "the agent's ClusterRole renders with the agent ({seen})"
    );
}

#[test]
fn proxy_defaults_match_the_report() {
    let objects = render("testbed");
    let sts = find(&objects, "StatefulSet", "sip-proxy").expect("sip-proxy StatefulSet");
    assert_eq!(
        sts["spec"]["podManagementPolicy"].as_str(),
        Some("Parallel")
    );
    let kamailio = containers(&sts["spec"]["template"]["spec"])
        .into_iter()
        .find(|c| c["name"].as_str() == Some("kamailio"))
        .expect("kamailio container");
    assert_eq!(kamailio["resources"]["limits"]["cpu"].as_str(), Some("30m"));
    // The scaler resizes CPU in place; a restart would lose the proxy's
    // transactions.
    assert_eq!(
        kamailio["resizePolicy"],
        serde_yaml::from_str::<Value>("[{resourceName: cpu, restartPolicy: NotRequired}]")
            .expect("yaml"),
        "CPU resizes without a restart"
    );
    assert_eq!(
        kamailio["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/ready")
    );
    let dmq = find(&objects, "Service", "sip-proxy-dmq").expect("DMQ service");
    assert_eq!(dmq["spec"]["clusterIP"].as_str(), Some("None"));
    assert_eq!(
        dmq["spec"]["publishNotReadyAddresses"].as_bool(),
        Some(true)
    );
}
