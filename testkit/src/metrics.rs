//! The one matcher every test reads the agent's `/metrics` with: sums and
//! presence of series by name and a subset of their labels, over what
//! `promtext` parses (the parser the scaler and the testbed judge runs by,
//! so a test cannot pass on text they would read differently).

use std::collections::BTreeMap;

use promtext::Sample;

/// A parsed scrape, and its text for assertion messages.
pub struct Metrics {
    pub samples: Vec<Sample>,
    pub text: String,
}

impl Metrics {
    #[must_use]
    pub fn parse(text: &str) -> Self {
        Self {
            samples: promtext::parse(text),
            text: text.to_owned(),
        }
    }

    /// The samples of `name` whose labels include every pair of `want`
    /// (present with that value: `("status_class", "")` wants the label
    /// exported empty, as the agent does for requests).
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        want: &'a [(&str, &str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples
            .iter()
            .filter(move |s| s.name == name && includes(&s.labels, want))
    }

    /// Sum of the series of `name` whose labels include all of `want`; 0
    /// when there is none.
    #[must_use]
    pub fn value(&self, name: &str, want: &[(&str, &str)]) -> f64 {
        self.matching(name, want).map(|s| s.value).sum()
    }

    #[must_use]
    pub fn has(&self, name: &str, want: &[(&str, &str)]) -> bool {
        self.matching(name, want).next().is_some()
    }
}

fn includes(labels: &BTreeMap<String, String>, want: &[(&str, &str)]) -> bool {
    want.iter()
        .all(|(k, v)| labels.get(*k).is_some_and(|have| have == v))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the agent exports, trimmed: a histogram with an empty label, a
    /// labelled counter, a gauge without labels.
    const SCRAPE: &str = r#"# HELP siplat_sip_latency_seconds SIP latency
# TYPE siplat_sip_latency_seconds histogram
siplat_sip_latency_seconds_bucket{iface="p0",kind="response",method="INVITE",status_class="1xx",le="0.005"} 3
siplat_sip_latency_seconds_bucket{iface="p0",kind="response",method="INVITE",status_class="1xx",le="+Inf"} 4
siplat_sip_latency_seconds_count{iface="p0",kind="response",method="INVITE",status_class="1xx"} 4
siplat_sip_latency_seconds_count{iface="p1",kind="relay_request",method="INVITE",status_class=""} 2
siplat_sip_latency_seconds_count{iface="p0",kind="response",method="REGISTER",status_class="2xx"} 5
siplat_dropped_total{reason="truncated"} 7
siplat_dropped_total{reason="not_sip"} 1
siplat_agent_attached_interfaces 2
"#;

    #[test]
    fn sums_the_series_whose_labels_include_the_wanted_ones() {
        let m = Metrics::parse(SCRAPE);
        let count = "siplat_sip_latency_seconds_count";
        assert_eq!(m.value(count, &[]), 11.0);
        assert_eq!(m.value(count, &[("kind", "response")]), 9.0);
        assert_eq!(
            m.value(count, &[("kind", "response"), ("method", "INVITE")]),
            4.0
        );
        assert_eq!(
            m.value(count, &[("iface", "p1"), ("status_class", "")]),
            2.0
        );
        assert_eq!(m.value("siplat_dropped_total", &[]), 8.0);
        assert_eq!(
            m.value("siplat_dropped_total", &[("reason", "truncated")]),
            7.0
        );
        assert_eq!(m.value("siplat_agent_attached_interfaces", &[]), 2.0);
        // Bucket lines are their own series, not the histogram's name.
        assert_eq!(m.value("siplat_sip_latency_seconds", &[]), 0.0);
        assert_eq!(
            m.value("siplat_sip_latency_seconds_bucket", &[("le", "+Inf")]),
            4.0
        );
    }

    #[test]
    fn a_missing_label_is_not_an_empty_one() {
        let m = Metrics::parse(SCRAPE);
        assert!(m.has("siplat_dropped_total", &[("reason", "not_sip")]));
        assert!(!m.has("siplat_dropped_total", &[("reason", "fragment")]));
        assert!(!m.has("siplat_dropped_total", &[("k8s_pod", "")]));
        assert!(!m.has("siplat_sip_messages_total", &[]));
        assert_eq!(m.value("siplat_sip_messages_total", &[]), 0.0);
        assert!(m.text.contains("# TYPE"));
    }
}
