//! Prometheus metrics: latency histograms and windowed P99 per kind and
//! method, message/retransmission/expiry counters and every drop.
//!
//! Labels come from bounded sets only (kind, method code, status class,
//! interface, drop reason): never a Call-ID, URI, number or address.

use std::{collections::HashMap, sync::Mutex};

use agent_common::{
    counters::{
        COUNTERS_LEN, DIR_IN, DIR_OUT, DROP_COUNT, DROP_REASONS, FRAG_BASE, FRAG_OUTCOMES,
        KEEPALIVES, SEGMENT_BASE, SEGMENT_OUTCOMES, message_index, retrans_index,
    },
    sample::{KIND_NAMES, Sample},
    sip::{method, status_class},
};
use prometheus::{
    Encoder as _, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use thiserror::Error;

use crate::{pods::PodRef, sketch::Window};

#[derive(Debug, Error)]
pub enum MetricsError {
    #[error("invalid histogram buckets (bucket factor must be > 1)")]
    Buckets(#[source] prometheus::Error),
    #[error("register metric")]
    Register(#[source] prometheus::Error),
    #[error("encode metrics")]
    Encode(#[source] prometheus::Error),
}

/// Histogram bounds from 100 us to at least 10 s in steps of `factor`.
pub fn latency_buckets(factor: f64) -> Result<Vec<f64>, MetricsError> {
    if factor.partial_cmp(&1.0) != Some(std::cmp::Ordering::Greater) {
        return Err(MetricsError::Buckets(prometheus::Error::Msg(format!(
            "factor {factor}"
        ))));
    }
    let mut bounds = vec![100e-6];
    while bounds.last().is_some_and(|b| *b < 10.0) {
        let next = bounds.last().copied().unwrap_or(100e-6) * factor;
        bounds.push(next);
    }
    Ok(bounds)
}

const TYPES: [&str; 2] = ["request", "response"];
const DIRECTIONS: [(u32, &str); 2] = [(DIR_IN, "in"), (DIR_OUT, "out")];

pub struct Metrics {
    registry: Registry,
    latency: HistogramVec,
    p99: GaugeVec,
    window_samples: IntGaugeVec,
    messages: IntCounterVec,
    retransmissions: IntCounterVec,
    expired: IntCounterVec,
    dropped: IntCounterVec,
    pub attached: IntGauge,
    /// Failed attaches to interfaces `--iface` selects (each retry counts).
    pub attach_errors: IntCounter,
    samples: IntCounter,
    /// `/samples` requests turned away at the concurrency cap.
    pub samples_rejected: IntCounter,
    unpaired: IntCounter,
    keepalives: IntCounter,
    fragments: IntCounterVec,
    segments: IntCounterVec,
    /// With `--pod-labels`: list failures and samples no pod was found for.
    pub pod_list_errors: IntCounter,
    without_pod: IntCounter,
    iface_label: bool,
    pod_labels: bool,
    window_seconds: u64,
    windows: Mutex<HashMap<(u8, u8), Window>>,
    last_kernel: Mutex<Vec<u64>>,
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> Result<IntCounterVec, MetricsError> {
    IntCounterVec::new(Opts::new(name, help), labels).map_err(MetricsError::Register)
}

fn counter(name: &str, help: &str) -> Result<IntCounter, MetricsError> {
    IntCounter::new(name, help).map_err(MetricsError::Register)
}

/// The latency histogram; with `--pod-labels` each series also names the pod
/// behind its interface.
fn latency_histogram(bucket_factor: f64, pod_labels: bool) -> Result<HistogramVec, MetricsError> {
    const LABELS: [&str; 6] = [
        "kind",
        "method",
        "status_class",
        "iface",
        "k8s_namespace",
        "k8s_pod",
    ];
    HistogramVec::new(
        HistogramOpts::new(
            "siplat_sip_latency_seconds",
            "Time a proxy took to answer (response) or relay (relay_request, relay_response) a SIP message; round_trip: a relayed request's arrival to its final response leaving, next hops and callee included.",
        )
        .buckets(latency_buckets(bucket_factor)?),
        if pod_labels { &LABELS } else { &LABELS[..4] },
    )
    .map_err(MetricsError::Register)
}

impl Metrics {
    #[expect(
        clippy::too_many_lines,
        reason = "one declaration per metric, registered together: splitting it hides which are always present"
    )]
    pub fn new(
        bucket_factor: f64,
        iface_label: bool,
        pod_labels: bool,
        window_seconds: u64,
    ) -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let reg = |c: Box<dyn prometheus::core::Collector>| {
            registry.register(c).map_err(MetricsError::Register)
        };
        let latency = latency_histogram(bucket_factor, pod_labels)?;
        let p99 = GaugeVec::new(
            Opts::new("siplat_sip_latency_p99_seconds", "P99 latency over the sliding window, from a quantile sketch of the samples; absent when the window is empty."),
            &["kind", "method"],
        )
        .map_err(MetricsError::Register)?;
        let window_samples = IntGaugeVec::new(
            Opts::new(
                "siplat_sip_latency_window_samples",
                "Samples in the P99 window: 0 means no traffic, absent means no data.",
            ),
            &["kind", "method"],
        )
        .map_err(MetricsError::Register)?;
        let messages = counter_vec(
            "siplat_sip_messages_total",
            "SIP messages seen, by direction relative to the proxy.",
            &["direction", "type", "method"],
        )?;
        let retransmissions = counter_vec(
            "siplat_sip_retransmissions_total",
            "Messages seen again while their first copy was pending.",
            &["type", "method"],
        )?;
        let expired = counter_vec(
            "siplat_sip_transactions_expired_total",
            "Pending messages that got no answer or relay within the transaction timeout.",
            &["type", "method"],
        )?;
        let dropped = counter_vec(
            "siplat_dropped_total",
            "Packets, samples or pending entries lost, by reason.",
            &["reason"],
        )?;
        let attached = IntGauge::new(
            "siplat_agent_attached_interfaces",
            "Interfaces the program is attached to.",
        )
        .map_err(MetricsError::Register)?;
        let attach_errors = counter(
            "siplat_agent_attach_errors_total",
            "Failed attempts to attach to an interface --iface selects, retried every rescan; /readyz fails while one is failing.",
        )?;
        let samples = counter(
            "siplat_agent_samples_total",
            "Latency samples read from the kernel.",
        )?;
        let samples_rejected = counter(
            "siplat_agent_samples_requests_rejected_total",
            "/samples requests answered 503 because the most that are served at once were running.",
        )?;
        let unpaired = counter(
            "siplat_sip_unpaired_responses_total",
            "Responses that left with neither their request nor an arriving copy pending (request seen before the agent started, evicted, or proxy-originated).",
        )?;
        let keepalives = counter(
            "siplat_sip_keepalives_total",
            "CRLF keep-alives (RFC 5626): datagrams and segments of line ends only.",
        )?;
        let fragments = counter_vec(
            "siplat_ip_fragments_total",
            "IP fragments of SIP datagrams, by what became of them: saved (the scan waits for the next fragment), resumed (a waiting scan went on), skipped (the scan had finished), out_of_order and state_full (the datagram was lost, also in siplat_dropped_total{reason=\"fragment\"}), expired (a waiting scan whose next fragment never came).",
            &["outcome"],
        )?;
        let segments = counter_vec(
            "siplat_tcp_segments_total",
            "TCP segments that did not both start and end on a SIP message boundary: saved (a message goes on in the next segment), resumed, retransmitted (bytes already read), state_full, expired (a stream that stopped inside a message).",
            &["outcome"],
        )?;
        for outcome in FRAG_OUTCOMES.iter().chain(&["expired"]) {
            fragments.with_label_values(&[outcome]);
        }
        for outcome in SEGMENT_OUTCOMES.iter().chain(&["expired"]) {
            segments.with_label_values(&[outcome]);
        }
        for c in [
            Box::new(unpaired.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(keepalives.clone()),
            Box::new(fragments.clone()),
            Box::new(segments.clone()),
            Box::new(latency.clone()),
            Box::new(p99.clone()),
            Box::new(window_samples.clone()),
            Box::new(messages.clone()),
            Box::new(retransmissions.clone()),
            Box::new(expired.clone()),
            Box::new(dropped.clone()),
            Box::new(attached.clone()),
            Box::new(attach_errors.clone()),
            Box::new(samples.clone()),
            Box::new(samples_rejected.clone()),
        ] {
            reg(c)?;
        }
        // Every drop reason is present from the start, so "0 drops" is visible.
        let pod_list_errors = counter(
            "siplat_agent_pod_list_errors_total",
            "Failed lists of this node's pods (--pod-labels); the last good list stays in use.",
        )?;
        let without_pod = counter(
            "siplat_agent_samples_without_pod_total",
            "Samples whose interface no listed pod owned yet (--pod-labels): recorded with empty k8s_pod.",
        )?;
        if pod_labels {
            reg(Box::new(pod_list_errors.clone()))?;
            reg(Box::new(without_pod.clone()))?;
        }
        for reason in DROP_REASONS.iter().chain(USER_DROP_REASONS.iter()) {
            dropped.with_label_values(&[reason]);
        }
        Ok(Self {
            registry,
            latency,
            p99,
            window_samples,
            messages,
            retransmissions,
            expired,
            dropped,
            attached,
            attach_errors,
            samples,
            samples_rejected,
            unpaired,
            keepalives,
            fragments,
            segments,
            pod_list_errors,
            without_pod,
            iface_label,
            pod_labels,
            window_seconds,
            windows: Mutex::new(HashMap::new()),
            last_kernel: Mutex::new(vec![0; COUNTERS_LEN as usize]),
        })
    }

    /// Record one sample from the kernel; `pod` is the pod behind `iface`
    /// when `--pod-labels` found it.
    pub fn observe(&self, sample: &Sample, iface: &str, pod: Option<&PodRef>, now_s: u64) {
        #[expect(
            clippy::cast_precision_loss,
            reason = "ns latencies fit f64 exactly enough"
        )]
        let seconds = sample.latency_ns as f64 / 1e9;
        let kind = KIND_NAMES
            .get(usize::from(sample.kind))
            .copied()
            .unwrap_or("unknown");
        let class = if sample.kind == agent_common::sample::KIND_RELAY_REQUEST {
            ""
        } else {
            status_class(sample.status)
        };
        let iface = if self.iface_label { iface } else { "" };
        let labels = [kind, method::name(sample.method), class, iface];
        if self.pod_labels {
            if pod.is_none() {
                self.without_pod.inc();
            }
            let (namespace, name) = pod.map_or(("", ""), |p| (&p.namespace, &p.name));
            self.latency
                .with_label_values(&[labels[0], labels[1], labels[2], labels[3], namespace, name])
                .observe(seconds);
        } else {
            self.latency.with_label_values(&labels).observe(seconds);
        }
        self.samples.inc();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        windows
            .entry((sample.kind, sample.method))
            .or_insert_with(|| Window::new(self.window_seconds))
            .add(now_s, seconds);
    }

    /// Remove every latency series of `iface`, an interface that is gone
    /// (pods come and go: without this each pod ever seen on the node would
    /// keep its ~1,200 series). Returns how many went.
    pub fn forget_iface(&self, iface: &str) -> usize {
        use prometheus::core::Collector as _;
        let mut removed = 0;
        for family in self.latency.collect() {
            for metric in family.get_metric() {
                let labels: HashMap<&str, &str> = metric
                    .get_label()
                    .iter()
                    .map(|l| (l.name(), l.value()))
                    .collect();
                if labels.get("iface") == Some(&iface) && self.latency.remove(&labels).is_ok() {
                    removed += 1;
                }
            }
        }
        removed
    }

    /// Bring the P99 gauges to the window ending at `now_s`.
    pub fn refresh_quantiles(&self, now_s: u64) {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (&(kind, m), window) in windows.iter_mut() {
            let labels = [
                KIND_NAMES
                    .get(usize::from(kind))
                    .copied()
                    .unwrap_or("unknown"),
                method::name(m),
            ];
            let sketch = window.snapshot(now_s);
            self.window_samples
                .with_label_values(&labels)
                .set(i64::try_from(sketch.count()).unwrap_or(i64::MAX));
            match sketch.quantile(0.99) {
                Some(p) => self.p99.with_label_values(&labels).set(p),
                None => {
                    // Absent, not 0: an empty window says nothing about latency.
                    let _ = self.p99.remove_label_values(&labels);
                }
            }
        }
    }

    /// Fold the kernel's per-CPU counters (summed) into the exported ones.
    pub fn apply_kernel_counters(&self, totals: &[u64]) {
        let mut last = self
            .last_kernel
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let delta = |i: u32, last: &mut Vec<u64>| -> u64 {
            let i = i as usize;
            let (Some(&now), Some(before)) = (totals.get(i), last.get_mut(i)) else {
                return 0;
            };
            let d = now.saturating_sub(*before);
            *before = now.max(*before);
            d
        };
        for (i, reason) in DROP_REASONS.iter().enumerate().take(DROP_COUNT) {
            #[expect(clippy::cast_possible_truncation, reason = "DROP_COUNT is tiny")]
            let d = delta(i as u32, &mut last);
            self.dropped.with_label_values(&[reason]).inc_by(d);
        }
        self.unpaired
            .inc_by(delta(agent_common::counters::UNPAIRED_RESPONSE, &mut last));
        self.keepalives.inc_by(delta(KEEPALIVES, &mut last));
        for (i, outcome) in (FRAG_BASE..).zip(FRAG_OUTCOMES) {
            self.fragments
                .with_label_values(&[outcome])
                .inc_by(delta(i, &mut last));
        }
        for (i, outcome) in (SEGMENT_BASE..).zip(SEGMENT_OUTCOMES) {
            self.segments
                .with_label_values(&[outcome])
                .inc_by(delta(i, &mut last));
        }
        for code in 0..u8::try_from(method::NAMES.len()).unwrap_or(0) {
            let name = method::name(code);
            for (ti, ty) in TYPES.iter().enumerate() {
                let is_response = ti == 1;
                for (dir, dname) in DIRECTIONS {
                    let d = delta(message_index(dir, is_response, code), &mut last);
                    if d > 0 {
                        self.messages
                            .with_label_values(&[dname, ty, name])
                            .inc_by(d);
                    }
                }
                let d = delta(retrans_index(is_response, code), &mut last);
                if d > 0 {
                    self.retransmissions
                        .with_label_values(&[ty, name])
                        .inc_by(d);
                }
            }
        }
    }

    pub fn add_expired(&self, is_response: bool, method_code: u8, n: u64) {
        self.expired
            .with_label_values(&[TYPES[usize::from(is_response)], method::name(method_code)])
            .inc_by(n);
    }

    /// Reassembly states userspace aged out: `fragment` or `segment`.
    pub fn add_reassembly_expired(&self, fragments: u64, segments: u64) {
        self.fragments
            .with_label_values(&["expired"])
            .inc_by(fragments);
        self.segments
            .with_label_values(&["expired"])
            .inc_by(segments);
    }

    pub fn add_dropped(&self, reason: &str, n: u64) {
        self.dropped.with_label_values(&[reason]).inc_by(n);
    }

    pub fn encode(&self) -> Result<String, MetricsError> {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .map_err(MetricsError::Encode)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// Drop reasons found in userspace.
pub const USER_DROP_REASONS: [&str; 2] = [
    // LRU evictions from the pending map, derived by the sweeper.
    "pending_evicted",
    // Samples that did not fit the ring buffer record layout.
    "bad_sample",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_span_100us_to_10s_in_fine_steps() {
        let b = latency_buckets(1.2).expect("valid");
        assert!((b[0] - 100e-6).abs() < 1e-12);
        assert!(*b.last().expect("non-empty") >= 10.0);
        assert!(b.windows(2).all(|w| w[1] / w[0] <= 1.2 + 1e-9));
        assert_eq!(b.len(), 65);
        assert!(latency_buckets(1.0).is_err());
    }

    #[test]
    fn p99_gauge_is_absent_for_an_empty_window() {
        let m = Metrics::new(1.2, true, false, 30).expect("metrics");
        let mut s = Sample {
            latency_ns: 5_000_000,
            kind: 0,
            method: method::INVITE,
            status: 100,
            ..Sample::default()
        };
        m.observe(&s, "eth0", None, 100);
        s.latency_ns = 50_000_000;
        m.observe(&s, "eth0", None, 100);
        m.refresh_quantiles(101);
        let text = m.encode().expect("encode");
        assert!(
            text.contains(
                "siplat_sip_latency_p99_seconds{kind=\"response\",method=\"INVITE\"} 0.05"
            ),
            "{text}"
        );
        m.refresh_quantiles(200);
        let text = m.encode().expect("encode");
        assert!(!text.contains("siplat_sip_latency_p99_seconds{"), "{text}");
        assert!(
            text.contains(
                "siplat_sip_latency_window_samples{kind=\"response\",method=\"INVITE\"} 0"
            ),
            "{text}"
        );
    }

    /// Ringing time lands in its own series and gauge, never in the proxy's.
    #[test]
    fn round_trip_has_its_own_series_and_p99() {
        let m = Metrics::new(1.2, true, false, 30).expect("metrics");
        let mut s = Sample {
            latency_ns: 2_000_000,
            kind: agent_common::sample::KIND_RESPONSE,
            method: method::INVITE,
            status: 100,
            ..Sample::default()
        };
        m.observe(&s, "eth0", None, 100);
        s.kind = agent_common::sample::KIND_ROUND_TRIP;
        s.status = 200;
        s.latency_ns = 3_000_000_000;
        m.observe(&s, "eth0", None, 100);
        m.refresh_quantiles(101);
        let text = m.encode().expect("encode");
        let value = |series: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {series} in {text}"))
        };
        // The sketch's relative error is 0.5 %.
        let p99 = value("siplat_sip_latency_p99_seconds{kind=\"response\",method=\"INVITE\"}");
        assert!((p99 / 0.002 - 1.0).abs() < 0.01, "{p99}");
        let p99 = value("siplat_sip_latency_p99_seconds{kind=\"round_trip\",method=\"INVITE\"}");
        assert!((p99 / 3.0 - 1.0).abs() < 0.01, "{p99}");
        let count = value(
            "siplat_sip_latency_seconds_count{iface=\"eth0\",kind=\"round_trip\",method=\"INVITE\",status_class=\"2xx\"}",
        );
        assert!((count - 1.0).abs() < f64::EPSILON, "{count}");
    }

    #[test]
    fn a_gone_interface_takes_its_series_along() {
        let m = Metrics::new(1.2, true, true, 30).expect("metrics");
        let proxy = PodRef {
            namespace: "siplat".into(),
            name: "sip-proxy-0".into(),
        };
        let mut s = Sample {
            latency_ns: 5_000_000,
            kind: 0,
            method: method::INVITE,
            status: 100,
            ..Sample::default()
        };
        m.observe(&s, "cali1", Some(&proxy), 100);
        s.status = 200;
        m.observe(&s, "cali1", Some(&proxy), 100);
        m.observe(&s, "cali2", None, 100);
        assert_eq!(m.forget_iface("cali1"), 2, "both status classes");
        let text = m.encode().expect("encode");
        assert!(!text.contains("iface=\"cali1\""), "{text}");
        assert!(text.contains("iface=\"cali2\""), "{text}");
        assert_eq!(m.forget_iface("cali1"), 0);
    }

    #[test]
    fn kernel_counters_export_deltas() {
        let m = Metrics::new(1.2, true, false, 30).expect("metrics");
        let mut totals = vec![0; COUNTERS_LEN as usize];
        totals[2] = 7; // not_sip
        totals[message_index(DIR_IN, false, method::INVITE) as usize] = 3;
        m.apply_kernel_counters(&totals);
        m.apply_kernel_counters(&totals);
        let text = m.encode().expect("encode");
        assert!(
            text.contains("siplat_dropped_total{reason=\"not_sip\"} 7"),
            "{text}"
        );
        assert!(
            text.contains(
                "siplat_sip_messages_total{direction=\"in\",method=\"INVITE\",type=\"request\"} 3"
            ),
            "{text}"
        );
    }
}
