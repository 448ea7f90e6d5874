//! Helpers shared by the manifests tests: rendering overlays, finding
//! objects, and the namespace/read-only-root harness of the root tests.
#![allow(dead_code, reason = "each test binary uses a part of these helpers")]

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use serde::Deserialize as _;
use serde_yaml::Value;

pub fn manifests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../manifests")
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The objects `kubectl kustomize DIR` renders.
pub fn render_dir(dir: &Path) -> Vec<Value> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("kubectl not runnable ({e}): install kubectl (kustomize is built in); CI runs `cargo xtask setup` first")
        });
    assert!(
        output.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("rendered YAML parses"))
        .filter(|v| !v.is_null())
        .collect()
}

/// The objects of manifests/overlays/NAME.
pub fn render(overlay: &str) -> Vec<Value> {
    render_dir(&manifests_dir().join("overlays").join(overlay))
}

pub fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objects
        .iter()
        .find(|o| o["kind"].as_str() == Some(kind) && o["metadata"]["name"].as_str() == Some(name))
}

/// A sequence of strings as `&str`s (empty when absent).
pub fn strings(v: &Value) -> Vec<&str> {
    v.as_sequence()
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Runs a command under a read-only root filesystem, as the pods'
/// `readOnlyRootFilesystem: true`: a private mount namespace where `/` and the
/// usual writable mounts are remounted read-only and only `scratch` (the
/// stand-in for the pod's emptyDir volumes) stays writable.
pub fn read_only_root(scratch: &Path) -> Vec<String> {
    let script = "mount --bind \"$0\" \"$0\" && for m in / /run /tmp /var /etc /home /root; do \
                  if mountpoint -q \"$m\"; then mount -o remount,bind,ro \"$m\" || exit 1; fi; done \
                  && exec \"$@\"";
    [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([scratch.display().to_string()])
    .collect()
}

pub fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Stdout of `argv` run in network namespace `ns` (empty on failure).
pub fn ns_output(ns: &str, argv: &[&str]) -> String {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .args(argv)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}
