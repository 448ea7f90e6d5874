//! Reading samples from the kernel's ring buffer and fanning them out to the
//! metrics and the raw-sample store.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use agent_common::{config::SAMPLES_DRAIN_INTERVAL_MS, sample::Sample};
use aya::maps::{MapData, RingBuf};
use tokio::io::unix::AsyncFd;

use crate::{
    metrics::Metrics,
    pods::Directory,
    samples::{SampleRecord, SampleStore, ip, monotonic_ns},
};

/// Where a sample goes once read.
pub struct Sink {
    pub metrics: Arc<Metrics>,
    pub store: Arc<SampleStore>,
    /// ifindex -> name of attached interfaces.
    pub names: Arc<RwLock<HashMap<u32, String>>>,
    pub mono_to_unix_ns: i128,
    /// The node's pods, with `--pod-labels`.
    pub pods: Option<Arc<Directory>>,
}

impl Sink {
    pub fn record(&self, sample: &Sample) {
        let (iface, first) = {
            let names = self
                .names
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let name = |i: u32| names.get(&i).cloned().unwrap_or_else(|| format!("if{i}"));
            (name(sample.ifindex), name(sample.first_ifindex))
        };
        // With --placement host the second packet is one the pod sent: its
        // source is the pod's address.
        let pod = self
            .pods
            .as_ref()
            .and_then(|d| d.resolve(sample.ifindex, &iface, ip(sample.saddr, sample.family)));
        self.metrics.observe(
            sample,
            &iface,
            pod.as_deref(),
            monotonic_ns() / 1_000_000_000,
        );
        let mut record = SampleRecord::new(sample, iface, first, self.mono_to_unix_ns);
        if let Some(pod) = pod {
            record.k8s_namespace = Some(pod.namespace.clone());
            record.k8s_pod = Some(pod.name.clone());
        }
        self.store.push(record);
    }

    /// Decode one ring buffer record; a short record is counted, not trusted.
    pub fn record_bytes(&self, bytes: &[u8]) {
        if bytes.len() < size_of::<Sample>() {
            self.metrics.add_dropped("bad_sample", 1);
            return;
        }
        // SAFETY: length checked; Sample is plain data, read unaligned.
        let sample: Sample = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
        self.record(&sample);
    }
}

/// Drain the ring buffer on a short timer, and at once when the kernel
/// signals a batch (it does not wake us per sample), until cancelled.
pub async fn run(ring: RingBuf<MapData>, sink: Arc<Sink>) -> std::io::Result<()> {
    // SAFETY: the ring buffer owns its fd and keeps it open while registered.
    let mut fd = unsafe { AsyncFd::register_with_interest(ring, tokio::io::Interest::READABLE) }
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut tick = tokio::time::interval(Duration::from_millis(SAMPLES_DRAIN_INTERVAL_MS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            guard = fd.readable_mut() => {
                let mut guard = guard?;
                drain(guard.get_inner_mut(), &sink);
                guard.clear_ready();
            }
            _ = tick.tick() => drain(fd.get_mut(), &sink),
        }
    }
}

fn drain(ring: &mut RingBuf<MapData>, sink: &Sink) {
    while let Some(item) = ring.next() {
        sink.record_bytes(&item);
    }
}
