//! The figures of a run, from the counts it took: pure arithmetic, tested
//! without root.

/// Nanoseconds per event; `None` without events.
#[must_use]
pub fn per(total_ns: f64, events: u64) -> Option<f64> {
    (events > 0).then(|| total_ns / events as f64)
}

/// CPU seconds as nanoseconds per packet.
#[must_use]
pub fn cpu_ns_per(cpu_seconds: f64, packets: u64) -> Option<f64> {
    per(cpu_seconds * 1e9, packets)
}

/// `a / b` when both are known and `b` is not zero.
#[must_use]
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

/// Change from `base` to `with`, in percent of `base` (negative: fewer).
#[must_use]
pub fn percent_change(base: f64, with: f64) -> Option<f64> {
    (base > 0.0).then(|| (with - base) / base * 100.0)
}

/// Mean round-trip time of a closed loop with `outstanding` in flight at
/// `rate` round trips per second (Little's law), in microseconds.
#[must_use]
pub fn round_trip_us(outstanding: usize, rate: f64) -> Option<f64> {
    (rate > 0.0).then(|| outstanding as f64 / rate * 1e6)
}

/// Time added per packet the hooks see when a CPU-bound closed loop goes
/// from `base_rate` to `rate` round trips per second: the round trip's
/// share of the CPU grows by `1/rate - 1/base_rate`, and each round trip
/// crosses the hooks twice (the request in, the response out). Nanoseconds.
#[must_use]
pub fn added_ns_per_packet(base_rate: f64, rate: f64) -> Option<f64> {
    (base_rate > 0.0 && rate > 0.0).then(|| (1.0 / rate - 1.0 / base_rate) * 1e9 / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_packet_figures() {
        assert_eq!(per(3000.0, 10), Some(300.0));
        assert_eq!(per(3000.0, 0), None);
        assert_eq!(cpu_ns_per(0.5, 1_000_000), Some(500.0));
        assert_eq!(ratio(Some(300.0), Some(60.0)), Some(5.0));
        assert_eq!(ratio(Some(300.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(1.0)), None);
    }

    #[test]
    fn closed_loop_figures() {
        assert_eq!(percent_change(100_000.0, 95_000.0), Some(-5.0));
        assert_eq!(percent_change(0.0, 5.0), None);
        // 64 in flight at 64,000/s: 1 ms a round trip.
        assert_eq!(round_trip_us(64, 64_000.0), Some(1000.0));
        // 100,000/s -> 50,000/s: 10 us more a round trip, 5 us a packet.
        let added = added_ns_per_packet(100_000.0, 50_000.0).expect("rates");
        assert!((added - 5000.0).abs() < 1e-6, "{added}");
        assert_eq!(added_ns_per_packet(0.0, 1.0), None);
    }
}
