//! The scaler's own metrics. The names are the ones the rules and the
//! dashboard read (`manifests/monitoring/known-metrics.txt`).

use prometheus::{Encoder as _, Gauge, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

use crate::actuator::ActuatorError;

#[derive(Clone)]
pub struct ScalerMetrics {
    registry: Registry,
    pub desired: IntGauge,
    pub current: IntGauge,
    pub decisions: IntCounterVec,
    pub input_p99: Gauge,
    pub source_errors: IntCounterVec,
    pub actuation_errors: IntCounterVec,
    pub cpu_limit: IntGauge,
}

impl ScalerMetrics {
    /// # Panics
    /// Only if the static metric definitions are invalid (a bug).
    #[must_use]
    pub fn new() -> Self {
        let registry = Registry::new();
        let desired = IntGauge::new(
            "siplat_scaler_desired_replicas",
            "Replicas the last decision asked for.",
        )
        .expect("valid metric");
        let current = IntGauge::new(
            "siplat_scaler_current_replicas",
            "Replicas the target had at the last decision.",
        )
        .expect("valid metric");
        let decisions = IntCounterVec::new(
            Opts::new(
                "siplat_scaler_decisions_total",
                "Decisions by the reason that settled them.",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let input_p99 = Gauge::new(
            "siplat_scaler_input_p99_seconds",
            "P99 SIP latency the last decision saw (NaN when missing).",
        )
        .expect("valid metric");
        let source_errors = IntCounterVec::new(
            Opts::new(
                "siplat_scaler_source_errors_total",
                "Rounds whose input was unusable or incomplete, by reason (connect, http_status, timeout, parse, query, empty, nan, stale, partial).",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let actuation_errors = IntCounterVec::new(
            Opts::new(
                "siplat_scaler_actuation_errors_total",
                "Scale and resize calls that failed, by reason (forbidden, conflict, not_found, timeout, command, other).",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let cpu_limit = IntGauge::new(
            "siplat_scaler_cpu_limit_millicores",
            "Per-replica CPU limit of the tier (read at the last decision, or set by the last resize), millicores; 0 while unknown.",
        )
        .expect("valid metric");
        for m in [
            Box::new(desired.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(current.clone()),
            Box::new(decisions.clone()),
            Box::new(input_p99.clone()),
            Box::new(source_errors.clone()),
            Box::new(actuation_errors.clone()),
            Box::new(cpu_limit.clone()),
        ] {
            registry.register(m).expect("unique metric");
        }
        // Every error reason is present from the start, so "no errors" shows as 0.
        for r in [
            "connect",
            "http_status",
            "timeout",
            "parse",
            "query",
            "empty",
            "nan",
            "stale",
            "partial",
        ] {
            source_errors.with_label_values(&[r]);
        }
        for r in ActuatorError::REASONS {
            actuation_errors.with_label_values(&[r]);
        }
        Self {
            registry,
            desired,
            current,
            decisions,
            input_p99,
            source_errors,
            actuation_errors,
            cpu_limit,
        }
    }

    /// Text exposition for `/metrics`.
    #[must_use]
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

impl Default for ScalerMetrics {
    fn default() -> Self {
        Self::new()
    }
}
