//! `kamailio -c` on the ONE copy of each Kamailio config, with the defines of
//! every environment that starts it: none (the config's defaults), the local
//! testbed, and Kubernetes, where the arguments are read from the rendered
//! StatefulSet/Deployment themselves so the check follows the manifests.

use std::{collections::BTreeSet, path::Path, process::Command};

use anyhow::{Context as _, Result, bail};
use serde_yaml::Value;

use super::render::{Overlay, describe, find};

/// Sample values for the `$(VAR)` references the kubelet expands in args.
/// 198.18.0.0/15 addresses: nothing is sent, but keep clear of real networks.
const K8S_SAMPLES: &[(&str, &str)] = &[
    ("POD_IP", "198.18.200.10"),
    ("POD_NAMESPACE", "siplat"),
    ("AUTH_SECRET", "check-only-secret"),
];

/// (config, defines) the local testbed passes: its own lists.
fn testbed_runs() -> Vec<(&'static str, Vec<String>)> {
    let proxy = testbed::kamailio::proxy_defines(1, &testbed::kamailio::first_proxy_addr());
    vec![
        ("proxy.cfg", proxy),
        ("loadb.cfg", testbed::kamailio::lb_defines()),
    ]
}

pub fn check(manifests: &Path, overlays: &[Overlay]) -> Result<()> {
    let config_dir = manifests.join("testbed/config/kamailio");
    let mut runs: BTreeSet<(String, String, Vec<String>)> = BTreeSet::new();
    for cfg in ["proxy.cfg", "loadb.cfg"] {
        runs.insert(("defaults".into(), cfg.into(), Vec::new()));
    }
    for (cfg, defines) in testbed_runs() {
        runs.insert(("testbed".into(), cfg.into(), defines));
    }
    let mut kubernetes = 0;
    let mut problems = Vec::new();
    for overlay in overlays {
        for (kind, name) in [("StatefulSet", "sip-proxy"), ("Deployment", "sip-loadb")] {
            let Some(object) = find(&overlay.objects, kind, name) else {
                continue;
            };
            match kubernetes_run(object, &overlay.objects, &config_dir) {
                Ok((cfg, defines)) => {
                    kubernetes += 1;
                    runs.insert((format!("kubernetes ({})", overlay.name), cfg, defines));
                }
                Err(e) => problems.push(format!("{}: {}: {e:#}", overlay.name, describe(object))),
            }
        }
    }
    if kubernetes == 0 {
        problems.push(
            "no overlay renders sip-proxy/sip-loadb: nothing to check the Kubernetes defines with"
                .into(),
        );
    }
    // Several overlays share one set of arguments: check each set once.
    let mut seen = BTreeSet::new();
    for (env, cfg, defines) in &runs {
        if !seen.insert((cfg.clone(), defines.clone())) {
            continue;
        }
        if let Err(e) = kamailio_c(&config_dir.join(cfg), defines) {
            problems.push(format!("{cfg} with the {env} defines: {e:#}"));
        } else {
            eprintln!("     kamailio -c {cfg}: {env} defines ok");
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    bail!("{}", problems.join("\n"))
}

/// The config file and `-A` defines of the `kamailio` container, with
/// `$(VAR)` filled in; checks that every `$(VAR)` is declared in the
/// container's env (the kubelet leaves undeclared ones as literal text) and
/// that the `ConfigMap` carries the repository's file unchanged.
fn kubernetes_run(
    object: &Value,
    objects: &[Value],
    config_dir: &Path,
) -> Result<(String, Vec<String>)> {
    let spec = &object["spec"]["template"]["spec"];
    let container = spec["containers"]
        .as_sequence()
        .and_then(|cs| cs.iter().find(|c| c["name"].as_str() == Some("kamailio")))
        .context("no container named kamailio")?;
    let declared: Vec<&str> = container["env"]
        .as_sequence()
        .map(|env| env.iter().filter_map(|e| e["name"].as_str()).collect())
        .unwrap_or_default();
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .context("kamailio container has no args")?
        .iter()
        .map(|a| a.as_str().context("non-string arg"))
        .collect::<Result<_>>()?;
    let mut cfg = None;
    let mut defines = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match *arg {
            "-f" => {
                cfg = it
                    .next()
                    .map(|p| p.rsplit('/').next().unwrap_or(p).to_owned());
            }
            "-A" => defines.push(expand(it.next().context("-A without a value")?, &declared)?),
            _ => {}
        }
    }
    let cfg = cfg.context("no -f CONFIG in args")?;
    let repo_text = std::fs::read_to_string(config_dir.join(&cfg))
        .with_context(|| format!("{cfg} is not in {}", config_dir.display()))?;
    let shipped = objects
        .iter()
        .filter(|o| o["kind"].as_str() == Some("ConfigMap"))
        .filter_map(|o| o["data"][cfg.as_str()].as_str())
        .any(|text| text == repo_text);
    if !shipped {
        bail!("no ConfigMap carries {cfg} as in the repository");
    }
    Ok((cfg, defines))
}

/// Replace each `$(NAME)` with its sample value.
fn expand(arg: &str, declared: &[&str]) -> Result<String> {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find(')').context("unterminated $(")? + start;
        let name = &rest[start + 2..end];
        if !declared.contains(&name) {
            bail!("`{arg}` uses $({name}), which the container env does not declare");
        }
        let value = K8S_SAMPLES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .with_context(|| format!("no sample value for $({name}); add one to K8S_SAMPLES"))?;
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn kamailio_c(cfg: &Path, defines: &[String]) -> Result<()> {
    let mut cmd = Command::new("kamailio");
    cmd.arg("-c").arg("-f").arg(cfg);
    for d in defines {
        cmd.arg("-A").arg(d);
    }
    let output = cmd.output().context("spawn kamailio")?;
    if !output.status.success() {
        bail!(
            "{} failed:\n{}{}",
            testbed::proc::render(&cmd),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn expands_declared_vars() {
        let got = expand("DMQ_SERVER=\"sip:$(POD_IP):5061\"", &["POD_IP"]).expect("declared");
        assert_eq!(got, "DMQ_SERVER=\"sip:198.18.200.10:5061\"");
    }

    #[test]
    fn undeclared_var_is_an_error() {
        let err = expand("ADVERTISE_IP=$(POD_IP)", &["POD_NAMESPACE"]).expect_err("undeclared");
        assert!(err.to_string().contains("does not declare"), "{err}");
    }
}
