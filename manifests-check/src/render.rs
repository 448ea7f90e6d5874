//! Render every overlay with `kubectl kustomize` and parse the output.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, Result, bail};
use serde::Deserialize as _;
use serde_yaml::Value;

/// One rendered overlay: its name and objects. The output also goes to
/// `<out>/<name>.yaml`, the folder checkov scans.
pub struct Overlay {
    pub name: String,
    pub objects: Vec<Value>,
}

/// Every folder under overlays/ is an overlay; each must render.
pub fn all(manifests: &Path, out: &Path) -> Result<Vec<Overlay>> {
    std::fs::create_dir_all(out)?;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(manifests.join("overlays"))
        .with_context(|| format!("read {}/overlays", manifests.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("kustomization.yaml").exists())
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        bail!("no overlays under {}/overlays", manifests.display());
    }
    let mut overlays = Vec::new();
    let mut errors = Vec::new();
    for dir in dirs {
        match render(&dir, out) {
            Ok(o) => overlays.push(o),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
    Ok(overlays)
}

fn render(dir: &Path, out: &Path) -> Result<Overlay> {
    let name = dir
        .file_name()
        .context("overlay folder name")?
        .to_string_lossy()
        .into_owned();
    let (text, objects) = kustomize(dir).with_context(|| format!("render {name}"))?;
    std::fs::write(out.join(format!("{name}.yaml")), &text)?;
    Ok(Overlay { name, objects })
}

/// What `kubectl kustomize DIR` renders: the text and its objects (what a
/// cluster would be given, not the files one by one).
pub fn kustomize(dir: &Path) -> Result<(String, Vec<Value>)> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .context("spawn kubectl kustomize (install kubectl: kustomize is built in)")?;
    if !output.status.success() {
        bail!(
            "kubectl kustomize {}: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8(output.stdout).context("kustomize output is not UTF-8")?;
    let objects = parse_documents(&text).context("parse the rendered YAML")?;
    Ok((text, objects))
}

/// The non-empty documents of a multi-document YAML stream.
pub fn parse_documents(text: &str) -> Result<Vec<Value>> {
    let mut objects = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value = Value::deserialize(doc)?;
        if !value.is_null() {
            objects.push(value);
        }
    }
    Ok(objects)
}

/// `Kind/name` of an object, for messages.
#[must_use]
pub fn describe(object: &Value) -> String {
    format!(
        "{}/{}",
        object["kind"].as_str().unwrap_or("?"),
        object["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// The first object of `kind` named `name`.
#[must_use]
pub fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objects
        .iter()
        .find(|o| o["kind"].as_str() == Some(kind) && o["metadata"]["name"].as_str() == Some(name))
}

/// The first container's environment: `envFrom` `ConfigMaps`, then `env`
/// (a later entry wins, as in the kubelet); `None` for a `valueFrom`.
pub fn container_env(
    object: &Value,
    objects: &[Value],
) -> Result<BTreeMap<String, Option<String>>> {
    let container = &object["spec"]["template"]["spec"]["containers"][0];
    let mut env = BTreeMap::new();
    for source in container["envFrom"].as_sequence().into_iter().flatten() {
        let name = source["configMapRef"]["name"]
            .as_str()
            .context("envFrom without configMapRef")?;
        let data = find(objects, "ConfigMap", name)
            .and_then(|cm| cm["data"].as_mapping())
            .with_context(|| format!("ConfigMap {name} not rendered"))?;
        for (k, v) in data {
            if let Some(k) = k.as_str() {
                env.insert(k.to_owned(), v.as_str().map(str::to_owned));
            }
        }
    }
    for entry in container["env"].as_sequence().into_iter().flatten() {
        if let Some(k) = entry["name"].as_str() {
            env.insert(k.to_owned(), entry["value"].as_str().map(str::to_owned));
        }
    }
    Ok(env)
}
