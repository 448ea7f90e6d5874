//! `cargo xtask manifests` passes on the repository and fails, naming the
//! problem, on a copy with known defects. Needs kubectl, kubernetes-validate,
//! checkov, kamailio, promtool and the CRD schema package (installed by
//! `cargo xtask setup`), not root.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn xtask_manifests(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("manifests")
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("run xtask manifests")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read file to edit");
    assert!(
        text.contains(from),
        "{} does not contain {from:?}",
        path.display()
    );
    std::fs::write(path, text.replacen(from, to, 1)).expect("write edit");
}

/// Removes the scratch folder also when an assertion fails.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn repository_manifests_validate() {
    let out = xtask_manifests(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "cargo xtask manifests failed:\n{stderr}"
    );
    for step in [
        "kubernetes-validate",
        "upstream prometheus-operator CRD schemas",
        "checkov",
        "kamailio -c",
        "promtool",
        "metric names",
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("ok ") && l.contains(step)),
            "step `{step}` not reported ok:\n{stderr}"
        );
    }
}

#[test]
fn defects_are_reported() {
    let scratch =
        Scratch(std::env::temp_dir().join(format!("siplat-manifests-{}", std::process::id())));
    let copy = scratch.0.join("manifests");
    copy_dir(&workspace().join("manifests"), &copy);
    // A metric nobody exports.
    edit(
        &copy.join("monitoring/grafana/siplat-dashboard.json"),
        "siplat_scaler_desired_replicas",
        "siplat_scaler_wanted_replicas",
    );
    // A checkov skip without its reason.
    let checkov = copy.join("checkov.yaml");
    let text = std::fs::read_to_string(&checkov).expect("checkov.yaml");
    let line = text
        .lines()
        .find(|l| l.contains("- CKV_K8S_43"))
        .expect("CKV_K8S_43 skip")
        .to_owned();
    edit(&checkov, &line, "  - CKV_K8S_43");
    // A misspelt PodMonitor field.
    edit(
        &copy.join("agent/podmonitor.yaml"),
        "scrapeTimeout:",
        "scrapeTimout:",
    );
    // The alert threshold changed in one of the two rule copies only.
    edit(
        &copy.join("monitoring/rules/siplat.rules.yaml"),
        "p99_1m > 1",
        "p99_1m > 2",
    );
    // An env reference the kubelet would leave unexpanded.
    edit(
        &copy.join("testbed/sip-proxy.yaml"),
        "DMQ_SERVER=\"sip:$(POD_IP)",
        "DMQ_SERVER=\"sip:$(MY_IP)",
    );

    // A misspelt agent setting (the agent would silently ignore it).
    edit(
        &copy.join("agent/agent.env"),
        "SIPLAT_WINDOW=",
        "SIPLAT_WINDOWS=",
    );
    // Pod labels off while the scaler selects the proxies by pod.
    edit(
        &copy.join("agent/agent.env"),
        "SIPLAT_POD_LABELS=true",
        "SIPLAT_POD_LABELS=false",
    );
    // A scaler selector no promtool test exercises.
    edit(
        &copy.join("scaler/scaler.env"),
        "SIPLAT_SCALER_SELECTOR=method=\"INVITE\",kind!=\"round_trip\",k8s_namespace=\"siplat\",",
        "SIPLAT_SCALER_SELECTOR=method=\"INVITE\",kind!=\"round_trip\",",
    );

    let out_dir = scratch.0.join("out");
    let out = xtask_manifests(&[
        "--dir",
        copy.to_str().expect("utf-8 path"),
        "--out",
        out_dir.to_str().expect("utf-8 path"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "defective manifests passed:\n{stderr}"
    );
    for expected in [
        "siplat_scaler_wanted_replicas",
        "`CKV_K8S_43` has no reason comment",
        "PodMonitor siplat-system/siplat-agent: /spec/podMetricsEndpoints/0/scrapeTimout: unknown field",
        "spec differs",
        "FAIL promtool",
        "$(MY_IP), which the container env does not declare",
        "SIPLAT_WINDOWS is not an environment variable of agent",
        "no promtool test in monitoring/rules/siplat.rules.test.yaml queries `siplat_sip_latency_seconds_bucket{method=\"INVITE\",kind!=\"round_trip\",k8s_pod=~\"sip-proxy-.+\"}[`",
        "testbed: the scaler selects by [\"k8s_namespace\", \"k8s_pod\"], so the agent needs SIPLAT_POD_LABELS=true",
    ] {
        assert!(
            stderr.contains(expected),
            "`{expected}` not reported:\n{stderr}"
        );
    }
    // Steps unaffected by the defects still pass.
    assert!(stderr.contains("ok   kubernetes-validate"), "{stderr}");
}
