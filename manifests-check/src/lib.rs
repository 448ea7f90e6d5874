//! `cargo xtask manifests` (this crate): prove offline that the Kubernetes manifests and
//! the configs they ship are valid, the checks CI has instead of a cluster.
//!
//! Every step runs even when an earlier one failed, so one CI log lists all
//! problems; the command fails if any step failed. A missing tool is a
//! failure with the package to install, never a silent skip.

mod checkov;
mod crds;
mod flags;
mod kamailio;
mod metrics;
pub mod render;
mod rules;
mod schemas;
mod scripts;
mod selectors;
mod tools;

use std::path::PathBuf;

use anyhow::{Result, bail};
/// For `cargo xtask setup`: the pinned upstream CRD schemas.
pub use crds::install as install_crd_schemas;
use testbed::proc::workspace_root;

/// Kubernetes version whose schemas kubernetes-validate checks against: one
/// it ships (1.37.0 ships 1.30..1.37) and old enough for the clusters this is
/// deployed on (native sidecars, preStop sleep: 1.30+).
pub const KUBERNETES_VERSION: &str = "1.32.0";

#[derive(clap::Args)]
pub struct Options {
    /// Manifests folder to validate (a copy, for tests); default: manifests/ of the workspace.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Where rendered overlays and extracted files go; default: <target>/xtask-manifests.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Everything one run reads: the manifests folder and the scratch folder.
pub struct Paths {
    pub manifests: PathBuf,
    pub out: PathBuf,
}

impl Paths {
    fn new(opts: &Options) -> Self {
        let manifests = opts
            .dir
            .clone()
            .unwrap_or_else(|| workspace_root().join("manifests"));
        let out = opts
            .out
            .clone()
            .unwrap_or_else(|| target_dir().join("xtask-manifests"));
        Self { manifests, out }
    }
}

/// Cargo's target directory, where scratch output belongs.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

pub fn run(opts: &Options) -> Result<()> {
    let paths = Paths::new(opts);
    std::fs::create_dir_all(&paths.out)?;
    tools::require_all()?;

    let rendered = render::all(&paths.manifests, &paths.out.join("rendered"));
    let mut failed = Vec::new();
    let mut step = |name: &str, result: Result<()>| match result {
        Ok(()) => eprintln!("ok   {name}"),
        Err(e) => {
            eprintln!("FAIL {name}: {e:#}");
            failed.push(name.to_owned());
        }
    };
    step(
        "kubectl kustomize (every overlay)",
        rendered
            .as_ref()
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("{e:#}")),
    );
    let overlays = rendered.unwrap_or_default();
    if !overlays.is_empty() {
        step(
            "kubernetes-validate (built-in kinds)",
            schemas::builtin(&overlays, &paths.out),
        );
        step(
            "custom resources against the upstream prometheus-operator CRD schemas",
            crds::validate(&paths.manifests, &overlays, &paths.out),
        );
        step(
            "checkov skip reasons",
            checkov::audit_skips(&paths.manifests, &overlays),
        );
        step(
            "checkov",
            checkov::run(&paths.manifests, &paths.out.join("rendered")),
        );
        step(
            "kamailio -c (defaults, testbed, kubernetes)",
            kamailio::check(&paths.manifests, &overlays),
        );
        step(
            "agent/scaler config names real flags and env variables",
            flags::check(&overlays),
        );
        step(
            "scaler selectors: agent pod labels on, queries under promtool test",
            selectors::check(&paths.manifests, &overlays),
        );
    }
    step(
        "testbed scripts parse (sh -n / bash -n)",
        scripts::check(&paths.manifests),
    );
    step(
        "PrometheusRule equals rules/siplat.rules.yaml",
        rules::same_as_plain(&paths.manifests),
    );
    step(
        "promtool check rules + test rules",
        rules::promtool(&paths.manifests),
    );
    step(
        "prometheus.yml parses",
        rules::scrape_config_parses(&paths.manifests),
    );
    step(
        "metric names in rules and dashboard exist",
        metrics::check(&paths.manifests),
    );

    if failed.is_empty() {
        eprintln!("manifests: all checks passed");
        Ok(())
    } else {
        bail!(
            "manifests: {} check(s) failed: {}",
            failed.len(),
            failed.join("; ")
        )
    }
}
