//! The read-only view of a real deployment: the same four charts as a
//! testbed run, from a Prometheus' `query_range` API (what Grafana reads),
//! over the agents' series and kube-state-metrics. Nothing is written to
//! the cluster. Plain HTTP (the testbed's small client): point it at a
//! port-forward or an in-cluster address.

use serde::{Deserialize, Serialize};

use super::PanelError;

/// A Prometheus base address.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub host_port: String,
    pub base: String,
}

impl Target {
    /// `http://host[:port][/prefix]`; https and credentials in the URL are
    /// refused (no TLS client here; keep secrets out of the page).
    pub fn parse(url: &str) -> Result<Self, PanelError> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            PanelError::invalid(format!("Prometheus URL `{url}`: http://host:port only"))
        })?;
        let (host_port, path) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_host = !host_port.is_empty()
            && host_port.len() <= 253
            && host_port
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !valid_host || url.len() > 512 || path.contains(['?', '#', '@', ' ']) {
            return Err(PanelError::invalid(format!(
                "Prometheus URL `{url}`: http://host:port[/prefix], no query or credentials"
            )));
        }
        let host_port = if host_port.contains(':') && !host_port.ends_with(']') {
            host_port.to_owned()
        } else {
            format!("{host_port}:80")
        };
        Ok(Self {
            host_port,
            base: format!("/{}", path.trim_end_matches('/')).replace("//", "/"),
        })
    }
}

/// The charts' series: (name, unit, `PromQL`). The P99 and the rate are the
/// rules' expressions (manifests/monitoring) summed over the proxies.
pub const QUERIES: [(&str, &str, &str); 5] = [
    (
        "invites_relayed",
        "calls/s",
        r#"sum(rate(siplat_sip_latency_seconds_count{kind="relay_request",method="INVITE"}[1m]))"#,
    ),
    (
        "p99_s",
        "s",
        r#"histogram_quantile(0.99, sum by (le) (rate(siplat_sip_latency_seconds_bucket{method="INVITE",kind!="round_trip"}[1m])))"#,
    ),
    (
        "replicas",
        "pods",
        r#"sum(kube_deployment_status_replicas_ready{deployment="sip-proxy"})"#,
    ),
    (
        "cpu_limit_mcpu",
        "mCPU",
        r#"1000 * max(kube_pod_container_resource_limits{resource="cpu",container="kamailio"})"#,
    ),
    (
        "expired_invites",
        "1/s",
        r#"sum(rate(siplat_sip_transactions_expired_total{type="request",method="INVITE"}[1m]))"#,
    ),
];

/// One chart series.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Series {
    pub name: &'static str,
    pub unit: &'static str,
    pub query: &'static str,
    pub points: Vec<(f64, f64)>,
    pub error: Option<String>,
}

#[derive(Deserialize)]
struct Response {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    result: Vec<Matrix>,
}

#[derive(Deserialize)]
struct Matrix {
    values: Vec<(f64, String)>,
}

/// Percent-encode a query string value (RFC 3986 unreserved kept).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn range(
    t: &Target,
    query: &str,
    start: f64,
    end: f64,
    step: u64,
) -> Result<Vec<(f64, f64)>, String> {
    let path = format!(
        "{}/api/v1/query_range?query={}&start={start:.0}&end={end:.0}&step={step}",
        t.base.trim_end_matches('/'),
        encode(query)
    );
    let (code, body) = crate::agent::http_get(&t.host_port, &path).map_err(|e| format!("{e:#}"))?;
    let r: Response = serde_json::from_str(&body)
        .map_err(|e| format!("HTTP {code}, not a Prometheus answer: {e}"))?;
    if r.status != "success" {
        return Err(r.error.unwrap_or_else(|| format!("HTTP {code}")));
    }
    let values = r
        .data
        .and_then(|d| d.result.into_iter().next())
        .map(|m| m.values)
        .unwrap_or_default();
    Ok(values
        .into_iter()
        .filter_map(|(ts, v)| {
            v.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|v| (ts, v))
        })
        .collect())
}

/// The last `minutes` of every series (blocking: call off the runtime).
pub fn fetch(t: &Target, minutes: u64, now: f64) -> Vec<Series> {
    let start = now - (minutes * 60) as f64;
    let step = (minutes * 60 / 300).max(5);
    QUERIES
        .iter()
        .map(|&(name, unit, query)| {
            let (points, error) = match range(t, query, start, now, step) {
                Ok(p) => (p, None),
                Err(e) => (Vec::new(), Some(e)),
            };
            Series {
                name,
                unit,
                query,
                points,
                error,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_host_port_and_optional_prefix() {
        let t = Target::parse("http://127.0.0.1:9090").expect("plain");
        assert_eq!(
            (t.host_port.as_str(), t.base.as_str()),
            ("127.0.0.1:9090", "/")
        );
        let t = Target::parse("http://prom.local/prometheus/").expect("prefix");
        assert_eq!(
            (t.host_port.as_str(), t.base.as_str()),
            ("prom.local:80", "/prometheus")
        );
        for bad in [
            "https://x:9090",
            "ftp://x",
            "http://",
            "http://u:p@x:1",
            "http://x:1/?q=1",
            "http://a b",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(encode("a b{c=\"d\"}"), "a%20b%7Bc%3D%22d%22%7D");
    }
}
