//! Which pod sits behind each host-side veth (`--pod-labels`).
//!
//! With `--placement host` an interface name (`cali1234`) says nothing about
//! the pod, and every SIP-carrying pod on the node (load balancers, clients)
//! has series beside the proxies'. In that placement the second packet of
//! every sample is one the pod sent, so its source address is the pod's.
//! The agent lists its node's pods from the API and maps each veth, at its
//! first sample, to the pod that owns that address. Addresses serve the
//! lookup only; they never become labels.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, PoisonError, RwLock},
    time::Duration,
};

use k8s_openapi::api::core::v1::Pod;
use kube::{Api, Client, api::ListParams};
use tokio::sync::Notify;
use tracing::{debug, warn};

/// A pod as the labels name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
}

/// The node's pods by address, and the veths already mapped to one.
#[derive(Default)]
pub struct Directory {
    by_ip: RwLock<HashMap<IpAddr, Arc<PodRef>>>,
    /// ifindex -> (interface name, pod). The name guards against an index
    /// reused by a later veth.
    by_iface: RwLock<HashMap<u32, (String, Arc<PodRef>)>>,
    /// Wakes the lister when a sample's address belongs to no listed pod (a
    /// pod that started since the last list).
    unknown: Notify,
}

impl Directory {
    /// The pod behind `iface`, whose sample left it from `addr`.
    pub fn resolve(&self, ifindex: u32, iface: &str, addr: IpAddr) -> Option<Arc<PodRef>> {
        if let Some((name, pod)) = self
            .by_iface
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&ifindex)
            && name == iface
        {
            return Some(pod.clone());
        }
        let pod = self
            .by_ip
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&addr)
            .cloned();
        let Some(pod) = pod else {
            self.unknown.notify_one();
            return None;
        };
        self.by_iface
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(ifindex, (iface.to_owned(), pod.clone()));
        Some(pod)
    }

    /// Replace the address map with this list of the node's pods. Pods on
    /// the host network share the node's address and have no veth: skipped.
    pub fn update(&self, pods: &[Pod]) {
        let mut by_ip = HashMap::new();
        for pod in pods {
            if pod
                .spec
                .as_ref()
                .and_then(|s| s.host_network)
                .unwrap_or(false)
            {
                continue;
            }
            let (Some(namespace), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name)
            else {
                continue;
            };
            let r = Arc::new(PodRef {
                namespace: namespace.clone(),
                name: name.clone(),
            });
            let status = pod.status.as_ref();
            let ips = status
                .and_then(|s| s.pod_ips.as_ref())
                .into_iter()
                .flatten()
                .map(|p| p.ip.as_str())
                .chain(status.and_then(|s| s.pod_ip.as_deref()));
            for ip in ips {
                if let Ok(ip) = ip.parse::<IpAddr>() {
                    by_ip.insert(ip, r.clone());
                }
            }
        }
        *self.by_ip.write().unwrap_or_else(PoisonError::into_inner) = by_ip;
    }

    /// Drop the mappings of veths that are gone (pods come and go).
    pub fn retain_ifaces(&self, present: &HashMap<u32, String>) {
        self.by_iface
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|i, (name, _)| present.get(i) == Some(name));
    }
}

/// Shortest time between two lists.
const MIN_GAP: Duration = Duration::from_secs(2);

/// Lists the node's pods every `every`, and sooner (at most every
/// [`MIN_GAP`]) when a sample came from an unknown address. A failed list keeps the last
/// good map, is logged and counted in `errors`.
pub async fn run(
    directory: Arc<Directory>,
    client: Client,
    node: String,
    every: Duration,
    errors: prometheus::IntCounter,
) {
    let pods: Api<Pod> = Api::all(client);
    let params = node_pods(&node);
    loop {
        match pods.list(&params).await {
            Ok(list) => {
                debug!(pods = list.items.len(), "listed this node's pods");
                directory.update(&list.items);
            }
            Err(e) => {
                errors.inc();
                warn!(error = %e, "listing this node's pods failed; pod labels keep the last list");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = directory.unknown.notified() => {}
        }
        // An address no pod owns (yet) must not turn into a list per sample.
        tokio::time::sleep(MIN_GAP.min(every)).await;
    }
}

/// The one request the agent makes: the pods scheduled on `node`.
fn node_pods(node: &str) -> ListParams {
    ListParams::default().fields(&format!("spec.nodeName={node}"))
}

#[cfg(test)]
#[path = "pods_tests.rs"]
mod tests;
