//! Reading the agent's latency histograms: per-second P99 per kind comes
//! from the difference of two scrapes (cumulative buckets), summed over the
//! proxies' interfaces (the LB's own hop is left out: it is not a proxy).

use std::collections::BTreeMap;

pub const KINDS: [&str; 3] = ["response", "relay_request", "relay_response"];

/// (kind, upper bound) -> cumulative count, over proxy interfaces.
#[derive(Clone, Debug, Default)]
pub struct Histograms {
    buckets: BTreeMap<(String, u64), f64>,
    /// iface -> INVITEs relayed (a proxy carried the call).
    pub invites_by_iface: BTreeMap<String, f64>,
}

fn labels(s: &str) -> BTreeMap<&str, &str> {
    s.split("\",")
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim_matches(','), v.trim_matches('"')))
        .collect()
}

/// Proxy interfaces are `tbv-p<N>`.
pub fn is_proxy_iface(iface: &str) -> bool {
    iface
        .strip_prefix("tbv-p")
        .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty())
}

impl Histograms {
    pub fn parse(text: &str) -> Self {
        let mut h = Self::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((head, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let Some((name, rest)) = head.split_once('{') else {
                continue;
            };
            let l = labels(rest.trim_end_matches('}'));
            let iface = l.get("iface").copied().unwrap_or_default();
            if !is_proxy_iface(iface) {
                continue;
            }
            match name {
                "siplat_sip_latency_seconds_bucket" => {
                    let le = l.get("le").copied().unwrap_or("+Inf");
                    let le = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap_or(f64::INFINITY)
                    };
                    let kind = l.get("kind").copied().unwrap_or_default().to_owned();
                    *h.buckets.entry((kind, le.to_bits())).or_default() += value;
                }
                "siplat_sip_latency_seconds_count"
                    if l.get("kind") == Some(&"relay_request")
                        && l.get("method") == Some(&"INVITE") =>
                {
                    *h.invites_by_iface.entry(iface.to_owned()).or_default() += value;
                }
                _ => {}
            }
        }
        h
    }

    /// Quantile `q` of the samples between `earlier` and `self` for `kind`
    /// (`None` = every kind): the upper bound of the bucket it falls in;
    /// `None` when there were no samples.
    pub fn quantile_since(&self, earlier: &Self, kind: Option<&str>, q: f64) -> Option<f64> {
        let mut per_le: BTreeMap<u64, f64> = BTreeMap::new();
        for ((k, le), v) in &self.buckets {
            if kind.is_some_and(|want| want != k) {
                continue;
            }
            let before = earlier
                .buckets
                .get(&(k.clone(), *le))
                .copied()
                .unwrap_or(0.0);
            *per_le.entry(*le).or_default() += (v - before).max(0.0);
        }
        let mut bounds: Vec<(f64, f64)> = per_le
            .into_iter()
            .map(|(le, c)| (f64::from_bits(le), c))
            .collect();
        bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total = bounds.last()?.1;
        if total <= 0.0 {
            return None;
        }
        bounds
            .iter()
            .find(|(_, c)| *c >= q * total)
            .map(|(le, _)| *le)
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
"#;

    #[test]
    fn p99_from_bucket_deltas_ignores_the_lb() {
        let h = Histograms::parse(TEXT);
        let zero = Histograms::default();
        assert_eq!(h.quantile_since(&zero, Some("response"), 0.99), Some(0.1));
        assert_eq!(h.quantile_since(&zero, Some("response"), 0.5), Some(0.001));
        assert_eq!(h.quantile_since(&h, Some("response"), 0.99), None);
        assert_eq!(h.invites_by_iface.get("tbv-p1"), Some(&7.0));
    }
}
