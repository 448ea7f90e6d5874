//! Scaling policies: each turns one observation of the proxy tier into a
//! proposed replica count with a reason; [`safety::Safety`] then bounds it.
//!
//! Policies are pure state machines over [`Observation`]s (no I/O, no
//! clock), so the simulator, the run loop and the tests drive the same code.

pub mod capacity;
pub mod forecast;
pub mod hpa_cpu;
pub mod hybrid;
pub mod oracle;
pub mod predictive;
pub mod qos;
pub mod rl;
pub mod safety;
pub mod spec;
pub mod r#static;

use std::time::Duration;

/// One pod as the CPU metric pipeline sees it (for `hpa-cpu`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodSample {
    /// Ready pods take traffic; unready ones are booting.
    pub ready: bool,
    /// Mean CPU use over the metric window in millicores; `None` when the
    /// metrics pipeline has nothing for this pod.
    pub cpu_millis: Option<f64>,
}

/// What a policy sees at one decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// Seconds since an arbitrary start (monotonic).
    pub now_s: f64,
    /// Replicas asked for (the `scale` subresource's spec).
    pub current_replicas: u32,
    /// Replicas taking traffic.
    pub ready_replicas: u32,
    /// P99 INVITE latency over the source's window; `None` when missing.
    pub p99_s: Option<f64>,
    /// INVITE arrival rate over all proxies, calls per second.
    pub arrival_rate: Option<f64>,
    /// Per-pod CPU, when a CPU source is configured.
    pub pods: Vec<PodSample>,
    /// Age of the newest sample behind `p99_s` / `arrival_rate`.
    pub sample_age: Duration,
    /// `p99_s` and `arrival_rate` come from only part of the tier (an agent
    /// unreachable or just back): the rate is low by the missing share.
    pub partial: bool,
    /// CPU limit of the running replicas in millicores, when the actuator
    /// reports it: the lowest when they differ (a replica started from the
    /// template at the base after a resize), so a vertical policy's wish
    /// differs from it and the resize that follows brings that one along.
    pub cpu_limit_millis: Option<u32>,
}

impl Observation {
    /// CPU of each ready pod that has a finite figure, mCPU.
    pub fn ready_cpu_millis(&self) -> impl Iterator<Item = f64> + '_ {
        self.pods
            .iter()
            .filter(|p| p.ready)
            .filter_map(|p| p.cpu_millis)
            .filter(|c| c.is_finite())
    }

    /// Mean CPU of the ready pods that have a figure, mCPU; `None` when
    /// none has one.
    #[must_use]
    pub fn mean_ready_cpu_millis(&self) -> Option<f64> {
        let cpus: Vec<f64> = self.ready_cpu_millis().collect();
        #[expect(clippy::cast_precision_loss, reason = "a handful of pods")]
        (!cpus.is_empty()).then(|| cpus.iter().sum::<f64>() / cpus.len() as f64)
    }
}

/// A policy's wish before safety.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub replicas: u32,
    /// Per-replica CPU limit wanted, in millicores; `None` leaves the
    /// limit alone (every horizontal-only policy).
    pub cpu_limit_millis: Option<u32>,
    /// Short, bounded label value (exported as `decisions_total{reason}`).
    pub reason: &'static str,
    /// Human detail for the log line.
    pub detail: String,
}

impl Proposal {
    #[must_use]
    pub fn new(replicas: u32, reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            replicas,
            cpu_limit_millis: None,
            reason,
            detail: detail.into(),
        }
    }
}

/// Which inputs a policy cannot decide without: safety refuses scale-down
/// when any of them is missing, NaN, stale or partial.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub p99: bool,
    pub rate: bool,
    pub cpu: bool,
}

pub trait Policy: Send {
    /// Name as written on the command line (`hpa-cpu:target=20m`).
    fn name(&self) -> String;
    fn needs(&self) -> Needs;
    fn propose(&mut self, obs: &Observation) -> Proposal;
    /// The actuator applied `from -> to` at `now_s` (the HPA keeps scale
    /// events for its rate policies; others may ignore it).
    fn applied(&mut self, _now_s: f64, _from: u32, _to: u32) {}
    /// Replicas to start with when the policy knows (a capacity plan).
    fn initial_replicas(&self) -> Option<u32> {
        None
    }
}
