//! Where the P99 and the arrival rate come from: Prometheus (`PromQL` over
//! the agents' histograms and counters) or the agents' `/metrics` directly.

pub mod agents;
pub mod http;
pub mod prometheus;

use std::{future::Future, pin::Pin, time::Duration};

use thiserror::Error;

use crate::policy::PodSample;

/// One reading of the inputs. Fields are `None` when the source had
/// nothing (empty result, first scrape); NaN is passed through so safety
/// and the error metric can name it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    pub p99_s: Option<f64>,
    /// INVITEs per second over all proxies.
    pub rate: Option<f64>,
    /// Age of the newest underlying sample.
    pub sample_age: Duration,
    /// Per-pod CPU when the source has it.
    pub pods: Option<Vec<PodSample>>,
    /// Agents that did not contribute while others did (`url: why`): the
    /// P99 and rate cover only part of the tier, enough to see an overload
    /// and never enough to prove there is room for fewer replicas. Empty
    /// when every agent contributed, or when none did (then the values
    /// are `None`).
    pub missing: Vec<String>,
}

impl Reading {
    /// Problems worth a log line and `siplat_scaler_source_errors_total{reason}`.
    #[must_use]
    pub fn problems(&self, stale_after: Duration) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.p99_s.is_none() || self.rate.is_none() {
            out.push("empty");
        }
        if self.p99_s.is_some_and(f64::is_nan) || self.rate.is_some_and(f64::is_nan) {
            out.push("nan");
        }
        if self.sample_age > stale_after {
            out.push("stale");
        }
        if !self.missing.is_empty() {
            out.push("partial");
        }
        out
    }
}

#[derive(Debug, Error)]
pub enum SourceError {
    #[error("connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: request timed out")]
    Timeout { url: String },
    #[error("parse answer of {url}: {message}")]
    Parse { url: String, message: String },
    #[error("query failed: {0}")]
    Query(String),
}

impl SourceError {
    /// Bounded label value for `siplat_scaler_source_errors_total{reason}`.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "connect",
            Self::Status { .. } => "http_status",
            Self::Timeout { .. } => "timeout",
            Self::Parse { .. } => "parse",
            Self::Query(_) => "query",
        }
    }
}

pub type SourceFuture<'a> = Pin<Box<dyn Future<Output = Result<Reading, SourceError>> + Send + 'a>>;

/// A source of readings; called once per decision interval.
pub trait Source: Send {
    fn read(&mut self) -> SourceFuture<'_>;
    /// Short name for logs.
    fn describe(&self) -> String;
    /// Endpoints the tier advertises (the local testbed's agent URL); a
    /// source configured without endpoints adopts them.
    fn discovered_endpoints(&mut self, _urls: &[String]) {}
}
