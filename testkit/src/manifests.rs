//! The Kubernetes manifests as the tests read them: rendered by kustomize
//! (what a cluster would be given, not the files one by one), and the pod
//! security settings imitated on the host for the root tests that run the
//! rendered commands.

use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// The repository's `manifests/`.
#[must_use]
pub fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests")
}

/// The objects `kubectl kustomize DIR` renders (the manifests checks'
/// own renderer).
#[must_use]
pub fn render_dir(dir: &Path) -> Vec<Value> {
    manifests_check::render::kustomize(dir)
        .unwrap_or_else(|e| panic!("{e:#}; CI runs `cargo xtask setup` first"))
        .1
}

/// The objects of manifests/overlays/NAME.
#[must_use]
pub fn render(overlay: &str) -> Vec<Value> {
    render_dir(&manifests_dir().join("overlays").join(overlay))
}

pub use manifests_check::render::find;

/// A sequence of strings as `&str`s (empty when absent).
#[must_use]
pub fn strings(v: &Value) -> Vec<&str> {
    v.as_sequence()
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// A command prefix that runs the rest under a read-only root filesystem,
/// as the pods' `readOnlyRootFilesystem: true`: a private mount namespace
/// where `/` and the usual writable mounts are remounted read-only and only
/// `scratch` (the stand-in for the pod's emptyDir volumes) stays writable.
#[must_use]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_rendered_objects_by_kind_and_name() {
        let objects = manifests_check::render::parse_documents(
            "kind: ConfigMap\nmetadata: {name: a}\ndata: {x: y}\n---\n---\nkind: DaemonSet\nmetadata: {name: a}\nargs: [--iface, 'veth*']\n",
        )
        .expect("parse");
        assert_eq!(objects.len(), 2);
        let ds = find(&objects, "DaemonSet", "a").expect("DaemonSet");
        assert_eq!(strings(&ds["args"]), ["--iface", "veth*"]);
        assert!(find(&objects, "DaemonSet", "b").is_none());
        assert!(strings(&ds["missing"]).is_empty());
        assert!(manifests_dir().join("overlays").is_dir());
        assert_eq!(
            read_only_root(Path::new("/s")).last().map(String::as_str),
            Some("/s")
        );
    }
}
