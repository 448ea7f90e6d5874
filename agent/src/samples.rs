//! The newest raw samples, for `/samples` (offline analysis, as the old
//! analyzer's JSON API offered).

use std::{
    collections::VecDeque,
    net::{IpAddr, Ipv6Addr},
    sync::Mutex,
};

use agent_common::{
    sample::{KIND_NAMES, Sample},
    sip::method,
};
use serde::Serialize;

/// One sample as JSON. `txn` is the kernel's Call-ID hash: it groups samples
/// of one call without carrying the Call-ID.
#[derive(Clone, Debug, Serialize)]
pub struct SampleRecord {
    /// `CLOCK_MONOTONIC` ns of the leaving packet (as the kernel stamped it).
    pub ts_ns: u64,
    /// The same instant as Unix time in ns.
    pub unix_ns: u128,
    pub latency_ns: u64,
    pub kind: &'static str,
    pub method: &'static str,
    pub status: u16,
    pub cseq: u32,
    pub txn: String,
    pub iface: String,
    pub first_iface: String,
    pub src: String,
    pub dst: String,
    pub sport: u16,
    pub dport: u16,
    pub proto: &'static str,
    /// The pod behind `iface` (`--pod-labels`), when it was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k8s_namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k8s_pod: Option<String>,
}

/// A sample's address as an IP (IPv4 travels v4-mapped).
#[must_use]
pub fn ip(bytes: [u8; 16], family: u8) -> IpAddr {
    let v6 = Ipv6Addr::from(bytes);
    match (family, v6.to_ipv4_mapped()) {
        (4, Some(v4)) => IpAddr::V4(v4),
        _ => IpAddr::V6(v6),
    }
}

impl SampleRecord {
    #[must_use]
    pub fn new(s: &Sample, iface: String, first_iface: String, mono_to_unix_ns: i128) -> Self {
        let unix = i128::from(s.ts_ns) + mono_to_unix_ns;
        Self {
            ts_ns: s.ts_ns,
            unix_ns: u128::try_from(unix).unwrap_or_default(),
            latency_ns: s.latency_ns,
            kind: KIND_NAMES
                .get(usize::from(s.kind))
                .copied()
                .unwrap_or("unknown"),
            method: method::name(s.method),
            status: s.status,
            cseq: s.cseq,
            txn: format!("{:016x}", s.call_hash),
            iface,
            first_iface,
            src: ip(s.saddr, s.family).to_string(),
            dst: ip(s.daddr, s.family).to_string(),
            sport: s.sport,
            dport: s.dport,
            proto: if s.proto == 6 { "tcp" } else { "udp" },
            k8s_namespace: None,
            k8s_pod: None,
        }
    }
}

/// Bounded: the oldest sample goes when a new one comes in at capacity.
pub struct SampleStore {
    capacity: usize,
    inner: Mutex<VecDeque<SampleRecord>>,
}

impl SampleStore {
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(VecDeque::new()),
        }
    }

    pub fn push(&self, record: SampleRecord) {
        let mut q = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if q.len() == self.capacity {
            q.pop_front();
        }
        q.push_back(record);
    }

    /// The newest `limit` samples, oldest first.
    pub fn newest(&self, limit: usize) -> Vec<SampleRecord> {
        let q = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let skip = q.len().saturating_sub(limit);
        q.iter().skip(skip).cloned().collect()
    }
}

/// Offset from `CLOCK_MONOTONIC` (`bpf_ktime_get_ns`) to Unix time, in ns.
#[must_use]
pub fn mono_to_unix_offset_ns() -> i128 {
    let read = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid pointer to a timespec.
        unsafe { libc::clock_gettime(clock, &raw mut ts) };
        i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
    };
    let mono = read(libc::CLOCK_MONOTONIC);
    let real = read(libc::CLOCK_REALTIME);
    real - mono
}

/// `CLOCK_MONOTONIC` now, in ns: the kernel's timestamps' clock.
#[must_use]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts) };
    u64::try_from(ts.tv_sec).unwrap_or_default() * 1_000_000_000
        + u64::try_from(ts.tv_nsec).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_keeps_the_newest() {
        let store = SampleStore::new(3);
        for i in 0..5u64 {
            let s = Sample {
                latency_ns: i,
                family: 4,
                saddr: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1],
                ..Sample::default()
            };
            store.push(SampleRecord::new(&s, "eth0".into(), "eth0".into(), 0));
        }
        let got: Vec<u64> = store.newest(10).iter().map(|r| r.latency_ns).collect();
        assert_eq!(got, vec![2, 3, 4]);
        assert_eq!(store.newest(1)[0].latency_ns, 4);
        assert_eq!(store.newest(1)[0].src, "198.18.0.1");
    }
}
