//! Readings from Prometheus' HTTP API (`/api/v1/query`), over the agents'
//! histogram buckets and message counters.

use std::{fmt::Write as _, time::Duration};

use serde::Deserialize;

use super::{Reading, Source, SourceError, SourceFuture, http::HttpGet};
use crate::policy::PodSample;

#[derive(Debug, Clone)]
pub struct PrometheusConfig {
    /// Base URL, e.g. `http://prometheus:9090`.
    pub url: String,
    /// Range of `rate(...)`, e.g. `1m`.
    pub window: String,
    /// Label matchers for the latency histogram, e.g. `method="INVITE"`.
    pub selector: String,
    /// Counter whose rate is the arrival rate.
    pub rate_metric: String,
    /// Label matchers for the arrival counter.
    pub rate_selector: String,
    /// Optional query giving CPU cores per pod (one element per pod).
    pub cpu_query: Option<String>,
    pub timeout: Duration,
}

pub struct Prometheus {
    config: PrometheusConfig,
    http: HttpGet,
}

#[derive(Debug, Deserialize)]
struct ApiResponse {
    status: String,
    #[serde(default)]
    data: Option<ApiData>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct VectorElement {
    #[serde(default)]
    value: Option<(f64, String)>,
}

impl Prometheus {
    #[must_use]
    pub fn new(config: PrometheusConfig) -> Self {
        let http = HttpGet::new(config.timeout);
        Self { config, http }
    }

    /// The P99 query: `PromQL`'s estimate over all proxies' buckets.
    #[must_use]
    pub fn p99_query(&self) -> String {
        format!(
            "histogram_quantile(0.99, sum by (le) (rate(siplat_sip_latency_seconds_bucket{{{}}}[{}])))",
            self.config.selector, self.config.window
        )
    }

    #[must_use]
    pub fn rate_query(&self) -> String {
        format!(
            "sum(rate({}{{{}}}[{}]))",
            self.config.rate_metric, self.config.rate_selector, self.config.window
        )
    }

    /// Age of the newest counter sample: Prometheus keeps answering from
    /// old samples for a while after the agents vanish.
    #[must_use]
    pub fn age_query(&self) -> String {
        format!(
            "time() - max(timestamp({}{{{}}}))",
            self.config.rate_metric, self.config.rate_selector
        )
    }

    /// Run an instant query; the values of the result vector (or scalar).
    pub async fn query(&self, promql: &str) -> Result<Vec<f64>, SourceError> {
        let url = format!(
            "{}/api/v1/query?query={}",
            self.config.url.trim_end_matches('/'),
            percent_encode(promql)
        );
        let body = self.http.get(&url).await?;
        let parsed: ApiResponse =
            serde_json::from_slice(&body).map_err(|e| SourceError::Parse {
                url: url.clone(),
                message: e.to_string(),
            })?;
        if parsed.status != "success" {
            return Err(SourceError::Query(parsed.error.unwrap_or(parsed.status)));
        }
        let data = parsed.data.ok_or_else(|| SourceError::Parse {
            url: url.clone(),
            message: "no data".to_owned(),
        })?;
        let bad = |m: String| SourceError::Parse {
            url: url.clone(),
            message: m,
        };
        match data.result_type.as_str() {
            "vector" => {
                let elements: Vec<VectorElement> =
                    serde_json::from_value(data.result).map_err(|e| bad(e.to_string()))?;
                Ok(elements
                    .into_iter()
                    .filter_map(|e| e.value)
                    .map(|(_, v)| promtext::parse_value(&v).unwrap_or(f64::NAN))
                    .collect())
            }
            "scalar" => {
                let (_, v): (f64, String) =
                    serde_json::from_value(data.result).map_err(|e| bad(e.to_string()))?;
                Ok(vec![promtext::parse_value(&v).unwrap_or(f64::NAN)])
            }
            other => Err(bad(format!("unexpected result type {other}"))),
        }
    }

    async fn read_all(&self) -> Result<Reading, SourceError> {
        let p99 = self.query(&self.p99_query()).await?.first().copied();
        let rate = self.query(&self.rate_query()).await?.first().copied();
        let age = self.query(&self.age_query()).await?.first().copied();
        let pods = match &self.config.cpu_query {
            Some(q) => Some(
                self.query(q)
                    .await?
                    .into_iter()
                    .map(|cores| PodSample {
                        ready: true,
                        cpu_millis: Some(cores * 1000.0),
                    })
                    .collect(),
            ),
            None => None,
        };
        let sample_age = age
            .filter(|a| a.is_finite() && *a >= 0.0)
            .map_or(Duration::MAX, Duration::from_secs_f64);
        Ok(Reading {
            p99_s: p99,
            rate,
            // No counter sample at all: as stale as it gets.
            sample_age: if rate.is_none() && age.is_none() {
                Duration::MAX
            } else {
                sample_age
            },
            pods,
            // Not detectable here: Prometheus marks a target's series stale at
            // its first failed scrape, so the sums simply lose them, and how
            // many agents there should be is not known to the scaler (one per
            // node, not per proxy: the ready-replica count does not tell).
            // One dead agent is Prometheus' own `up == 0`; all of them are
            // `stale`/`empty` above.
            missing: Vec::new(),
        })
    }
}

impl Source for Prometheus {
    fn read(&mut self) -> SourceFuture<'_> {
        Box::pin(self.read_all())
    }

    fn describe(&self) -> String {
        format!("prometheus {}", self.config.url)
    }
}

/// Percent-encoding for a query-string value (RFC 3986 unreserved kept).
#[must_use]
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
