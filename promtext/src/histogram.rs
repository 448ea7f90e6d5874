//! Histogram series between two scrapes: the growth of cumulative buckets,
//! summed over the series a selector picks, and the quantile `PromQL`'s
//! `histogram_quantile` takes of it. The scaler acts on this estimate and
//! the testbed and demo judge runs by it, so they cannot disagree about
//! whether a P99 was under target.

use std::collections::BTreeMap;

use crate::{Sample, exposition::parse_value, histogram_quantile};

/// Cumulative bucket counts of one histogram metric in one scrape, per
/// series (labels other than `le`) and bucket bound.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Buckets {
    series: BTreeMap<(String, u64), f64>,
}

impl Buckets {
    /// The `<metric>_bucket` samples whose labels satisfy `keep`.
    pub fn select<'a>(
        samples: impl IntoIterator<Item = &'a Sample>,
        metric: &str,
        mut keep: impl FnMut(&BTreeMap<String, String>) -> bool,
    ) -> Self {
        let name = format!("{metric}_bucket");
        let mut series = BTreeMap::new();
        for s in samples {
            if s.name != name || !keep(&s.labels) {
                continue;
            }
            let Some(le) = s.labels.get("le").and_then(|v| parse_value(v)) else {
                continue;
            };
            series.insert((series_key(&s.labels), le.to_bits()), s.value);
        }
        Self { series }
    }

    /// What the buckets gained since `earlier`, summed over series:
    /// cumulative `(le, count)` pairs sorted by `le`. A series whose count
    /// fell restarted (its process did), so all of its count is new, as
    /// `PromQL`'s `increase` takes it.
    #[must_use]
    pub fn since(&self, earlier: &Self) -> Cumulative {
        let mut out = Cumulative::default();
        for (key, &now) in &self.series {
            out.add(key.1, counter_growth(earlier.series.get(key).copied(), now));
        }
        out
    }

    /// Everything the buckets hold (growth since an empty scrape).
    #[must_use]
    pub fn total(&self) -> Cumulative {
        self.since(&Self::default())
    }
}

/// Cumulative counts per bucket bound, summed over series (and over agents
/// when the caller adds several).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cumulative {
    by_le: BTreeMap<u64, f64>,
}

impl Cumulative {
    fn add(&mut self, le_bits: u64, count: f64) {
        *self.by_le.entry(le_bits).or_insert(0.0) += count;
    }

    /// Sum another set of buckets into this one (several agents, one tier).
    pub fn merge(&mut self, other: &Self) {
        for (&le, &count) in &other.by_le {
            self.add(le, count);
        }
    }

    /// `(le, count)` sorted by `le`, the last `+Inf` when the agents wrote one.
    #[must_use]
    pub fn pairs(&self) -> Vec<(f64, f64)> {
        let mut v: Vec<(f64, f64)> = self
            .by_le
            .iter()
            .map(|(&le, &c)| (f64::from_bits(le), c))
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v
    }

    /// Observations counted (the `+Inf` bucket).
    #[must_use]
    pub fn count(&self) -> f64 {
        self.pairs().last().map_or(0.0, |p| p.1)
    }

    /// `histogram_quantile(q, ...)` of these buckets; `None` when empty.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<f64> {
        histogram_quantile(q, &self.pairs())
    }
}

/// Growth of a counter between two readings, a drop read as a restart from
/// zero.
#[must_use]
pub fn counter_growth(previous: Option<f64>, current: f64) -> f64 {
    match previous {
        Some(p) if current >= p => current - p,
        _ => current,
    }
}

fn series_key(labels: &BTreeMap<String, String>) -> String {
    let mut key = String::new();
    for (k, v) in labels.iter().filter(|(k, _)| k.as_str() != "le") {
        key.push_str(k);
        key.push('=');
        key.push_str(v);
        key.push('\u{1f}');
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    const SCRAPE_1: &str = r#"
lat_bucket{iface="a",le="0.1"} 10
lat_bucket{iface="a",le="1"} 10
lat_bucket{iface="a",le="+Inf"} 10
lat_bucket{iface="b",le="0.1"} 5
lat_bucket{iface="b",le="1"} 5
lat_bucket{iface="b",le="+Inf"} 5
"#;
    // a gained 90 fast and 10 slow; b restarted and holds 2 slow ones.
    const SCRAPE_2: &str = r#"
lat_bucket{iface="a",le="0.1"} 100
lat_bucket{iface="a",le="1"} 110
lat_bucket{iface="a",le="+Inf"} 110
lat_bucket{iface="b",le="0.1"} 0
lat_bucket{iface="b",le="1"} 2
lat_bucket{iface="b",le="+Inf"} 2
"#;

    #[test]
    fn growth_summed_over_series_with_restarts() {
        let all = |_: &BTreeMap<String, String>| true;
        let one = Buckets::select(&parse(SCRAPE_1), "lat", all);
        let two = Buckets::select(&parse(SCRAPE_2), "lat", all);
        let d = two.since(&one);
        assert_eq!(
            d.pairs(),
            vec![(0.1, 90.0), (1.0, 102.0), (f64::INFINITY, 102.0)]
        );
        assert_eq!(d.count(), 102.0);
        // rank 0.99 * 102 = 100.98 falls in (0.1, 1]: 0.1 + 0.9 * 10.98 / 12.
        let p99 = d.quantile(0.99).expect("p99");
        assert!((p99 - (0.1 + 0.9 * 10.98 / 12.0)).abs() < 1e-9, "{p99}");
        assert_eq!(two.since(&two).quantile(0.99), None, "no growth, no P99");
    }

    #[test]
    fn select_keeps_only_matching_series() {
        let only_a = Buckets::select(&parse(SCRAPE_2), "lat", |l| l["iface"] == "a");
        assert_eq!(only_a.total().count(), 110.0);
        assert_eq!(
            Buckets::select(&parse(SCRAPE_2), "other", |_| true)
                .total()
                .count(),
            0.0
        );
    }
}
