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
///
/// The ring-buffer reader pushes under the same lock readers copy under, so
/// readers copy in bounded chunks ([`SampleStore::next_chunk`]) and never
/// hold it for a whole read.
pub struct SampleStore {
    capacity: usize,
    inner: Mutex<Ring>,
}

struct Ring {
    records: VecDeque<SampleRecord>,
    /// Sequence number the next pushed sample gets; the front's is
    /// `next - records.len()`. A cursor keeps its place by it while pushes
    /// move the front.
    next: u64,
}

/// A read of the samples that were the newest `limit` when it began.
#[derive(Clone, Copy, Debug)]
pub struct Cursor {
    next: u64,
    end: u64,
}

impl SampleStore {
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Ring {
                records: VecDeque::new(),
                next: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn push(&self, record: SampleRecord) {
        let mut ring = self.lock();
        if ring.records.len() == self.capacity {
            ring.records.pop_front();
        }
        ring.records.push_back(record);
        ring.next += 1;
    }

    /// The newest `limit` samples, oldest first, in one copy: for small
    /// reads; `/samples` goes through [`SampleStore::cursor`].
    pub fn newest(&self, limit: usize) -> Vec<SampleRecord> {
        let ring = self.lock();
        let skip = ring.records.len().saturating_sub(limit);
        ring.records.iter().skip(skip).cloned().collect()
    }

    /// Start a read of the newest `limit` samples; samples pushed later are
    /// not part of it.
    pub fn cursor(&self, limit: usize) -> Cursor {
        let ring = self.lock();
        let len = ring.records.len().min(limit) as u64;
        Cursor {
            next: ring.next - len,
            end: ring.next,
        }
    }

    /// Append up to `max` more of the cursor's samples to `out`, oldest
    /// first; false once the read is done. A sample evicted before its chunk
    /// was copied is skipped: the read then returns fewer, never newer ones.
    pub fn next_chunk(&self, cursor: &mut Cursor, max: usize, out: &mut Vec<SampleRecord>) -> bool {
        let ring = self.lock();
        let front = ring.next - ring.records.len() as u64;
        let from = cursor.next.max(front);
        let to = cursor.end.min(from.saturating_add(max as u64));
        if from >= to {
            cursor.next = cursor.end;
            return false;
        }
        let skip = usize::try_from(from - front).unwrap_or(usize::MAX);
        let take = usize::try_from(to - from).unwrap_or(0);
        out.extend(ring.records.iter().skip(skip).take(take).cloned());
        cursor.next = to;
        true
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

    fn record(latency_ns: u64) -> SampleRecord {
        let s = Sample {
            latency_ns,
            ..Sample::default()
        };
        SampleRecord::new(&s, "eth0".into(), "eth0".into(), 0)
    }

    fn read_all(store: &SampleStore, cursor: &mut Cursor, max: usize) -> Vec<u64> {
        let mut out = Vec::new();
        while store.next_chunk(cursor, max, &mut out) {}
        out.iter().map(|r| r.latency_ns).collect()
    }

    #[test]
    fn chunked_reads_match_one_copy() {
        let store = SampleStore::new(10);
        for i in 0..25 {
            store.push(record(i));
        }
        for limit in [0, 1, 3, 10, 50] {
            let want: Vec<u64> = store.newest(limit).iter().map(|r| r.latency_ns).collect();
            assert_eq!(
                read_all(&store, &mut store.cursor(limit), 3),
                want,
                "{limit}"
            );
        }
    }

    #[test]
    fn a_read_skips_what_was_evicted_and_leaves_out_what_came_later() {
        let store = SampleStore::new(6);
        for i in 0..6 {
            store.push(record(i));
        }
        let mut cursor = store.cursor(6);
        let mut out = Vec::new();
        assert!(store.next_chunk(&mut cursor, 2, &mut out));
        // 0 and 1 copied; 6..=8 pushed after the start evict 0..=2.
        for i in 6..9 {
            store.push(record(i));
        }
        let rest = read_all(&store, &mut cursor, 2);
        let got: Vec<u64> = out.iter().map(|r| r.latency_ns).chain(rest).collect();
        assert_eq!(got, vec![0, 1, 3, 4, 5]);
    }
}
