//! Readings straight from the agents' `/metrics` (no Prometheus): the P99
//! from the growth of the histogram buckets between two scrapes and the
//! rate from the growth of the message counter. An agent that fails, or
//! has no previous scrape yet, is left out and named in
//! [`Reading::missing`](super::Reading::missing): the others still show an
//! overload, and safety keeps the tier from shrinking on their share.

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

    /// Scrape every agent at once, so one that hangs costs one timeout,
    /// not one per agent behind it; results in configuration order.
    async fn scrape_all(&self) -> Vec<(String, Result<(Instant, Snapshot), SourceError>)> {
        let tasks: Vec<_> = self
            .config
            .urls
            .iter()
            .map(|base| {
                let (http, url) = (self.http.clone(), metrics_url(base));
                tokio::spawn(async move { http.get(&url).await.map(|b| (Instant::now(), b)) })
            })
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        for (base, task) in self.config.urls.iter().zip(tasks) {
            let body = task.await.unwrap_or_else(|e| {
                Err(SourceError::Connect {
                    url: metrics_url(base),
                    message: format!("scrape task: {e}"),
                })
            });
            let snap = body.map(|(at, b)| (at, self.snapshot(&String::from_utf8_lossy(&b))));
            out.push((base.clone(), snap));
        }
        out
    }

    async fn read_all(&mut self) -> Result<Reading, SourceError> {
        let mut latency = Cumulative::default();
        let mut rate = 0.0;
        let mut contributed = 0_usize;
        let mut missing = Vec::new();
        let mut first_error = None;
        for (base, scraped) in self.scrape_all().await {
            let (at, snap) = match scraped {
                Ok(s) => s,
                Err(e) => {
                    // Its next scrape starts a fresh delta: one spanning the
                    // outage would weigh its P99 over minutes against the
                    // others' seconds.
                    self.previous.remove(&base);
                    missing.push(e.to_string());
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            match self.previous.get(&base) {
                Some((prev_at, prev)) => {
                    let dt = at.duration_since(*prev_at).as_secs_f64();
                    latency.merge(&snap.buckets.since(&prev.buckets));
                    if dt > 0.0 {
                        let grown: f64 = snap
                            .messages
                            .iter()
                            .map(|(key, v)| counter_growth(prev.messages.get(key).copied(), *v))
                            .sum();
                        rate += grown / dt;
                    }
                    contributed += 1;
                }
                None => missing.push(format!("{base}: first scrape, no deltas yet")),
            }
            self.previous.insert(base, (at, snap));
        }
        if contributed == 0 {
            // Down agents are the cause worth a reason label; with none down,
            // this is the first scrape of every agent: nothing to judge yet.
            return first_error.map_or_else(|| Ok(Reading::default()), Err);
        }
        Ok(Reading {
            p99_s: latency.quantile(0.99),
            rate: Some(rate),
            sample_age: Duration::ZERO,
            pods: None,
            missing,
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
