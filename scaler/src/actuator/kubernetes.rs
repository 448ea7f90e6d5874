//! Kubernetes: read and patch the `scale` subresource of the proxies'
//! `StatefulSet` or `Deployment` (RBAC: `get`, `patch` on
//! `statefulsets/scale` or `deployments/scale`), and resize the running
//! proxy pods in place through their `resize` subresource (Kubernetes
//! 1.33+; RBAC: `get`, `list` on `pods`, `patch` on `pods/resize`). The
//! pods are found by the selector the scale subresource reports, so no
//! read of the `StatefulSet` itself is needed.

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, StatefulSet},
        autoscaling::v1::Scale,
        core::v1::Pod,
    },
    apimachinery::pkg::api::resource::Quantity,
};
use kube::{
    Api, Client,
    api::{ListParams, Patch, PatchParams},
};

use super::{ActFuture, Actuator, ActuatorError, TierState};

/// What the proxies run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    StatefulSet,
    Deployment,
}

pub struct Kubernetes {
    kind: TargetKind,
    name: String,
    namespace: String,
    statefulsets: Api<StatefulSet>,
    deployments: Api<Deployment>,
    pods: Api<Pod>,
}

/// The proxy pods' Kamailio container (manifests/testbed/sip-proxy.yaml),
/// the one whose CPU is resized; the agent sidecar of `--placement pod`
/// keeps its own.
pub const PROXY_CONTAINER: &str = "kamailio";

/// Field manager recorded on every patch (visible in `managedFields`).
pub const FIELD_MANAGER: &str = "siplat-scaler";

impl Kubernetes {
    #[must_use]
    pub fn new(client: Client, kind: TargetKind, namespace: &str, name: &str) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            statefulsets: Api::namespaced(client.clone(), namespace),
            deployments: Api::namespaced(client.clone(), namespace),
            pods: Api::namespaced(client, namespace),
        }
    }

    async fn get_scale(&self) -> Result<Scale, ActuatorError> {
        Ok(match self.kind {
            TargetKind::StatefulSet => self.statefulsets.get_scale(&self.name).await?,
            TargetKind::Deployment => self.deployments.get_scale(&self.name).await?,
        })
    }

    async fn get(&self) -> Result<TierState, ActuatorError> {
        let scale = self.get_scale().await?;
        let mut state = state_of(&scale);
        if let Some(selector) = selector(&scale) {
            state.cpu_limit_millis = tier_limit(&self.running_pods(selector).await?);
        }
        Ok(state)
    }

    /// The tier's pods that run and are not being deleted: those a resize
    /// reaches (a pod created later starts from the template).
    async fn running_pods(&self, selector: &str) -> Result<Vec<Pod>, ActuatorError> {
        let pods = self
            .pods
            .list(&ListParams::default().labels(selector))
            .await?;
        Ok(pods
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.phase.as_deref())
                    .is_some_and(|phase| phase == "Running")
            })
            .collect())
    }

    /// Every running pod gets the new CPU as both limit and request: equal
    /// requests and limits keep the pods' Guaranteed quality-of-service
    /// class, which a resize may not change. Every pod is tried even when one fails (a
    /// pod deleted meanwhile must not leave the others at the old limit);
    /// the first error is returned.
    async fn resize_pods(&self, cpu_millis: u32) -> Result<(), ActuatorError> {
        let scale = self.get_scale().await?;
        let selector = selector(&scale).ok_or_else(|| {
            ActuatorError::Invalid(format!(
                "{} reports no pod selector in its scale subresource",
                self.describe()
            ))
        })?;
        let cpu = format!("{cpu_millis}m");
        let patch = Patch::Strategic(serde_json::json!({
            "spec": { "containers": [{
                "name": PROXY_CONTAINER,
                "resources": {
                    "limits": { "cpu": cpu },
                    "requests": { "cpu": cpu },
                },
            }]}
        }));
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        let mut first_error = None;
        for pod in self.running_pods(selector).await? {
            let name = pod.metadata.name.unwrap_or_default();
            if let Err(e) = self.pods.patch_resize(&name, &params, &patch).await {
                tracing::warn!(pod = %name, error = %e, "resize to {cpu} failed");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), |e| Err(e.into()))
    }

    async fn patch(&self, replicas: u32) -> Result<(), ActuatorError> {
        let patch = Patch::Merge(serde_json::json!({ "spec": { "replicas": replicas } }));
        let params = PatchParams::apply(FIELD_MANAGER);
        let params = PatchParams {
            force: false,
            ..params
        };
        match self.kind {
            TargetKind::StatefulSet => {
                self.statefulsets
                    .patch_scale(&self.name, &params, &patch)
                    .await?
            }
            TargetKind::Deployment => {
                self.deployments
                    .patch_scale(&self.name, &params, &patch)
                    .await?
            }
        };
        Ok(())
    }
}

/// The scale subresource only has the observed count; pods that are not
/// ready yet show up as slow P99 improvement, which the policies expect.
fn state_of(scale: &Scale) -> TierState {
    let spec = scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let observed = scale.status.as_ref().map_or(0, |s| s.replicas);
    TierState {
        replicas: u32::try_from(spec).unwrap_or(0),
        ready: u32::try_from(observed).unwrap_or(0),
        ..TierState::default()
    }
}

/// The scale subresource's pod selector (label query string), if any.
fn selector(scale: &Scale) -> Option<&str> {
    scale
        .status
        .as_ref()
        .and_then(|s| s.selector.as_deref())
        .filter(|s| !s.is_empty())
}

/// The lowest CPU limit of the proxy container over `pods` (a pod made
/// from the template after a resize still has the base): what the
/// container runs with (`status.containerStatuses[].resources`, which a
/// resize changes once the kubelet applied it), else what its spec asks.
/// A pod whose container has no CPU limit makes the tier's limit unknown.
fn tier_limit(pods: &[Pod]) -> Option<u32> {
    let cpu = |limits: Option<&std::collections::BTreeMap<String, Quantity>>| {
        limits
            .and_then(|l| l.get("cpu"))
            .and_then(|q| cliconf::parse_cpu_millis(&q.0).ok())
    };
    let limits: Option<Vec<u32>> = pods
        .iter()
        .map(|pod| {
            let actual = pod
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.name == PROXY_CONTAINER))
                .and_then(|c| c.resources.as_ref())
                .and_then(|r| cpu(r.limits.as_ref()));
            actual.or_else(|| {
                pod.spec
                    .as_ref()
                    .and_then(|s| s.containers.iter().find(|c| c.name == PROXY_CONTAINER))
                    .and_then(|c| c.resources.as_ref())
                    .and_then(|r| cpu(r.limits.as_ref()))
            })
        })
        .collect();
    limits?.into_iter().min()
}

impl Actuator for Kubernetes {
    fn state(&mut self) -> ActFuture<'_, TierState> {
        Box::pin(self.get())
    }

    fn scale(&mut self, replicas: u32) -> ActFuture<'_, ()> {
        Box::pin(self.patch(replicas))
    }

    fn resize(&mut self, cpu_millis: u32) -> ActFuture<'_, ()> {
        Box::pin(self.resize_pods(cpu_millis))
    }

    fn describe(&self) -> String {
        let kind = match self.kind {
            TargetKind::StatefulSet => "statefulset",
            TargetKind::Deployment => "deployment",
        };
        format!("kubernetes {kind} {}/{}", self.namespace, self.name)
    }
}

#[cfg(test)]
#[path = "kubernetes_tests.rs"]
mod tests;
