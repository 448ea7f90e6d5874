//! Reading the agent's latency histograms: per-second P99 per kind comes
//! from the growth of the buckets between two scrapes, summed over the
//! proxies' interfaces (the LB's own hop is left out: it is not a proxy).
//! Parsing, bucket growth and the quantile are `promtext`'s, the same code
//! the scaler acts on.

use std::collections::BTreeMap;

use promtext::Buckets;

/// The kinds that time a proxy's own work. `round_trip` (a relayed request's
/// arrival to its final answer: the callee's ringing included) is not one of
/// them and stays out of every P99 here, as the scaler's selector leaves it out.
pub const KINDS: [&str; 3] = ["response", "relay_request", "relay_response"];

const LATENCY: &str = "siplat_sip_latency_seconds";

/// One scrape of the agent, restricted to proxy interfaces.
#[derive(Clone, Debug, Default)]
pub struct Histograms {
    /// Every kind together, then one per entry of `KINDS`.
    all: Buckets,
    by_kind: BTreeMap<&'static str, Buckets>,
    /// iface -> INVITEs relayed (a proxy carried the call).
    pub invites_by_iface: BTreeMap<String, f64>,
}

/// Proxy interfaces are `tbv-p<N>`.
pub fn is_proxy_iface(iface: &str) -> bool {
    iface
        .strip_prefix("tbv-p")
        .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty())
}

fn on_proxy(labels: &BTreeMap<String, String>) -> bool {
    labels.get("iface").is_some_and(|i| is_proxy_iface(i))
}

impl Histograms {
    pub fn parse(text: &str) -> Self {
        let samples = promtext::parse(text);
        let by_kind = KINDS
            .iter()
            .map(|&k| {
                let b = Buckets::select(&samples, LATENCY, |l| {
                    on_proxy(l) && l.get("kind").is_some_and(|v| v == k)
                });
                (k, b)
            })
            .collect();
        let mut invites_by_iface = BTreeMap::new();
        for s in &samples {
            let relayed_invite = s.name == "siplat_sip_latency_seconds_count"
                && s.labels.get("kind").is_some_and(|k| k == "relay_request")
                && s.labels.get("method").is_some_and(|m| m == "INVITE");
            if relayed_invite && on_proxy(&s.labels) {
                *invites_by_iface
                    .entry(s.labels["iface"].clone())
                    .or_default() += s.value;
            }
        }
        Self {
            all: Buckets::select(&samples, LATENCY, |l| {
                on_proxy(l) && l.get("kind").is_some_and(|k| KINDS.contains(&k.as_str()))
            }),
            by_kind,
            invites_by_iface,
        }
    }

    /// Quantile `q` of the samples between `earlier` and `self` for `kind`
    /// (`None` = every kind), interpolated inside the bucket as
    /// `histogram_quantile` does; `None` when there were no samples.
    pub fn quantile_since(&self, earlier: &Self, kind: Option<&str>, q: f64) -> Option<f64> {
        let pick = |h: &Self| match kind {
            None => Some(h.all.clone()),
            Some(k) => h.by_kind.get(k).cloned(),
        };
        let now = pick(self)?;
        now.since(&pick(earlier).unwrap_or_default()).quantile(q)
    }
}

#[cfg(test)]
mod tests {
    use super::Histograms;

    const TEXT: &str = r#"siplat_sip_latency_seconds_bucket{iface="tbv-p1",kind="response",method="INVITE",status_class="4xx",le="0.001"} 98
siplat_sip_latency_seconds_bucket{iface="tbv-p1",kind="response",method="INVITE",status_class="4xx",le="0.1"} 99
siplat_sip_latency_seconds_bucket{iface="tbv-p1",kind="response",method="INVITE",status_class="4xx",le="+Inf"} 100
siplat_sip_latency_seconds_bucket{iface="tbv-lb",kind="response",method="INVITE",status_class="4xx",le="0.001"} 1000
siplat_sip_latency_seconds_bucket{iface="tbv-lb",kind="response",method="INVITE",status_class="4xx",le="+Inf"} 1000
siplat_sip_latency_seconds_count{iface="tbv-p1",kind="relay_request",method="INVITE",status_class=""} 7
siplat_sip_latency_seconds_bucket{iface="tbv-p1",kind="round_trip",method="INVITE",status_class="2xx",le="0.001"} 0
siplat_sip_latency_seconds_bucket{iface="tbv-p1",kind="round_trip",method="INVITE",status_class="2xx",le="0.1"} 0
siplat_sip_latency_seconds_bucket{iface="tbv-p1",kind="round_trip",method="INVITE",status_class="2xx",le="10"} 50
siplat_sip_latency_seconds_bucket{iface="tbv-p1",kind="round_trip",method="INVITE",status_class="2xx",le="+Inf"} 50
"#;

    #[test]
    fn p99_from_bucket_growth_ignores_the_lb_and_round_trip() {
        let h = Histograms::parse(TEXT);
        let zero = Histograms::default();
        // rank 99 of 100 is the last of the (0.001, 0.1] bucket.
        assert_eq!(h.quantile_since(&zero, Some("response"), 0.99), Some(0.1));
        // rank 50 of 98 in [0, 0.001]: interpolated, as PromQL does.
        let p50 = h.quantile_since(&zero, Some("response"), 0.5).expect("p50");
        assert!((p50 - 0.001 * 50.0 / 98.0).abs() < 1e-12, "{p50}");
        assert_eq!(h.quantile_since(&h, Some("response"), 0.99), None);
        assert_eq!(
            h.quantile_since(&zero, None, 1.0),
            Some(0.1),
            "the LB's hop and the callee's ringing (round_trip) are left out"
        );
        assert_eq!(h.invites_by_iface.get("tbv-p1"), Some(&7.0));
    }
}
