//! Readings straight from the agents' `/metrics` (no Prometheus): the P99
//! from the growth of the histogram buckets between two scrapes and the
//! rate from the growth of the message counter.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use promtext::{Buckets, Cumulative, Matcher, counter_growth, matches, selector};

use super::{Reading, Source, SourceError, SourceFuture, http::HttpGet};

/// The agent's latency histogram.
pub const LATENCY: &str = "siplat_sip_latency_seconds";

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
    /// The selected latency histogram series.
    buckets: Buckets,
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
        let parse =
            |text: &str| selector::parse(text).map_err(|e| SourceError::Query(e.to_string()));
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
        let samples = promtext::parse(text);
        let mut messages = BTreeMap::new();
        for s in &samples {
            if s.name == self.config.rate_metric && matches(&s.labels, &self.rate_selector) {
                let key: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                messages.insert(key.join(","), s.value);
            }
        }
        Snapshot {
            buckets: Buckets::select(&samples, LATENCY, |l| matches(l, &self.selector)),
            messages,
        }
    }

    async fn read_all(&mut self) -> Result<Reading, SourceError> {
        let mut latency = Cumulative::default();
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
                latency.merge(&snap.buckets.since(&prev.buckets));
                for (key, v) in &snap.messages {
                    messages += counter_growth(prev.messages.get(key).copied(), *v);
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
        let rate = elapsed.filter(|e| *e > 0.0).map(|e| messages / e);
        Ok(Reading {
            p99_s: latency.quantile(0.99),
            rate,
            sample_age: Duration::ZERO,
            pods: None,
        })
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
