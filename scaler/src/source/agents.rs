//! Readings straight from the agents' `/metrics` (no Prometheus): the P99
//! from the growth of the histogram buckets between two scrapes and the
//! rate from the growth of the message counter.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use promtext::{
    exposition::{self, histogram_quantile},
    selector::{self, Matcher, matches},
};

use super::{Reading, Source, SourceError, SourceFuture, http::HttpGet};

#[derive(Debug, Clone)]
pub struct AgentsConfig {
    /// Agent base URLs (`http://host:9560`); `/metrics` is appended.
    pub urls: Vec<String>,
    /// Label matchers for the latency histogram.
    pub selector: String,
    /// Counter whose growth is the arrival rate.
    pub rate_metric: String,
    /// Label matchers for the arrival counter.
    pub rate_selector: String,
    pub timeout: Duration,
}

/// Counters of one scrape of one agent.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    /// (series labels without `le`, `le`) -> cumulative count.
    buckets: BTreeMap<(String, String), f64>,
    /// Message counters per series.
    messages: BTreeMap<String, f64>,
}

pub struct Agents {
    config: AgentsConfig,
    selector: Vec<Matcher>,
    rate_selector: Vec<Matcher>,
    http: HttpGet,
    previous: HashMap<String, (Instant, Snapshot)>,
    /// Configured without URLs: take them from the tier.
    auto: bool,
}

impl Agents {
    pub fn new(config: AgentsConfig) -> Result<Self, SourceError> {
        let parse = |text: &str| {
            selector::parse(text)
                .ok_or_else(|| SourceError::Query(format!("bad label selector `{text}`")))
        };
        let http = HttpGet::new(config.timeout);
        Ok(Self {
            selector: parse(&config.selector)?,
            rate_selector: parse(&config.rate_selector)?,
            auto: config.urls.is_empty(),
            config,
            http,
            previous: HashMap::new(),
        })
    }

    pub fn set_urls(&mut self, urls: Vec<String>) {
        self.previous.retain(|u, _| urls.contains(u));
        self.config.urls = urls;
    }

    fn snapshot(&self, text: &str) -> Snapshot {
        let mut snap = Snapshot::default();
        for s in exposition::parse(text) {
            if s.name == "siplat_sip_latency_seconds_bucket" && matches(&s.labels, &self.selector) {
                let le = s.labels.get("le").cloned().unwrap_or_default();
                let key: Vec<String> = s
                    .labels
                    .iter()
                    .filter(|(k, _)| k.as_str() != "le")
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                snap.buckets.insert((key.join(","), le), s.value);
            } else if s.name == self.config.rate_metric && matches(&s.labels, &self.rate_selector) {
                let key: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                snap.messages.insert(key.join(","), s.value);
            }
        }
        snap
    }

    async fn read_all(&mut self) -> Result<Reading, SourceError> {
        let mut by_le: BTreeMap<String, f64> = BTreeMap::new();
        let mut messages = 0.0;
        let mut elapsed: Option<f64> = None;
        let mut scraped = Vec::new();
        for base in &self.config.urls {
            let url = metrics_url(base);
            let body = self.http.get(&url).await?;
            let text = String::from_utf8_lossy(&body).into_owned();
            scraped.push((base.clone(), Instant::now(), self.snapshot(&text)));
        }
        let mut complete = !scraped.is_empty();
        for (base, at, snap) in scraped {
            if let Some((prev_at, prev)) = self.previous.get(&base) {
                let dt = at.duration_since(*prev_at).as_secs_f64();
                elapsed = Some(elapsed.map_or(dt, |e: f64| e.max(dt)));
                for (key, v) in &snap.buckets {
                    *by_le.entry(key.1.clone()).or_insert(0.0) += delta(prev.buckets.get(key), *v);
                }
                for (key, v) in &snap.messages {
                    messages += delta(prev.messages.get(key), *v);
                }
            } else {
                complete = false;
            }
            self.previous.insert(base, (at, snap));
        }
        if !complete {
            // First scrape of some agent: no deltas yet, nothing to judge.
            return Ok(Reading::default());
        }
        let mut buckets: Vec<(f64, f64)> = by_le
            .into_iter()
            .filter_map(|(le, c)| exposition::parse_value(&le).map(|le| (le, c)))
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let rate = elapsed.filter(|e| *e > 0.0).map(|e| messages / e);
        Ok(Reading {
            p99_s: histogram_quantile(0.99, &buckets),
            rate,
            sample_age: Duration::ZERO,
            pods: None,
        })
    }
}

/// Counter growth, treating a drop as a restart from zero.
fn delta(previous: Option<&f64>, current: f64) -> f64 {
    match previous {
        Some(&p) if current >= p => current - p,
        _ => current,
    }
}

fn metrics_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/metrics") {
        base.to_owned()
    } else {
        format!("{base}/metrics")
    }
}

impl Source for Agents {
    fn read(&mut self) -> SourceFuture<'_> {
        Box::pin(self.read_all())
    }

    fn describe(&self) -> String {
        format!("agents {}", self.config.urls.join(","))
    }

    fn discovered_endpoints(&mut self, urls: &[String]) {
        if self.auto && self.config.urls != urls {
            self.set_urls(urls.to_vec());
        }
    }
}
