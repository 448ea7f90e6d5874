//! Kubernetes: read and patch the `scale` subresource of the proxies'
//! `StatefulSet` or `Deployment`, nothing else (RBAC: `get`, `patch` on
//! `statefulsets/scale` or `deployments/scale`).

use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    autoscaling::v1::Scale,
};
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
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
}

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
            deployments: Api::namespaced(client, namespace),
        }
    }

    async fn get(&self) -> Result<TierState, ActuatorError> {
        let scale = match self.kind {
            TargetKind::StatefulSet => self.statefulsets.get_scale(&self.name).await?,
            TargetKind::Deployment => self.deployments.get_scale(&self.name).await?,
        };
        Ok(state_of(&scale))
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

impl Actuator for Kubernetes {
    fn state(&mut self) -> ActFuture<'_, TierState> {
        Box::pin(self.get())
    }

    fn scale(&mut self, replicas: u32) -> ActFuture<'_, ()> {
        Box::pin(self.patch(replicas))
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
