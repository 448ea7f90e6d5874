//! What `siplat-testbed status --json` prints: the contract between the
//! testbed and the programs that drive it (the scaler's local actuator, the
//! demo, the tests). Both sides compile against these types, so a field
//! renamed on one side cannot go unnoticed on the other.

use serde::{Deserialize, Serialize};

/// Whether a proxy takes new calls.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProxyState {
    /// Started by `scale` but not in the load balancer's set yet: its boot
    /// delay (`up --boot-delay`, what a pod's image pull, start and
    /// readiness take on Kubernetes) has not passed, or it is not ready.
    Booting,
    /// In the load balancer's set.
    Active,
    /// Out of the set, finishing its calls before it is stopped.
    Draining,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Status {
    /// The agent watching every proxy (`http://198.19.0.1:9660`).
    pub agent_url: String,
    /// The load balancer's SIP address (`198.19.1.1:5060`).
    pub lb: String,
    pub proxies: Vec<ProxyStatus>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProxyStatus {
    pub name: String,
    pub addr: String,
    /// Host-side veth, the agent's `iface` label for this proxy.
    pub iface: String,
    pub state: ProxyState,
    /// CPU the proxy's cgroup used since it started (cumulative, so a
    /// reader takes rates from two readings).
    pub cpu_usage_seconds: f64,
    /// The proxy's own CPU limit in millicores (0 = none): proxies resized
    /// in place differ from the ones `scale` starts at the base limit.
    pub cpu_limit_millis: u32,
}

impl Status {
    /// The proxies taking calls.
    pub fn active(&self) -> impl Iterator<Item = &ProxyStatus> {
        self.proxies
            .iter()
            .filter(|p| p.state == ProxyState::Active)
    }

    /// The proxies asked for but not taking calls yet (a scaler counts them
    /// as replicas that are not ready).
    pub fn booting(&self) -> impl Iterator<Item = &ProxyStatus> {
        self.proxies
            .iter()
            .filter(|p| p.state == ProxyState::Booting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_what_it_does_not_know() {
        let s = Status {
            agent_url: "http://198.19.0.1:9660".into(),
            lb: "198.19.1.1:5060".into(),
            proxies: vec![ProxyStatus {
                name: "sip-proxy-1".into(),
                addr: "198.19.10.1".into(),
                iface: "tbv-p1".into(),
                state: ProxyState::Draining,
                cpu_usage_seconds: 1.5,
                cpu_limit_millis: 30,
            }],
        };
        let text = serde_json::to_string(&s).expect("json");
        assert!(text.contains(r#""state":"draining""#), "{text}");
        assert_eq!(serde_json::from_str::<Status>(&text).expect("parse"), s);
        assert_eq!(s.active().count(), 0);
        let booting = text.replace("draining", "booting");
        let parsed: Status = serde_json::from_str(&booting).expect("booting");
        assert_eq!(parsed.booting().count(), 1);
        assert_eq!(parsed.active().count(), 0);
        let typo = text.replace("cpu_limit_millis", "cpu_limit_milis");
        assert!(serde_json::from_str::<Status>(&typo).is_err());
        let bad_state = text.replace("draining", "drained");
        assert!(serde_json::from_str::<Status>(&bad_state).is_err());
    }
}
